package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/internal/secretfile"
	"github.com/mybak/mybak/internal/status"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/repo"
)

// mysqlEngines are the --engine values that talk to a MySQL server:
// auto (the server's own physical tool), then the engines that declare
// it (engine.Offer.Server), in their order.
func mysqlEngines() []string {
	return append([]string{"auto"}, engine.ServerNames()...)
}

func isMySQLEngine(name string) bool {
	return slices.Contains(mysqlEngines(), name)
}

// connFlags are the options that say how to reach a server. There is no
// password flag: argv is visible to every user of the host.
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", Usage: "MySQL server host (default: the option files, else localhost: the Unix socket)"},
		&cli.IntFlag{Name: "port", Usage: "MySQL server TCP port; given here, it means TCP even to localhost (default: the option files, else 3306)"},
		&cli.StringFlag{Name: "socket", Usage: "MySQL server Unix socket (default: the option files, else /run/mysqld/mysqld.sock or another that exists)"},
		&cli.StringFlag{Name: "user", Usage: "MySQL user (default: the option files, else the OS user: root under sudo)"},
		&cli.StringFlag{Name: "defaults-file", Usage: "the only MySQL option file read, instead of the clients' /etc/my.cnf, /etc/mysql/my.cnf and ~/.my.cnf; mybak reads the groups client, client-server, client-mariadb and mybak"},
		&cli.StringFlag{Name: "defaults-extra-file", Usage: "a MySQL option file read after the global ones and before ~/.my.cnf"},
		&cli.StringFlag{Name: "password-file", Usage: "file whose first line is the MySQL password; or set " + mysql.PasswordEnv + " (never a flag: argv is public)"},
	}
}

// connFlagValues reads connFlags as given (connFromFlags resolves them).
func connFlagValues(c *cli.Context) (mysql.Conn, error) {
	conn := mysql.Conn{Host: c.String("host"), Port: c.Int("port"), Socket: c.String("socket"),
		User: c.String("user"), DefaultsFile: c.String("defaults-file"), PasswordFile: c.String("password-file")}
	if conn.Port < 0 || conn.Port > 65535 {
		return conn, usagef("--port %d: not a TCP port", conn.Port)
	}
	if p := conn.PasswordFile; p != "" {
		if _, err := secretfile.CheckPath("password file "+p, p, secretfile.Password); err != nil {
			return conn, usagef("--password-file: %w", err)
		}
	}
	if p := conn.DefaultsFile; p != "" {
		if err := mysql.CheckOptionFile("option file "+p, p); err != nil {
			return conn, usagef("--defaults-file: %w", err)
		}
	}
	return conn, nil
}

