package logicaldump

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
)

// smallSchema makes schema z with a keyed table (cut into chunks), a
// table without a key (where a chunk loaded twice would show as extra
// rows) and a trigger.
func smallSchema(t *testing.T, db *sql.DB, z string) {
	q := quoteIdent(z)
	execSQL(t, db, "CREATE DATABASE "+q,
		"CREATE TABLE "+q+".k (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO "+q+".k SELECT seq, CONCAT('v', seq) FROM "+quoteIdent(z)+".seq_1_to_1000",
		"CREATE TABLE "+q+".nk (a INT, b VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO "+q+".nk SELECT seq % 10, 'dup' FROM "+quoteIdent(z)+".seq_1_to_300",
		"CREATE TABLE "+q+".other (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO "+q+".other VALUES (1), (2)",
		"CREATE TRIGGER "+q+".k_bi BEFORE INSERT ON "+q+".k FOR EACH ROW SET NEW.v = UPPER(NEW.v)")
}

// TestLoadRetriesLostConnection kills the connection of a load worker in
// the middle of a chunk (after some of its statements ran): the chunk is
// rolled back by the server and retried whole on a new connection.
func TestLoadRetriesLostConnection(t *testing.T) {
	t.Run("load data", func(t *testing.T) { testLoadRetries(t, false, 1) })
	t.Run("insert statements", func(t *testing.T) { testLoadRetries(t, true, 2) })
}

func testLoadRetries(t *testing.T, insertOnly bool, stmt int) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "retry")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	want := state(t, db, z)
	ix, data := dump(t, s, Options{Threads: 2, ChunkRows: 200, StatementBytes: 2048}, z)
	dropSchemas(t, db, z)

	var kills atomic.Int32
	victim := ix.Tables[0].Chunks[1].File // a chunk of k, with several statements
	o := LoadOptions{Threads: 2, Conn: s.admin, RetryWait: time.Second, insertOnly: insertOnly}
	o.beforeStatement = func(ctx context.Context, c *sql.Conn, file string, i int) {
		if file != victim || i != stmt || !kills.CompareAndSwap(0, 1) {
			return
		}
		var id int64
		if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Errorf("connection id: %v", err)
			return
		}
		if _, err := db.Exec("KILL CONNECTION ?", id); err != nil {
			t.Errorf("kill: %v", err)
		}
	}
	res, err := Load(ctxT(t, 2*time.Minute), o, bytesReader(data))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if kills.Load() != 1 || res.Retried != 1 {
		t.Errorf("killed %d connections, %d chunks retried; want 1 and 1", kills.Load(), res.Retried)
	}
	sameState(t, "load after a killed connection", want, state(t, db, z))
}

// TestLoadResume stops a load after a few chunks (its context is
// cancelled), then continues it with Resume: the committed chunks are
// skipped, none is loaded twice (the key-less table's checksum would
// change), and without Resume the restart is refused.
func TestLoadResume(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "resume")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	execSQL(t, db, "INSERT INTO "+quoteIdent(z)+".nk SELECT seq, 'more' FROM "+quoteIdent(z)+".seq_1_to_2000")
	want := state(t, db, z)
	ix, data := dump(t, s, Options{Threads: 2, ChunkRows: 100, ChunkBytes: 4096, StatementBytes: 1024}, z)
	if ix.ChunkCount() < 8 {
		t.Fatalf("only %d chunks: the test needs a load to stop half-way", ix.ChunkCount())
	}
	dropSchemas(t, db, z)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var committed atomic.Int32
	o := LoadOptions{Threads: 2, Conn: s.admin}
	o.Progress = func(p LoadProgress) {
		if committed.Add(1) == 3 {
			cancel()
		}
	}
	if _, err := Load(ctx, o, bytesReader(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("first load: %v, want it cancelled", err)
	}

	_, err := Load(ctxT(t, time.Minute), LoadOptions{Threads: 2, Conn: s.admin}, bytesReader(data))
	if err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("a second load without Resume: %v, want a refusal naming --resume", err)
	}

	res := load(t, s, LoadOptions{Threads: 2, Resume: true}, data)
	if res.Skipped < 3 || res.Skipped+res.Chunks != ix.ChunkCount() {
		t.Errorf("resume skipped %d and loaded %d chunks of %d; want at least 3 skipped, and all accounted for",
			res.Skipped, res.Chunks, ix.ChunkCount())
	}
	sameState(t, "resumed load", want, state(t, db, z))
}

