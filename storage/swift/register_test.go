package swift

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mybak/mybak/storage"
)

// clearSwiftEnv empties the variables ConfigFromEnv reads.
func clearSwiftEnv(t *testing.T) {
	for _, v := range []string{"ST_AUTH", "ST_USER", "ST_KEY", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD",
		"OS_PROJECT_NAME", "OS_TENANT_NAME", "OS_PROJECT_ID", "OS_TENANT_ID", "OS_USER_DOMAIN_NAME",
		"OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME", "OS_ENDPOINT_TYPE", "OS_INTERFACE",
		"OS_STORAGE_URL", "OS_AUTH_TOKEN", "OS_CACERT", "ST_AUTH_VERSION", "OS_IDENTITY_API_VERSION"} {
		t.Setenv(v, "")
	}
}

// TestConfigFromSettings: every setting OpenURL reads lands in Config,
// over the environment's value.
func TestConfigFromSettings(t *testing.T) {
	clearSwiftEnv(t)
	t.Setenv("ST_AUTH", "http://env.invalid/auth/v1.0")
	t.Setenv("ST_USER", "env:user")
	t.Setenv("ST_KEY", "envkey")
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("filekey\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFor("swift://cont/pre/fix", storage.OpenOptions{Create: true, Settings: storage.Values{
		"swift-auth-url": "http://flag.invalid/v3", "swift-auth-version": 3, "swift-user": "u",
		"swift-key-file": key, "swift-project": "proj", "swift-region": "reg", "swift-ca-file": "/ca.pem",
		"insecure": true, "segment-size": "2M", "upload-parallel": 7, "max-retries": 4,
		"limit-rate": "1M", "keep-partial": true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Container: "cont", Prefix: "pre/fix", AuthURL: "http://flag.invalid/v3", AuthVersion: 3, User: "u",
		Key: "filekey", ProjectName: "proj", Region: "reg", CAFile: "/ca.pem", Insecure: true,
		SegmentSize: 2 << 20, UploadParallel: 7, MaxRetries: 4, LimitRate: 1 << 20, KeepPartial: true}
	if cfg != want {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}

	// The environment, the flags' 0 retries (none), no creation.
	cfg, err = configFor("swift://cont", storage.OpenOptions{Settings: storage.Values{"max-retries": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthURL != "http://env.invalid/auth/v1.0" || cfg.User != "env:user" || cfg.Key != "envkey" ||
		cfg.MaxRetries != -1 || !cfg.NoCreate || cfg.KeepPartial || cfg.Insecure {
		t.Errorf("config from the environment: %+v", cfg)
	}
	// No settings at all: Config's defaults (MaxRetries 0).
	if cfg, err = configFor("swift://cont", storage.OpenOptions{}); err != nil || cfg.MaxRetries != 0 || cfg.SegmentSize != 0 {
		t.Errorf("no settings: %+v, %v", cfg, err)
	}
}

// TestOpenURLUsageErrors: what the user wrote wrong is ErrUsage, with the
// message the cli has always printed.
func TestOpenURLUsageErrors(t *testing.T) {
	clearSwiftEnv(t)
	auth := storage.Values{"swift-auth-url": "http://127.0.0.1:1/auth/v1.0"}
	for _, tc := range []struct {
		name string
		env  string
		loc  string
		set  storage.Values
		msg  string
	}{
		{name: "no credentials", loc: "swift://c", msg: "--storage swift://c: no Swift credentials: set ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD (or --swift-auth-url, --swift-user, --swift-key-file)"},
		{name: "bad auth version", env: "7", loc: "swift://c", msg: `Swift credentials from the environment: swift config: ST_AUTH_VERSION="7": want 1, 2 or 3`},
		{name: "no container", loc: "swift://", set: auth},
		{name: "bad segment size", loc: "swift://c", set: storage.Values{"swift-auth-url": "x", "segment-size": "big"}, msg: `--segment-size: "big" is not a size (examples: 1048576, 64M, 2GiB)`},
		{name: "bad limit-rate", loc: "swift://c", set: storage.Values{"swift-auth-url": "x", "limit-rate": "x"}, msg: `--limit-rate: "x" is not a size (examples: 1048576, 64M, 2GiB)`},
		{name: "missing key file", loc: "swift://c", set: storage.Values{"swift-key-file": "/nonexistent/key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ST_AUTH_VERSION", tc.env)
			b, err := storage.Open(context.Background(), tc.loc, storage.OpenOptions{Settings: tc.set})
			if err == nil {
				b.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, storage.ErrUsage) || (tc.msg != "" && err.Error() != tc.msg) {
				t.Errorf("err %q (ErrUsage %v), want ErrUsage %q", err, errors.Is(err, storage.ErrUsage), tc.msg)
			}
		})
	}
}
