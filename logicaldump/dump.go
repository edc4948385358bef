package logicaldump

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/xbstream"
)

// Defaults of Options.
const (
	DefaultThreads        = 4
	DefaultChunkBytes     = 16 << 20
	DefaultStatementBytes = 1 << 20
	// minRowsPerChunk keeps tables of long rows from being cut into
	// ranges of a handful of rows.
	minRowsPerChunk = 1000
)

// Options configure Dump.
type Options struct {
	// Conn is the server to dump; it needs SELECT, SHOW VIEW, TRIGGER,
	// EVENT, RELOAD (the snapshot's lock) and BINLOG MONITOR / REPLICATION
	// CLIENT (the coordinates), and SELECT on mysql.user for Users.
	Conn mysql.Conn
	// Threads is the number of connections reading the snapshot
	// (0: DefaultThreads).
	Threads int
	// Filter selects the schemas and tables; system schemas are never
	// dumped.
	Filter Filter
	// Users adds the accounts, roles and grants (users.sql).
	Users bool
	// ChunkRows is the number of rows a key range aims at; 0 derives it
	// from ChunkBytes and the table's average row length.
	ChunkRows int64
	// ChunkBytes caps a chunk file: a range that holds more is written as
	// several chunk files (0: DefaultChunkBytes).
	ChunkBytes int
	// StatementBytes is the longest INSERT statement written, lowered to
	// the server's max_allowed_packet less 1 KiB (0:
	// DefaultStatementBytes). A single row longer than it is one
	// statement of its own.
	StatementBytes int
	// LockWait bounds the wait for the snapshot's lock (0: 60 s).
	LockWait time.Duration
	// Progress, when set, is called after each chunk file is written and
	// each table finished (from several goroutines, serialised); the
	// caller shows it, so Dump does not log its progress lines then.
	Progress func(DumpProgress)
	Log      *slog.Logger
}

// DumpProgress is how far a dump is.
type DumpProgress struct {
	Tables, TablesDone int
	// RowsEstimate is the sum of the tables' estimated rows
	// (information_schema), RowsDone the rows written so far.
	RowsEstimate, RowsDone int64
	Bytes                  int64
	Elapsed                time.Duration
}

// ETA estimates the time left from the rows done and estimated (0 when
// unknown).
func (p DumpProgress) ETA() time.Duration {
	if p.RowsDone <= 0 || p.RowsEstimate <= p.RowsDone {
		return 0
	}
	return time.Duration(float64(p.Elapsed) * float64(p.RowsEstimate-p.RowsDone) / float64(p.RowsDone))
}

// progressEvery is how often Dump and Load log their progress.
var progressEvery = 10 * time.Second

// dumper holds the state of one Dump.
type dumper struct {
	o         Options
	xw        *xbstream.Writer
	wmu       sync.Mutex // xw, ix, prog
	ix        *Index
	files     namer
	prog      DumpProgress
	start     time.Time
	stmtMax   int
	hexLimit  int
	maxPacket int // the source's max_allowed_packet
	tableLeft map[*tableInfo]int
	lastLog   time.Time
	dirs      map[string]string // schema -> its directory in the container
	planned   map[*tableInfo]bool
}

// Dump writes a consistent logical backup of the server to w as an
// xbstream (see the package comment for its layout) and returns its
// index. w is not closed. Any error means the stream is not a complete
// backup (its index.json is written last, only on success).
// ErrTableChanged means DDL (DROP, TRUNCATE, RENAME, a rebuilding ALTER)
// changed a table after the dump's snapshot was taken and before the
// dump read it: the snapshot cannot read the table any more.
var ErrTableChanged = errors.New("a table changed during the backup")

