package cli

// make-replica, and backup --to-stdout (the wire stream make-replica
// --from-stdin reads).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/internal/secretfile"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/replica"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// replPasswordEnv holds the replication password itself (never a flag).
const replPasswordEnv = "MYBAK_REPLICATION_PASSWORD"

func makeReplicaCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.StringFlag{Name: "backup", Usage: "the stored backup to build the replica from: an ID or latest (with --storage); a physical chain is restored whole"},
		&cli.BoolFlag{Name: "from-stdin", Usage: "read the backup from standard input, as mybak backup --to-stdout writes it (e.g. over ssh from the primary)"},
		&cli.BoolFlag{Name: "fresh", Usage: "dump the primary now (--engine logical by default, or mysqldump|mariadb-dump) straight into the running replica, no store"},
		&cli.StringFlag{Name: "engine", Value: "logical", Usage: "with --fresh: logical (mybak's own, parallel, consistent), mysqldump, mariadb-dump, or auto (the primary's own dump tool)"},
		&cli.StringFlag{Name: "datadir", Usage: "physical backups: the replica's datadir (new or empty; no server may run on it)"},
		&cli.BoolFlag{Name: "force", Usage: "replace a non-empty --datadir (its old contents are moved aside to DIR.mybak-old-<time>), or apply a dump into a replica that holds databases"},
		&cli.BoolFlag{Name: "remove-old", Usage: "physical, with --force: delete the old contents of --datadir instead of moving them aside"},
		&cli.StringFlag{Name: "owner", Usage: "physical: user that owns the restored datadir (default: mysql when run as root)"},
		&cli.StringFlag{Name: "use-memory", Usage: "physical: the tool's --use-memory for prepare, e.g. 1G"},
		&cli.IntFlag{Name: "parallel", Usage: "pieces decoded at once (default: all cores)"},
		&cli.StringFlag{Name: "start-cmd", Usage: "shell command that starts the replica's server after a physical restore (gets MYBAK_DATADIR), e.g. 'systemctl start mariadb'; without it mybak waits for you to start it"},
		&cli.DurationFlag{Name: "start-timeout", Value: 10 * time.Minute, Usage: "how long to wait for the replica's server to answer after the restore"},
		&cli.DurationFlag{Name: "wait-timeout", Value: 30 * time.Minute, Usage: "how long to wait for the replica to catch up with the primary's position at start"},
		&cli.StringFlag{Name: "primary-host", Usage: "the primary's address as the replica reaches it (required)"},
		&cli.IntFlag{Name: "primary-port", Value: 3306, Usage: "the primary's port"},
		&cli.StringFlag{Name: "primary-user", Usage: "a privileged user on the primary, for --fresh (backup privileges) and --create-user (CREATE USER, GRANT OPTION)"},
		&cli.StringFlag{Name: "primary-password-file", Usage: "file whose first line is --primary-user's password (0600)"},
		&cli.StringFlag{Name: "replication-user", Usage: "the user the replica replicates as (required)"},
		&cli.StringFlag{Name: "replication-password-file", Usage: "file whose first line is the replication password (0600); or set " + replPasswordEnv},
		&cli.BoolFlag{Name: "create-user", Usage: "create the replication user on the primary (REPLICATION SLAVE only) unless it exists"},
		&cli.StringFlag{Name: "replication-user-host", Value: "%", Usage: "with --create-user: the host part of the replication account"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		layoutFlag(),
	}
	return &cli.Command{
		Name:  "make-replica",
		Usage: "turn an empty server into a running replica of a primary, from a backup",
		Description: "Sources: --backup ID|latest --storage STORE; --from-stdin (ssh primary mybak backup --engine auto --to-stdout ... |);\n" +
			"--fresh --engine mysqldump. Physical backups are restored into --datadir and the server started with\n" +
			"--start-cmd (or by you); dumps are applied into the running replica. Replication is positioned at the\n" +
			"backup's GTID (or binlog file and position) and mybak waits until the replica caught up.",
		ArgsUsage: " ",
		Flags:     append(append(append(flags, keyFlags()...), authFlags()...), connFlags()...),
		Action: func(c *cli.Context) error {
			return makeReplica(c, e)
		},
	}
}

