package cli

import (
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/engine"
)

// A flagScope says which flags only mean something in one mode of a
// command. A flag given outside its mode is a usage error naming the
// mode: no flag is accepted and then silently ignored (mybak backup --host
// ... used to back up an empty standard input under cron and exit 0).
type flagScope struct {
	// flags are the scoped flags' names.
	flags []string
	// applies reports whether the command runs in the flags' mode.
	applies func(c *cli.Context) bool
	// mode says what the flags need, for the message ("with --drill").
	mode string
	// cmdline checks only flags given on the command line (or in the
	// command's own MYBAK_<COMMAND>_<FLAG>), for flags that describe the
	// environment (the MySQL connection) and may be exported or kept in
	// the config file for every command.
	cmdline bool
}

// checkScopes returns a usage error for the first scoped flag that was
// given while its mode does not apply.
func checkScopes(c *cli.Context, e *env, scopes []flagScope) error {
	for _, s := range scopes {
		if s.applies(c) {
			continue
		}
		var given []string
		for _, f := range s.flags {
			set := c.IsSet(f)
			if s.cmdline {
				set = onCommandLine(c, e, f)
			}
			if set {
				given = append(given, "--"+f)
			}
		}
		if len(given) > 0 {
			verb := "does"
			if len(given) > 1 {
				verb = "do"
			}
			return usagef("%s %s nothing here: %s %s (remove %s)", strings.Join(given, ", "), verb,
				map[bool]string{true: "they apply", false: "it applies"}[len(given) > 1], s.mode,
				map[bool]string{true: "them", false: "it"}[len(given) > 1])
		}
	}
	return nil
}

// onCommandLine reports whether flag (or one of its aliases) is on mybak's
// command line before "--".
func onCommandLine(c *cli.Context, e *env, flag string) bool {
	names := []string{flag}
	for _, f := range c.Command.Flags {
		if f.Names()[0] == flag {
			names = f.Names()
			break
		}
	}
	for _, a := range e.args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimLeft(a, "-")
		a, _, _ = strings.Cut(a, "=")
		for _, n := range names {
			if a == n {
				return true
			}
		}
	}
	return false
}

// connFlagNames are the MySQL connection flags (connFlags).
func connFlagNames() []string {
	var n []string
	for _, f := range connFlags() {
		n = append(n, f.Names()[0])
	}
	return n
}

// backupScopes: MySQL options need a MySQL engine, compression options
// compression, encryption options encryption.
func backupScopes(engine string) []flagScope {
	mysqlEngine := func(*cli.Context) bool { return engine != "stdin" }
	return []flagScope{
		{flags: connFlagNames(), applies: mysqlEngine, cmdline: true,
			mode: "to a MySQL --engine (auto, " + strings.Join(mysqlEngines()[1:], ", ") + "); --engine stdin stores standard input"},
		{flags: []string{"incremental"}, applies: mysqlEngine,
			mode: "to a physical engine (--engine auto, mariabackup, xtrabackup or innobackupex); --engine stdin stores standard input"},
		{flags: []string{"parent", "parallel", "throttle", "use-memory", "ftwrl-wait-timeout", "lock-wait-timeout",
			"work-dir", "preflight", "row-counts", "row-count-max", "row-count-budget"}, applies: mysqlEngine,
			mode: "to a MySQL --engine; --engine stdin stores standard input as it is"},
		{flags: []string{"dump-threads", "include", "exclude", "users"}, applies: func(*cli.Context) bool { return readsServerItself(engine) },
			mode: "to --engine logical"},
		{flags: []string{"compress-level", "compress-block-size", "compress-concurrency"},
			applies: func(c *cli.Context) bool { return c.String("compress") != "none" }, mode: "to --compress gzip or zstd"},
		{flags: []string{"encrypt-kdf", "encrypt-iter"},
			applies: func(c *cli.Context) bool { return !c.Bool("no-encrypt") }, mode: "to encrypted backups, not --no-encrypt"},
	}
}