func Dump(ctx context.Context, o Options, w io.Writer) (ix *Index, err error) {
	if o.Threads <= 0 {
		o.Threads = DefaultThreads
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.StatementBytes <= 0 {
		o.StatementBytes = DefaultStatementBytes
	}
	if o.LockWait <= 0 {
		o.LockWait = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := o.Filter.Validate(); err != nil {
		return nil, err
	}
	db, err := mysql.Open(ctx, o.Conn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(o.Threads + 1)
	info, err := mysql.Probe(ctx, db)
	if err != nil {
		return nil, err
	}
	var maxPacket int
	if err := db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		return nil, fmt.Errorf("read max_allowed_packet: %w", err)
	}
	d := &dumper{o: o, xw: xbstream.NewWriter(w), files: namer{}, start: time.Now(),
		tableLeft: map[*tableInfo]int{}, planned: map[*tableInfo]bool{}}
	d.maxPacket = maxPacket
	d.stmtMax = min(o.StatementBytes, maxPacket-1024)
	d.hexLimit = d.stmtMax / 4
	id := make([]byte, 12)
	rand.Read(id)
	d.ix = &Index{Format: Format, DumpID: hex.EncodeToString(id), ServerVersion: info.Version, Flavor: string(info.Flavor),
		Started: d.start.UTC(), MaxStatement: d.stmtMax, ChunkBytes: o.ChunkBytes}

	control, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open the control connection: %w", err)
	}
	defer control.Close()
	workers := make([]*sql.Conn, o.Threads)
	for i := range workers {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("open dump connection %d: %w", i, err)
		}
		defer func() {
			c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			c.Close()
		}()
		for _, q := range workerSession {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("dump connection %d: %s: %w", i, q, err)
			}
		}
		workers[i] = c
	}
	// Tables of engines without MVCC are read while commits are blocked
	// (their writes are too), so that they belong to the snapshot.
	nonTrx, err := nonTransactional(ctx, control, o.Filter)
	if err != nil {
		return nil, err
	}
	snap, release, err := takeSnapshot(ctx, control, info, workers, o.LockWait, nonTrx > 0)
	if err != nil {
		return nil, fmt.Errorf("take the snapshot: %w", err)
	}
	defer release()
	d.ix.BinlogFile, d.ix.BinlogPos, d.ix.GTID = snap.binlog.File, snap.binlog.Pos, snap.binlog.GTID
	o.Log.Info("snapshot taken", "binlog_file", snap.binlog.File, "binlog_pos", snap.binlog.Pos, "gtid", snap.binlog.GTID,
		"non_transactional_tables", nonTrx)

	cat, err := readCatalog(ctx, workers[0], o.Filter, o.Users)
	if err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	var noHistory []string
	for _, ti := range cat.tables {
		if ti.versioned && !ti.t.History {
			noHistory = append(noHistory, qualified(ti.t.Schema, ti.t.Name))
		}
	}
	if len(noHistory) > 0 {
		o.Log.Warn("system-versioned tables with transaction-precise history: their current rows are dumped, not their history (no logical dump can restore transaction ids)",
			"tables", strings.Join(noHistory, ", "))
	}
	if err := d.writeSchema(cat); err != nil {
		return nil, err
	}
	if err := d.writeFile(PlanFile, d.ix); err != nil {
		return nil, err
	}
	if nonTrx > 0 {
		if err := d.dumpData(ctx, cat, workers, func(ti *tableInfo) bool { return !transactional(ti.t.Engine) }); err != nil {
			return nil, err
		}
	}
	if err := release(); err != nil {
		return nil, err
	}
	d.ix.LockSeconds = snap.locked.Seconds()
	o.Log.Info("commits unblocked", "lock", snap.locked)
	if err := d.dumpData(ctx, cat, workers, func(ti *tableInfo) bool { return transactional(ti.t.Engine) }); err != nil {
		return nil, err
	}
	if err := d.writeObjects(cat); err != nil {
		return nil, err
	}
	for _, t := range d.ix.Tables {
		sort.Slice(t.Chunks, func(i, j int) bool { return t.Chunks[i].File < t.Chunks[j].File })
	}
	d.ix.Finished = time.Now().UTC()
	if err := d.writeFile(IndexFile, d.ix); err != nil {
		return nil, err
	}
	o.Log.Info("dump complete", "tables", len(d.ix.Tables), "chunks", d.ix.ChunkCount(), "rows", d.ix.Rows, "bytes", d.ix.Bytes,
		"objects", len(d.ix.Objects), "seconds", d.ix.Finished.Sub(d.ix.Started).Seconds())
	return d.ix, nil
}

func (d *dumper) put(name string, data []byte) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.putLocked(name, data)
}

