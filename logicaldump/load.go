package logicaldump

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/xbstream"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Conn is the target server; the user needs to create the schemas,
	// tables and objects of the backup, and mybak_progress.
	Conn mysql.Conn
	// Threads is the number of connections loading chunks (0:
	// DefaultThreads).
	Threads int
	// Filter selects what is restored: tables, views, routines and events
	// by "db.name"; a trigger follows its table.
	Filter Filter
	// Resume continues a restore of the same backup that stopped: tables
	// that exist are kept, chunks recorded as committed are skipped.
	Resume bool
	// Force drops a selected table (or object) that exists on the target
	// and restores it; without it Load refuses to touch one.
	Force bool
	// DeferIndexes creates tables without their secondary indexes and
	// adds them after the data (tables with foreign keys keep theirs).
	DeferIndexes bool
	// Users runs the backup's users.sql (accounts and grants) also when
	// Filter selects part of the backup; a whole restore runs it
	// anyway (when the backup has one: it was taken with Users).
	Users bool
	// NoBinlog loads with sql_log_bin=0 (needs SUPER / BINLOG ADMIN): a
	// replica being built must not binlog the load as its own
	// transactions.
	NoBinlog bool
	// Retries is how often a chunk is retried after a lost connection,
	// a failed reconnect (the server down or restarting), a deadlock or
	// a lock wait timeout (0: 10); the wait between attempts starts at
	// 1 s and doubles up to RetryWait (0: 30 s), so that the defaults
	// outlast a server restart with crash recovery (about 3 minutes).
	Retries   int
	RetryWait time.Duration
	// Progress, when set, is called after each chunk committed or
	// skipped (serialised); the caller shows it, so Load does not log
	// its progress lines then.
	Progress func(LoadProgress)
	Log      *slog.Logger

	// insertOnly loads with the chunks' INSERT statements even when the
	// target allows LOAD DATA LOCAL INFILE (tests of both paths).
	insertOnly bool
	// beforeStatement is a test hook, called before each statement of a
	// chunk (LOAD DATA is statement 1) with the connection it runs on.
	beforeStatement func(ctx context.Context, c *sql.Conn, file string, i int)
}

// LoadProgress is how far a load is.
type LoadProgress struct {
	// Chunks and Bytes count what was committed (or skipped on resume)
	// so far; the totals are known only once the index is read, at the
	// end of the stream, so an ETA comes from the caller's byte count of
	// the stream against the backup's size.
	Chunks, Skipped int
	Bytes, Rows     int64
	// SkippedBytes are the bytes of the Skipped chunks: read, not loaded,
	// in no time (a rate leaves them out).
	SkippedBytes int64
	// Tables is the number of tables the load restores (of the plan,
	// selected by Filter).
	Tables  int
	Elapsed time.Duration
}

// LoadResult says what Load did.
type LoadResult struct {
	Index   *Index
	Tables  int
	Chunks  int
	Skipped int // committed by an earlier run (Resume)
	// Rows are the selected tables' rows in the backup (from its
	// index, once every chunk was checked against it), Bytes the SQL
	// loaded by this run.
	Rows, Bytes  int64
	Objects      int
	IndexesAdded int
	Retried      int // retries of chunks (attempts after a lost connection)
	// LoadData counts the chunks loaded with LOAD DATA LOCAL INFILE (the
	// others ran their INSERT statements).
	LoadData int
	Elapsed  time.Duration
}

// loadSession is run on every connection of a load: the values of a chunk
// are written for utf8mb4, UTC and the default escapes, and checks that
// the source already passed are off.
var loadSession = []string{
	"SET NAMES utf8mb4",
	"SET SESSION time_zone = '+00:00'",
	"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
	"SET SESSION foreign_key_checks = 0",
	"SET SESSION unique_checks = 0",
}

