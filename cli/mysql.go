package cli

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/secretfile"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/trove"
)

// mysqlEngines are the --engine values that talk to a MySQL server.
var mysqlEngines = []string{"auto", "mariabackup", "xtrabackup", "innobackupex", "mysqldump", "mariadb-dump"}

func isMySQLEngine(name string) bool {
	for _, e := range mysqlEngines {
		if e == name {
			return true
		}
	}
	return false
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
func connectAndSelect(ctx context.Context, conn mysql.Conn, engine string) (*server, error) {
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return nil, err
	}
	info, err := mysql.Probe(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("probe %s: %w", conn, err)
	}
	e := mysql.Engine(engine)
	tool, err := mysql.SelectTool(e, info, e == mysql.EngineMysqldump || e == mysql.EngineMariadbDump)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("engine %s for %s %s: %w", engine, info.Flavor, info.Version, err)
	}
	return &server{conn: conn, db: db, info: info, tool: tool}, nil
}

// mysqlBackupEngine builds the engine of a MySQL backup from backup's
// flags: it connects, picks the tool, resolves the parent of an
// incremental and creates the temporary state dir. finish(ok) must be
// called when the backup is over: it closes the connection and removes the
// state dir after a success (after a failure it is kept, with the tool's log).
func mysqlBackupEngine(c *cli.Context, e *env, r repo.Repository) (eng backup.Engine, parent *backup.Manifest, finish func(ok bool), err error) {
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
	if c.Bool("incremental") {
		if !srv.tool.Engine.Physical() {
			srv.db.Close()
			return nil, nil, nil, usagef("--incremental needs a physical engine (mariabackup, xtrabackup, innobackupex), not %s", srv.tool.Engine)
		}
		if parent, err = resolveParent(c, e, r, srv); err != nil {
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
	logPath := filepath.Join(state, string(srv.tool.Engine)+".log")
	onLine := func(l string) { e.log.Debug(string(srv.tool.Engine), "line", l) }
	if c.IsSet("lock-wait-timeout") && srv.tool.Engine != mysql.EngineXtrabackup {
		finish(true)
		return nil, nil, nil, usagef("--lock-wait-timeout is xtrabackup 8.0's --backup-lock-timeout; %s has none: use --ftwrl-wait-timeout", srv.tool.Engine)
	}
	if srv.tool.Engine.Physical() {
		return &backup.PhysicalEngine{Options: mysql.PhysicalOptions{
			Tool: srv.tool, Conn: conn, DB: srv.db, Server: srv.info,
			Parallel: c.Int("parallel"), Throttle: c.Int("throttle"), UseMemory: c.String("use-memory"),
			FTWRLWaitTimeout: c.Int("ftwrl-wait-timeout"), LockWaitTimeout: c.Int("lock-wait-timeout"),
			ExtraArgs: extra, WorkDir: filepath.Join(state, "work"), LogPath: logPath, OnLine: onLine,
			Warnf: func(f string, a ...any) { e.log.Warn(fmt.Sprintf(f, a...)) },
		}, RowCounts: rows}, parent, finish, nil
	}
	for _, f := range []string{"parallel", "throttle", "use-memory", "lock-wait-timeout", "ftwrl-wait-timeout"} {
		if c.IsSet(f) {
			finish(true)
			return nil, nil, nil, usagef("--%s applies to physical engines, not %s", f, srv.tool.Engine)
		}
	}
	return &backup.LogicalEngine{Options: mysql.DumpOptions{Tool: srv.tool, Conn: conn, Server: srv.info,
		ExtraArgs: extra, LogPath: logPath, OnLine: onLine}, RowCounts: rows}, nil, finish, nil
}

// resolveParent finds the parent of an incremental taken from srv:
// --parent ID, or latest: the newest complete backup taken with srv's
// engine that can be a parent (parentProblem). It looks in the repository
// of the store's layout: in Trove's, the parent may be a backup Trove
// made. Newer backups of the engine that latest passes over
// are logged with the reason. A parent that cannot be one is an error
// matching backup.ErrBadParent; none at all, backup.ErrNoBackup.
func resolveParent(c *cli.Context, e *env, r repo.Repository, srv *server) (*backup.Manifest, error) {
	ctx, ref, engine := c.Context, c.String("parent"), srv.tool.Engine
	if ref != "latest" {
		if err := r.Layout().ValidateID(ref); err != nil {
			return nil, usagef("--parent: %w", err)
		}
		m, err := r.Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("parent of the incremental backup: %w", err)
		}
		if why := parentProblem(m, srv); why != "" {
			return nil, fmt.Errorf("%w: %s: take a full backup first (without --incremental), or name another --parent", backup.ErrBadParent, why)
		}
		logParent(e, m)
		return m, nil
	}
	entries, err := r.Entries(ctx)
	if err != nil {
		return nil, err
	}
	var passed []string
	other := "" // why the newest physical backup of another engine cannot be the parent
	for i := len(entries) - 1; i >= 0; i-- {
		m := entries[i].Manifest
		if entries[i].State != backup.StateComplete {
			continue
		}
		if m.Engine.Name != string(engine) {
			if other == "" && mysql.Engine(m.Engine.Name).Physical() {
				other = parentProblem(m, srv)
			}
			continue
		}
		if why := parentProblem(m, srv); why != "" {
			passed = append(passed, why)
			continue
		}
		for _, why := range passed {
			e.log.Warn("passed over a newer backup that cannot be the parent", "why", why)
		}
		logParent(e, m)
		return m, nil
	}
	note := ""
	switch {
	case len(passed) > 0:
		note = " (passed over: " + strings.Join(passed, "; ") + ")"
	case other != "":
		note = " (the newest physical backup there: " + other + ")"
	}
	return nil, fmt.Errorf("%w: no complete %s backup in %s can be the parent of an incremental%s: take a full backup first (without --incremental)",
		backup.ErrNoBackup, engine, r.Location(), note)
}

// logParent says which backup the incremental applies onto.
func logParent(e *env, m *backup.Manifest) {
	by := "mybak"
	if trove.MadeByTrove(m) {
		by = "trove"
	}
	e.log.Info("parent", "id", m.ID, "made_by", by, "to_lsn", m.Meta[backup.MetaToLSN])
}

var reMajorMinor = regexp.MustCompile(`(\d+)\.(\d+)`)

// parentProblem says why m cannot be the parent of an incremental taken
// from srv now, or returns "". A parent is a physical backup of srv's
// engine with an LSN (backup.ParentLSN; a backup Trove made has its engine
// from its Datastore header and its LSN from X-Object-Meta-Lsn), not
// beyond the server's current LSN (the tools take an "incremental" from
// any LSN, and one from another server's holds the wrong pages), and of
// the server's major.minor version where both are known (a full backup
// from before an upgrade, or from another server, is not prepared with
// this server's increments).
func parentProblem(m *backup.Manifest, srv *server) string {
	engine := srv.tool.Engine
	what := m.ID
	byTrove := trove.MadeByTrove(m)
	if byTrove {
		ds := "no datastore recorded"
		if d := strings.TrimSpace(m.Meta[trove.ManifestMetaDatastore] + " " + m.Meta[trove.ManifestMetaDatastoreVersion]); d != "" {
			ds = "datastore " + d
		}
		what = fmt.Sprintf("Trove backup %s (%s)", m.ID, ds)
	}
	physical := mysql.Engine(m.Engine.Name).Physical()
	switch {
	case byTrove && physical && m.Meta[backup.MetaToLSN] == "" &&
		(m.Engine.Name == string(engine) || m.Meta[trove.ManifestMetaDatastore] == ""):
		// Without its metadata (older Trove releases left it off
		// backups of more than one segment) the engine is a guess:
		// what rules the backup out is the missing LSN.
		return what + " has no X-Object-Meta-Lsn, the LSN an incremental starts from " +
			"(older Trove releases did not record it on backups of more than one segment)"
	case !physical:
		return fmt.Sprintf("%s is a logical (%s) backup, not a physical %s one", what, m.Engine.Name, engine)
	case byTrove && m.Engine.Name != string(engine):
		return fmt.Sprintf("%s was made with %s (mybak takes the tool from the Datastore Trove recorded: mariabackup for MariaDB, xtrabackup otherwise), "+
			"not with %s, which %s %s needs", what, m.Engine.Name, engine, srv.info.Flavor, srv.info.Version)
	case m.Engine.Name != string(engine):
		return fmt.Sprintf("%s was taken with %s, not %s", what, m.Engine.Name, engine)
	}
	lsn, err := backup.ParentLSN(m, string(engine))
	if err != nil {
		return fmt.Sprintf("%s records no to_lsn", what)
	}
	if srv.info.LSN > 0 && lsn > srv.info.LSN {
		return fmt.Sprintf("%s ends at LSN %d, beyond this server's current LSN %d: it was not taken from this server "+
			"(or the server was restored from an older backup since)", what, lsn, srv.info.LSN)
	}
	if mm := reMajorMinor.FindStringSubmatch(m.Engine.ServerVersion); mm != nil && srv.info.Major > 0 &&
		(mm[1] != strconv.Itoa(srv.info.Major) || mm[2] != strconv.Itoa(srv.info.Minor)) {
		return fmt.Sprintf("%s was taken from a %s.%s server, this one runs %s (a full backup and its incrementals are prepared by one version of the tool)",
			what, mm[1], mm[2], srv.info.Version)
	}
	return ""
}

// restoreMySQLFlags are restore's options for physical and logical restores.
func restoreMySQLFlags() []cli.Flag {
	return append(connFlags(),
		&cli.StringFlag{Name: "target-dir", Usage: "physical: extract and prepare the backup (and its chain) into this new or empty directory"},
		&cli.BoolFlag{Name: "copy-back", Usage: "physical: then copy the prepared files into --datadir"},
		&cli.BoolFlag{Name: "move-back", Usage: "physical: then move the prepared files into --datadir (consumes --target-dir)"},
		&cli.StringFlag{Name: "datadir", Usage: "physical: the server's (stopped) datadir for --copy-back / --move-back"},
		&cli.StringFlag{Name: "owner", Usage: "physical: user that owns the restored datadir (default: mysql when run as root)"},
		&cli.StringFlag{Name: "use-memory", Usage: "physical: the tool's --use-memory for prepare, e.g. 1G"},
		&cli.BoolFlag{Name: "to-mysql", Usage: "logical: apply the dump with the mysql/mariadb client (connection options as for backup)"},
		&cli.BoolFlag{Name: "force", Usage: "replace a non-empty --target-dir / --datadir (its old contents are moved aside to DIR.mybak-old-<time>), or apply a dump into a server that holds databases"},
		&cli.BoolFlag{Name: "remove-old", Usage: "physical, with --force: delete the old contents of --target-dir / --datadir instead of moving them aside"},
	)
}

// restoreMySQL is restore without --to-stdout: a physical restore into
// --target-dir / --datadir or a logical one --to-mysql.
func restoreMySQL(c *cli.Context, e *env, ref string) error {
	physical := c.String("target-dir") != "" || c.Bool("copy-back") || c.Bool("move-back")
	switch {
	case physical && c.Bool("to-mysql"):
		return usagef("--to-mysql restores a logical backup; --target-dir / --copy-back / --move-back a physical one: pick one")
	case !physical && !c.Bool("to-mysql"):
		return usagef("say where to restore: --to-stdout, --target-dir DIR [--copy-back|--move-back --datadir DIR] (physical) or --to-mysql (logical)")
	case c.Bool("copy-back") && c.Bool("move-back"):
		return usagef("--copy-back and --move-back exclude each other")
	case (c.Bool("copy-back") || c.Bool("move-back")) && c.String("datadir") == "":
		return usagef("--copy-back / --move-back need --datadir DIR")
	case c.String("datadir") != "" && !c.Bool("copy-back") && !c.Bool("move-back"):
		return usagef("--datadir needs --copy-back or --move-back")
	case c.Bool("remove-old") && (!c.Bool("force") || !physical):
		return usagef("--remove-old goes with --force, for a physical restore (--target-dir / --copy-back / --move-back)")
	}
	pass, err := loadKey(c, e)
	if err != nil {
		return err
	}
	var conn mysql.Conn
	if c.Bool("to-mysql") {
		if conn, err = connFromFlags(c); err != nil {
			return err
		}
	}
	st, err := openStore(c.Context, c)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := openRepoOn(c, e, st)
	if err != nil {
		return err
	}
	// From here on st reads the backup's objects in its layout (for
	// Trove, segment by segment).
	st = r.Data()
	m, err := r.Resolve(c.Context, ref)
	if err != nil {
		return err
	}
	p := newProgress(c.String("progress"), e.stderr, e.log, "restore", -1)
	defer p.Done()
	opts := readOptions(c, e, pass)
	opts.Progress = p.Add
	if c.Bool("to-mysql") {
		logf, err := os.CreateTemp("", "mybak-restore-"+m.ID+"-*.log")
		if err != nil {
			return fmt.Errorf("create the client's log file: %w", err)
		}
		logf.Close()
		e.log.Info("restore started", "id", m.ID, "engine", m.Engine.Name, "to", conn.String())
		err = restore.ToMySQL(c.Context, st, m, restore.LogicalOptions{Options: opts, Conn: conn, Force: c.Bool("force"),
			LogPath: logf.Name(), Log: e.log})
		if err != nil {
			if fi, serr := os.Stat(logf.Name()); serr == nil && fi.Size() > 0 {
				e.log.Warn("the SQL client's full log is kept", "file", logf.Name())
			} else {
				os.Remove(logf.Name())
			}
			return err
		}
		os.Remove(logf.Name())
		e.log.Info("restore complete", "id", m.ID)
		return nil
	}
	chain, err := r.Chain(c.Context, m)
	if err != nil {
		return err
	}
	ids := make([]string, len(chain))
	for i, cm := range chain {
		ids[i] = cm.ID
	}
	e.log.Info("restore started", "id", m.ID, "chain", strings.Join(ids, " -> "))
	err = restore.Physical(c.Context, st, chain, restore.PhysicalOptions{Options: opts,
		TargetDir: c.String("target-dir"), Datadir: c.String("datadir"), MoveBack: c.Bool("move-back"),
		Owner: c.String("owner"), Force: c.Bool("force"), RemoveOld: c.Bool("remove-old"), UseMemory: c.String("use-memory"), Log: e.log})
	if err != nil {
		return err
	}
	e.log.Info("restore complete", "id", m.ID, "target_dir", c.String("target-dir"), "datadir", c.String("datadir"))
	return nil
}
