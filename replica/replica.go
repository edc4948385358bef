package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
)

// Options configure Make.
type Options struct {
	// Replica is the replica's own connection (a user that may run CHANGE
	// MASTER, SET GLOBAL gtid_slave_pos and apply a dump).
	Replica mysql.Conn
	// Primary is how the replica's IO thread reaches the primary.
	Primary Primary
	// PrimaryConn, when set, reaches the primary with privileges (for
	// CreateUser and for reading its position). Without it the position is
	// read with Primary's replication user.
	PrimaryConn *mysql.Conn
	// CreateUser creates Primary.User@UserHost on the primary with
	// REPLICATION SLAVE only, unless it exists.
	CreateUser bool
	UserHost   string

	// Fill puts the backup into the replica and returns its position. With
	// IntoDatadir it restores files into Datadir (no server runs on it
	// yet); then StartCmd starts the server, or Make waits StartTimeout
	// for someone to start it. Without IntoDatadir it applies SQL into the
	// running replica (StartCmd starts it first when it does not answer).
	// The backup's engine says which (engine.Engine.Into).
	Fill        func(ctx context.Context) (Position, error)
	IntoDatadir bool
	Datadir     string
	// StartCmd is run with /bin/sh -c (environment: MYBAK_DATADIR); it must
	// return once the server was started. It holds no secret.
	StartCmd     string
	StartTimeout time.Duration // 0: 10 minutes
	StartLogPath string        // StartCmd's stderr
	WaitTimeout  time.Duration // 0: 30 minutes
	Log          *slog.Logger
	// OnStatus sees every replica status read while waiting.
	OnStatus func(Status)
}

// Result is what Make did.
type Result struct {
	Replica  string    `json:"replica"`
	Primary  string    `json:"primary"`
	Dialect  string    `json:"dialect"`
	Position Position  `json:"position"`
	Target   *Position `json:"target,omitempty"`
	Status   Status    `json:"status"`
	Seconds  float64   `json:"seconds"`
}

// Make builds the replica: fill, start (physical), position, wait. On a
// replication failure the returned Result holds the replica's status and
// the error is a *ReplicationError. Secrets never appear in logs.
func Make(ctx context.Context, o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	res := &Result{Replica: o.Replica.String(),
		Primary: o.Primary.User + "@" + net.JoinHostPort(o.Primary.Host, strconv.Itoa(portOr3306(o.Primary.Port)))}
	if o.IntoDatadir {
		if o.Datadir == "" {
			return nil, errors.New("a physical backup needs the replica's datadir (--datadir)")
		}
	}
	if o.CreateUser {
		if err := createUser(ctx, o, log); err != nil {
			return nil, err
		}
	}
	if !o.IntoDatadir {
		if err := ensureRunning(ctx, o, log, false); err != nil {
			return nil, err
		}
	}
	pos, err := o.Fill(ctx)
	if err != nil {
		return nil, err
	}
	res.Position = pos
	log.Info("replica filled", "binlog_file", pos.File, "binlog_pos", pos.Pos, "gtid", pos.GTID)
	if o.IntoDatadir {
		if err := ensureRunning(ctx, o, log, true); err != nil {
			return nil, err
		}
	}
	db, err := mysql.Open(ctx, o.Replica)
	if err != nil {
		return nil, fmt.Errorf("connect to the replica: %w", err)
	}
	defer db.Close()
	info, err := mysql.Probe(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("probe the replica %s: %w", o.Replica, err)
	}
	d := DialectFor(info)
	res.Dialect = fmt.Sprintf("%s %s", info.Flavor, info.Version)
	stmts, err := Setup(d, o.Primary, pos)
	if err != nil {
		return nil, fmt.Errorf("position replication: %w", err)
	}
	if err := execAll(ctx, db, stmts, log); err != nil {
		return nil, fmt.Errorf("position replication on the replica %s: %w", o.Replica, err)
	}
	log.Info("replication started", "primary", res.Primary, "gtid", pos.UseGTID())
	if t, err := primaryPosition(ctx, o, d, pos.UseGTID()); err != nil {
		log.Warn("cannot read the primary's position: waiting until the replica has applied what it received", "err", err)
	} else {
		res.Target = t
		log.Info("waiting for the replica to reach the primary's position", "binlog_file", t.File, "binlog_pos", t.Pos, "gtid", t.GTID)
	}
	st, err := Wait(ctx, db, d, WaitOptions{Target: res.Target, Timeout: o.WaitTimeout, OnStatus: o.OnStatus})
	res.Status = st
	res.Seconds = time.Since(start).Seconds()
	return res, err
}

