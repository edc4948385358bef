package swift

import "log/slog"

// Logger is what Config.Log takes: a log/slog logger, which receives a
// line at info level for every retried request.
type Logger = slog.Logger