// restoreScopes: each of restore's three modes has its own options.
func restoreScopes() []flagScope {
	physical := func(c *cli.Context) bool {
		return c.String("target-dir") != "" || c.Bool("copy-back") || c.Bool("move-back")
	}
	return []flagScope{
		{flags: connFlagNames(), applies: func(c *cli.Context) bool { return c.Bool("to-mysql") || c.String("start-cmd") != "" }, cmdline: true,
			mode: "to --to-mysql (the server the dump is applied to), or with --start-cmd (the server rolled forward)"},
		{flags: []string{"start-cmd", "start-timeout"}, applies: func(c *cli.Context) bool { return physical(c) && hasTarget(c) },
			mode: "to a physical restore with a recovery target (--until, --before-statement, ...)"},
		{flags: []string{"owner", "use-memory", "remove-old"}, applies: physical, mode: "to a physical restore (--target-dir)"},
		{flags: []string{"include", "exclude", "resume", "defer-indexes", "users"}, applies: func(c *cli.Context) bool { return c.Bool("to-mysql") },
			mode: "to --to-mysql (of a logical engine backup)"},
		{flags: []string{"no-binlog"}, applies: func(c *cli.Context) bool { return c.Bool("to-mysql") },
			mode: "to --to-mysql (the server the dump is applied to)"},
		{flags: []string{"force"}, applies: func(c *cli.Context) bool { return !c.Bool("to-stdout") },
			mode: "to --target-dir / --datadir / --to-mysql"},
	}
}

// verifyScopes: the drill's options need --drill, --parallel decodes.
func verifyScopes() []flagScope {
	return []flagScope{
		{flags: []string{"keep", "scratch-dir", "mysqld", "start-timeout", "use-memory", "until", "until-gtid", "before-gtid", "until-position", "before-statement"},
			applies: func(c *cli.Context) bool { return c.Bool("drill") }, mode: "with --drill"},
		{flags: []string{"parallel"}, applies: func(c *cli.Context) bool { return c.Bool("deep") || c.Bool("drill") },
			mode: "with --deep or --drill (the stream is decoded)"},
	}
}

// replicaScopes: each source of make-replica has its own options; --fresh
// is always a dump applied to a running server, so the options of a
// physical restore do nothing there.
func replicaScopes() []flagScope {
	return []flagScope{
		{flags: []string{"engine"}, applies: func(c *cli.Context) bool { return c.Bool("fresh") },
			mode: "to --fresh (the dump tool run against the primary)"},
		{flags: []string{"storage", "layout"}, applies: func(c *cli.Context) bool { return c.String("backup") != "" },
			mode: "to --backup ID|latest (a stored backup)", cmdline: true},
		{flags: []string{"datadir", "start-cmd", "owner", "use-memory"}, applies: func(c *cli.Context) bool { return !c.Bool("fresh") },
			mode: "to a physical backup (--backup or --from-stdin), not --fresh, which applies a dump to the running replica"},
		{flags: []string{"primary-password-file"}, applies: func(c *cli.Context) bool { return c.String("primary-user") != "" },
			mode: "with --primary-user"},
		{flags: []string{"replication-user-host"}, applies: func(c *cli.Context) bool { return c.Bool("create-user") },
			mode: "with --create-user"},
	}
}

// oneMode returns a usage error when more than one of the modes of a
// command is chosen (restore --to-stdout --to-mysql used to ignore one).
func oneMode(what string, modes map[string]bool) error {
	var given []string
	for m, on := range modes {
		if on {
			given = append(given, m)
		}
	}
	if len(given) > 1 {
		sort.Strings(given)
		return usagef("%s exclude each other: %s (pick one)", strings.Join(given, " and "), what)
	}
	return nil
}

// defaultEngine makes MySQL connection options on the command line choose
// --engine auto when no --engine is given: mybak backup --host H --user U
// backs up that server (it backed up standard input, /dev/null under
// cron). An explicit --engine stdin with them is a usage error
// (backupScopes).
func defaultEngine(c *cli.Context, e *env) error {
	if c.IsSet("engine") {
		return nil
	}
	for _, f := range connFlagNames() {
		if onCommandLine(c, e, f) {
			if err := c.Set("engine", "auto"); err != nil {
				return err
			}
			e.log.Info("engine auto: MySQL connection options were given (--engine stdin stores standard input)", "flag", "--"+f)
			return nil
		}
	}
	return nil
}

// readsServerItself reports whether the engine named name reads the
// server itself (engine.Toolless: the logical engine), whose options
// (--dump-threads, --include, ...) no tool has.
func readsServerItself(name string) bool {
	en, err := engine.ByName(name)
	if err != nil {
		return false
	}
	_, ok := en.(engine.Toolless)
	return ok
}