// TestLoadInclude restores one table of a backup into a server that has
// the rest: it refuses to overwrite the table while it exists, restores
// it (and its trigger) once dropped, replaces it with Force, and leaves
// every other table alone.
func TestLoadInclude(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "incl")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	want := state(t, db, z)
	_, data := dump(t, s, Options{Threads: 2, ChunkRows: 300}, z)
	k := qualified(z, "k")
	execSQL(t, db, "UPDATE "+k+" SET v = 'changed' WHERE id <= 10", "DELETE FROM "+qualified(z, "other"))

	_, err := Load(ctxT(t, time.Minute), LoadOptions{Conn: s.admin, Filter: Filter{Include: []string{z + ".k"}}}, bytesReader(data))
	if err == nil || !strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("include of an existing table: %v, want a refusal naming %s and --force", err, k)
	}
	var n int
	db.QueryRow("SELECT COUNT(*) FROM " + k + " WHERE v = 'changed'").Scan(&n)
	if n != 10 {
		t.Fatalf("the refused restore changed %s (%d changed rows left, want 10)", k, n)
	}

	load(t, s, LoadOptions{Filter: Filter{Include: []string{z + ".k"}}, Force: true}, data)
	got := state(t, db, z)
	for key, v := range want {
		if strings.Contains(key, "`other`") {
			continue
		}
		if got[key] != v {
			t.Errorf("after --include %s.k --force: %s: %.200q, want %.200q", z, key, got[key], v)
		}
	}
	if got["count "+qualified(z, "other")] != "0" {
		t.Errorf("--include %s.k touched %s: %s rows", z, qualified(z, "other"), got["count "+qualified(z, "other")])
	}

	_, err = Load(ctxT(t, time.Minute), LoadOptions{Conn: s.admin, Filter: Filter{Include: []string{z + ".nope"}}}, bytesReader(data))
	if err == nil || !strings.Contains(err.Error(), "matches nothing") {
		t.Errorf("--include of a table the backup does not have: %v", err)
	}

	execSQL(t, db, "DROP TABLE "+k)
	load(t, s, LoadOptions{Filter: Filter{Include: []string{z + ".k"}}}, data)
	if g := state(t, db, z); g["checksum "+k] != want["checksum "+k] || g["trigger "+qualified(z, "k_bi")] != want["trigger "+qualified(z, "k_bi")] {
		t.Errorf("restore of the dropped %s: checksum %s trigger %q, want %s %q", k, g["checksum "+k], g["trigger "+qualified(z, "k_bi")],
			want["checksum "+k], want["trigger "+qualified(z, "k_bi")])
	}
}

// TestLoadErrorNamesChunk: a statement the server refuses fails the load
// with the server's own message and the chunk's file and table.
func TestLoadErrorNamesChunk(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "err")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	ix, data := dump(t, s, Options{Threads: 1}, z)
	t.Cleanup(func() { db.Exec("DELETE FROM "+progressTable+" WHERE dump_id = ?", ix.DumpID) })
	dropSchemas(t, db, z)
	// A conflicting row made by a trigger of the target's own.
	execSQL(t, db, "CREATE DATABASE "+quoteIdent(z), "CREATE TABLE "+qualified(z, "k")+" (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO "+qualified(z, "k")+" VALUES (500, 'in the way')")
	var logs bytes.Buffer
	_, err := Load(ctxT(t, time.Minute), LoadOptions{Conn: s.admin, Resume: true, Log: slog.New(slog.NewTextHandler(&logs, nil))}, bytesReader(data))
	if !strings.Contains(logs.String(), "not exact") {
		t.Errorf("LOAD DATA (LOCAL: a duplicate is a warning) did not fall back to the INSERTs:\n%s", logs.String())
	}
	var ce *ChunkError
	if !errors.As(err, &ce) || ce.File != ix.Tables[0].Chunks[0].File || !strings.Contains(err.Error(), "Duplicate entry '500'") ||
		!strings.Contains(err.Error(), qualified(z, "k")) {
		t.Fatalf("load over a conflicting row: %v; want a ChunkError naming %s, %s and the server's Duplicate entry", err,
			ix.Tables[0].Chunks[0].File, qualified(z, "k"))
	}
}