// secretFile reads the first line of a password file (secretfile's rule:
// no group or other access, owned by mybak's user or root).
func secretFile(flag, path string) (string, error) {
	if _, err := secretfile.CheckPath("password file "+path, path, secretfile.Password); err != nil {
		return "", usagef("--%s: %w", flag, err)
	}
	pw, _, err := mysql.Conn{PasswordFile: path}.ResolvePassword()
	if err != nil {
		return "", usagef("--%s: %w", flag, err)
	}
	return pw, nil
}

func makeReplica(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usagef("make-replica takes no arguments (got %q)", c.Args().First())
	}
	nsrc := 0
	for _, f := range []string{"backup", "from-stdin", "fresh"} {
		if c.IsSet(f) && (f != "backup" || c.String(f) != "") {
			nsrc++
		}
	}
	if nsrc != 1 {
		return usagef("say where the data comes from, once: --backup ID|latest --storage STORE, --from-stdin, or --fresh")
	}
	if err := checkScopes(c, e, replicaScopes()); err != nil {
		return err
	}
	if c.String("primary-host") == "" || c.String("replication-user") == "" {
		return usagef("--primary-host and --replication-user are required (the replica connects to the primary as that user)")
	}
	replPW, err := replicationPassword(c)
	if err != nil {
		return err
	}
	conn, err := connFromFlags(c)
	if err != nil {
		return err
	}
	primaryConn, err := primaryConnection(c)
	if err != nil {
		return err
	}
	if c.Bool("remove-old") && !c.Bool("force") {
		return usagef("--remove-old goes with --force")
	}
	if c.Bool("remove-old") && c.Bool("fresh") {
		return usagef("--remove-old does nothing here: it applies to a physical backup (restored into --datadir), not --fresh")
	}
	pass, err := loadKey(c, e)
	if err != nil {
		return err
	}

	work, err := os.MkdirTemp("", "mybak-replica-")
	if err != nil {
		return fmt.Errorf("create a temporary dir for the tools' logs: %w", err)
	}
	keep := false
	defer func() {
		if keep {
			e.log.Warn("the tools' logs are kept", "dir", work)
		} else {
			os.RemoveAll(work)
		}
	}()
	p := newProgress(c.String("progress"), e.stderr, e.log, "restore", -1)
	defer p.Done()
	ropts := readOptions(c, e, pass)
	ropts.Progress = p.Add
	ropts.Status = p.Report // a logical load's chunks and total, a fresh dump's tables and rows
	// The replica's datadir and the running replica: the backup's engine
	// restores into the one it restores into.
	target := engine.Target{
		Files: &restore.PhysicalOptions{Options: ropts, Datadir: c.String("datadir"), Owner: c.String("owner"),
			Force: c.Bool("force"), RemoveOld: c.Bool("remove-old"), UseMemory: c.String("use-memory"), Log: e.log,
			Protect: []restore.Protected{{What: "the tools' log dir", Dir: work}}},
		Server: &restore.LogicalOptions{Options: ropts, Conn: conn, Force: c.Bool("force"),
			LogPath: filepath.Join(work, "client.log"), Log: e.log},
	}
	o := replica.Options{
		Replica: conn,
		Primary: replica.Primary{Host: c.String("primary-host"), Port: c.Int("primary-port"),
			User: c.String("replication-user"), Password: replPW},
		PrimaryConn:  primaryConn,
		CreateUser:   c.Bool("create-user"),
		UserHost:     c.String("replication-user-host"),
		Datadir:      c.String("datadir"),
		StartCmd:     c.String("start-cmd"),
		StartTimeout: c.Duration("start-timeout"),
		StartLogPath: filepath.Join(work, "start-cmd.log"),
		WaitTimeout:  c.Duration("wait-timeout"),
		Log:          e.log,
	}
	var fill func(context.Context) (replica.Position, error)
	var intoDatadir bool
	switch {
	case c.Bool("from-stdin"):
		fill, intoDatadir, err = fillFromStdin(c, e, pass, target)
	case c.Bool("fresh"):
		fill, err = fillFresh(c, e, *primaryConn, work, target)
	default:
		var st storage.Backend
		st, err = openStore(c.Context, c)
		if err != nil {
			return err
		}
		defer st.Close()
		fill, intoDatadir, err = fillFromStore(c, e, st, target)
	}
	if err != nil {
		return err
	}
	o.Fill = fill
	if !intoDatadir && c.Bool("remove-old") {
		return usagef("--remove-old does nothing here: it applies to a physical backup (restored into --datadir)")
	}
	if intoDatadir {
		if o.Datadir == "" {
			return usagef("a physical backup is restored into the replica's datadir: give --datadir DIR")
		}
		if err := restore.CheckDatadir(o.Datadir, c.Bool("force")); err != nil {
			return err
		}
	}
	o.IntoDatadir = intoDatadir
	o.OnStatus = func(s replica.Status) {
		e.log.Debug("replica status", "io", s.IORunning, "sql", s.SQLRunning, "lag", s.SecondsBehind, "gtid", s.GTIDExecuted)
	}
	res, err := replica.Make(c.Context, o)
	p.Done()
	if res != nil && !(e.quiet && err == nil) {
		printReplica(e.stdout, res, c.Bool("json"), err)
	}
	if err != nil {
		keep = true
		return err
	}
	e.log.Info("replica running and caught up", "primary", res.Primary, "seconds", res.Seconds)
	return nil
}

