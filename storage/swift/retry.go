package swift

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

	"github.com/ncw/swift/v2"
)

// retryableStatus is the one list of HTTP statuses after which a request
// is tried again. Everything else (403, 404, 413, 422 of a manifest, ...)
// fails at once.
//
//	401 the token expired or was revoked: re-authenticate first
//	408 the proxy's client_timeout, or the swift library's own timeout
//	    (swift.TimeoutError carries 408)
//	409 a timestamp conflict between concurrent writes of one name
//	429 and 498 rate limiting
//	499 the proxy gave up on a client that stopped sending
//	500, 502, 503, 504 the cluster or a load balancer in front of it
var retryableStatus = map[int]bool{
	401: true,
	408: true,
	409: true,
	429: true,
	498: true,
	499: true,
	500: true,
	502: true,
	503: true,
	504: true,
}

// verdict is what to do after a failed request.
type verdict int

const (
	permanent verdict = iota // give up
	retry                    // try again after a wait
	reauth                   // authenticate again, then try again
)

func (v verdict) String() string {
	return [...]string{"permanent", "retry", "reauth"}[v]
}

// transientError marks an error that the request's own code knows to be
// worth a retry although classify would not: an ETag that does not match
// the MD5 of the held segment (the bytes were damaged on the way).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// permanentError marks an error that no retry can mend although classify
// would retry its status: a 401 from the authentication endpoint itself
// means wrong credentials, not an expired token.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// authenticate is conn.Authenticate for the retrier: transport errors and
// 5xx are retried; a refusal of the credentials (401, 403) is not.
func authenticate(conn *swift.Connection) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		err := conn.Authenticate(ctx)
		var se *swift.Error
		if errors.As(err, &se) && (se.StatusCode == 401 || se.StatusCode == 403) {
			return &permanentError{fmt.Errorf("%w (the credentials were refused: check ST_USER/ST_KEY, or OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME and the domains, or --swift-user/--swift-key-file)", err)}
		}
		return err
	}
}

// classify decides whether err, returned by a request, is worth a retry.
// It is only ever applied to requests whose body can be sent again: a
// segment held whole in memory, a manifest, or a request with no body.
func classify(err error) verdict {
	var pe *permanentError
	if errors.As(err, &pe) {
		return permanent
	}
	var te *transientError
	if errors.As(err, &te) {
		return retry
	}
	var se *swift.Error
	if errors.As(err, &se) && se.StatusCode != 0 {
		switch {
		case se.StatusCode == 401:
			return reauth
		case retryableStatus[se.StatusCode]:
			return retry
		}
		return permanent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's context: stop. (A deadline of a single request is
		// a net.Error timeout and is caught below only when ctx is alive;
		// the retry loop checks ctx first.)
		return permanent
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
		return permanent
	case errors.As(err, &dnsErr):
		if dnsErr.IsTemporary || dnsErr.IsTimeout {
			return retry
		}
		return permanent
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return retry
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return retry
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return retry
	}
	// net/http reports some broken connections only as text.
	msg := err.Error()
	for _, s := range []string{
		"connection reset", "broken pipe", "server closed idle connection",
		"transport connection broken", "unexpected EOF", "use of closed network connection",
	} {
		if strings.Contains(msg, s) {
			return retry
		}
	}
	return permanent
}

// retrier runs requests again after transient failures, with exponential
// backoff and jitter. It is the one place that decides how often and how
// long; classify decides whether. Every retry is logged at info level:
// what failed, why, which attempt of how many, and when the next one is.
type retrier struct {
	maxRetries int
	base, max  time.Duration
	// unauth drops the cached token so that the next request
	// authenticates again (swift.Connection.UnAuthenticate).
	unauth func()
	// onRetry, when set, is told of every retry (tests count them).
	onRetry func(attempt int, err error)
	// log receives the retry lines; nil discards them.
	log *slog.Logger
	// opening is set while New opens the store: an endpoint where nothing
	// answers (connection refused, no route, see unreachable) then gets
	// at most openingRetries quick retries instead of maxRetries. At the
	// start such an endpoint is down or misconfigured and a person wants
	// to know in seconds, not after 11 attempts over 80 s; once a backup
	// runs, the full retries ride out a restarting proxy.
	opening bool
}