// loader holds the state of one Load.
type loader struct {
	o       LoadOptions
	db      *sql.DB
	plan    *Index
	started time.Time
	tables  map[string]*Table // by DataPrefix
	sel     map[*Table]bool
	done    map[string]string // file -> sha256 committed earlier (Resume)
	schema  map[string][]byte // schema/ files
	dbDone  map[string]bool   // schemas created

	mu      sync.Mutex
	seen    map[string]string // file -> sha256 of what was read
	res     LoadResult
	lastLog time.Time
	// skippedBytes are the bytes of the chunks skipped (Resume).
	skippedBytes int64
	// useLoadData: chunks go by LOAD DATA LOCAL INFILE (the target allows
	// it), else by their INSERT statements.
	useLoadData atomic.Bool
	objs        map[string][]byte
	// history: a selected table has its history in the backup
	// (Table.History): sessions allow inserting it.
	history bool
	// maxPacket is the target's max_allowed_packet (0: unknown): an
	// INSERT statement longer than it is refused before it is sent.
	maxPacket int64
	// marker is this restore's marker in the progress table (see
	// ProgressSchema), whose named lock markerConn holds.
	marker     string
	markerConn *sql.Conn
	markerMu   sync.Mutex // reregister
}

// maxSchemaBytes bounds what Load holds of schema and object files.
const maxSchemaBytes = 512 << 20

// Load restores a container written by Dump from r into the server of
// o.Conn (see the package comment for the order). It returns an error
// naming the chunk and the server's message when a statement fails; after
// a failure, Load with Resume continues where it stopped.
func Load(ctx context.Context, o LoadOptions, r io.Reader) (*LoadResult, error) {
	res, err := runLoad(ctx, o, r)
	var me *mysqldrv.MySQLError
	if err != nil && errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142 || me.Number == 1227) {
		err = fmt.Errorf("%w (the restore's user lacks a privilege: it needs CREATE, DROP, INSERT, DELETE and SELECT on %s.*, "+
			"and on the restored schemas CREATE, DROP, INSERT, SELECT, ALTER, INDEX, CREATE VIEW, CREATE ROUTINE, ALTER ROUTINE, TRIGGER and EVENT; "+
			"--no-binlog also needs BINLOG ADMIN or SUPER, --users CREATE USER and the privileges it grants)", err, ProgressSchema)
	}
	return res, err
}

