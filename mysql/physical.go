package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PhysicalOptions configures BackupPhysical.
type PhysicalOptions struct {
	Tool Tool // from SelectTool; Path empty means LookupTool(Tool.Engine)
	Conn Conn

	// IncrementalLSN > 0 makes an incremental backup of the changes after
	// that LSN (the parent's Checkpoints.ToLSN).
	IncrementalLSN uint64

	Parallel         int    // --parallel (0: tool default)
	Throttle         int    // --throttle, IO pairs per second (0: unlimited)
	UseMemory        string // --use-memory, e.g. "1G"
	FTWRLWaitTimeout int    // --ftwrl-wait-timeout, seconds
	// LockWaitTimeout: seconds to wait for the backup lock. xtrabackup:
	// --backup-lock-timeout (8.0). mariabackup 10.11 and innobackupex have no
	// such option: setting it is an error rather than silently ignored.
	LockWaitTimeout int
	ExtraArgs       []string // appended verbatim (never put secrets here)

	// WorkDir holds the tool's --target-dir and --extra-lsndir; empty means
	// a temp dir, removed afterwards. The lsn files are parsed into the result.
	WorkDir string
	LogPath string               // full tool log (stderr); empty: not kept
	OnLine  func(line string)    // every log line, as it arrives
	Warnf   func(string, ...any) // non-fatal notices (e.g. redo monitor off)

	// DB is used to sample the server's LSN for early redo-wrap detection;
	// nil means BackupPhysical opens one from Conn. Server (from Probe) gives
	// the redo capacity; nil means probe it.
	DB     *sql.DB
	Server *ServerInfo
	// Redo monitor settings; zero values mean defaults.
	NoRedoMonitor  bool
	SampleInterval time.Duration // default 1s
	RetryLimit     int           // identical "Retrying read of log" lines tolerated (default 5)
}

// Checkpoints is the content of xtrabackup_checkpoints.
type Checkpoints struct {
	BackupType string // full-backuped, incremental, log-applied, full-prepared
	FromLSN    uint64
	ToLSN      uint64
	LastLSN    uint64
	Compact    bool
}

// BinlogPosition is the binary log coordinate of a backup.
type BinlogPosition struct {
	File string
	Pos  uint64
	GTID string // MySQL: GTID set (newlines removed); MariaDB: gtid_binlog_pos list
}

// PhysicalResult is what the manifest needs about a physical backup.
type PhysicalResult struct {
	Engine        Engine
	ToolPath      string
	ToolVersion   string // e.g. "10.11.19-MariaDB", "8.0.35-30"
	ServerVersion string
	Checkpoints   Checkpoints
	Binlog        BinlogPosition
	Info          map[string]string // xtrabackup_info, when present
	Incremental   bool
	Started       time.Time
	Finished      time.Time
}

// PhysicalArgs builds the backup command line (without the defaults file).
// Exported for tests and for showing a dry run.
func PhysicalArgs(o *PhysicalOptions, targetDir, lsnDir string) ([]string, error) {
	var a []string
	e := o.Tool.Engine
	switch e {
	case EngineXtrabackup, EngineMariabackup:
		a = append(a, "--backup", "--stream=xbstream", "--extra-lsndir="+lsnDir, "--target-dir="+targetDir)
		if o.IncrementalLSN > 0 {
			a = append(a, "--incremental-lsn="+strconv.FormatUint(o.IncrementalLSN, 10))
		}
	case EngineInnobackupex:
		a = append(a, "--stream=xbstream", "--extra-lsndir="+lsnDir)
		if o.IncrementalLSN > 0 {
			a = append(a, "--incremental", "--incremental-lsn="+strconv.FormatUint(o.IncrementalLSN, 10))
		}
	default:
		return nil, fmt.Errorf("%q is not a physical backup engine", e)
	}
	if o.Parallel > 0 {
		a = append(a, "--parallel="+strconv.Itoa(o.Parallel))
	}
	if o.Throttle > 0 {
		a = append(a, "--throttle="+strconv.Itoa(o.Throttle))
	}
	if o.UseMemory != "" {
		a = append(a, "--use-memory="+o.UseMemory)
	}
	if o.FTWRLWaitTimeout > 0 {
		a = append(a, "--ftwrl-wait-timeout="+strconv.Itoa(o.FTWRLWaitTimeout))
	}
	if o.LockWaitTimeout > 0 {
		if e != EngineXtrabackup {
			return nil, fmt.Errorf("%s has no lock wait timeout option: use --ftwrl-wait-timeout", e)
		}
		a = append(a, "--backup-lock-timeout="+strconv.Itoa(o.LockWaitTimeout))
	}
	a = append(a, o.ExtraArgs...)
	if e == EngineInnobackupex {
		a = append(a, targetDir) // innobackupex takes the (temp) backup dir last
	}
	return a, nil
}

