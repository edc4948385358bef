// Package cli is mybak's command line: it turns flags, environment
// variables and the config file into options for the packages below
// (backup, restore, engine, repo, verify, drill, replica, pitr) and maps their
// errors to exit codes. It holds no backup logic of its own.
//
// One file per command, named after it: cmd_backup.go, cmd_restore.go,
// cmd_verify.go (with cmd_verify_drill.go and cmd_verify_list.go for its
// --drill and --list modes), cmd_list.go, cmd_show.go, cmd_delete.go,
// cmd_prune.go, cmd_resume.go, cmd_preflight.go, cmd_make_replica.go,
// cmd_completion.go, cmd_binlog.go (mybak binlog archive|list|find|
// verify|prune, with cmd_binlog_replay.go for replay and the recovery
// targets; cmd_restore_pitr.go is restore's and verify --drill's
// point-in-time mode); each defines one *cli.Command that newApp lists.
// The other files are what several commands share: the app and its
// logging (app.go), flags from the environment and the config file
// (config.go), which flag applies in which mode (scope.go), the store and
// the repository (store.go, swift.go, repo.go), MySQL connections and
// engine settings (mysql.go, conn.go), keys and authentication (keys.go,
// auth.go), printing (progress.go, jsonfmt.go, escape.go, help.go), exit
// codes (exit.go), locks and metrics (ops.go), signals (signal.go).
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	// Every engine registers itself: restore, verify, drills and
	// make-replica find a backup's engine from its manifest.
	_ "github.com/mybak/mybak/engine/all"
	"github.com/mybak/mybak/internal/pipes"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/ops"
)

// Version is mybak's version, set at build time with
// -ldflags "-X github.com/mybak/mybak/cli.Version=...".
var Version = "dev"

// Commit is the git commit mybak was built from, set at build time with
// -ldflags "-X github.com/mybak/mybak/cli.Commit=..." (make build does);
// otherwise --version reads it from the Go build information, if any.
var Commit = "unknown"

// env holds what a run of the CLI talks to, so tests can run it in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	args           []string // the command line, for what follows "--"
	// quiet is --quiet: a successful run prints nothing (cron mails
	// only failures).
	quiet bool
	// run collects what the metrics file reports of the current command.
	run *ops.Run
}

// Main runs mybak with args (args[0] is the program name) and returns the
// exit status. It never calls os.Exit, so deferred cleanup always runs.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signalContext(stderr)
	defer stop()
	defer startProfile(stderr)()
	// Backups stream through standard input and output (cat | mybak
	// backup, mybak restore --to-stdout | mbstream -x): larger pipes.
	for _, f := range []any{stdin, stdout} {
		if f, ok := f.(*os.File); ok {
			pipes.Grow(f)
		}
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, args: args}
	app := newApp(e)
	err := app.RunContext(ctx, interspersed(app, args))
	code := exitCode(err)
	if err != nil {
		if e.log == nil {
			e.log = slog.New(slog.NewTextHandler(stderr, nil))
		}
		if ctx.Err() != nil && code == ExitFailure {
			code = ExitSignal
		}
		var ue usageError
		switch {
		case errors.As(err, &ue) && wantsJSONLog(args):
			// A usage error can come before the flags are parsed: with
			// --log-format json it is still one JSON line.
			slog.New(slog.NewJSONHandler(stderr, nil)).Error(err.Error(), "exit_code", code,
				"help", "run 'mybak --help' or 'mybak COMMAND --help' for usage")
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "mybak: %v\nRun 'mybak --help' or 'mybak COMMAND --help' for usage.\n", err)
		default:
			e.log.Error(err.Error())
		}
	}
	return code
}

// wantsJSONLog reports whether the command line or the environment asks
// for JSON logs (--log-format json, MYBAK_LOG_FORMAT=json).
func wantsJSONLog(args []string) bool {
	json := os.Getenv("MYBAK_LOG_FORMAT") == "json"
	for i, a := range args {
		if a == "--" {
			break
		}
		switch {
		case a == "--log-format=json" || a == "-log-format=json":
			json = true
		case (a == "--log-format" || a == "-log-format") && i+1 < len(args):
			json = args[i+1] == "json"
		}
	}
	return json
}