// TestDumpConsistentUnderWrites dumps two tables while transfers move
// money between them in transactions: the restored sums must be the
// total, and transfers must have committed while the dump read.
func TestDumpConsistentUnderWrites(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "bank")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	a, b := qualified(z, "a"), qualified(z, "b")
	execSQL(t, db, "CREATE DATABASE "+quoteIdent(z),
		"CREATE TABLE "+a+" (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE "+b+" (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB",
		"INSERT INTO "+a+" SELECT seq, 1000 FROM "+quoteIdent(z)+".seq_1_to_2000",
		"INSERT INTO "+b+" SELECT seq, 1000 FROM "+quoteIdent(z)+".seq_1_to_2000")
	const total = 4000 * 1000

	ctx, stop := context.WithCancel(context.Background())
	var transfers atomic.Int64
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() { done <- err }()
		for i := 0; ctx.Err() == nil; i++ {
			var tx *sql.Tx
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				break
			}
			from, to := i%2000+1, (i*7)%2000+1
			_, err = tx.Exec("UPDATE "+a+" SET bal = bal - 7 WHERE id = ?", from)
			if err == nil {
				_, err = tx.Exec("UPDATE "+b+" SET bal = bal + 7 WHERE id = ?", to)
			}
			if err == nil {
				err = tx.Commit()
			} else {
				tx.Rollback()
			}
			if err != nil {
				break
			}
			transfers.Add(1)
		}
		if ctx.Err() != nil {
			err = nil
		}
	}()
	testenv.WaitFor(t, 30*time.Second, "transfers running", func() bool { return transfers.Load() > 10 })
	var during int64
	o := Options{Threads: 2, ChunkRows: 200}
	o.Progress = func(p DumpProgress) {
		if during == 0 {
			// Hold the dump until transfers committed after its snapshot.
			n := transfers.Load()
			testenv.WaitFor(t, 30*time.Second, "transfers during the dump", func() bool { return transfers.Load() > n+20 })
			during = transfers.Load() - n
		}
	}
	ix, data := dump(t, s, o, z)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("transfers: %v", err)
	}
	if during < 20 {
		t.Fatalf("only %d transfers committed during the dump: the test proves nothing", during)
	}
	if len(ix.Tables[0].Chunks) < 5 {
		t.Fatalf("%s was cut in %d chunks; want several, read by both workers", a, len(ix.Tables[0].Chunks))
	}
	dropSchemas(t, db, z)
	load(t, s, LoadOptions{Threads: 2}, data)
	var sum int64
	if err := db.QueryRow("SELECT (SELECT SUM(bal) FROM " + a + ") + (SELECT SUM(bal) FROM " + b + ")").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != total {
		t.Errorf("restored balances sum to %d, want %d: the snapshot was not consistent (%d transfers ran during the dump)", sum, total, during)
	}
}

// TestLoadNoBinlog: with NoBinlog nothing of the load reaches the
// target's binary log (its GTID position stays put).
func TestLoadNoBinlog(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "nobinlog")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	want := state(t, db, z)
	_, data := dump(t, s, Options{Threads: 2, ChunkRows: 300}, z)
	dropSchemas(t, db, z)
	pos := func() string {
		var p string
		if err := db.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := pos()
	load(t, s, LoadOptions{Threads: 2, NoBinlog: true, DeferIndexes: true}, data)
	if after := pos(); after != before {
		t.Errorf("gtid_binlog_pos moved from %s to %s during a NoBinlog load", before, after)
	}
	sameState(t, "NoBinlog load", want, state(t, db, z))
}

func TestLoadResumeForceExclusive(t *testing.T) {
	_, err := Load(t.Context(), LoadOptions{Resume: true, Force: true}, strings.NewReader(""))
	if err == nil || !strings.Contains(err.Error(), "one of them") {
		t.Errorf("Resume and Force together: %v", err)
	}
}

// TestLoadCutStream: a stream that ends before its index (a download cut
// off) fails the load saying so; the chunks it committed are kept, and the
// whole stream with Resume completes the restore without loading any
// twice.
func TestLoadCutStream(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "cut")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	want := state(t, db, z)
	ix, data := dump(t, s, Options{Threads: 2, ChunkRows: 100, ChunkBytes: 2048, StatementBytes: 1024}, z)
	dropSchemas(t, db, z)
	_, err := Load(ctxT(t, time.Minute), LoadOptions{Conn: s.admin, Threads: 2}, bytesReader(data[:len(data)*2/3]))
	if err == nil || !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "ended") {
		t.Fatalf("load of a cut stream: %v, want an error saying it ended early", err)
	}
	res := load(t, s, LoadOptions{Threads: 2, Resume: true}, data)
	if res.Skipped == 0 || res.Skipped+res.Chunks != ix.ChunkCount() {
		t.Errorf("resume after a cut stream: %d skipped, %d loaded, %d in the backup", res.Skipped, res.Chunks, ix.ChunkCount())
	}
	sameState(t, "resume after a cut stream", want, state(t, db, z))
}