// backupMySQLFlags are backup's options for the MySQL engines.
func backupMySQLFlags() []cli.Flag {
	return append(connFlags(),
		&cli.BoolFlag{Name: "incremental", Usage: "physical engines: back up only the changes since the parent (--parent)"},
		&cli.StringFlag{Name: "parent", Value: "latest", Usage: "the parent of an --incremental backup: an ID, or latest (the newest complete backup of the same engine)"},
		&cli.IntFlag{Name: "parallel", Usage: "physical engines: files copied at once (tool's --parallel)"},
		&cli.IntFlag{Name: "throttle", Usage: "physical engines: IO operations per second (tool's --throttle; risks a redo log wrap)"},
		&cli.StringFlag{Name: "use-memory", Usage: "physical engines: tool's --use-memory, e.g. 1G"},
		&cli.IntFlag{Name: "ftwrl-wait-timeout", Usage: "seconds to wait for long queries before taking the backup lock (tool's --ftwrl-wait-timeout)"},
		&cli.IntFlag{Name: "lock-wait-timeout", Usage: "xtrabackup 8.0: seconds to wait for the backup lock (--backup-lock-timeout)"},
		&cli.IntFlag{Name: "dump-threads", Usage: "--engine logical: connections reading the snapshot (default 4)"},
		&cli.StringSliceFlag{Name: "include", Usage: "--engine logical: back up only these tables: db or db.table, wildcards * and ? (repeat or comma-separate)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "--engine logical: leave out these tables (db or db.table, wildcards), even when --include names them"},
		&cli.BoolFlag{Name: "users", Usage: "--engine logical: also back up the accounts, roles and grants"},
		&cli.StringFlag{Name: "work-dir", Usage: "where the backup's temporary state and the tool's log go (default: $TMPDIR)"},
		&cli.BoolFlag{Name: "preflight", Usage: "run the preflight checks first and do not back up when one fails"},
		&cli.StringFlag{Name: "row-counts", Value: backup.RowCountsAuto, Usage: "after the backup, record each table's row count in the manifest for restore drills: auto (tables up to --row-count-max rows, within --row-count-budget), exact (every table) or off"},
		&cli.Int64Flag{Name: "row-count-max", Value: backup.DefaultRowCountMax, Usage: "--row-counts auto: skip tables whose information_schema estimate is above this many rows"},
		&cli.DurationFlag{Name: "row-count-budget", Value: backup.DefaultRowCountBudget, Usage: "--row-counts auto: stop counting (and skip the remaining tables) after this long"},
	)
}

// rowCountOptions reads --row-counts, --row-count-max and --row-count-budget.
func rowCountOptions(c *cli.Context, e *env) (backup.RowCountOptions, error) {
	mode, err := backup.ParseRowCountMode(c.String("row-counts"))
	if err != nil {
		return backup.RowCountOptions{}, usagef("--row-counts: %w", err)
	}
	if c.Int64("row-count-max") < 1 || c.Duration("row-count-budget") <= 0 {
		return backup.RowCountOptions{}, usagef("--row-count-max and --row-count-budget must be positive")
	}
	return backup.RowCountOptions{Mode: mode, MaxRows: c.Int64("row-count-max"), Budget: c.Duration("row-count-budget"),
		Warnf: func(f string, a ...any) { e.log.Warn(fmt.Sprintf(f, a...)) }}, nil
}

// extraArgs returns the arguments after "--" on mybak's command line: they
// go to the engine's tool verbatim.
func (e *env) extraArgs(c *cli.Context) ([]string, error) {
	dash := false
	for _, a := range e.args {
		if a == "--" {
			dash = true
			break
		}
	}
	if c.NArg() > 0 && !dash {
		return nil, usagef("%s takes no arguments (got %q); put extra engine arguments after --", c.Command.Name, c.Args().First())
	}
	return c.Args().Slice(), nil
}

// server is a connected, probed server and the tool chosen for it.
type server struct {
	conn mysql.Conn
	db   *sql.DB
	info *mysql.ServerInfo
	tool mysql.Tool
}

// connectAndSelect connects, probes the server and picks the tool for
// engine (auto: the physical tool for the flavour).
func connectAndSelect(ctx context.Context, conn mysql.Conn, name string) (*server, error) {
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return nil, err
	}
	info, err := mysql.Probe(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("probe %s: %w", conn, err)
	}
	// An engine that reads the server itself needs no tool.
	if en, err := engine.ByName(name); err == nil {
		if _, ok := en.(engine.Toolless); ok {
			return &server{conn: conn, db: db, info: info, tool: mysql.Tool{Engine: mysql.Engine(name)}}, nil
		}
	}
	// A named engine is its own tool; auto means the physical tool of
	// the server's flavour.
	tool, err := mysql.SelectTool(mysql.Engine(name), info, false)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("engine %s for %s %s: %w", name, info.Flavor, info.Version, err)
	}
	return &server{conn: conn, db: db, info: info, tool: tool}, nil
}

