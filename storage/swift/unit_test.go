package swift

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ncw/swift/v2"
)

func TestClassify(t *testing.T) {
	status := func(code int) error { return &swift.Error{StatusCode: code, Text: fmt.Sprint(code)} }
	for _, tc := range []struct {
		name string
		err  error
		want verdict
	}{
		{"401 token expired", swift.AuthorizationFailed, reauth},
		{"401 wrapped", fmt.Errorf("upload: %w", status(401)), reauth},
		{"408 from the proxy", status(408), retry},
		{"library timeout", swift.TimeoutError, retry},
		{"409 conflict", status(409), retry},
		{"429", swift.TooManyRequests, retry},
		{"498 rate limit", swift.RateLimit, retry},
		{"499 client disconnect", status(499), retry},
		{"500", status(500), retry},
		{"502", status(502), retry},
		{"503", status(503), retry},
		{"504", status(504), retry},
		{"400", swift.BadRequest, permanent},
		{"403", swift.Forbidden, permanent},
		{"404", swift.ObjectNotFound, permanent},
		{"404 container", swift.ContainerNotFound, permanent},
		{"412 changed", status(412), permanent},
		{"413", swift.TooLargeObject, permanent},
		{"416", status(416), permanent},
		{"422 manifest", swift.ObjectCorrupted, permanent},
		{"501", status(501), permanent},
		{"507", status(507), permanent},
		{"status 0 library error", &swift.Error{Text: "Response didn't have storage url and auth token"}, permanent},
		{"etag mismatch of a held segment", &transientError{errors.New("etag")}, retry},
		{"connection reset", &url.Error{Op: "Put", URL: "u", Err: &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}, retry},
		{"broken pipe", &url.Error{Op: "Put", URL: "u", Err: syscall.EPIPE}, retry},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, retry},
		{"EOF before response", &url.Error{Op: "Put", URL: "u", Err: io.EOF}, retry},
		{"unexpected EOF in body", io.ErrUnexpectedEOF, retry},
		{"http text", errors.New("net/http: HTTP/1.x transport connection broken: write: connection reset by peer"), retry},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, retry},
		{"cancelled", context.Canceled, permanent},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), permanent},
		{"unknown CA", &url.Error{Op: "Get", URL: "u", Err: x509.UnknownAuthorityError{}}, permanent},
		{"hostname", &url.Error{Op: "Get", URL: "u", Err: x509.HostnameError{}}, permanent},
		{"dns no such host", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, permanent},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, retry},
		{"source error", errors.New("read the source: boom"), permanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetrier(t *testing.T) {
	newR := func(max int) (*retrier, *int) {
		unauths := 0
		return &retrier{maxRetries: max, base: time.Millisecond, max: 4 * time.Millisecond, unauth: func() { unauths++ }}, &unauths
	}
	t.Run("transient then success", func(t *testing.T) {
		r, _ := newR(5)
		calls := 0
		err := r.do(context.Background(), "test", func(context.Context) error {
			calls++
			if calls < 3 {
				return swift.TimeoutError
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("err %v after %d calls, want nil after 3", err, calls)
		}
	})
	t.Run("permanent stops at once", func(t *testing.T) {
		r, _ := newR(5)
		calls := 0
		err := r.do(context.Background(), "test", func(context.Context) error { calls++; return swift.Forbidden })
		if !errors.Is(err, swift.Forbidden) || calls != 1 {
			t.Errorf("err %v after %d calls, want Forbidden after 1", err, calls)
		}
	})
	t.Run("401 re-authenticates", func(t *testing.T) {
		r, unauths := newR(5)
		calls := 0
		err := r.do(context.Background(), "test", func(context.Context) error {
			calls++
			if calls == 1 {
				return swift.AuthorizationFailed
			}
			return nil
		})
		if err != nil || *unauths != 1 {
			t.Errorf("err %v, %d re-auths; want nil and 1", err, *unauths)
		}
	})
	t.Run("gives up after MaxRetries", func(t *testing.T) {
		r, _ := newR(3)
		calls := 0
		err := r.do(context.Background(), "test", func(context.Context) error { calls++; return &swift.Error{StatusCode: 503} })
		if err == nil || calls != 4 {
			t.Errorf("err %v after %d calls, want an error after 1+3", err, calls)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		r := &retrier{maxRetries: 10, base: time.Hour, max: time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		// Cancelled during the first attempt: the retrier's wait of an hour
		// must end at once.
		err := r.do(ctx, "test", func(context.Context) error { calls++; cancel(); return &swift.Error{StatusCode: 503} })
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err %v after %d calls, want one wrapping context.Canceled after 1", err, calls)
		}
	})
	t.Run("backoff grows, is capped, has jitter", func(t *testing.T) {
		r := &retrier{base: 100 * time.Millisecond, max: time.Second}
		for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
			want *= time.Millisecond
			for range 20 {
				d := r.backoff(attempt)
				if d < want/2 || d > want {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
				}
			}
		}
	})
}

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in, container, prefix string
		bad                   bool
	}{
		{in: "swift://backups", container: "backups"},
		{in: "swift://backups/", container: "backups"},
		{in: "swift://backups/db1", container: "backups", prefix: "db1"},
		{in: "swift://backups/db1/daily/", container: "backups", prefix: "db1/daily"},
		{in: "swift://database_backups/x y", container: "database_backups", prefix: "x y"},
		{in: "swift://", bad: true},
		{in: "swift:///x", bad: true},
		{in: "backups", bad: true},
		{in: "s3://backups", bad: true},
		{in: "swift://backups/a//b", bad: true},
		{in: "swift://backups/../x", bad: true},
		{in: "swift://backups/./x", bad: true},
		{in: "swift://a?b", bad: true},
		{in: "swift://backups/a\nb", bad: true},
		{in: "swift://" + string(make([]byte, 257)), bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c, p, err := ParseLocation(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("ParseLocation(%q) = %q, %q; want an error", tc.in, c, p)
				}
				return
			}
			if err != nil || c != tc.container || p != tc.prefix {
				t.Errorf("ParseLocation(%q) = %q, %q, %v; want %q, %q", tc.in, c, p, err, tc.container, tc.prefix)
			}
			if back := Location(c, p); back != "swift://"+tc.container+map[bool]string{true: "/" + tc.prefix}[tc.prefix != ""] {
				t.Errorf("Location(%q, %q) = %q", c, p, back)
			}
		})
	}
}

