package retry_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/retry"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want retry.Verdict
	}{
		{"connection reset", &url.Error{Op: "Put", URL: "u", Err: &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}, retry.Again},
		{"broken pipe", syscall.EPIPE, retry.Again},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, retry.Again},
		{"unexpected EOF", io.ErrUnexpectedEOF, retry.Again},
		{"http text", errors.New("net/http: HTTP/1.x transport connection broken: write: connection reset by peer"), retry.Again},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, retry.Again},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", IsTemporary: true}, retry.Again},
		{"marked transient", retry.Transient(errors.New("etag")), retry.Again},
		{"marked permanent", retry.Permanent(syscall.ECONNRESET), retry.GiveUp},
		{"cancelled", context.Canceled, retry.GiveUp},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), retry.GiveUp},
		{"not found", fmt.Errorf("get: %w", storage.ErrNotFound), retry.GiveUp},
		{"invalid name", storage.ErrInvalidName, retry.GiveUp},
		{"usage", storage.Usagef("--x: bad"), retry.GiveUp},
		{"unknown CA", &url.Error{Op: "Get", URL: "u", Err: x509.UnknownAuthorityError{}}, retry.GiveUp},
		{"dns no such host", &net.DNSError{Err: "no such host", IsNotFound: true}, retry.GiveUp},
		{"anything else", errors.New("boom"), retry.GiveUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retry.Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if retry.Transient(nil) != nil || retry.Permanent(nil) != nil {
		t.Error("a mark of nil is not nil")
	}
	if e := retry.Transient(io.EOF); e.Error() != io.EOF.Error() || !errors.Is(e, io.EOF) {
		t.Error("Transient changed the message or lost the cause")
	}
}

func TestPolicyDo(t *testing.T) {
	ctx := context.Background()
	t.Run("logs every retry, then succeeds", func(t *testing.T) {
		var logs bytes.Buffer
		var seen []int
		p := retry.Policy{MaxRetries: 5, BaseWait: time.Millisecond, MaxWait: time.Millisecond, Subject: "Test request",
			Log: slog.New(slog.NewJSONHandler(&logs, nil)), OnRetry: func(a int, _ error) { seen = append(seen, a) }}
		calls := 0
		err := p.Do(ctx, "GET x", func(context.Context) error {
			calls++
			if calls < 3 {
				return syscall.ECONNRESET
			}
			return nil
		})
		if err != nil || calls != 3 || fmt.Sprint(seen) != "[0 1]" {
			t.Fatalf("err %v after %d calls, retries %v", err, calls, seen)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d log lines, want 2:\n%s", len(lines), logs.String())
		}
		var l map[string]any
		if err := json.Unmarshal([]byte(lines[1]), &l); err != nil {
			t.Fatal(err)
		}
		if l["msg"] != "Test request failed, retrying" || l["what"] != "GET x" || l["attempt"] != 2.0 || l["of"] != 6.0 ||
			!strings.Contains(fmt.Sprint(l["why"]), "reset") || l["next_in"] == nil {
			t.Errorf("log line %v", l)
		}
	})
	t.Run("permanent: once, explained", func(t *testing.T) {
		p := retry.Policy{MaxRetries: 5, Explain: func(err error) error { return fmt.Errorf("%w (do this)", err) }}
		calls := 0
		err := p.Do(ctx, "x", func(context.Context) error { calls++; return errors.New("boom") })
		if calls != 1 || err == nil || err.Error() != "boom (do this)" {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("reauth before the retry", func(t *testing.T) {
		reauths := 0
		expired := errors.New("token expired")
		p := retry.Policy{MaxRetries: 2, BaseWait: time.Millisecond, Reauth: func() { reauths++ },
			Classify: func(err error) retry.Verdict {
				if err == expired {
					return retry.Reauth
				}
				return retry.Classify(err)
			}}
		calls := 0
		err := p.Do(ctx, "x", func(context.Context) error {
			calls++
			if calls == 1 {
				return expired
			}
			return nil
		})
		if err != nil || reauths != 1 {
			t.Errorf("err %v, %d re-auths", err, reauths)
		}
	})
	t.Run("gives up after MaxRetries", func(t *testing.T) {
		p := retry.Policy{MaxRetries: 3, BaseWait: time.Millisecond, MaxWait: time.Millisecond}
		calls := 0
		err := p.Do(ctx, "x", func(context.Context) error { calls++; return syscall.ECONNRESET })
		if calls != 4 || !errors.Is(err, syscall.ECONNRESET) || !strings.HasPrefix(err.Error(), "gave up after 4 attempts: ") {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("zero policy retries nothing", func(t *testing.T) {
		var p retry.Policy
		calls := 0
		_ = p.Do(ctx, "x", func(context.Context) error { calls++; return syscall.ECONNRESET })
		if calls != 1 {
			t.Errorf("%d calls", calls)
		}
	})
	t.Run("fail fast", func(t *testing.T) {
		p := retry.Policy{MaxRetries: 10, BaseWait: time.Millisecond, FailFast: retry.Unreachable,
			FastGiveUp: func(err error, n int, _ time.Duration) error {
				return fmt.Errorf("%w (nothing answers: %d attempts)", err, n)
			}}
		calls := 0
		err := p.Do(ctx, "x", func(context.Context) error { calls++; return syscall.ECONNREFUSED })
		if calls != retry.FastRetries+1 || err == nil || !strings.Contains(err.Error(), "nothing answers: 3 attempts") {
			t.Errorf("err %v after %d calls", err, calls)
		}
		calls = 0
		err = p.Do(ctx, "x", func(context.Context) error {
			calls++
			if calls < 5 {
				return syscall.ECONNRESET // answers, then breaks: the full retries
			}
			return nil
		})
		if err != nil || calls != 5 {
			t.Errorf("a reset while failing fast: err %v after %d calls", err, calls)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		p := retry.Policy{MaxRetries: 10, BaseWait: time.Hour, MaxWait: time.Hour}
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		err := p.Do(cctx, "x", func(context.Context) error { calls++; cancel(); return syscall.ECONNRESET })
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("backoff grows, is capped, has jitter", func(t *testing.T) {
		p := retry.Policy{BaseWait: 100 * time.Millisecond, MaxWait: time.Second}
		for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
			want *= time.Millisecond
			for range 20 {
				if d := p.Backoff(attempt); d < want/2 || d > want {
					t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
				}
			}
		}
		var zero retry.Policy
		if d := zero.Backoff(0); d < retry.DefaultBaseWait/2 || d > retry.DefaultBaseWait {
			t.Errorf("default Backoff(0) = %v", d)
		}
	})
}