func (d *dumper) putLocked(name string, data []byte) error {
	if err := xbstream.ValidPath(name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := d.xw.WriteFile(name, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write %s to the stream: %w", name, err)
	}
	return nil
}

func (d *dumper) writeFile(name string, v any) error {
	b, err := jsonMarshal(v)
	if err != nil {
		return err
	}
	return d.put(name, b)
}

func (d *dumper) writeSchema(cat *catalog) error {
	dirs := map[string]string{}
	d.dirs = dirs
	for _, db := range cat.dbs {
		dir := d.files.uniq(pathName(db.Name))
		dirs[db.Name] = dir
		db.File = dir + ".schema.sql"
		if err := d.put(db.File, []byte(cat.dbSQL[db.Name])); err != nil {
			return err
		}
		d.ix.Databases = append(d.ix.Databases, db)
	}
	for _, ti := range cat.tables {
		base := d.files.uniq(dirs[ti.t.Schema] + "/" + pathName(ti.t.Name))
		ti.t.File = base + ".schema.sql"
		if ti.t.Kind == "table" {
			ti.t.DataPrefix = base
		}
		if err := d.put(ti.t.File, []byte(ti.create)); err != nil {
			return err
		}
		d.ix.Tables = append(d.ix.Tables, ti.t)
	}
	return nil
}

func (d *dumper) writeObjects(cat *catalog) error {
	for _, od := range cat.objects {
		name := "users"
		if od.Kind != KindUsers {
			name = d.dirs[od.Schema] + "/" + pathName(od.Name) + "." + od.Kind
		}
		od.File = d.files.uniq(name) + ".sql"
		sum := sha256.Sum256([]byte(od.sql))
		od.SHA256 = hex.EncodeToString(sum[:])
		if err := d.put(od.File, []byte(od.sql)); err != nil {
			return err
		}
		d.ix.Objects = append(d.ix.Objects, od.Object)
	}
	return nil
}

// job is one unit of work of the dump's workers: plan a table (cut it into
// ranges) or dump one range.
type job struct {
	ti    *tableInfo
	plan  bool
	seq   int
	where string
}

// queue hands jobs to the workers; a worker that plans a table pushes its
// ranges, so the others start on them while the walk goes on.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []job
	active int
	failed bool
	// busy counts the workers on each table: pop prefers a job of a
	// table no one works on, so that the stream interleaves the tables
	// and a parallel load finds chunks of different tables side by side
	// (see window in sched.go).
	busy map[*tableInfo]int
}

func newQueue() *queue {
	q := &queue{busy: map[*tableInfo]int{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// pop returns the next job, waiting while another worker may still push
// some; false when all work is done or the dump failed.
func (q *queue) pop() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.jobs) == 0 && q.active > 0 && !q.failed {
		q.cond.Wait()
	}
	if len(q.jobs) == 0 || q.failed {
		return job{}, false
	}
	i := 0
	for k, j := range q.jobs {
		if q.busy[j.ti] == 0 {
			i = k
			break
		}
	}
	j := q.jobs[i]
	q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
	q.active++
	q.busy[j.ti]++
	return j, true
}

func (q *queue) push(j job) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *queue) done(j job, failed bool) {
	q.mu.Lock()
	q.active--
	q.busy[j.ti]--
	if failed {
		q.failed = true
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

// transactional reports whether tables of engine are read in the
// snapshot (MVCC) rather than as they are when read.
func transactional(engine string) bool {
	switch strings.ToLower(engine) {
	case "innodb", "rocksdb", "tokudb":
		return true
	}
	return false
}

// nonTransactional counts the selected base tables of engines that are
// not transactional (MyISAM, Aria, MEMORY, ...).
func nonTransactional(ctx context.Context, c *sql.Conn, f Filter) (int, error) {
	rows, err := queryStrings(ctx, c, "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')")
	if err != nil {
		return 0, fmt.Errorf("list the tables' engines: %w", err)
	}
	n := 0
	for _, r := range rows {
		if !ExcludedSchemas[strings.ToLower(r[0].String)] && f.MatchSchema(r[0].String) && f.Match(r[0].String, r[1].String) && !transactional(r[2].String) {
			n++
		}
	}
	return n, nil
}

// dumpData dumps the tables of cat that which selects, with the workers.
func (d *dumper) dumpData(ctx context.Context, cat *catalog, workers []*sql.Conn, which func(*tableInfo) bool) error {
	q := newQueue()
	var tables []*tableInfo
	for _, ti := range cat.tables {
		if ti.t.Kind == "table" && which(ti) {
			tables = append(tables, ti)
			d.prog.RowsEstimate += ti.rowsEst
		}
	}
	d.prog.Tables += len(tables)
	// Largest first: a big table's ranges spread over the workers early.
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].rowsEst*tables[i].avgRow > tables[j].rowsEst*tables[j].avgRow })
	for _, ti := range tables {
		q.jobs = append(q.jobs, job{ti: ti, plan: true})
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range workers {
		g.Go(func() error {
			for {
				j, ok := q.pop()
				if !ok {
					return nil
				}
				err := d.run(gctx, c, q, j)
				q.done(j, err != nil)
				if err != nil {
					return fmt.Errorf("dump worker %d: %w", i, err)
				}
			}
		})
	}
	return g.Wait()
}