func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"swift://c", "swift://c/p/q", "swift://c//", "swift://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, p, err := ParseLocation(s)
		if err != nil {
			return
		}
		c2, p2, err := ParseLocation(Location(c, p))
		if err != nil || c2 != c || p2 != p {
			t.Errorf("ParseLocation(Location(%q, %q)) = %q, %q, %v", c, p, c2, p2, err)
		}
	})
}

func clearEnv(t *testing.T) {
	for _, k := range []string{"ST_AUTH", "ST_USER", "ST_KEY", "ST_AUTH_VERSION", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD",
		"OS_PROJECT_NAME", "OS_TENANT_NAME", "OS_PROJECT_ID", "OS_TENANT_ID", "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME",
		"OS_REGION_NAME", "OS_ENDPOINT_TYPE", "OS_INTERFACE", "OS_IDENTITY_API_VERSION", "OS_STORAGE_URL", "OS_AUTH_TOKEN", "OS_CACERT"} {
		t.Setenv(k, "")
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("ST_AUTH", "http://h:8080/auth/v1.0")
		t.Setenv("ST_USER", "test:tester")
		t.Setenv("ST_KEY", "testing")
		t.Setenv("OS_AUTH_URL", "http://keystone/v3") // ST_AUTH wins, as in the swift CLI
		c, err := ConfigFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if c.AuthURL != "http://h:8080/auth/v1.0" || c.User != "test:tester" || c.Key != "testing" || c.AuthVersion != 0 {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("keystone v3", func(t *testing.T) {
		clearEnv(t)
		for k, v := range map[string]string{
			"OS_AUTH_URL": "https://keystone:5000/v3", "OS_USERNAME": "u", "OS_PASSWORD": "p",
			"OS_PROJECT_NAME": "proj", "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "pd",
			"OS_REGION_NAME": "RegionOne", "OS_IDENTITY_API_VERSION": "3", "OS_INTERFACE": "internal",
			"OS_CACERT": "/etc/ca.pem",
		} {
			t.Setenv(k, v)
		}
		c, err := ConfigFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		want := Config{AuthURL: "https://keystone:5000/v3", User: "u", Key: "p", ProjectName: "proj", UserDomain: "Default",
			ProjectDomain: "pd", Region: "RegionOne", AuthVersion: 3, EndpointType: "internal", CAFile: "/etc/ca.pem"}
		if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
			t.Errorf("got  %+v\nwant %+v", c, want)
		}
	})
	t.Run("v2 tenant and token", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("OS_AUTH_URL", "https://keystone/v2.0")
		t.Setenv("OS_TENANT_NAME", "ten")
		t.Setenv("OS_TENANT_ID", "tid")
		t.Setenv("OS_IDENTITY_API_VERSION", "2.0")
		t.Setenv("OS_STORAGE_URL", "https://swift/v1/AUTH_x")
		t.Setenv("OS_AUTH_TOKEN", "tok")
		c, err := ConfigFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if c.ProjectName != "ten" || c.TenantID != "tid" || c.AuthVersion != 2 || c.StorageURL != "https://swift/v1/AUTH_x" || c.AuthToken != "tok" {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("bad version", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("ST_AUTH_VERSION", "four")
		if _, err := ConfigFromEnv(); err == nil {
			t.Error("no error for ST_AUTH_VERSION=four")
		}
	})
}

func TestConfigDefaults(t *testing.T) {
	ok := Config{Container: "c", AuthURL: "http://a/v1.0", User: "u", Key: "k"}
	c, err := ok.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.SegmentContainer != "c_segments" || c.SegmentSize != DefaultSegmentSize || c.UploadParallel != DefaultUploadParallel ||
		c.MaxRetries != DefaultMaxRetries || c.RetryBaseWait != DefaultRetryBaseWait || c.RetryMaxWait != DefaultRetryMaxWait {
		t.Errorf("defaults: %+v", c)
	}
	tok := Config{Container: "c", StorageURL: "http://s/v1/AUTH_x", AuthToken: "t"}
	if _, err := tok.withDefaults(); err != nil {
		t.Errorf("storage URL and token without credentials: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no container":     func(c *Config) { c.Container = "" },
		"no auth url":      func(c *Config) { c.AuthURL = "" },
		"no user":          func(c *Config) { c.User = "" },
		"no key":           func(c *Config) { c.Key = "" },
		"negative segment": func(c *Config) { c.SegmentSize = -1 },
		"negative upload":  func(c *Config) { c.UploadParallel = -1 },
		"negative rate":    func(c *Config) { c.LimitRate = -1 },
	} {
		c := ok
		mod(&c)
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	neg := ok
	neg.MaxRetries = -1
	if c, _ := neg.withDefaults(); c.MaxRetries != 0 {
		t.Errorf("MaxRetries -1 became %d, want 0 (no retries)", c.MaxRetries)
	}
}

func TestLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := os.WriteFile(p, []byte("s3cret\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.LoadKeyFile(p); err != nil || c.Key != "s3cret" {
		t.Errorf("LoadKeyFile: key %q, %v", c.Key, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadKeyFile(empty); err == nil {
		t.Error("LoadKeyFile of an empty file: no error")
	}
	if err := c.LoadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadKeyFile of a missing file: no error")
	}
}

func TestNewTransportCAFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newTransport(Config{CAFile: bad}); err == nil {
		t.Error("CA file without a certificate: no error")
	}
	tr, err := newTransport(Config{Insecure: true, UploadParallel: 4})
	if err != nil || tr.TLSClientConfig == nil || !tr.TLSClientConfig.InsecureSkipVerify {
		t.Errorf("Insecure: %v, %+v", err, tr.TLSClientConfig)
	}
}