// TestDumpLockBusy: when the snapshot's lock cannot be taken (another
// backup holds BACKUP STAGE), the dump fails saying which lock, and
// releases what it holds.
func TestDumpLockBusy(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	c, err := db.Conn(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(context.Background(), "BACKUP STAGE START"); err != nil {
		t.Fatal(err)
	}
	defer c.ExecContext(context.Background(), "BACKUP STAGE END")
	z := schemaName(t, "busy")
	_, err = Dump(ctxT(t, time.Minute), Options{Conn: s.backup, Filter: Filter{Include: []string{z}}, LockWait: time.Second}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "BACKUP STAGE") || !errors.Is(err, mysql.ErrLockTimeout) {
		t.Fatalf("dump while another backup holds BACKUP STAGE: %v", err)
	}
}

// TestProgressLogs: Dump logs tables done of all, rows, bytes and an ETA
// as it goes, Load its chunks and bytes, and both a summary at the end.
func TestProgressLogs(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "progress")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 0
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	_, data := dump(t, s, Options{Threads: 2, ChunkRows: 200, Log: log}, z)
	dropSchemas(t, db, z)
	load(t, s, LoadOptions{Threads: 2, Log: log}, data)
	out := logs.String()
	for _, want := range []string{`msg="dump progress" tables=3/3 rows=1302`, "eta=", `msg="dump complete" tables=3`,
		`msg="load progress" chunks=`, `msg="load complete" tables=3`} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs do not say %q:\n%s", want, out)
		}
	}
}

// TestDumpNonTransactionalConsistent: an Aria counter and an InnoDB log
// written one after the other (each autocommitted) stay in step in the
// backup: the Aria table is read while commits (and its writes) are
// blocked, at the snapshot's point, though writes go on during the dump.
func TestDumpNonTransactionalConsistent(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "nontrx")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	counter, logT := qualified(z, "counter"), qualified(z, "log")
	execSQL(t, db, "CREATE DATABASE "+quoteIdent(z),
		"CREATE TABLE "+counter+" (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=Aria",
		"INSERT INTO "+counter+" VALUES (1, 0)",
		"CREATE TABLE "+logT+" (id BIGINT PRIMARY KEY) ENGINE=InnoDB")
	ctx, stop := context.WithCancel(context.Background())
	var writes atomic.Int64
	done := make(chan error, 1)
	go func() {
		var err error
		for i := int64(1); ctx.Err() == nil; i++ {
			if _, err = db.ExecContext(ctx, "UPDATE "+counter+" SET n = n + 1"); err != nil {
				break
			}
			if _, err = db.ExecContext(ctx, "INSERT INTO "+logT+" VALUES (?)", i); err != nil {
				break
			}
			writes.Add(1)
		}
		if ctx.Err() != nil {
			err = nil
		}
		done <- err
	}()
	testenv.WaitFor(t, 30*time.Second, "writes running", func() bool { return writes.Load() > 10 })
	var during int64
	o := Options{Threads: 2}
	o.Progress = func(p DumpProgress) {
		// Both tables are known once commits are unblocked: then wait
		// for writes, which the copy of the InnoDB log must not see.
		if p.Tables == 2 && during == 0 {
			n := writes.Load()
			testenv.WaitFor(t, 30*time.Second, "writes during the dump", func() bool { return writes.Load() > n+20 })
			during = writes.Load() - n
		}
	}
	ix, data := dump(t, s, o, z)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("writes: %v", err)
	}
	if ix.LockSeconds <= 0 {
		t.Errorf("lock held %vs", ix.LockSeconds)
	}
	if during < 20 {
		t.Fatalf("only %d writes during the dump: the test proves nothing", during)
	}
	dropSchemas(t, db, z)
	load(t, s, LoadOptions{}, data)
	var n, logged int64
	db.QueryRow("SELECT n FROM " + counter).Scan(&n)
	db.QueryRow("SELECT COUNT(*) FROM " + logT).Scan(&logged)
	if n != logged && n != logged+1 {
		t.Errorf("restored counter %d, log rows %d: the Aria table is not at the snapshot's point (lock held %.3fs)", n, logged, ix.LockSeconds)
	}
}
