package swift

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ncw/swift/v2"

	storeretry "github.com/mybak/mybak/storage/retry"
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

// verdict is what to do after a failed request (storage/retry's Verdict).
type verdict = storeretry.Verdict

const (
	permanent = storeretry.GiveUp // give up
	retry     = storeretry.Again  // try again after a wait
	reauth    = storeretry.Reauth // authenticate again, then try again
)

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
	// A request sent to a URL without scheme or host: the swift library
	// read its cached storage URL (unlocked) just after another request
	// dropped the token on a 401, and a third authenticated again before
	// this one looked. The next attempt reads the fresh URL.
	var ue *url.Error
	// net/http has no error type for it, only this text.
	if errors.As(err, &ue) && ue.Err != nil && strings.Contains(safeText(ue.Err), `unsupported protocol scheme ""`) {
		return retry
	}
	// Transport errors, the caller's context, TLS: the rule of every
	// store that talks over a network.
	return storeretry.Classify(err)
}

// retrier runs Swift's requests again after transient failures: it is
// storage/retry's Policy (exponential backoff with jitter, one log line
// per retry: what failed, why, which attempt of how many, when the next
// one is) with Swift's classify, re-authentication and advice. The
// retries stay inside the store, per request, because only here are the
// bytes at hand to replay (a segment held in memory); the storage/retry
// decorator leaves the Swift store alone (Backend.RetriesItself).
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
	// answers (connection refused, no route: storage/retry.Unreachable)
	// then gets at most retry.FastRetries quick retries instead of
	// maxRetries. At the start such an endpoint is down or misconfigured
	// and a person wants to know in seconds, not after 11 attempts over
	// 80 s; once a backup runs, the full retries ride out a restarting
	// proxy.
	opening bool
}

// policy is the storage/retry Policy of r: Swift's statuses (classify),
// its log line and advice, the fail-fast of an unreachable endpoint while
// the store is opened.
func (r *retrier) policy() storeretry.Policy {
	p := storeretry.Policy{
		MaxRetries: r.maxRetries,
		BaseWait:   r.base,
		MaxWait:    r.max,
		Classify:   classify,
		Reauth:     r.unauth,
		Log:        r.log,
		Subject:    "Swift request",
		Reason:     reason,
		Explain:    explain,
		OnRetry:    r.onRetry,
	}
	if r.opening {
		p.FailFast = storeretry.Unreachable
		p.FastGiveUp = func(err error, attempts int, elapsed time.Duration) error {
			return fmt.Errorf("%w (nothing answers there: %d attempts in %s; check the URL (--swift-auth-url, ST_AUTH or OS_AUTH_URL, "+
				"or the storage URL of the auth service's catalogue: --swift-region, OS_ENDPOINT_TYPE), that Swift runs there, and that no firewall is in the way)",
				err, attempts, elapsed.Round(time.Millisecond))
		}
	}
	return p
}

// do calls fn until it succeeds, fails permanently, ctx ends or the
// retries are used up (storage/retry's Policy.Do); what names the request
// in the log ("PUT segment 3 of NAME").
//
// Why this is safe: do is only used for requests that can be replayed
// byte for byte. An upload's body is a segment held whole in a buffer
// (bytes.Reader over it, rebuilt for every attempt) or a manifest built in
// memory, never the caller's stream; a download is resumed by the caller
// from the byte it already has. Swift PUTs are idempotent (last write
// wins) and segment names are unique per Put, so a retry after a PUT that
// did succeed but whose response was lost stores the same bytes again.
func (r *retrier) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	p := r.policy()
	return p.Do(ctx, what, fn)
}

// backoff is the wait before retry number attempt (0-based), as do waits.
func (r *retrier) backoff(attempt int) time.Duration {
	p := r.policy()
	return p.Backoff(attempt)
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

func sleep(ctx context.Context, d time.Duration) error { return storeretry.Sleep(ctx, d) }

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

// safeText is err.Error(), or "" when that panics (x509.HostnameError
// without a certificate does).
func safeText(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	return err.Error()
}