func runLoad(ctx context.Context, o LoadOptions, r io.Reader) (*LoadResult, error) {
	if o.Threads <= 0 {
		o.Threads = DefaultThreads
	}
	if o.Retries <= 0 {
		o.Retries = 10
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := o.Filter.Validate(); err != nil {
		return nil, err
	}
	if o.Resume && o.Force {
		return nil, errors.New("--resume continues a stopped restore, --force starts over by dropping what exists: give one of them")
	}
	l := &loader{o: o, started: time.Now(), tables: map[string]*Table{}, sel: map[*Table]bool{},
		done: map[string]string{}, seen: map[string]string{}, objs: map[string][]byte{}}
	xr := &fileReader{xr: xbstream.NewReader(r)}
	schema := map[string][]byte{}
	var held int
	for {
		name, data, err := xr.next(maxSchemaBytes)
		if err == io.EOF {
			return nil, errors.New("the backup stream ended before its plan.json: it is not a complete logical backup")
		}
		if err != nil {
			return nil, err
		}
		if name == PlanFile {
			if l.plan, err = ParseIndex(data); err != nil {
				return nil, err
			}
			if err := checkSchemaFiles(l.plan, schema); err != nil {
				return nil, err
			}
			break
		}
		if !strings.HasSuffix(name, ".schema.sql") {
			return nil, fmt.Errorf("unexpected file %q before plan.json: not a mybak logical backup", name)
		}
		if held += len(data); held > maxSchemaBytes {
			return nil, fmt.Errorf("the schema files exceed %d bytes before plan.json: refusing to hold more", maxSchemaBytes)
		}
		schema[name] = data
	}
	db, err := mysql.Open(ctx, o.Conn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(o.Threads + 3)
	l.db = db
	defer l.release()
	l.schema, l.dbDone = schema, map[string]bool{}
	if err := l.prepare(ctx, schema); err != nil {
		return nil, err
	}
	ix, err := l.loadData(ctx, xr)
	if err != nil {
		return nil, err
	}
	l.res.Index = ix
	if err := l.verify(ix); err != nil {
		return nil, err
	}
	if o.DeferIndexes {
		if err := l.addIndexes(ctx, ix); err != nil {
			return nil, err
		}
	}
	if err := l.createObjects(ctx, ix); err != nil {
		return nil, err
	}
	if len(o.Filter.Include) > 0 && l.res.Tables == 0 && l.res.Objects == 0 {
		return nil, fmt.Errorf("--include %s matches nothing in the backup: nothing was restored", strings.Join(o.Filter.Include, ","))
	}
	if err := l.finish(ctx); err != nil {
		return nil, err
	}
	l.res.Elapsed = time.Since(l.started)
	o.Log.Info("load complete", "tables", l.res.Tables, "rows", l.res.Rows, "chunks", l.res.Chunks, "skipped", l.res.Skipped, "bytes", l.res.Bytes,
		"objects", l.res.Objects, "indexes_added", l.res.IndexesAdded, "retried", l.res.Retried, "seconds", l.res.Elapsed.Seconds())
	return &l.res, nil
}

// fileReader reads the files of an xbstream whose files are written
// whole, one after another (as Dump writes them).
type fileReader struct {
	xr      *xbstream.Reader
	pending *xbstream.Chunk
}

// next returns the next file, read whole; a file longer than limit is an
// error. io.EOF at the end of the stream.
func (f *fileReader) next(limit int) (string, []byte, error) {
	var name string
	var buf []byte
	for {
		c, err := f.xr.Next()
		if err == io.EOF {
			if name != "" {
				return "", nil, fmt.Errorf("%w: the stream ended inside %s", errFormat, name)
			}
			return "", nil, io.EOF
		}
		if err != nil {
			return "", nil, fmt.Errorf("read the backup stream: %w", err)
		}
		if name == "" {
			if err := xbstream.ValidPath(c.Path); err != nil {
				return "", nil, err
			}
			name = c.Path
		} else if c.Path != name {
			return "", nil, fmt.Errorf("%w: %s interleaves with %s", errFormat, c.Path, name)
		}
		switch c.Type {
		case xbstream.TypeEOF:
			return name, buf, nil
		case xbstream.TypePayload:
			if c.Offset != int64(len(buf)) {
				return "", nil, fmt.Errorf("%w: %s: chunk at offset %d, expected %d", errFormat, name, c.Offset, len(buf))
			}
			if int64(len(buf))+c.Length > int64(limit) {
				return "", nil, fmt.Errorf("%w: %s is longer than %d bytes: refusing to hold it", errFormat, name, limit)
			}
			n := len(buf)
			buf = append(buf, make([]byte, c.Length)...)
			if _, err := io.ReadFull(f.xr, buf[n:]); err != nil {
				return "", nil, fmt.Errorf("read %s: %w", name, err)
			}
		default:
			return "", nil, fmt.Errorf("%w: %s: chunk of type %v", errFormat, name, c.Type)
		}
	}
}

// session runs loadSession on c (and sql_log_bin=0 with NoBinlog).
func (l *loader) session(ctx context.Context, c *sql.Conn) error {
	qs := loadSession
	if l.o.NoBinlog {
		qs = append(qs[:len(qs):len(qs)], "SET SESSION sql_log_bin = 0")
	}
	for _, q := range qs {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if l.history {
		const q = "SET SESSION system_versioning_insert_history = 1"
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w (the backup holds the history of system-versioned tables: restoring it needs MariaDB 10.11 or later, with secure_timestamp NO; or leave those tables out with --exclude)", q, err)
		}
	}
	return nil
}

// exists returns the selected tables that exist on the target.
func (l *loader) existing(ctx context.Context) (map[[2]string]bool, error) {
	return tableSet(ctx, l.db, "list the target's tables", "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES")
}

// tableSet runs q, which selects a schema and a table name, and returns
// the pairs; what names the query in its error.
func tableSet(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, what, q string) (map[[2]string]bool, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := map[[2]string]bool{}
	for rows.Next() {
		var db, t string
		if err := rows.Scan(&db, &t); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out[[2]string{db, t}] = true
	}
	return out, rows.Err()
}

// prepare sets up the progress records, checks the target and creates
// the schemas and tables.
func (l *loader) prepare(ctx context.Context, schema map[string][]byte) error {
	plan := l.plan
	for _, t := range plan.Tables {
		if t.DataPrefix != "" {
			l.tables[t.DataPrefix] = t
		}
		if l.o.Filter.Match(t.Schema, t.Name) {
			l.sel[t] = true
			l.res.Tables++
			l.history = l.history || t.History
		}
	}
	c, err := l.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to the target: %w", err)
	}
	defer c.Close()
	if err := l.session(ctx, c); err != nil {
		return err
	}
	if err := l.progressSetup(ctx, c); err != nil {
		return err
	}
	if err := c.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&l.maxPacket); err != nil {
		return fmt.Errorf("read the target's max_allowed_packet: %w", err)
	}
	var localInfile sql.NullString
	if err := c.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&localInfile); err == nil {
		l.useLoadData.Store(!l.o.insertOnly && (localInfile.String == "1" || strings.EqualFold(localInfile.String, "ON")))
	}
	have, err := l.existing(ctx)
	if err != nil {
		return err
	}
	var clash []string
	for _, t := range plan.Tables {
		if l.sel[t] && have[[2]string{t.Schema, t.Name}] {
			clash = append(clash, qualified(t.Schema, t.Name))
		}
	}
	if len(clash) > 0 && !l.o.Resume && !l.o.Force {
		return fmt.Errorf("%d table(s) of the backup exist on the target (%s): restore refuses to overwrite them; drop them, restore others with --include/--exclude, give --force to replace them, or --resume to continue a restore that stopped",
			len(clash), strings.Join(first(clash, 5), ", "))
	}
	for _, t := range plan.Tables {
		if !l.sel[t] {
			continue
		}
		if err := l.ensureDB(ctx, c, t.Schema); err != nil {
			return err
		}
		name := qualified(t.Schema, t.Name)
		exists := have[[2]string{t.Schema, t.Name}]
		if exists && l.o.Resume && !l.o.Force {
			continue
		}
		if exists {
			kind := "TABLE"
			if t.Kind == "sequence" {
				kind = "SEQUENCE"
			}
			if _, err := c.ExecContext(ctx, "DROP "+kind+" "+name); err != nil {
				return fmt.Errorf("drop %s (--force): %w", name, err)
			}
		}
		stmt, ok := schema[t.File]
		if !ok {
			return fmt.Errorf("the backup has no %s (CREATE TABLE %s)", t.File, name)
		}
		q := string(stmt)
		if l.o.DeferIndexes {
			q = withoutKeys(q, t.Deferrable)
		}
		if _, err := c.ExecContext(ctx, "USE "+quoteIdent(t.Schema)); err != nil {
			return fmt.Errorf("USE %s: %w", quoteIdent(t.Schema), err)
		}
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create %s (from %s): %w", name, t.File, err)
		}
	}
	return nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "...")
	}
	return s
}

