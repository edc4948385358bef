package swift

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsFront puts a TLS endpoint with a self-signed certificate in front of
// the real Swift (as a test cloud's load balancer would) and returns its
// auth URL and a PEM file of its certificate. The storage URL that
// tempauth hands out is rewritten to the front.
func tlsFront(t *testing.T, authURL string) (string, string) {
	t.Helper()
	target, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	var front *url.URL
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	proxy.ModifyResponse = func(r *http.Response) error {
		if s := r.Header.Get("X-Storage-Url"); s != "" {
			u, err := url.Parse(s)
			if err != nil {
				return err
			}
			u.Scheme, u.Host = front.Scheme, front.Host
			r.Header.Set("X-Storage-Url", u.String())
		}
		return nil
	}
	srv := httptest.NewUnstartedServer(proxy)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if front, err = url.Parse(srv.URL); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + target.Path, ca
}

// TestTLSCAFileAndInsecure: a Swift behind TLS with a self-signed
// certificate is refused at once with a hint, and works with its CA file
// or with Insecure.
func TestTLSCAFileAndInsecure(t *testing.T) {
	cfg := testConfig(t)
	authURL, ca := tlsFront(t, cfg.AuthURL)
	cfg.AuthURL = authURL
	cfg.RetryBaseWait = time.Second
	ctx := context.Background()

	start := time.Now()
	_, err := New(ctx, cfg)
	if err == nil {
		t.Fatal("New trusted a self-signed certificate")
	}
	if !strings.Contains(err.Error(), "--swift-ca-file") || time.Since(start) > 5*time.Second {
		t.Errorf("after %v: %v; want at once, with the hint", time.Since(start), err)
	}

	for name, set := range map[string]func(*Config){
		"CA file":  func(c *Config) { c.CAFile = ca },
		"insecure": func(c *Config) { c.Insecure = true },
	} {
		c := cfg
		set(&c)
		b := newTestBackend(t, c)
		data := bytes.Repeat([]byte(name), 3<<20/len(name)) // several segments
		if _, err := b.Put(ctx, "tls/"+name, bytes.NewReader(data)); err != nil {
			t.Fatalf("%s: Put: %v", name, err)
		}
		rc, err := b.Get(ctx, "tls/"+name, 0)
		if err != nil {
			t.Fatalf("%s: Get: %v", name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes, %v", name, len(got), err)
		}
	}
}