func (d *dumper) rowsPerChunk(ti *tableInfo) int64 {
	if d.o.ChunkRows > 0 {
		return d.o.ChunkRows
	}
	avg := max(ti.avgRow, 1)
	return max(int64(d.o.ChunkBytes)/avg, minRowsPerChunk)
}

func (d *dumper) run(ctx context.Context, c *sql.Conn, q *queue, j job) (err error) {
	defer func() { err = tableChanged(j.ti, err) }()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !j.plan {
		return d.dumpRange(ctx, c, j)
	}
	seq := 0
	d.wmu.Lock()
	d.tableLeft[j.ti]++ // the plan itself, until it is done
	d.wmu.Unlock()
	if j.ti.t.History {
		// The chunks hold every row version: the current ones are
		// counted for the backup's row counts (verify --drill).
		t := qualified(j.ti.t.Schema, j.ti.t.Name)
		var n int64
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return fmt.Errorf("count the current rows of %s: %w", t, err)
		}
		d.wmu.Lock()
		j.ti.t.CurrentRows = n
		d.wmu.Unlock()
	}
	err = planTable(ctx, c, j.ti, d.rowsPerChunk(j.ti), func(where string) {
		seq++
		d.wmu.Lock()
		d.tableLeft[j.ti]++
		d.wmu.Unlock()
		q.push(job{ti: j.ti, seq: seq, where: where})
	})
	if err != nil {
		return err
	}
	d.rangeDone(j.ti)
	return nil
}

// tableChanged marks err as ErrTableChanged, with what to do, when the
// server says ti no longer exists (1146: dropped or renamed) or changed
// (1412: truncated or rebuilt) since the snapshot.
func tableChanged(ti *tableInfo, err error) error {
	var me *mysqldrv.MySQLError
	if err == nil || !errors.As(err, &me) || (me.Number != 1146 && me.Number != 1412) {
		return err
	}
	t := qualified(ti.t.Schema, ti.t.Name)
	return fmt.Errorf("%w: %s was dropped, truncated, renamed or rebuilt after the backup's snapshot and before the backup read it, so the snapshot cannot read it: run the backup again when no DDL runs on the dumped tables, or leave the table out with --exclude %s: %w",
		ErrTableChanged, t, ti.t.Schema+"."+ti.t.Name, err)
}

// rangeDone counts a table's range (or its plan) as done.
func (d *dumper) rangeDone(ti *tableInfo) {
	d.wmu.Lock()
	d.tableLeft[ti]--
	if d.tableLeft[ti] == 0 {
		d.prog.TablesDone++
		d.reportLocked()
	}
	d.wmu.Unlock()
}

// reportLocked calls Progress and logs the progress (at most every
// progressEvery); d.wmu is held.
func (d *dumper) reportLocked() {
	d.prog.Elapsed = time.Since(d.start)
	if d.o.Progress != nil {
		d.o.Progress(d.prog)
		return
	}
	if time.Since(d.lastLog) >= progressEvery {
		d.lastLog = time.Now()
		d.o.Log.Info("dump progress", "tables", fmt.Sprintf("%d/%d", d.prog.TablesDone, d.prog.Tables),
			"rows", d.prog.RowsDone, "rows_estimated", d.prog.RowsEstimate, "bytes", d.prog.Bytes, "eta", d.prog.ETA().Round(time.Second))
	}
}