// ensureDB creates schema db (IF NOT EXISTS) from the backup's CREATE
// DATABASE, once.
func (l *loader) ensureDB(ctx context.Context, c *sql.Conn, db string) error {
	if l.dbDone[db] {
		return nil
	}
	for _, d := range l.plan.Databases {
		if d.Name != db {
			continue
		}
		stmt, ok := l.schema[d.File]
		if !ok {
			return fmt.Errorf("the backup has no %s (CREATE DATABASE %s)", d.File, quoteIdent(db))
		}
		q := string(stmt)
		if rest, ok := strings.CutPrefix(q, "CREATE DATABASE "); ok {
			q = "CREATE DATABASE IF NOT EXISTS " + rest
		}
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create schema %s: %w", quoteIdent(db), err)
		}
		l.dbDone[db] = true
		return nil
	}
	return fmt.Errorf("schema %s is not in the backup's plan.json: the backup is damaged", quoteIdent(db))
}

// chunkPrefix returns PREFIX of a chunk file name PREFIX.NNNNNN.sql or
// PREFIX.NNNNNN-P.sql, "" for any other name.
func chunkPrefix(name string) string {
	base, ok := strings.CutSuffix(name, ".sql")
	i := strings.LastIndexByte(base, '.')
	if !ok || i < 0 {
		return ""
	}
	for _, c := range base[i+1:] {
		if (c < '0' || c > '9') && c != '-' {
			return ""
		}
	}
	return base[:i]
}

// chunkTask is one chunk file handed to a load worker.
type chunkTask struct {
	t    *Table
	file string
	data []byte
	sum  string
}

