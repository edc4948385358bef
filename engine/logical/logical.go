// Package logical is mybak's own logical engine (`--engine logical`): a
// consistent snapshot read by several connections, tables cut into chunks
// by key ranges, in one xbstream (logicaldump.Dump); restored by several
// connections, chunk by chunk, resumably and, with --include, partially
// (logicaldump.Load); checked without a server by verify --deep
// (logicaldump.Verify); drilled by loading it into an empty scratch
// server.
package logical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/logicaldump"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// Name is the engine's name in manifests and for --engine.
const Name = "logical"

// Manifest Meta keys of a logical backup (beside backup's binlog and
// version keys).
const (
	MetaDumpID  = "logical_dump_id"  // the dump's ID (its progress records on a target are keyed by it)
	MetaTables  = "logical_tables"   // tables and sequences
	MetaChunks  = "logical_chunks"   // chunk files
	MetaRows    = "logical_rows"     // rows written
	MetaLockSec = "logical_lock_sec" // seconds commits were blocked for the snapshot
)

func init() { engine.Register(Engine{}) }

// Engine is the logical engine.
type Engine struct{}

var (
	_ engine.Dumper   = Engine{}
	_ engine.Toolless = Engine{}
	_ engine.Offered  = Engine{}
)

// Name implements engine.Engine.
func (Engine) Name() string { return Name }

// Offer implements engine.Offered: a --engine of backup and preflight,
// listed after the tools' engines. It is not streamed: --to-stdout
// carries the tools' backups only.
func (Engine) Offer() engine.Offer { return engine.Offer{Server: true, Rank: 30} }

// Toolless implements engine.Toolless: the engine reads the server itself.
func (Engine) Toolless() {}

// otherFlags are backup's flags for the tools, which the logical engine
// has none of.
var otherFlags = []string{"parallel", "throttle", "use-memory", "lock-wait-timeout", "incremental"}

// NewBackup implements engine.Engine.
func (Engine) NewBackup(cfg engine.BackupConfig) (backup.Engine, error) {
	for _, f := range otherFlags {
		if cfg.Given != nil && cfg.Given(f) {
			return nil, &engine.UsageError{Msg: fmt.Sprintf("--%s does not apply to the logical engine (its threads are --dump-threads)", f)}
		}
	}
	f := logicaldump.Filter{Include: cfg.Include, Exclude: cfg.Exclude}
	if err := f.Validate(); err != nil {
		return nil, &engine.UsageError{Msg: "--include/--exclude: " + err.Error()}
	}
	o := logicaldump.Options{Conn: cfg.Conn, Threads: cfg.DumpThreads, Filter: f, Users: cfg.Users,
		LockWait: time.Duration(cfg.FTWRLWaitTimeout) * time.Second, Log: cfg.Log}
	if fn := cfg.Status; fn != nil {
		o.Progress = func(p logicaldump.DumpProgress) { fn(dumpReport(p)) }
	}
	return &Backup{Options: o, Server: cfg.Server, RowCounts: cfg.RowCounts.Mode != backup.RowCountsOff}, nil
}

// Into implements engine.Engine: a running server.
func (Engine) Into() engine.TargetKind { return engine.IntoServer }

// loadOptions turns a restore target into Load's options.
func loadOptions(t engine.Target, id, name string) (logicaldump.LoadOptions, error) {
	if t.Server == nil {
		return logicaldump.LoadOptions{}, engine.WrongTarget(fmt.Sprintf("backup %s was taken with the %s engine, not a physical one: restore it with --to-mysql or --to-stdout", id, name))
	}
	s := t.Server
	return logicaldump.LoadOptions{Conn: s.Conn, Threads: s.Parallel, Filter: logicaldump.Filter{Include: s.Include, Exclude: s.Exclude},
		Resume: s.Resume, Force: s.Force, DeferIndexes: s.DeferIndexes, Users: s.Users, NoBinlog: s.NoBinlog, Log: s.Log}, nil
}