// mysqlBackupEngine builds the engine of a MySQL backup from backup's
// flags: it connects, picks the tool, resolves the parent of an
// incremental and creates the temporary state dir. finish(ok) must be
// called when the backup is over: it closes the connection and removes the
// state dir after a success (after a failure it is kept, with the tool's log).
// report gets the engine's progress in its own units (see status.Report).
func mysqlBackupEngine(c *cli.Context, e *env, r repo.Repository, report status.Func) (eng backup.Engine, parent *backup.Manifest, finish func(ok bool), err error) {
	conn, err := connFromFlags(c)
	if err != nil {
		return nil, nil, nil, err
	}
	extra, err := e.extraArgs(c)
	if err != nil {
		return nil, nil, nil, err
	}
	name := c.String("engine")
	rows, err := rowCountOptions(c, e)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.Bool("preflight") {
		rep, err := backup.Preflight(c.Context, preflightOptions(c, conn, name))
		printPreflight(e.stderr, rep, false)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("not backing up: %w", err)
		}
	}
	srv, err := connectAndSelect(c.Context, conn, name)
	if err != nil {
		return nil, nil, nil, err
	}
	en, err := engine.ByName(string(srv.tool.Engine))
	if err != nil {
		srv.db.Close()
		return nil, nil, nil, err
	}
	if c.Bool("incremental") {
		inc, ok := en.(engine.Incremental)
		if !ok {
			srv.db.Close()
			return nil, nil, nil, usagef("--incremental needs a physical engine (mariabackup, xtrabackup, innobackupex), not %s", srv.tool.Engine)
		}
		if parent, err = resolveParent(c, e, r, srv, inc); err != nil {
			srv.db.Close()
			return nil, nil, nil, err
		}
	}
	e.log.Info("server", "flavor", srv.info.Flavor, "version", srv.info.Version, "engine", srv.tool.Engine, "tool", srv.tool.Path)
	base := c.String("work-dir")
	if base == "" {
		base = os.TempDir()
	}
	state, err := os.MkdirTemp(base, "mybak-backup-")
	if err != nil {
		srv.db.Close()
		return nil, nil, nil, fmt.Errorf("create the backup's temporary state dir in %s: %w (set --work-dir)", base, err)
	}
	finish = func(ok bool) {
		srv.db.Close()
		if ok {
			os.RemoveAll(state)
		} else {
			e.log.Warn("the backup's temporary state and the tool's full log are kept", "dir", state)
		}
	}
	be, err := en.NewBackup(engine.BackupConfig{
		Tool: srv.tool, Conn: conn, DB: srv.db, Server: srv.info,
		Parallel: c.Int("parallel"), Throttle: c.Int("throttle"), UseMemory: c.String("use-memory"),
		FTWRLWaitTimeout: c.Int("ftwrl-wait-timeout"), LockWaitTimeout: c.Int("lock-wait-timeout"), Given: c.IsSet,
		ExtraArgs: extra, WorkDir: filepath.Join(state, "work"), LogPath: filepath.Join(state, string(srv.tool.Engine)+".log"),
		OnLine:      func(l string) { e.log.Debug(string(srv.tool.Engine), "line", l) },
		Warnf:       func(f string, a ...any) { e.log.Warn(fmt.Sprintf(f, a...)) },
		RowCounts:   rows,
		DumpThreads: c.Int("dump-threads"), Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"), Users: c.Bool("users"),
		Log: e.log, Status: report,
	})
	if err != nil {
		finish(true)
		return nil, nil, nil, engineUsage(err)
	}
	return be, parent, finish, nil
}

// engineUsage turns an engine's *engine.UsageError into the cli's usage
// error (exit code 2); other errors pass unchanged.
func engineUsage(err error) error {
	var ue *engine.UsageError
	if errors.As(err, &ue) {
		return usagef("%s", ue.Msg)
	}
	return err
}

// resolveParent asks inc, the engine of an incremental taken from srv,
// for its parent (engine.Incremental.Parent: --parent ID, or latest),
// looking in the repository of the store's layout: in Trove's, the parent
// may be a backup Trove made. A parent that cannot be one is an error
// matching backup.ErrBadParent; none at all, backup.ErrNoBackup.
func resolveParent(c *cli.Context, e *env, r repo.Repository, srv *server, inc engine.Incremental) (*backup.Manifest, error) {
	ref := c.String("parent")
	if ref != "latest" {
		if err := r.Layout().ValidateID(ref); err != nil {
			return nil, usagef("--parent: %w", err)
		}
	}
	return inc.Parent(c.Context, engine.ParentQuery{
		Ref:      ref,
		Load:     r.Resolve,
		Entries:  r.Entries,
		Server:   srv.info,
		Location: r.Location(),
		Log:      e.log,
	})
}