func portOr3306(p int) int {
	if p == 0 {
		return 3306
	}
	return p
}

// execAll runs stmts on one connection (they set session variables).
func execAll(ctx context.Context, db *sql.DB, stmts []Stmt, log *slog.Logger) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, s := range stmts {
		log.Debug("sql", "stmt", s.Log)
		if _, err := c.ExecContext(ctx, s.SQL); err != nil {
			// The server's message may quote the statement: show the redacted one.
			return fmt.Errorf("%s: %w", s.Log, redact(err, s))
		}
	}
	return nil
}

// redact replaces a statement's secret parts in a server error by the
// statement's log form.
func redact(err error, s Stmt) error {
	if s.SQL == s.Log {
		return err
	}
	msg := err.Error()
	// Find the quoted password: the first difference between SQL and Log.
	i := 0
	for i < len(s.SQL) && i < len(s.Log) && s.SQL[i] == s.Log[i] {
		i++
	}
	j := 0
	for j < len(s.SQL)-i && j < len(s.Log)-i && s.SQL[len(s.SQL)-1-j] == s.Log[len(s.Log)-1-j] {
		j++
	}
	secret := s.SQL[i : len(s.SQL)-j]
	if secret != "" && strings.Contains(msg, secret) {
		return errors.New(strings.ReplaceAll(msg, secret, "***"))
	}
	return err
}

// createUser creates the replication user on the primary.
func createUser(ctx context.Context, o Options, log *slog.Logger) error {
	if o.PrimaryConn == nil {
		return errors.New("creating the replication user needs a connection to the primary with CREATE USER and GRANT OPTION (--primary-user, --primary-password-file)")
	}
	db, err := mysql.Open(ctx, *o.PrimaryConn)
	if err != nil {
		return fmt.Errorf("create the replication user: connect to the primary: %w", err)
	}
	defer db.Close()
	info, err := mysql.Probe(ctx, db)
	if err != nil {
		return fmt.Errorf("probe the primary: %w", err)
	}
	host := o.UserHost
	if host == "" {
		host = "%"
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User=? AND Host=?", o.Primary.User, host).Scan(&n); err == nil && n > 0 {
		log.Warn("the replication user exists on the primary: its password is left as it is", "user", o.Primary.User, "host", host)
	}
	if err := execAll(ctx, db, CreateUser(DialectFor(info), o.Primary.User, host, o.Primary.Password), log); err != nil {
		return fmt.Errorf("create the replication user on the primary %s: %w (the primary user needs CREATE USER and GRANT OPTION)", o.PrimaryConn, err)
	}
	log.Info("replication user ready on the primary", "user", o.Primary.User, "host", host, "grant", "REPLICATION SLAVE")
	return nil
}