// warnLongRow logs, once per table, that a row's INSERT statement (n
// bytes) is longer than the source's max_allowed_packet: a target needs
// a larger max_allowed_packet than the source's to restore it.
func (d *dumper) warnLongRow(ti *tableInfo, n int) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if ti.warnedLong {
		return
	}
	ti.warnedLong = true
	d.o.Log.Warn("a row is longer than the source's max_allowed_packet: restoring it needs a target whose max_allowed_packet is at least its size",
		"table", qualified(ti.t.Schema, ti.t.Name), "statement_bytes", n, "max_allowed_packet", d.maxPacket)
}

// chunkWriter accumulates one range's statements and cuts them into chunk
// files of at most ChunkBytes.
type chunkWriter struct {
	d     *dumper
	ti    *tableInfo
	seq   int
	part  int
	where string
	buf   []byte
	rows  int64 // rows in buf
	stmt  int   // start of the open statement in buf, -1 when none
}

func (cw *chunkWriter) addRow(row []byte) error {
	if cw.stmt >= 0 && len(cw.buf)-cw.stmt+1+len(row)+2 > cw.d.stmtMax {
		cw.closeStmt()
		if len(cw.buf) >= cw.d.o.ChunkBytes {
			if err := cw.flush(); err != nil {
				return err
			}
		}
	}
	if n := len(cw.ti.insertPre) + len(row) + 2; cw.d.maxPacket > 0 && n > cw.d.maxPacket {
		cw.d.warnLongRow(cw.ti, n)
	}
	if cw.stmt < 0 {
		cw.stmt = len(cw.buf)
		cw.buf = append(cw.buf, cw.ti.insertPre...)
	} else {
		cw.buf = append(cw.buf, ',')
	}
	cw.buf = append(cw.buf, row...)
	cw.rows++
	return nil
}

func (cw *chunkWriter) closeStmt() {
	if cw.stmt >= 0 {
		cw.buf = append(cw.buf, ";\n"...)
		cw.stmt = -1
	}
}

// flush writes the buffered statements as one chunk file (an empty table
// still gets one, empty, chunk: the load then knows it saw everything).
func (cw *chunkWriter) flush() error {
	cw.closeStmt()
	name := fmt.Sprintf("%s.%06d.sql", cw.ti.t.DataPrefix, cw.seq)
	if cw.part > 0 {
		name = fmt.Sprintf("%s.%06d-%d.sql", cw.ti.t.DataPrefix, cw.seq, cw.part)
	}
	sum := sha256.Sum256(cw.buf)
	ch := Chunk{File: name, Rows: cw.rows, Bytes: int64(len(cw.buf)), SHA256: hex.EncodeToString(sum[:]), Where: cw.where}
	d := cw.d
	d.wmu.Lock()
	err := d.putLocked(name, cw.buf)
	if err == nil {
		cw.ti.t.Chunks = append(cw.ti.t.Chunks, ch)
		d.ix.Rows += ch.Rows
		d.ix.Bytes += ch.Bytes
		d.prog.RowsDone += ch.Rows
		d.prog.Bytes += ch.Bytes
		d.reportLocked()
	}
	d.wmu.Unlock()
	cw.part++
	cw.buf = cw.buf[:0]
	cw.rows = 0
	return err
}

func (d *dumper) dumpRange(ctx context.Context, c *sql.Conn, j job) error {
	ti := j.ti
	q := ti.selectSQL
	if j.where != "" {
		q += " WHERE " + j.where
	}
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s: %w", qualified(ti.t.Schema, ti.t.Name), err)
	}
	defer rows.Close()
	classes := make([]valueClass, len(ti.insert))
	for i, col := range ti.insert {
		classes[i] = classOf(col.dataType)
	}
	vals := make([]sql.RawBytes, len(ti.insert))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	cw := &chunkWriter{d: d, ti: ti, seq: j.seq, where: j.where, stmt: -1}
	var row []byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read %s: %w", qualified(ti.t.Schema, ti.t.Name), err)
		}
		row = append(row[:0], '(')
		for i, v := range vals {
			if i > 0 {
				row = append(row, ',')
			}
			if v == nil {
				row = append(row, "NULL"...)
				continue
			}
			row = appendValue(row, classes[i], v, d.hexLimit)
		}
		row = append(row, ')')
		if err := cw.addRow(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", qualified(ti.t.Schema, ti.t.Name), err)
	}
	if len(cw.buf) > 0 || cw.part == 0 {
		if err := cw.flush(); err != nil {
			return err
		}
	}
	d.rangeDone(ti)
	return nil
}

var _ = errors.New
