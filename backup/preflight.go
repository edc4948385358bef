package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
)

// PreflightOptions configure Preflight.
type PreflightOptions struct {
	Conn mysql.Conn
	// Engine is what the user asked for (auto, mariabackup, mysqldump, ...).
	Engine mysql.Engine
	// Sample is how long the redo generation rate is measured (default 5s).
	Sample time.Duration
	// LongQuery: statements running at least this long are reported as
	// blocking the backup lock (default 30s).
	LongQuery time.Duration
	// MinRedoWindow: a redo log that the server fills faster than this fails
	// the check for physical engines (default 60s).
	MinRedoWindow time.Duration
	// Dirs are the places a backup or restore would write, checked for
	// free space against the data size.
	Dirs []SpaceDir
}

// SpaceDir is a directory whose free space Preflight reports.
type SpaceDir struct {
	Purpose string // e.g. "temp/spool", "local store", "restore target"
	Path    string
	// Must: less free space than the data size fails the check (restore
	// targets hold the uncompressed data); otherwise it only warns.
	Must bool
}

// PreflightReport is what Preflight found. It never holds a secret.
type PreflightReport struct {
	Connection    string  `json:"connection"`
	ServerVersion string  `json:"server_version,omitempty"`
	Flavor        string  `json:"flavor,omitempty"`
	Engine        string  `json:"engine,omitempty"`
	ToolPath      string  `json:"tool_path,omitempty"`
	ToolVersion   string  `json:"tool_version,omitempty"`
	DataBytes     int64   `json:"data_bytes,omitempty"`
	RedoCapacity  int64   `json:"redo_capacity_bytes,omitempty"`
	RedoRate      float64 `json:"redo_bytes_per_second"`
	RedoWindow    float64 `json:"redo_seconds_to_wrap,omitempty"` // 0: no writes seen
	OK            bool    `json:"ok"`
	// Checks are the results, in the order they ran. A failed check says
	// a backup would fail (exit 1), never that anything is damaged.
	Checks check.PreflightResults `json:"checks"`
}

// add records the check called name, with its detail made of format and
// a.
func (r *PreflightReport) add(name string, status check.Status, format string, a ...any) {
	r.Checks = append(r.Checks, check.Result{Name: name, Status: status, Detail: fmt.Sprintf(format, a...)})
	if status == check.Failed {
		r.OK = false
	}
}

// ErrPreflightFailed is returned (wrapped) by Preflight when a check failed.
var ErrPreflightFailed = errors.New("preflight check failed")

// Preflight connects to the server and checks what a backup needs: the
// engine's tool, privileges, binlog and GTID settings, queries that would
// block the backup lock, the redo log's headroom (its capacity against the
// generation rate sampled over o.Sample) and free space. The report is
// returned even when a check fails; the error then wraps
// ErrPreflightFailed (or the connection error).
func Preflight(ctx context.Context, o PreflightOptions) (*PreflightReport, error) {
	if o.Sample <= 0 {
		o.Sample = 5 * time.Second
	}
	if o.LongQuery <= 0 {
		o.LongQuery = 30 * time.Second
	}
	if o.MinRedoWindow <= 0 {
		o.MinRedoWindow = time.Minute
	}
	r := &PreflightReport{Connection: o.Conn.String(), OK: true}
	db, err := mysql.Open(ctx, o.Conn)
	if err != nil {
		r.add("connect", check.Failed, "%v", err)
		return r, err
	}
	defer db.Close()
	s, err := mysql.Probe(ctx, db)
	if err != nil {
		r.add("connect", check.Failed, "probe server: %v", err)
		return r, fmt.Errorf("%w: %w", ErrPreflightFailed, err)
	}
	r.ServerVersion, r.Flavor = s.Version, string(s.Flavor)
	r.add("server", check.OK, "%s %s (%s), server_id %d", s.Flavor, s.Version, s.VersionComment, s.ServerID)
	r.engine(ctx, o, s)
	r.privileges(ctx, db, o, s)
	r.binlog(s)
	r.longQueries(ctx, db, o)
	r.redo(ctx, db, o, s)
	r.space(ctx, db, o)
	if !r.OK {
		var failed []string
		for _, c := range check.Failures(r.Checks) {
			failed = append(failed, c.Name)
		}
		return r, fmt.Errorf("%w: %s", ErrPreflightFailed, strings.Join(failed, ", "))
	}
	return r, nil
}

// engine checks that the engine's tool is installed and fits the server.
func (r *PreflightReport) engine(ctx context.Context, o PreflightOptions, s *mysql.ServerInfo) {
	want := o.Engine
	logical := want == mysql.EngineMysqldump || want == mysql.EngineMariadbDump
	tool, err := mysql.SelectTool(want, s, logical)
	if err != nil {
		e := want
		if e == "" || e == mysql.EngineAuto {
			e = mysql.PhysicalEngineFor(s)
		}
		r.Engine = string(e)
		r.add("engine", check.Failed, "%v", err)
		return
	}
	r.Engine, r.ToolPath = string(tool.Engine), tool.Path
	r.ToolVersion, _ = mysql.ToolVersion(ctx, tool)
	r.add("engine", check.OK, "%s (%s %s)", tool.Engine, tool.Path, r.ToolVersion)
}