// replicationPassword reads the replication password from
// --replication-password-file or the environment (which it then clears):
// exactly one of them.
func replicationPassword(c *cli.Context) (string, error) {
	envPW, hasEnv := os.LookupEnv(replPasswordEnv)
	os.Unsetenv(replPasswordEnv)
	switch f := c.String("replication-password-file"); {
	case f != "" && hasEnv:
		return "", usagef("both --replication-password-file and %s are set: keep one", replPasswordEnv)
	case f != "":
		return secretFile("replication-password-file", f)
	case hasEnv:
		return envPW, nil
	}
	return "", usagef("the replication password is needed: --replication-password-file FILE or %s", replPasswordEnv)
}

// primaryConnection is the privileged connection to the primary
// (--primary-user, --primary-password-file), or nil without
// --primary-user, which --fresh and --create-user need.
func primaryConnection(c *cli.Context) (*mysql.Conn, error) {
	u := c.String("primary-user")
	if u == "" {
		if c.Bool("fresh") || c.Bool("create-user") {
			return nil, usagef("--fresh and --create-user need --primary-user (and --primary-password-file)")
		}
		return nil, nil
	}
	pc := mysql.Conn{Host: c.String("primary-host"), Port: c.Int("primary-port"), User: u}
	if f := c.String("primary-password-file"); f != "" {
		var err error
		if pc.Password, err = secretFile("primary-password-file", f); err != nil {
			return nil, err
		}
	}
	return &pc, nil
}

// fillFromStdin is make-replica --from-stdin: the backup a wire stream
// carries, restored by its engine. intoDatadir says the engine restores
// files into the replica's datadir (else SQL into the running replica).
func fillFromStdin(c *cli.Context, e *env, pass []byte, target engine.Target) (fill func(context.Context) (replica.Position, error), intoDatadir bool, err error) {
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		return nil, false, usagef("--from-stdin: standard input is a terminal: pipe `mybak backup --to-stdout` into it")
	}
	wr, err := backup.NewWireReader(e.stdin, wireReadOptions(c, e, pass))
	if err != nil {
		return nil, false, err
	}
	e.log.Info("backup stream", "id", wr.Header.ID, "engine", wr.Header.Engine)
	eng, err := engine.ForName(wr.Header.Engine)
	if err != nil {
		return nil, false, err
	}
	return replica.FromWire(eng, wr, target), eng.Into() == engine.IntoFiles, nil
}

// fillFresh is make-replica --fresh: the primary dumped over the network
// (--engine logical, the default; mysqldump, mariadb-dump, or auto: the
// primary's own dump tool) straight into the running replica.
func fillFresh(c *cli.Context, e *env, primary mysql.Conn, work string, target engine.Target) (func(context.Context) (replica.Position, error), error) {
	name := c.String("engine")
	if name != "auto" {
		if _, err := freshDumper(name); err != nil {
			return nil, usagef("--fresh --engine %s: a physical engine must run on the primary's host: "+
				"ssh PRIMARY mybak backup --engine %s --to-stdout ... | mybak make-replica --from-stdin ...", name, name)
		}
	}
	db, err := mysql.Open(c.Context, primary)
	if err != nil {
		return nil, fmt.Errorf("connect to the primary: %w", err)
	}
	info, err := mysql.Probe(c.Context, db)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("probe the primary %s: %w", primary, err)
	}
	if d, err := freshDumper(name); err == nil {
		if _, ok := d.(engine.Toolless); ok {
			e.log.Info("dumping the primary into the replica", "primary", primary.String(), "engine", name)
			return replica.FromDump(d, engine.BackupConfig{Conn: primary, Server: info, Log: e.log}, target), nil
		}
	}
	tn := mysql.Engine(name)
	if name == "auto" {
		tn = mysql.LogicalEngineFor(info)
	}
	tool, err := mysql.SelectTool(tn, info, true)
	if err != nil {
		return nil, fmt.Errorf("engine %s for %s %s: %w", tn, info.Flavor, info.Version, err)
	}
	d, err := freshDumper(string(tool.Engine))
	if err != nil {
		return nil, err
	}
	e.log.Info("dumping the primary into the replica", "primary", primary.String(), "tool", tool.Path)
	return replica.FromDump(d, engine.BackupConfig{Tool: tool, Conn: primary, Server: info,
		LogPath: filepath.Join(work, "dump.log")}, target), nil
}