// load runs Load on what produce writes; ls (nil: none) reports its
// progress.
func load(ctx context.Context, o logicaldump.LoadOptions, ls *loadStatus, produce func(ctx context.Context, w io.Writer) error) (*logicaldump.LoadResult, error) {
	if ls != nil {
		o.Progress = ls.progress()
		ls.start()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	perr := make(chan error, 1)
	go func() {
		err := produce(ctx, pw)
		pw.CloseWithError(err)
		perr <- err
	}()
	res, err := logicaldump.Load(ctx, o, pr)
	pr.CloseWithError(errors.New("the load stopped"))
	cancel()
	if p := <-perr; p != nil && err == nil {
		// The load saw the whole container, and its hashes matched; the
		// decode failed after (the store's hash of the stream): report it.
		return nil, p
	}
	return res, err
}

// Restore implements engine.Engine: the backup's container is decoded from
// st and loaded into t.Server.
func (e Engine) Restore(ctx context.Context, st storage.Backend, chain []*backup.Manifest, t engine.Target) error {
	if len(chain) != 1 {
		return fmt.Errorf("a logical backup stands alone: a chain of %d backups", len(chain))
	}
	m := chain[0]
	o, err := loadOptions(t, m.ID, m.Engine.Name)
	if err != nil {
		return err
	}
	ls := newLoadStatus(t.Server.Status, m.RawSize, backupChunks(m, t.Server.Include, t.Server.Exclude))
	_, err = load(ctx, o, ls, func(ctx context.Context, w io.Writer) error {
		_, err := restore.ToWriter(ctx, st, m, w, t.Server.Options)
		return err
	})
	if err != nil {
		return fmt.Errorf("restore %s: %w", m.ID, err)
	}
	return nil
}

// RestoreWire implements engine.Engine.
func (e Engine) RestoreWire(ctx context.Context, wr *backup.WireReader, t engine.Target) (*backup.Manifest, error) {
	o, err := loadOptions(t, wr.Header.ID, wr.Header.Engine)
	if err != nil {
		return nil, err
	}
	var m *backup.Manifest
	// The stream's header says nothing of its size or chunks.
	_, err = load(ctx, o, newLoadStatus(t.Server.Status, 0, 0), func(ctx context.Context, w io.Writer) error {
		var err error
		m, err = restore.DecodeWire(ctx, wr, w, t.Server.Options)
		return err
	})
	return m, err
}

// DumpInto implements engine.Dumper: the dump of cfg's server is loaded
// into t.Server as it is taken (make-replica --fresh), and the snapshot's
// binary log position returned. Its progress goes to t.Server: the bytes
// of the stream to Progress, the tables dumped, chunks and rows loaded to
// Status.
func (e Engine) DumpInto(ctx context.Context, cfg engine.BackupConfig, t engine.Target) (mysql.BinlogPosition, error) {
	o, err := loadOptions(t, "fresh dump", Name)
	if err != nil {
		return mysql.BinlogPosition{}, err
	}
	var ix *logicaldump.Index
	do := logicaldump.Options{Conn: cfg.Conn, Threads: cfg.DumpThreads, Users: cfg.Users, Log: cfg.Log}
	if fn := t.Server.Status; fn != nil {
		// One report of both ends: the dump's tables and rows, the
		// load's chunks.
		fs := &freshStatus{fn: fn}
		do.Progress, o.Progress = fs.onDump, fs.onLoad
	}
	_, err = load(ctx, o, nil, func(ctx context.Context, w io.Writer) error {
		if t.Server.Progress != nil {
			w = progressWriter{w: w, fn: t.Server.Progress}
		}
		var err error
		ix, err = logicaldump.Dump(ctx, do, w)
		return err
	})
	if err != nil {
		return mysql.BinlogPosition{}, err
	}
	return mysql.BinlogPosition{File: ix.BinlogFile, Pos: ix.BinlogPos, GTID: ix.GTID}, nil
}

// CheckChain implements engine.Engine: a logical backup stands alone.
func (Engine) CheckChain(chain []*backup.Manifest) error {
	if len(chain) > 1 {
		return fmt.Errorf("a logical backup has no parent: a chain of %d backups", len(chain))
	}
	return nil
}

// Drill implements engine.Engine: loaded into an empty scratch server of
// any version; its tables take about half as much again as its SQL.
func (Engine) Drill(m *backup.Manifest) (engine.DrillPlan, error) {
	return engine.DrillPlan{Kind: "logical", Into: engine.IntoServer, Data: func(raw int64) int64 { return raw + raw/2 }}, nil
}

// ContentLogical is the content a logical backup's deep verify reports.
const ContentLogical = "logical"

// NewContentCheck implements engine.Engine: logicaldump.Verify reads the
// decoded stream as it passes.
func (Engine) NewContentCheck(ctx context.Context, m *backup.Manifest) engine.ContentCheck {
	pr, pw := io.Pipe()
	c := &contentCheck{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.res, c.err = logicaldump.Verify(ctx, pr)
		pr.CloseWithError(errors.New("the check stopped reading")) // a write after a damage report fails, not blocks
		io.Copy(io.Discard, pr)
	}()
	return c
}

type contentCheck struct {
	pw   *io.PipeWriter
	done chan struct{}
	res  *logicaldump.VerifyResult
	err  error
}

func (c *contentCheck) Write(p []byte) (int, error) {
	n, err := c.pw.Write(p)
	if err != nil {
		// Verify stopped (damage found): keep accepting, so the decode
		// runs to its end and its own hashes are checked too.
		return len(p), nil
	}
	return n, nil
}

// Finish implements engine.ContentCheck.
func (c *contentCheck) Finish(derr error) engine.ContentReport {
	if derr != nil {
		c.pw.CloseWithError(derr)
	} else {
		c.pw.Close()
	}
	<-c.done
	rep := engine.ContentReport{Content: ContentLogical}
	const name = "logical container (index, chunk hashes)"
	switch {
	case c.err == nil:
		rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.OK,
			Detail: fmt.Sprintf("%d tables, %d chunks (%d bytes of SQL), %d objects", len(c.res.Index.Tables), c.res.Chunks, c.res.Bytes, c.res.ObjectFiles)})
	case errors.Is(c.err, logicaldump.ErrDamaged) && derr == nil:
		rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.Failed, Damage: true, Detail: c.err.Error(), Err: c.err})
	case derr != nil:
		// The decode failed: what the check saw is a cut stream.
	default:
		rep.Err = c.err
	}
	return rep
}

