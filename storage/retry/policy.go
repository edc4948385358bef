package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/mybak/mybak/storage"
)

// Verdict is what to do after a failed attempt.
type Verdict int

const (
	// GiveUp: the failure is permanent (or the caller's context ended).
	GiveUp Verdict = iota
	// Again: the failure is transient; try again after a wait.
	Again
	// Reauth: the credentials' token expired; call Policy.Reauth, then
	// try again after a wait.
	Reauth
)

// String names v for logs and test failures.
func (v Verdict) String() string {
	switch v {
	case GiveUp:
		return "permanent"
	case Again:
		return "retry"
	case Reauth:
		return "reauth"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Default waits of a Policy whose BaseWait or MaxWait is zero.
const (
	DefaultBaseWait = 250 * time.Millisecond
	DefaultMaxWait  = 30 * time.Second
)

// Fail-fast bounds (Policy.FailFast): about a second in all.
const (
	FastRetries = 2
	FastMaxWait = time.Second
)

// transient and permanent mark errors whose fate the request's own code
// knows better than Classify (see Transient, Permanent).
type transient struct{ err error }

func (e *transient) Error() string { return e.err.Error() }
func (e *transient) Unwrap() error { return e.err }

type permanent struct{ err error }

func (e *permanent) Error() string { return e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// Transient marks err as worth a retry although Classify would not retry
// it (a checksum that does not match bytes held in memory: they were
// damaged on the way). The message stays err's; nil stays nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transient{err}
}

// Permanent marks err as not worth a retry although Classify would retry
// it (a 401 from the authentication endpoint means wrong credentials). The
// message stays err's; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// Classify is the verdict on err of any store that talks over a network,
// before its protocol's statuses: the marks of Transient and Permanent
// first; then give up on the caller's context, on storage.ErrNotFound,
// ErrInvalidName and ErrUsage, on TLS and certificate problems and on
// names that do not resolve (they do not heal); retry resets, refused
// connections, broken pipes, timeouts, early EOFs and temporary DNS
// failures; give up on anything else. A store classifies its protocol's
// errors (HTTP statuses) first and calls Classify for the rest.
func Classify(err error) Verdict {
	var pe *permanent
	if errors.As(err, &pe) {
		return GiveUp
	}
	var te *transient
	if errors.As(err, &te) {
		return Again
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's context: stop. (A deadline of a single request is
		// a net.Error timeout and is caught below only when ctx is alive;
		// Do checks ctx first.)
		return GiveUp
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidName) || errors.Is(err, storage.ErrUsage) {
		return GiveUp
	}
	// Certificate and TLS configuration problems do not heal.
	var (
		unknownCA  x509.UnknownAuthorityError
		invalid    x509.CertificateInvalidError
		hostname   x509.HostnameError
		recordHdr  tls.RecordHeaderError
		verifyErr  *tls.CertificateVerificationError
		addrErr    *net.AddrError
		dnsErr     *net.DNSError
		parseErr   *net.ParseError
		invalidKey *net.InvalidAddrError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &hostname),
		errors.As(err, &recordHdr), errors.As(err, &verifyErr),
		errors.As(err, &addrErr), errors.As(err, &parseErr), errors.As(err, &invalidKey):
		return GiveUp
	case errors.As(err, &dnsErr):
		if dnsErr.IsTemporary || dnsErr.IsTimeout {
			return Again
		}
		return GiveUp
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Again
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Again
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return Again
	}
	// net/http reports some broken connections only as text.
	msg := err.Error()
	for _, s := range []string{
		"connection reset", "broken pipe", "server closed idle connection",
		"transport connection broken", "unexpected EOF", "use of closed network connection",
	} {
		if strings.Contains(msg, s) {
			return Again
		}
	}
	return GiveUp
}

// Unreachable reports whether err says that nothing answers at the
// endpoint: the connection was refused, or there is no route to it.
func Unreachable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}

