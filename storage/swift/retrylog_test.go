package swift

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Failing fast where a person would (issue 12.6): an endpoint where
// nothing answers fails the opening in about a second with a hint, and
// every retry is logged at info level with what, why, attempt k of n and
// the wait.

// logLines is a concurrency-safe slog sink of JSON lines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// retries returns the retry lines logged so far.
func (l *logLines) retries(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "Swift request failed, retrying" {
			out = append(out, m)
		}
	}
	return out
}

// closedPort returns an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachableAuthFailsFast(t *testing.T) {
	// The defaults: 10 retries, 250 ms doubling to 30 s (80 s before).
	authURL := "http://" + closedPort(t) + "/auth/v1.0"
	var logs logLines
	cfg := Config{Container: "c", AuthURL: authURL, User: "test:tester", Key: "k", Log: logs.logger()}
	start := time.Now()
	_, err := New(context.Background(), cfg)
	took := time.Since(start)
	if err == nil {
		t.Fatal("New against a closed port succeeded")
	}
	if took > 5*time.Second {
		t.Errorf("took %v to give up on a closed port; want seconds", took)
	}
	msg := err.Error()
	for _, want := range []string{authURL, "connection refused", "nothing answers there: 3 attempts", "--swift-auth-url, ST_AUTH or OS_AUTH_URL", "firewall"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	lines := logs.retries(t)
	if len(lines) != 2 {
		t.Fatalf("logged %d retries, want 2: %+v", len(lines), lines)
	}
	for i, l := range lines {
		if l["level"] != "INFO" || l["what"] != "authenticate at "+authURL || !strings.Contains(l["why"].(string), "connection refused") ||
			l["attempt"] != float64(i+1) || l["of"] != float64(3) || !strings.HasSuffix(l["next_in"].(string), "ms") {
			t.Errorf("retry line %d: %+v", i, l)
		}
	}
}

func TestUnresolvableAuthFailsAtOnce(t *testing.T) {
	cfg := Config{Container: "c", AuthURL: "http://swift.invalid/auth/v1.0", User: "test:tester", Key: "k"}
	start := time.Now()
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not resolve") || time.Since(start) > 5*time.Second {
		t.Errorf("after %v: %v", time.Since(start), err)
	}
}

// flakyFront is a reverse proxy in front of the real Swift that can
// answer the first auths with 503 and be stopped and started again on
// the same address (the storage URL tempauth hands out points at it).
type flakyFront struct {
	t       *testing.T
	addr    string
	rp      *httputil.ReverseProxy
	auth503 atomic.Int64 // auth requests still to refuse with 503
	mu      sync.Mutex
	srv     *http.Server
}

func newFlakyFront(t *testing.T, authURL string) *flakyFront {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	target := &url.URL{Scheme: u.Scheme, Host: u.Host}
	f := &flakyFront{t: t, addr: closedPort(t), rp: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}}
	f.start()
	t.Cleanup(f.stop)
	return f
}

func (f *flakyFront) url(orig string) string {
	u, _ := url.Parse(orig)
	return "http://" + f.addr + u.Path
}

func (f *flakyFront) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("listen again on %s: %v", f.addr, err)
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/auth/") && f.auth503.Add(-1) >= 0 {
			http.Error(w, "auth backend restarting", http.StatusServiceUnavailable)
			return
		}
		f.rp.ServeHTTP(w, r)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go f.srv.Serve(l)
}

func (f *flakyFront) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		f.srv.Close() // closes the listener and every connection
		f.srv = nil
	}
}

func TestRetriesAreLogged(t *testing.T) {
	cfg := testConfig(t)
	front := newFlakyFront(t, cfg.AuthURL)
	cfg.AuthURL = front.url(cfg.AuthURL)
	cfg.MaxRetries = 6
	var logs logLines
	cfg.Log = logs.logger()

	// A 503 at the auth endpoint is the cluster, not a wrong URL: it
	// gets the full retries even while opening (4 > retry.FastRetries).
	front.auth503.Store(4)
	b := newTestBackend(t, cfg)
	lines := logs.retries(t)
	if len(lines) != 4 {
		t.Fatalf("logged %d retries of the auth's 503s, want 4: %+v", len(lines), lines)
	}
	for i, l := range lines {
		if l["what"] != "authenticate at "+cfg.AuthURL || !strings.HasPrefix(l["why"].(string), "HTTP 503") ||
			l["attempt"] != float64(i+1) || l["of"] != float64(7) {
			t.Errorf("retry line %d: %+v", i, l)
		}
	}

	// Once open, a proxy that goes away for a moment is waited for with
	// the full retries: PUT while it is stopped, start it again after
	// the second logged retry.
	front.stop()
	done := make(chan error, 1)
	go func() {
		_, err := b.Put(context.Background(), "obj", strings.NewReader("payload"))
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(logs.retries(t)) < 4+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no retries logged for the PUT: %+v", logs.retries(t))
		}
		select {
		case err := <-done:
			t.Fatalf("PUT ended while the proxy was stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	front.start()
	if err := <-done; err != nil {
		t.Fatalf("PUT after the proxy came back: %v", err)
	}
	lines = logs.retries(t)[4:]
	want := " " + cfg.Container + "/" + b.key("obj") // HEAD (its old segments?), then PUT
	for i, l := range lines {
		if what, _ := l["what"].(string); !strings.HasSuffix(what, want) || !strings.Contains(l["why"].(string), "connection refused") ||
			l["attempt"] != float64(i+1) || l["of"] != float64(7) {
			t.Errorf("PUT retry line %d: %+v (want what=%q)", i, l, want)
		}
	}
	if got := readBack(t, b, "obj"); string(got) != "payload" {
		t.Errorf("read back %q", got)
	}
}

func TestGiveUpNamesAttempts(t *testing.T) {
	var logs logLines
	r := &retrier{maxRetries: 2, base: time.Millisecond, max: time.Millisecond, log: logs.logger()}
	err := r.do(context.Background(), "GET x", func(context.Context) error { return io.ErrUnexpectedEOF })
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v", err)
	}
	if n := len(logs.retries(t)); n != 2 {
		t.Errorf("logged %d retries, want 2", n)
	}
}