// Backup is the backup side of the logical engine.
type Backup struct {
	Options logicaldump.Options
	Server  *mysql.ServerInfo
	// RowCounts records the tables' rows, as the dump counted them in
	// its snapshot (exact: they are the backup's own), for drills.
	RowCounts bool
}

var _ backup.Engine = (*Backup)(nil)

// Name implements backup.Engine.
func (*Backup) Name() string { return Name }

// Extension implements backup.Engine: the container is an xbstream.
func (*Backup) Extension() string { return ".xbstream" }

// Run implements backup.Engine. A logical backup is always full.
func (b *Backup) Run(ctx context.Context, w io.Writer, parent *backup.Manifest) (backup.EngineResult, error) {
	if parent != nil {
		return backup.EngineResult{}, errors.New("the logical engine takes full backups only: use a physical engine (mariabackup, xtrabackup) for incrementals")
	}
	ix, err := logicaldump.Dump(ctx, b.Options, w)
	if err != nil {
		return backup.EngineResult{}, err
	}
	meta := map[string]string{backup.MetaTool: Name, MetaDumpID: ix.DumpID, MetaTables: strconv.Itoa(len(ix.Tables)),
		MetaChunks: strconv.Itoa(ix.ChunkCount()), MetaRows: strconv.FormatInt(ix.Rows, 10),
		MetaLockSec: strconv.FormatFloat(ix.LockSeconds, 'f', 3, 64)}
	backup.AddVersionMeta(meta, "", b.Server)
	backup.AddBinlogMeta(meta, mysql.BinlogPosition{File: ix.BinlogFile, Pos: ix.BinlogPos, GTID: ix.GTID})
	if b.RowCounts {
		rec := backup.RowCountRecord{Mode: backup.RowCountsExact, Exact: true, Why: "the rows the logical engine wrote, read in its snapshot"}
		rec.SnapshotFile, rec.SnapshotPos = ix.BinlogFile, ix.BinlogPos
		for _, t := range ix.Tables {
			if t.Kind != "table" {
				continue
			}
			rec.Tables = append(rec.Tables, mysql.TableCount{Schema: t.Schema, Table: t.Name, Rows: t.RowCount()})
		}
		rec.Seconds = ix.Finished.Sub(ix.Started).Seconds()
		js, err := json.Marshal(rec)
		if err != nil {
			return backup.EngineResult{}, err
		}
		meta[backup.MetaRowCounts] = string(js)
	}
	return backup.EngineResult{Version: "logical/" + strconv.Itoa(logicaldump.Format), ServerVersion: ix.ServerVersion, Meta: meta}, nil
}