// Policy is the one place that decides how often and how long a store
// retries a request; Classify (or the store's own classifier) decides
// whether. The zero value retries nothing. A Policy is read-only while Do
// runs, so one Policy may serve concurrent requests.
type Policy struct {
	// MaxRetries is how many times a failed request is tried again (a
	// request is tried at most MaxRetries+1 times); 0 or less: never.
	MaxRetries int
	// BaseWait and MaxWait shape the exponential backoff: retry n
	// (0-based) waits BaseWait*2^n capped at MaxWait, of which a random
	// half is jitter. Zero: DefaultBaseWait, DefaultMaxWait.
	BaseWait, MaxWait time.Duration
	// Classify decides whether a failure is worth a retry; nil: Classify.
	Classify func(error) Verdict
	// Reauth is called before the retry of a Reauth verdict (drop the
	// cached token); nil: nothing.
	Reauth func()
	// Log receives one line at info level per retry: what failed, why,
	// which attempt of how many, and when the next one is. nil discards.
	Log *slog.Logger
	// Subject names the requests in the log line ("Swift request" logs
	// "Swift request failed, retrying"); "": "Store request".
	Subject string
	// Reason says why a request is retried, for the log; nil: the error's
	// text.
	Reason func(err error, v Verdict) string
	// Explain adds what a human should do to an error Do gives up on at
	// once; nil: the error as is.
	Explain func(error) error
	// OnRetry, when set, is told of every retry (tests count them).
	OnRetry func(attempt int, err error)
	// FailFast, when set and true for an error (say Unreachable while a
	// store is being opened: a person wants to know in seconds, not after
	// 11 attempts over 80 s), allows at most FastRetries retries with
	// waits of at most FastMaxWait; FastGiveUp then makes the error
	// returned (nil: the usual "gave up after N attempts").
	FailFast   func(error) bool
	FastGiveUp func(err error, attempts int, elapsed time.Duration) error
}

// Do calls fn until it succeeds, fails permanently, ctx ends or the
// retries are used up; what names the request in the log ("PUT segment 3
// of NAME"). The error of the last attempt is wrapped: "gave up after N
// attempts: ...", or with the context's error when ctx ended.
//
// Do must only be given requests that can be replayed byte for byte:
// whatever fn sends must be rebuilt for every attempt (a buffer, a
// seekable file rewound, no body at all), never a caller's stream that
// was consumed by the failed attempt.
func (p *Policy) Do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w (last error: %w)", cerr, err)
		}
		v := p.classify(err)
		if v == GiveUp {
			if p.Explain != nil {
				return p.Explain(err)
			}
			return err
		}
		retries, wait := max(p.MaxRetries, 0), p.Backoff(attempt)
		fast := p.FailFast != nil && p.FailFast(err)
		if fast {
			retries, wait = min(retries, FastRetries), min(wait, FastMaxWait)
		}
		if attempt >= retries {
			if fast && p.FastGiveUp != nil {
				return p.FastGiveUp(err, attempt+1, time.Since(start))
			}
			return fmt.Errorf("gave up after %d attempts: %w", attempt+1, err)
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err)
		}
		if p.Log != nil {
			subject := p.Subject
			if subject == "" {
				subject = "Store request"
			}
			p.Log.Info(subject+" failed, retrying", "what", what, "why", p.reason(err, v),
				"attempt", attempt+1, "of", retries+1, "next_in", wait.Round(time.Millisecond).String())
		}
		if v == Reauth && p.Reauth != nil {
			p.Reauth()
		}
		if serr := Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

func (p *Policy) classify(err error) Verdict {
	if p.Classify != nil {
		return p.Classify(err)
	}
	return Classify(err)
}

func (p *Policy) reason(err error, v Verdict) string {
	if p.Reason != nil {
		return p.Reason(err, v)
	}
	return err.Error()
}

// Backoff is the wait before retry number attempt (0-based): the
// exponential step capped at MaxWait, of which a random half is jitter so
// that parallel requests do not retry in lockstep.
func (p *Policy) Backoff(attempt int) time.Duration {
	base, ceil := p.BaseWait, p.MaxWait
	if base <= 0 {
		base = DefaultBaseWait
	}
	if ceil <= 0 {
		ceil = DefaultMaxWait
	}
	d := base
	for i := 0; i < attempt && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	return d/2 + rand.N(d/2+1)
}

// Sleep waits for d, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