// toolGroups are the option-file groups a tool reads its settings from.
func toolGroups(e Engine) []string {
	switch e {
	case EngineMariabackup:
		return []string{"client", "mariabackup", "mariadb-backup", "xtrabackup"}
	case EngineXtrabackup, EngineInnobackupex:
		return []string{"client", "xtrabackup"}
	case EngineMysqldump, EngineMariadbDump:
		return []string{"client", "mysqldump"}
	}
	return []string{"client"}
}

// BackupPhysical runs xtrabackup / innobackupex / mariabackup with
// --stream=xbstream and copies the stream to w, which it does not close.
// Success needs exit status 0 and "completed OK!" in the log; then the
// extra-lsndir files are parsed into the result.
//
// While it runs, a redo monitor watches the log lines and samples the
// server's LSN (see RedoWrapError); when the redo log wraps it kills the
// tool and returns a *RedoWrapError. Known failures come back typed:
// *AccessDeniedError, *MissingPrivilegesError, *LockTimeoutError; others as
// *ExitError with the log tail. w may have received part of a stream when
// an error is returned: the caller discards it.
func BackupPhysical(ctx context.Context, o PhysicalOptions, w io.Writer) (res *PhysicalResult, err error) {
	if o.Tool.Path == "" {
		t, err := LookupTool(o.Tool.Engine)
		if err != nil {
			return nil, err
		}
		o.Tool = t
	}
	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "mybak-physical-"); err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
		defer os.RemoveAll(work)
	}
	target, lsnDir := filepath.Join(work, "target"), filepath.Join(work, "lsn")
	for _, d := range []string{target, lsnDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
	}
	args, err := PhysicalArgs(&o, target, lsnDir)
	if err != nil {
		return nil, err
	}
	name := string(o.Tool.Engine)
	warnf := o.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	mon := newRedoMonitor(name, o.Throttle, o.RetryLimit, func(e *RedoWrapError) { cancel(e) })
	if !o.NoRedoMonitor {
		db := o.DB
		if db == nil {
			if db, err = Open(ctx, o.Conn); err != nil {
				// The tool will report the same connection problem itself,
				// with the better message; go on and let it.
				warnf("redo monitor off: %v", err)
				db = nil
			} else {
				defer db.Close()
			}
		}
		if db != nil {
			srv := o.Server
			if srv == nil {
				if srv, err = Probe(ctx, db); err != nil {
					warnf("redo monitor off: %v", err)
				}
			}
			if srv != nil && srv.RedoCapacity > 0 {
				mon.capacity = srv.RedoCapacity
				interval := o.SampleInterval
				if interval <= 0 {
					interval = time.Second
				}
				var wg sync.WaitGroup
				wg.Add(1)
				sctx, stop := context.WithCancel(ctx)
				go func() { defer wg.Done(); mon.sample(sctx, db, interval) }()
				defer func() { stop(); wg.Wait() }()
			}
		}
	}

	var (
		mu        sync.Mutex
		completed bool
		head      []string
	)
	res = &PhysicalResult{Engine: o.Tool.Engine, ToolPath: o.Tool.Path, Started: time.Now(),
		Incremental: o.IncrementalLSN > 0}
	if o.Server != nil {
		res.ServerVersion = o.Server.Version
	}
	cmd := &Command{
		Path: o.Tool.Path, Args: args, Conn: &o.Conn, Groups: toolGroups(o.Tool.Engine),
		Stdout: w, LogPath: o.LogPath, TailLines: 40,
		OnLine: func(l string) {
			mu.Lock()
			if strings.Contains(l, "completed OK!") {
				completed = true
			}
			if len(head) < 30 {
				head = append(head, l)
			}
			mu.Unlock()
			mon.line(l)
			if o.OnLine != nil {
				o.OnLine(l)
			}
		},
	}
	r, runErr := Run(ctx, cmd)
	res.Finished = time.Now()
	if werr := mon.tripped(); werr != nil {
		return nil, werr
	}
	if runErr != nil {
		var ee *ExitError
		if errors.As(runErr, &ee) {
			err := classify(ee, append(r.Notable, r.Tail...))
			var mp *MissingPrivilegesError
			if errors.As(err, &mp) && mp.User == "" && o.Conn.User != "" {
				mp.User = "'" + o.Conn.User + "'@'<host>'"
			}
			return nil, err
		}
		return nil, runErr
	}
	mu.Lock()
	ok := completed
	mu.Unlock()
	if !ok {
		return nil, &ExitError{Tool: name, Tail: r.Tail, LogPath: o.LogPath, Reason: `exited 0 without "completed OK!" in its log`}
	}

	b, err := os.ReadFile(filepath.Join(lsnDir, "xtrabackup_checkpoints"))
	if err != nil {
		return nil, fmt.Errorf("%s completed but wrote no xtrabackup_checkpoints: %w", name, err)
	}
	if res.Checkpoints, err = ParseCheckpoints(string(b)); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(lsnDir, "xtrabackup_info")); err == nil {
		res.Info = ParseInfo(string(b))
	}
	res.Binlog = binlogFromFiles(lsnDir, res.Info, r.Tail)
	if v := res.Info["tool_version"]; v != "" {
		res.ToolVersion = v
	} else {
		for _, l := range head {
			if v, err := ParseToolVersion(l); err == nil && strings.Contains(l, "based on") {
				res.ToolVersion = v
				break
			}
		}
	}
	if v := res.Info["server_version"]; v != "" {
		res.ServerVersion = v
	}
	return res, nil
}

