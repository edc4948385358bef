package cli

import (
	"log/slog"

	"github.com/urfave/cli/v2"
)

// metaLogger is the key of the run's logger in the app's Metadata, for
// code that gets only the *cli.Context (openStore and the stores it opens).
const metaLogger = "mybak.logger"

// setLogger makes log the run's logger for loggerOf.
func setLogger(c *cli.Context, log *slog.Logger) {
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[metaLogger] = log
}

// loggerOf returns the run's logger (set up by --log-format and
// --log-level), or nil before logging is set up.
func loggerOf(c *cli.Context) *slog.Logger {
	l, _ := c.App.Metadata[metaLogger].(*slog.Logger)
	return l
}
