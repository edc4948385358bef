package mysql

import (
	"context"
	"io"
	"log/slog"
	"regexp"
)

type logKey struct{}

// WithLog returns ctx carrying log: Run logs every child's command line on
// it at debug level (--log-level debug), secrets redacted (there should be
// none: passwords go through the in-memory defaults file).
func WithLog(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func logFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return discard
}

var secretArg = regexp.MustCompile(`(?i)^(-{1,2}[a-z-]*(password|passwd|pass|pwd|secret|key)[a-z-]*)(=|$)`)

// redactArgs returns args with the value of any option that names a
// password, a secret or a key replaced by "***": a debug log must never
// hold a secret, even one a caller should not have put on argv.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	redactNext := false
	for i, a := range args {
		switch m := secretArg.FindStringSubmatch(a); {
		case redactNext:
			out[i], redactNext = "***", false
		case len(a) > 2 && a[0] == '-' && a[1] == 'p':
			out[i] = "-p***" // the clients' -pPASSWORD
		case m != nil && m[3] == "=":
			out[i] = m[1] + "=***"
		case m != nil && len(a) > 2 && a[1] == '-':
			out[i], redactNext = a, true
		default:
			out[i] = a
		}
	}
	return out
}