// ensureRunning makes sure the replica answers: it runs StartCmd (always
// after a physical fill; for a logical one only when the server does not
// answer) or waits for someone else to start it.
func ensureRunning(ctx context.Context, o Options, log *slog.Logger, physical bool) error {
	if !physical {
		if db, err := mysql.Open(ctx, o.Replica); err == nil {
			db.Close()
			return nil
		} else if o.StartCmd == "" || errors.Is(err, mysql.ErrAccessDenied) {
			return fmt.Errorf("connect to the replica: %w", err)
		}
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if o.StartCmd != "" {
		log.Info("starting the replica server", "cmd", o.StartCmd)
		_, err := mysql.Run(ctx, &mysql.Command{Path: "/bin/sh", Args: []string{"-c", o.StartCmd},
			Env: []string{"MYBAK_DATADIR=" + o.Datadir}, LogPath: o.StartLogPath})
		if err != nil {
			return fmt.Errorf("start the replica with --start-cmd: %w", err)
		}
	} else {
		log.Info("the replica's datadir is ready: start its server now (e.g. systemctl start mariadb); waiting for it",
			"datadir", o.Datadir, "replica", o.Replica.String(), "timeout", timeout.String())
	}
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		db, err := mysql.Open(cctx, o.Replica)
		cancel()
		if err == nil {
			db.Close()
			return nil
		}
		if errors.Is(err, mysql.ErrAccessDenied) {
			return fmt.Errorf("connect to the replica: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the replica did not answer within %s (--start-timeout): %w", timeout, err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// primaryPosition reads the position the replica must reach.
func primaryPosition(ctx context.Context, o Options, d Dialect, gtid bool) (*Position, error) {
	conn := mysql.Conn{Host: o.Primary.Host, Port: o.Primary.Port, User: o.Primary.User, Password: o.Primary.Password}
	if o.PrimaryConn != nil {
		conn = *o.PrimaryConn
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := mysql.Open(cctx, conn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := PrimaryPositionQuery(d, gtid)
	if gtid {
		var s sql.NullString
		if err := db.QueryRowContext(cctx, q).Scan(&s); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		set, err := ParseGTIDSet(d.MariaDB, s.String)
		if err != nil {
			return nil, err
		}
		if set == "" {
			return nil, errors.New("the primary reports an empty GTID position")
		}
		return &Position{GTID: set}, nil
	}
	rows, err := db.QueryContext(cctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() || len(cols) < 2 {
		return nil, fmt.Errorf("%s: no binary log on the primary", q)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	p, _ := strconv.ParseUint(vals[1].String, 10, 64)
	return &Position{File: vals[0].String, Pos: p}, nil
}

// PositionOf returns the replication position a backup's manifest records.
func PositionOf(m *backup.Manifest) Position {
	p := Position{File: m.Meta[backup.MetaBinlogFile], GTID: m.Meta[backup.MetaGTID]}
	p.Pos, _ = strconv.ParseUint(m.Meta[backup.MetaBinlogPos], 10, 64)
	return p
}

// positionOfDump converts a dump's coordinates.
func positionOfDump(b mysql.BinlogPosition) Position {
	return Position{File: b.File, Pos: b.Pos, GTID: b.GTID}
}

// intoReplica is t with SQL applied as sql_log_bin=0: a replica being
// built must not binlog the backup as its own transactions.
func intoReplica(t engine.Target) engine.Target {
	if t.Server != nil {
		o := *t.Server
		o.NoBinlog = true
		t.Server = &o
	}
	return t
}

// FromChain returns a Fill that restores a stored chain (full first) with
// its engine into t: files into the replica's datadir, or SQL into the
// running replica (t holds both; the engine takes the kind it restores
// into, eng.Into). The position is the last backup's.
func FromChain(eng engine.Engine, st storage.Backend, chain []*backup.Manifest, t engine.Target) func(context.Context) (Position, error) {
	return func(ctx context.Context) (Position, error) {
		if err := eng.Restore(ctx, st, chain, intoReplica(t)); err != nil {
			return Position{}, err
		}
		return PositionOf(chain[len(chain)-1]), nil
	}
}

// FromWire returns a Fill that restores the backup a wire stream carries
// with its engine into t, as FromChain.
func FromWire(eng engine.Engine, wr *backup.WireReader, t engine.Target) func(context.Context) (Position, error) {
	return func(ctx context.Context) (Position, error) {
		m, err := eng.RestoreWire(ctx, wr, intoReplica(t))
		if err != nil {
			return Position{}, err
		}
		return PositionOf(m), nil
	}
}

// FromDump returns a Fill that dumps the primary cfg describes with d
// (mysqldump / mariadb-dump over the network) straight into the running
// replica t.Server, no store in between; the dump's own coordinates
// position replication.
func FromDump(d engine.Dumper, cfg engine.BackupConfig, t engine.Target) func(context.Context) (Position, error) {
	return func(ctx context.Context) (Position, error) {
		b, err := d.DumpInto(ctx, cfg, intoReplica(t))
		if err != nil {
			return Position{}, err
		}
		return positionOfDump(b), nil
	}
}