func newApp(e *env) *cli.App {
	cmds := []*cli.Command{
		backupCommand(e),
		restoreCommand(e),
		verifyCommand(e),
		listCommand(e),
		deleteCommand(e),
		pruneCommand(e),
		showCommand(e),
		resumeCommand(e),
		preflightCommand(e),
		makeReplicaCommand(e),
		binlogCommand(e),
	}
	for _, c := range cmds {
		for _, f := range c.Flags {
			if f.Names()[0] == "storage" {
				c.Flags = append(c.Flags, swiftFlags()...)
				break
			}
		}
		switch c.Name {
		case "backup":
			c.Flags = append(append(c.Flags, metricsFlag()), lockFlags()...)
		case "verify":
			c.Flags = append(c.Flags, metricsFlag())
		}
		withOps(c, e)
		c.Flags = append(c.Flags, commonFlags()...)
		c.OnUsageError = onUsageError
		c.Before = func(c *cli.Context) error {
			if err := applyConfig(c, cmds); err != nil {
				return err
			}
			if err := checkFlagValues(c); err != nil {
				return err
			}
			if err := setupLogging(c, e); err != nil {
				return err
			}
			// Every child's command line at --log-level debug.
			c.Context = mysql.WithLog(c.Context, e.log)
			return nil
		}
	}
	withEnv(cmds)
	app := &cli.App{
		Name:    "mybak",
		Usage:   "back up, restore and verify MySQL / MariaDB / Percona servers",
		Version: Version,
		Description: "Backups stream through parallel gzip (or zstd) and OpenSSL-compatible AES-256-CBC\n" +
			"encryption into a local directory or OpenStack Swift. Options that say where things\n" +
			"are (the store, the key, the server, Swift, logging) can also be set with MYBAK_<FLAG>\n" +
			"(e.g. MYBAK_STORAGE); a command's own options with MYBAK_<COMMAND>_<FLAG> (e.g.\n" +
			"MYBAK_PRUNE_KEEP); all of them in the YAML file given by --config (each command's\n" +
			"--help names every variable). Exit codes: 0 ok, 1 failure, 2 usage, 3 verify found damage,\n" +
			"4 another run of the same backup job holds its lock.",
		Commands:             cmds,
		Reader:               e.stdin,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		OnUsageError:         onUsageError,
		ExitErrHandler:       func(*cli.Context, error) {}, // Main decides exit codes
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(e.stderr, "mybak: unknown command %q\n", name)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unknownCommand(c.App, c.Args().First())
			}
			// No command: the usage on standard error, exit 2.
			cli.HelpPrinter(e.stderr, cli.AppHelpTemplate, c.App)
			return usagef("no command given")
		},
	}
	app.Commands = append(app.Commands, completionCommand(e))
	decorateHelp(app)
	return app
}

func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	// "did you mean": flag provided but not defined: -storag
	const undefined = "flag provided but not defined: -"
	if msg := err.Error(); strings.HasPrefix(msg, undefined) && cli.SuggestFlag != nil {
		flags := c.App.Flags
		if c.Command != nil && c.Command.Name != "" {
			flags = c.Command.Flags
		}
		if s := cli.SuggestFlag(flags, strings.TrimPrefix(msg, undefined), false); s != "" {
			return usagef("%v: did you mean %s?", err, s)
		}
	}
	return usageError{err}
}

// unknownCommand is the usage error for a command name mybak does not
// know, with the nearest one it does.
func unknownCommand(app *cli.App, name string) error {
	if cli.SuggestCommand != nil {
		if s := cli.SuggestCommand(app.Commands, name); s != "" {
			return usagef("unknown command %q. %s", name, s)
		}
	}
	return usagef("unknown command %q", name)
}

func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "YAML file of options (keys are flag names)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "progress", Value: "auto", Usage: "auto (a bar on a terminal, log lines otherwise), always or never"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing when the command succeeds (for cron, which mails what a job prints): warnings and errors only, no progress, no report or ID on standard output; a failure still prints its report and error"},
	}
}

func setupLogging(c *cli.Context, e *env) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usagef("--log-level: %q is not one of debug, info, warn, error", c.String("log-level"))
	}
	if e.quiet = c.Bool("quiet"); e.quiet {
		switch {
		case c.IsSet("log-level") && level < slog.LevelWarn:
			return usagef("--quiet and --log-level %s contradict each other: keep one", c.String("log-level"))
		case c.IsSet("progress") && c.String("progress") == "always":
			return usagef("--quiet and --progress always contradict each other: keep one")
		}
		if level < slog.LevelWarn {
			level = slog.LevelWarn
		}
		c.Set("progress", "never")
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		e.log = slog.New(slog.NewTextHandler(e.stderr, opts))
	case "json":
		e.log = slog.New(slog.NewJSONHandler(e.stderr, opts))
	default:
		return usagef("--log-format: %q is not text or json", c.String("log-format"))
	}
	switch p := c.String("progress"); p {
	case "auto", "always", "never":
	default:
		return usagef("--progress: %q is not auto, always or never", p)
	}
	setLogger(c, e.log)
	return nil
}