// loadData reads the data and object files from the stream, loads the
// selected chunks with Threads connections, and returns the index.
func (l *loader) loadData(ctx context.Context, xr *fileReader) (*Index, error) {
	exclusive, err := l.exclusiveTables(ctx)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	// Memory: a chunk per worker, Threads+1 waiting but at most
	// windowBytes of them (so that a worker finds a chunk of another
	// table: see window), one being read.
	win := newWindow(gctx, l.o.Threads+1, windowBytes, exclusive)
	for i := 0; i < l.o.Threads; i++ {
		g.Go(func() error { return l.worker(gctx, i, win.all(gctx)) })
	}
	var ix *Index
	limit := max(l.plan.ChunkBytes, DefaultChunkBytes)*2 + l.plan.MaxStatement + 1024
	var held int
	g.Go(func() error {
		defer win.close()
		for {
			name, data, err := xr.next(max(limit, maxSchemaBytes))
			if err == io.EOF {
				return errors.New("the backup stream ended before its index.json: it is not a complete logical backup (the chunks read so far are committed; after fetching a complete copy, --resume continues)")
			}
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			hs := hex.EncodeToString(sum[:])
			switch {
			case name == IndexFile:
				if ix, err = ParseIndex(data); err == nil {
					err = checkIndex(l.plan, ix)
				}
				return err
			case !strings.HasSuffix(name, ".sql"):
				return fmt.Errorf("unexpected file %q in the data section: not a mybak logical backup", name)
			}
			t := l.tables[chunkPrefix(name)]
			if t == nil {
				// A view, routine, trigger, event, sequence value or
				// users.sql: run after the data (the index says what).
				if held += len(data); held > maxSchemaBytes {
					return fmt.Errorf("the object files exceed %d bytes: refusing to hold more", maxSchemaBytes)
				}
				l.objs[name] = data
				continue
			}
			if !l.sel[t] {
				continue
			}
			l.mu.Lock()
			l.seen[name] = hs
			l.mu.Unlock()
			if prev, ok := l.done[name]; ok {
				if prev != hs {
					return fmt.Errorf("%s was committed by an earlier run with sha256 %s, the stream has %s: --resume only continues the same backup", name, prev, hs)
				}
				l.mu.Lock()
				l.res.Skipped++
				l.skippedBytes += int64(len(data))
				l.reportLocked()
				l.mu.Unlock()
				continue
			}
			if err := win.put(gctx, chunkTask{t: t, file: name, data: data, sum: hs}); err != nil {
				return err
			}
		}
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return ix, nil
}

// verify checks that every selected chunk of the index was read, with
// the content the index records.
func (l *loader) verify(ix *Index) error {
	if ix.DumpID != l.plan.DumpID {
		return fmt.Errorf("index.json belongs to dump %s, plan.json to %s: the stream is not one backup", ix.DumpID, l.plan.DumpID)
	}
	for _, t := range ix.Tables {
		if !l.o.Filter.Match(t.Schema, t.Name) {
			continue
		}
		for _, ch := range t.Chunks {
			got, ok := l.seen[ch.File]
			if !ok {
				return fmt.Errorf("chunk %s of %s is in the index but not in the stream: the backup is damaged", ch.File, qualified(t.Schema, t.Name))
			}
			if got != ch.SHA256 {
				return fmt.Errorf("chunk %s of %s has sha256 %s, the index says %s: the backup is damaged (the table was loaded from it; restore it again from a good copy)",
					ch.File, qualified(t.Schema, t.Name), got, ch.SHA256)
			}
			l.res.Rows += ch.Rows
		}
	}
	return nil
}

func (l *loader) worker(ctx context.Context, id int, tasks iter.Seq[chunkTask]) error {
	var c *sql.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for task := range tasks {
		attempt := 0
		var failed time.Time // the chunk's first failure
		for {
			var done bool
			err := func() error {
				if c == nil {
					// A reconnect that fails because the server is down
					// or restarting counts as a lost connection too.
					nc, err := l.connect(ctx)
					if err != nil {
						return err
					}
					c = nc
					if attempt > 0 {
						if err := l.reregister(ctx); err != nil {
							return err
						}
					}
				}
				var err error
				done, err = l.loadChunk(ctx, c, task, attempt > 0)
				return err
			}()
			if err == nil {
				l.mu.Lock()
				// A chunk found committed on a retry (its COMMIT went
				// through before the connection was lost) is loaded too.
				l.res.Chunks++
				l.res.Bytes += int64(len(task.data))
				l.reportLocked()
				l.mu.Unlock()
				if done {
					l.o.Log.Info("chunk was committed before the connection was lost", "worker", id, "chunk", task.file)
				}
				break
			}
			if !lostConnection(err) || ctx.Err() != nil {
				return err
			}
			attempt++
			if attempt == 1 {
				failed = time.Now()
			}
			if attempt > l.o.Retries {
				return fmt.Errorf("%w (gave up after %d attempts over %s; --resume continues)", err, attempt, time.Since(failed).Round(time.Second))
			}
			l.mu.Lock()
			l.res.Retried++
			l.mu.Unlock()
			wait := retryWait(attempt, l.o.RetryWait)
			l.o.Log.Warn("connection lost during a chunk; retrying", "worker", id, "chunk", task.file, "attempt", attempt, "wait", wait, "err", err)
			if c != nil {
				c.Raw(func(any) error { return driver.ErrBadConn }) // discard it, not back to the pool
				c.Close()
				c = nil
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// retryWait is the wait before attempt n (1, 2, ...) of a chunk: 1 s
// doubling up to limit. With the defaults (10 attempts, 30 s) a chunk is
// tried for about 3 minutes: a server restarting, crash recovery
// included, is back within that.
func retryWait(n int, limit time.Duration) time.Duration {
	if n > 6 {
		return limit
	}
	return min(time.Second<<(n-1), limit)
}

// connect opens a load connection with its session set up.
func (l *loader) connect(ctx context.Context) (*sql.Conn, error) {
	c, err := l.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	if err := l.session(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// loadChunk runs one chunk and its progress record in one transaction.
// After a lost connection (retry) it first checks whether the chunk's
// COMMIT went through; done is true when it had.
func (l *loader) loadChunk(ctx context.Context, c *sql.Conn, task chunkTask, retry bool) (done bool, err error) {
	if retry {
		var n int
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+progressTable+" WHERE dump_id = ? AND file = ?",
			l.plan.DumpID, task.file).Scan(&n); err != nil {
			return false, fmt.Errorf("check chunk %s's progress record: %w", task.file, err)
		}
		if n > 0 {
			return true, nil
		}
	}
	name := qualified(task.t.Schema, task.t.Name)
	prefix := []byte("INSERT INTO " + name + " (")
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return false, fmt.Errorf("load chunk %s of %s: BEGIN: %w", task.file, name, err)
	}
	loaded := false
	if l.useLoadData.Load() {
		loaded, err = l.loadDataChunk(ctx, c, task, name, prefix)
		if err == nil && !loaded {
			// Start the chunk over with its INSERTs.
			if _, err = c.ExecContext(ctx, "ROLLBACK"); err == nil {
				_, err = c.ExecContext(ctx, "BEGIN")
			}
		}
	}
	if err == nil && !loaded {
		err = l.insertChunk(ctx, c, task, name, prefix)
	}
	if err == nil {
		_, err = c.ExecContext(ctx, "INSERT INTO "+progressTable+" (dump_id, file, sha256) VALUES ("+
			quoteString(l.plan.DumpID)+", "+quoteString(task.file)+", "+quoteString(task.sum)+")")
	}
	if err == nil {
		_, err = c.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		if !lostConnection(err) {
			c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
		ce := &ChunkError{File: task.file, Table: name, err: err}
		var tl *tooLongError
		if errors.As(err, &tl) {
			ce.StatementBytes = tl.size
		}
		return false, ce
	}
	return false, nil
}

// insertChunk runs the chunk's INSERT statements (inside the chunk's
// transaction).
func (l *loader) insertChunk(ctx context.Context, c *sql.Conn, task chunkTask, name string, prefix []byte) error {
	i := 0
	return splitStatements(task.data, func(stmt []byte) error {
		i++
		if _, _, err := parseInsert(stmt, prefix); err != nil {
			return fmt.Errorf("statement %d is not an INSERT of values into %s (%v): refusing to run it (the backup is damaged or not mybak's)", i, name, err)
		}
		if l.maxPacket > 0 && int64(len(stmt))+1 > l.maxPacket {
			// The server would drop the connection of a packet too big,
			// which looks like a lost connection: retrying cannot help.
			return &tooLongError{stmt: i, size: len(stmt), limit: l.maxPacket}
		}
		if l.o.beforeStatement != nil {
			l.o.beforeStatement(ctx, c, task.file, i)
		}
		if _, err := c.ExecContext(ctx, string(stmt)); err != nil {
			var me *mysqldrv.MySQLError
			if errors.Is(err, mysqldrv.ErrPktTooLarge) || errors.As(err, &me) && me.Number == 1153 {
				return fmt.Errorf("statement %d (%d bytes): %w (raise the target's max_allowed_packet)", i, len(stmt), err)
			}
			return fmt.Errorf("statement %d: %w", i, err)
		}
		return nil
	})
}

// readerSeq names the readers registered for LOAD DATA.
var readerSeq atomic.Int64

// loadDataChunk loads the chunk's rows with LOAD DATA LOCAL INFILE
// (inside the chunk's transaction). It returns false when the server
// loaded other than every row without a warning (LOCAL turns a duplicate
// key into a warning and a skipped row, and a value it had to change into
// a warning): the caller rolls back and runs the INSERTs, whose errors are
// the server's own. A server that refuses LOCAL INFILE turns it off for
// the rest of the load.
func (l *loader) loadDataChunk(ctx context.Context, c *sql.Conn, task chunkTask, name string, prefix []byte) (bool, error) {
	tsv, err := toTSV(task.data, prefix)
	if err != nil {
		return false, fmt.Errorf("%w: refusing to run it (the backup is damaged or not mybak's)", err)
	}
	if tsv.rows == 0 {
		return true, nil
	}
	if l.maxPacket > 0 && int64(tsv.longest)+1 > l.maxPacket {
		// LOAD DATA would load the row, but the target's binary log then
		// holds an event longer than max_allowed_packet, which its
		// replicas, mariadb-binlog and BINLOG_GTID_POS (mariadb-dump
		// --master-data crashes on its NULL) cannot read.
		return false, &tooLongError{stmt: tsv.longestAt, size: tsv.longest, limit: l.maxPacket}
	}
	if tsv.longest > l.plan.MaxStatement {
		// A row longer than the dump's statement limit: the server
		// parses one huge LOAD DATA line slowly (an 80 MiB row took from
		// 20 s to over 5 minutes), its INSERT statement fast.
		return false, nil
	}
	reader := fmt.Sprintf("mybak-%s-%d", l.plan.DumpID, readerSeq.Add(1))
	mysqldrv.RegisterReaderHandler(reader, func() io.Reader { return bytes.NewReader(tsv.data) })
	defer mysqldrv.DeregisterReaderHandler(reader)
	if l.o.beforeStatement != nil {
		l.o.beforeStatement(ctx, c, task.file, 1)
	}
	res, err := c.ExecContext(ctx, tsv.loadDataSQL(name, reader))
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) && (me.Number == 1148 || me.Number == 3948 || me.Number == 4166) {
		l.o.Log.Warn("the target refuses LOAD DATA LOCAL INFILE: loading with INSERT statements", "err", err)
		l.useLoadData.Store(false)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("LOAD DATA: %w", err)
	}
	n, _ := res.RowsAffected()
	var warnings int64
	if err := c.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return false, fmt.Errorf("LOAD DATA: read its warnings: %w", err)
	}
	if n != tsv.rows || warnings > 0 {
		l.o.Log.Info("LOAD DATA of a chunk was not exact: loading it with INSERT statements", "chunk", task.file,
			"rows", tsv.rows, "loaded", n, "warnings", warnings)
		return false, nil
	}
	l.mu.Lock()
	l.res.LoadData++
	l.mu.Unlock()
	return true, nil
}

// ChunkError is the failure of one chunk: the file, its table, and the
// server's error (with the number of the statement in the file).
type ChunkError struct {
	File  string
	Table string
	// StatementBytes is the size of a statement refused for being
	// longer than the target's max_allowed_packet (0 otherwise).
	StatementBytes int
	err            error
}

// Error implements error.
func (e *ChunkError) Error() string {
	return fmt.Sprintf("load chunk %s of %s: %v", e.File, e.Table, e.err)
}

// Unwrap returns the cause.
func (e *ChunkError) Unwrap() error { return e.err }

// tooLongError is an INSERT statement of a chunk longer than the
// target's max_allowed_packet (a single row that long: Dump keeps
// statements of several rows below its statement limit). Such a row is
// refused also where LOAD DATA could load it: see loadDataChunk.
type tooLongError struct {
	stmt, size int
	limit      int64
}

func (e *tooLongError) Error() string {
	return fmt.Sprintf("statement %d is %d bytes (one row), longer than the target's max_allowed_packet (%d): raise it to at least %d "+
		"(SET GLOBAL max_allowed_packet = %d, and in the server's configuration), then continue with --resume",
		e.stmt, e.size, e.limit, (e.size/1024+2)*1024, (e.size/1024+2)*1024)
}