// privileges checks that the backup user has what the engine needs.
func (r *PreflightReport) privileges(ctx context.Context, db *sql.DB, o PreflightOptions, s *mysql.ServerInfo) {
	if grants, err := mysql.Grants(ctx, db); err != nil {
		r.add("privileges", check.Warn, "cannot read grants: %v", err)
	} else if missing := mysql.MissingPrivileges(grants, mysql.Engine(r.Engine), s); len(missing) > 0 {
		r.add("privileges", check.Failed, "%s lacks %s: run GRANT %s ON *.* TO the backup user",
			o.Conn.User, strings.Join(missing, ", "), strings.Join(missing, ", "))
	} else {
		r.add("privileges", check.OK, "all that %s needs are granted", r.Engine)
	}
}

// binlog reports the binary log and GTID settings.
func (r *PreflightReport) binlog(s *mysql.ServerInfo) {
	switch {
	case !s.LogBin:
		r.add("binlog", check.Warn, "binary log is off: the backup records no binlog position (no point-in-time recovery, no replicas from it)")
	default:
		r.add("binlog", check.OK, "on, format %s; GTID mode %s%s; GTID position %q", s.BinlogFormat, s.GTIDMode,
			map[bool]string{true: " (strict)", false: ""}[s.GTIDStrict], s.GTIDExecuted)
	}
}

// longQueries fails on statements that would block the backup lock.
func (r *PreflightReport) longQueries(ctx context.Context, db *sql.DB, o PreflightOptions) {
	if long, err := mysql.LongQueries(ctx, db, o.LongQuery); err != nil {
		r.add("long queries", check.Warn, "%v", err)
	} else if len(long) > 0 {
		var qs []string
		for _, p := range long {
			qs = append(qs, fmt.Sprintf("id %d (%s, %s): %s", p.ID, p.User, p.Time, p.Info))
		}
		r.add("long queries", check.Failed, "%d statement(s) running for %s or more would block FLUSH TABLES WITH READ LOCK / BACKUP STAGE: %s",
			len(long), o.LongQuery, strings.Join(qs, "; "))
	} else {
		r.add("long queries", check.OK, "none running for %s or more", o.LongQuery)
	}
}

// redo compares the redo log's capacity with the rate the server fills it
// (sampled over o.Sample): a physical backup fails when it falls a whole
// log behind.
func (r *PreflightReport) redo(ctx context.Context, db *sql.DB, o PreflightOptions, s *mysql.ServerInfo) {
	r.RedoCapacity = s.RedoCapacity
	rate, err := sampleRedo(ctx, db, s.LSN, o.Sample)
	switch {
	case err != nil:
		r.add("redo", check.Warn, "cannot sample the LSN: %v", err)
		return
	case rate <= 0:
		r.add("redo", check.OK, "capacity %s; no redo written in %s", preflightSize(s.RedoCapacity), o.Sample)
		return
	}
	r.RedoRate = rate
	window := float64(s.RedoCapacity) / rate
	r.RedoWindow = window
	status := check.OK
	if window < 10*o.MinRedoWindow.Seconds() {
		status = check.Warn
	}
	if window < o.MinRedoWindow.Seconds() && mysql.FollowsRedo(mysql.Engine(r.Engine)) {
		status = check.Failed
	}
	advice := ""
	if status != check.OK {
		advice = "; a physical backup fails if it falls this far behind: raise innodb_log_file_size " +
			"(innodb_redo_log_capacity on MySQL 8.0.30+), avoid --throttle, or back up in a quieter window"
	}
	r.add("redo", status, "capacity %s, generated %s/s over %s: the log wraps in %s%s", preflightSize(s.RedoCapacity),
		preflightSize(int64(rate)), o.Sample, (time.Duration(window * float64(time.Second))).Round(100*time.Millisecond), advice)
}

// space compares the free space of o.Dirs with the data size.
func (r *PreflightReport) space(ctx context.Context, db *sql.DB, o PreflightOptions) {
	var err error
	r.DataBytes, err = dataSize(ctx, db)
	if err != nil {
		r.add("data size", check.Warn, "%v", err)
	}
	for _, d := range o.Dirs {
		free, err := freeSpace(d.Path)
		if err != nil {
			r.add("free space", check.Warn, "%s %s: %v", d.Purpose, d.Path, err)
			continue
		}
		status := check.OK
		if free < r.DataBytes {
			status = check.Warn
			if d.Must {
				status = check.Failed
			}
		}
		r.add("free space", status, "%s %s: %s free, data %s", d.Purpose, d.Path, preflightSize(free), preflightSize(r.DataBytes))
	}
}

// sampleRedo measures the redo generation rate in bytes per second.
func sampleRedo(ctx context.Context, db *sql.DB, first uint64, d time.Duration) (float64, error) {
	t0 := time.Now()
	if first == 0 {
		var err error
		if first, err = mysql.CurrentLSN(ctx, db); err != nil {
			return 0, err
		}
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	last, err := mysql.CurrentLSN(ctx, db)
	if err != nil {
		return 0, err
	}
	if last <= first {
		return 0, nil
	}
	return float64(last-first) / time.Since(t0).Seconds(), nil
}

func dataSize(ctx context.Context, db *sql.DB) (int64, error) {
	var n sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT CAST(SUM(DATA_LENGTH + INDEX_LENGTH) AS SIGNED) FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA NOT IN ('information_schema','performance_schema','sys')").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("estimate data size: %w", err)
	}
	return n.Int64, nil
}

// freeSpace returns the bytes available to an unprivileged user on the
// filesystem of path (or of its nearest existing ancestor).
func freeSpace(path string) (int64, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(p, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		parent := filepath.Dir(p)
		if parent == p || !errors.Is(err, syscall.ENOENT) {
			return 0, err
		}
		p = parent
	}
}

func preflightSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