// openingRetries and openingMaxWait bound the retries of an unreachable
// endpoint while the store is opened: about a second in all.
const (
	openingRetries = 2
	openingMaxWait = time.Second
)

// do calls fn until it succeeds, fails permanently, ctx ends or the
// retries are used up; what names the request in the log ("PUT segment 3
// of NAME").
//
// Why this is safe: do is only used for requests that can be replayed
// byte for byte. An upload's body is a segment held whole in a buffer
// (bytes.Reader over it, rebuilt for every attempt) or a manifest built in
// memory, never the caller's stream; a download is resumed by the caller
// from the byte it already has. Swift PUTs are idempotent (last write
// wins) and segment names are unique per Put, so a retry after a PUT that
// did succeed but whose response was lost stores the same bytes again.
func (r *retrier) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
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
		v := classify(err)
		if v == permanent {
			return explain(err)
		}
		retries, wait := r.maxRetries, r.backoff(attempt)
		fast := r.opening && unreachable(err)
		if fast {
			retries, wait = min(retries, openingRetries), min(wait, openingMaxWait)
		}
		if attempt >= retries {
			if fast {
				return fmt.Errorf("%w (nothing answers there: %d attempts in %s; check the URL (--swift-auth-url, ST_AUTH or OS_AUTH_URL, "+
					"or the storage URL of the auth service's catalogue: --swift-region, OS_ENDPOINT_TYPE), that Swift runs there, and that no firewall is in the way)",
					err, attempt+1, time.Since(start).Round(time.Millisecond))
			}
			return fmt.Errorf("gave up after %d attempts: %w", attempt+1, err)
		}
		if r.onRetry != nil {
			r.onRetry(attempt, err)
		}
		if r.log != nil {
			r.log.Info("Swift request failed, retrying", "what", what, "why", reason(err, v),
				"attempt", attempt+1, "of", retries+1, "next_in", wait.Round(time.Millisecond).String())
		}
		if v == reauth && r.unauth != nil {
			r.unauth()
		}
		if serr := sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// unreachable reports whether err says that nothing answers at the
// endpoint: the connection was refused, or there is no route to it.
func unreachable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}

// reason is why a request is retried, for the log: the HTTP status and
// Swift's text, or the transport error.
func reason(err error, v verdict) string {
	var se *swift.Error
	if errors.As(err, &se) && se.StatusCode != 0 {
		s := fmt.Sprintf("HTTP %d %s", se.StatusCode, se.Text)
		if v == reauth {
			s += " (the token expired: authenticating again)"
		}
		return s
	}
	return err.Error()
}

// backoff is the wait before retry number attempt (0-based): the
// exponential step capped at max, of which a random half is jitter so
// that parallel uploads do not retry in lockstep.
func (r *retrier) backoff(attempt int) time.Duration {
	d := r.base
	for i := 0; i < attempt && d < r.max; i++ {
		d *= 2
	}
	d = min(d, r.max)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// explain adds what a human should do to the permanent errors that need
// one.
func explain(err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		verifyErr *tls.CertificateVerificationError
		hostname  x509.HostnameError
		dnsErr    *net.DNSError
	)
	switch {
	case errors.As(err, &hostname):
		return fmt.Errorf("%w (the TLS certificate is not for this host name: check the auth / storage URL)", err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%w (the host name does not resolve: check the URL (--swift-auth-url, ST_AUTH or OS_AUTH_URL) and this machine's DNS)", err)
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr):
		return fmt.Errorf("%w (the TLS certificate is not signed by a CA this machine trusts: give the CA with --swift-ca-file or OS_CACERT, or --insecure for a test cloud)", err)
	}
	var se *swift.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.StatusCode {
	case 403:
		return fmt.Errorf("%w (permission denied: check the user's roles and the container's ACLs)", err)
	case 413:
		return fmt.Errorf("%w (Swift refuses objects this large: lower the segment size below the cluster's max_file_size)", err)
	}
	return err
}