// fillFromStore is make-replica --backup ID|latest: a stored backup (a
// physical one with its chain) restored by its engine; intoDatadir as
// for fillFromStdin.
func fillFromStore(c *cli.Context, e *env, st storage.Backend, target engine.Target) (fill func(context.Context) (replica.Position, error), intoDatadir bool, err error) {
	r, err := openRepoOn(c, e, st)
	if err != nil {
		return nil, false, err
	}
	m, err := r.Resolve(c.Context, c.String("backup"))
	if err != nil {
		return nil, false, err
	}
	eng, err := engine.For(m)
	if err != nil {
		return nil, false, err
	}
	chain := []*backup.Manifest{m}
	if intoDatadir = eng.Into() == engine.IntoFiles; intoDatadir {
		if chain, err = r.Chain(c.Context, m); err != nil {
			return nil, false, err
		}
	}
	ids := make([]string, len(chain))
	for i, cm := range chain {
		ids[i] = cm.ID
	}
	e.log.Info("backup", "id", m.ID, "engine", m.Engine.Name, "chain", strings.Join(ids, " -> "))
	return replica.FromChain(eng, r.Data(), chain, target), intoDatadir, nil
}

// freshDumper returns the engine named name when it can dump a primary
// over the network into the replica (make-replica --fresh).
func freshDumper(name string) (engine.Dumper, error) {
	eng, err := engine.ByName(name)
	if err != nil {
		return nil, err
	}
	d, ok := eng.(engine.Dumper)
	if !ok {
		return nil, fmt.Errorf("the %s engine cannot dump a server over the network", name)
	}
	return d, nil
}

// printReplica prints make-replica's result as a table or JSON.
func printReplica(w io.Writer, r *replica.Result, asJSON bool, err error) {
	if asJSON {
		out := struct {
			*replica.Result
			OK    bool   `json:"ok"`
			Error string `json:"error,omitempty"`
		}{Result: r, OK: err == nil}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return
	}
	s := r.Status
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	lag := "-"
	if s.SecondsBehind != nil {
		lag = fmt.Sprintf("%d s", *s.SecondsBehind)
	}
	pos := func(p replica.Position) string {
		if p.GTID != "" {
			return "GTID " + p.GTID
		}
		return fmt.Sprintf("%s:%d", p.File, p.Pos)
	}
	rows := [][2]string{
		{"replica", r.Replica + " (" + r.Dialect + ")"},
		{"primary", r.Primary},
		{"started at", pos(r.Position)},
		{"IO thread", dash(s.IORunning) + " " + s.IOState},
		{"SQL thread", dash(s.SQLRunning)},
		{"lag", lag},
		{"using GTID", dash(s.UsingGTID)},
		{"GTID received", dash(s.GTIDReceived)},
		{"GTID executed", dash(s.GTIDExecuted)},
		{"primary binlog read", fmt.Sprintf("%s:%d", dash(s.ReadFile), s.ReadPos)},
		{"primary binlog executed", fmt.Sprintf("%s:%d", dash(s.ExecFile), s.ExecPos)},
		{"last IO error", errText(s.LastIOErrno, s.LastIOError)},
		{"last SQL error", errText(s.LastSQLErrno, s.LastSQLError)},
	}
	if r.Target != nil {
		rows = append(rows[:3], append([][2]string{{"caught up to", pos(*r.Target)}}, rows[3:]...)...)
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], printableText(row[1]))
	}
	tw.Flush()
}

func errText(n int, s string) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%d: %s", n, s)
}