func binlogFromFiles(lsnDir string, info map[string]string, tail []string) BinlogPosition {
	for _, n := range []string{"xtrabackup_binlog_info", "mariadb_backup_binlog_info"} {
		if b, err := os.ReadFile(filepath.Join(lsnDir, n)); err == nil {
			if p, err := ParseBinlogInfo(string(b)); err == nil {
				return p
			}
		}
	}
	if p, err := ParseBinlogPosLine(info["binlog_pos"]); err == nil {
		return p
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if p, err := ParseBinlogPosLine(tail[i]); err == nil {
			return p
		}
	}
	return BinlogPosition{}
}

// ParseCheckpoints parses xtrabackup_checkpoints ("key = value" lines).
func ParseCheckpoints(s string) (Checkpoints, error) {
	kv := parseKV(s)
	var c Checkpoints
	c.BackupType = kv["backup_type"]
	if c.BackupType == "" {
		return c, errors.New("xtrabackup_checkpoints: no backup_type")
	}
	for _, f := range []struct {
		k string
		p *uint64
	}{{"from_lsn", &c.FromLSN}, {"to_lsn", &c.ToLSN}, {"last_lsn", &c.LastLSN}} {
		v, ok := kv[f.k]
		if !ok {
			if f.k == "last_lsn" {
				continue // older xtrabackup versions
			}
			return c, fmt.Errorf("xtrabackup_checkpoints: no %s", f.k)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("xtrabackup_checkpoints: %s: %w", f.k, err)
		}
		*f.p = n
	}
	c.Compact = kv["compact"] == "1"
	return c, nil
}

// ParseInfo parses xtrabackup_info ("key = value" lines).
func ParseInfo(s string) map[string]string { return parseKV(s) }

// ParseBinlogInfo parses xtrabackup_binlog_info / mariadb_backup_binlog_info:
// "file<TAB>position[<TAB>gtid set]". Percona writes long GTID sets over
// several lines ("uuid:1-5,\nuuid:1-9"); the newlines are removed.
func ParseBinlogInfo(s string) (BinlogPosition, error) {
	s = strings.TrimRight(s, "\r\n\t ")
	first, rest, _ := strings.Cut(s, "\n")
	f := strings.Split(strings.TrimRight(first, "\r"), "\t")
	if len(f) < 2 {
		f = strings.Fields(first)
	}
	if len(f) < 2 || f[0] == "" {
		return BinlogPosition{}, fmt.Errorf("binlog info %q: want file, position and GTID separated by tabs", firstLine(s))
	}
	pos, err := strconv.ParseUint(strings.TrimSpace(f[1]), 10, 64)
	if err != nil {
		return BinlogPosition{}, fmt.Errorf("binlog info: position %q: %w", f[1], err)
	}
	p := BinlogPosition{File: strings.TrimSpace(f[0]), Pos: pos}
	if p.File == "" {
		return BinlogPosition{}, fmt.Errorf("binlog info %q: no file name", firstLine(s))
	}
	gtid := ""
	if len(f) > 2 {
		gtid = strings.Join(f[2:], "")
	}
	if rest != "" {
		gtid += rest
	}
	p.GTID = normaliseGTID(gtid)
	return p, nil
}

func normaliseGTID(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' || r == ' ' {
			return -1
		}
		return r
	}, s)
}

var reBinlogPos = regexp.MustCompile(`filename '([^']+)', position '?(\d+)'?(?:, GTID of the last change '([^']*)')?`)

// ParseBinlogPosLine parses the binlog_pos line of xtrabackup_info and the
// tool's log line "MySQL binlog position: filename 'f', position 'p', GTID
// of the last change 'g'".
func ParseBinlogPosLine(s string) (BinlogPosition, error) {
	m := reBinlogPos.FindStringSubmatch(s)
	if m == nil {
		return BinlogPosition{}, fmt.Errorf("no binlog position in %q", s)
	}
	pos, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil {
		return BinlogPosition{}, err
	}
	return BinlogPosition{File: m[1], Pos: pos, GTID: normaliseGTID(m[3])}, nil
}
