package logicaldump

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
)

// TestLoadSurvivesServerRestart restarts the target MariaDB while Load
// runs with three threads, in the middle of a chunk: killed with SIGKILL
// (a crash, so the restart runs crash recovery) and stopped cleanly. The
// load must finish by itself (the chunks in flight retried, the
// connections refused while the server is down retried too), every table
// must equal the source's (CHECKSUM TABLE), no chunk may be loaded twice
// (row counts, and a key-less table whose duplicate rows would show it),
// and the retry must be logged. The target is a server of the test's own.
func TestLoadSurvivesServerRestart(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "restart")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	execSQL(t, db, "CREATE TABLE "+qualified(z, "m")+" (id BIGINT PRIMARY KEY, v VARCHAR(40), n INT) ENGINE=InnoDB",
		"INSERT INTO "+qualified(z, "m")+" SELECT seq, REPEAT('x', seq % 40), seq * 3 FROM "+quoteIdent(z)+".seq_1_to_3000")
	want := state(t, db, z)
	ix, data := dump(t, s, Options{Threads: 2, ChunkRows: 100, StatementBytes: 2048}, z)
	var victims []string
	for _, tb := range ix.Tables {
		if tb.Name == "m" {
			victims = append(victims, tb.Chunks[10].File)
		}
	}
	if len(victims) != 1 || ix.ChunkCount() < 30 {
		t.Fatalf("the dump has %d chunks (victims %v): the test needs many, loaded while the server restarts", ix.ChunkCount(), victims)
	}

	target := startOwnServer(t, "ldrestart")
	tdb := target.db(t)
	port := func() string {
		b, _ := os.ReadFile(filepath.Join(target.dir, "port"))
		return strings.TrimSpace(string(b))
	}
	wantPort := strconv.Itoa(target.admin.Port)

	for _, tc := range []struct {
		name       string
		down       func() error
		insertOnly bool
	}{
		{"kill -9", target.kill9, false},
		{"stop", target.stop, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropSchemas(t, tdb, z, ProgressSchema)
			var restarts atomic.Int32
			restarted := make(chan error, 1)
			var logs syncBuffer
			o := LoadOptions{Threads: 3, Conn: target.admin, insertOnly: tc.insertOnly, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			// After the restart, the restore's marker lock is held again
			// (the connection that held it died with the server).
			var relocked, back atomic.Bool
			o.beforeStatement = func(ctx context.Context, c *sql.Conn, file string, i int) {
				if back.Load() && !relocked.Load() {
					ms, err := markers(ctx, c)
					for _, free := range ms {
						if err == nil && !free {
							relocked.Store(true)
						}
					}
				}
				if file != victims[0] || i != 1 || !restarts.CompareAndSwap(0, 1) {
					return
				}
				// The server goes down before this statement runs (the
				// other workers are in their own chunks), and comes back
				// while the load goes on.
				if err := tc.down(); err != nil {
					t.Errorf("take the target down: %v", err)
				}
				go func() {
					err := target.start()
					back.Store(err == nil)
					restarted <- err
				}()
			}
			res, err := Load(ctxT(t, 5*time.Minute), o, bytesReader(data))
			if restarts.Load() == 1 {
				if rerr := <-restarted; rerr != nil {
					t.Fatal(rerr)
				}
			}
			if err != nil {
				t.Fatalf("load through a server restart: %v\nlogs:\n%s", err, logs.String())
			}
			if restarts.Load() != 1 {
				t.Fatalf("the server was restarted %d times, want 1", restarts.Load())
			}
			if p := port(); p != wantPort {
				t.Fatalf("the restarted server moved from port %s to %s: the test proves nothing", wantPort, p)
			}
			if !relocked.Load() {
				t.Errorf("after the restart no statement saw the restore's marker lock held:\n%s", logs.String())
			}
			if res.Retried < 1 || !strings.Contains(logs.String(), "retrying") {
				t.Errorf("%d chunks retried; the logs do not say so:\n%s", res.Retried, logs.String())
			}
			if res.Chunks != ix.ChunkCount() {
				t.Errorf("loaded %d chunks, the backup has %d", res.Chunks, ix.ChunkCount())
			}
			if res.Rows != ix.Rows {
				t.Errorf("load result says %d rows, the backup has %d", res.Rows, ix.Rows)
			}
			sameState(t, "load through a server restart ("+tc.name+")", want, state(t, tdb, z))
			t.Logf("%d chunks retried", res.Retried)
		})
	}

	// A server that stays down: the load gives up after its retries,
	// saying --resume continues, and it does once the server is back.
	t.Run("stays down", func(t *testing.T) {
		dropSchemas(t, tdb, z, ProgressSchema)
		var downs atomic.Int32
		o := LoadOptions{Threads: 3, Conn: target.admin, Retries: 2, RetryWait: 200 * time.Millisecond}
		o.beforeStatement = func(ctx context.Context, c *sql.Conn, file string, i int) {
			if file == victims[0] && i == 1 && downs.CompareAndSwap(0, 1) {
				if err := target.kill9(); err != nil {
					t.Errorf("kill the target: %v", err)
				}
			}
		}
		start := time.Now()
		_, err := Load(ctxT(t, 5*time.Minute), o, bytesReader(data))
		if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "--resume") {
			t.Fatalf("load into a server that stays down: %v, want it to give up after 3 attempts naming --resume", err)
		}
		if d := time.Since(start); d > time.Minute {
			t.Errorf("giving up took %s", d)
		}
		if err := target.start(); err != nil {
			t.Fatal(err)
		}
		res := load(t, target.server, LoadOptions{Threads: 3, Resume: true}, data)
		if res.Skipped == 0 || res.Skipped+res.Chunks != ix.ChunkCount() {
			t.Errorf("resume: %d skipped, %d loaded, %d in the backup", res.Skipped, res.Chunks, ix.ChunkCount())
		}
		sameState(t, "resume after the server stayed down", want, state(t, tdb, z))
		// The failed load could not remove its marker (the server was
		// down): the resume, the only restore into this server, removes
		// it (its lock is free) and the schema.
		var n int
		if err := tdb.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", ProgressSchema).Scan(&n); err != nil || n != 0 {
			var left string
			tdb.QueryRow("SELECT GROUP_CONCAT(file) FROM " + progressTable).Scan(&left)
			t.Errorf("%s left on the target after the resume succeeded (%v; rows: %s)", ProgressSchema, err, left)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the log handler's concurrent
// writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRetryWait: the waits double from 1 s up to the limit, and the
// defaults add up to more than a restart with crash recovery takes.
func TestRetryWait(t *testing.T) {
	var total time.Duration
	for n, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30, 30, 30} {
		got := retryWait(n+1, 30*time.Second)
		if got != want*time.Second {
			t.Errorf("retryWait(%d, 30s) = %s, want %s", n+1, got, want*time.Second)
		}
		total += got
	}
	if total < 2*time.Minute {
		t.Errorf("10 attempts wait %s in all", total)
	}
	if got := retryWait(3, 500*time.Millisecond); got != 500*time.Millisecond {
		t.Errorf("retryWait(3, 500ms) = %s", got)
	}
}

// TestLostConnection: which errors retry a chunk. A reconnect refused
// (the server down or restarting) or turned away because every
// connection is taken (clients reconnecting after a restart) retries; an
// error of the chunk's own does not.
func TestLostConnection(t *testing.T) {
	refused := fmt.Errorf("connect to the target: %w", &net.OpError{Op: "dial", Net: "tcp",
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}})
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"invalid connection", &ChunkError{err: fmt.Errorf("LOAD DATA: %w", mysqldrv.ErrInvalidConn)}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"server shutdown", &mysqldrv.MySQLError{Number: 1053}, true},
		{"connection killed", &mysqldrv.MySQLError{Number: 1927}, true},
		{"too many connections", fmt.Errorf("connect to the target: %w", &mysqldrv.MySQLError{Number: 1040}), true},
		{"deadlock", &mysqldrv.MySQLError{Number: 1213}, true},
		{"duplicate key", &ChunkError{err: &mysqldrv.MySQLError{Number: 1062}}, false},
		{"packet too large", &mysqldrv.MySQLError{Number: 1153}, false},
		{"statement too long", &ChunkError{err: &tooLongError{stmt: 1, size: 40 << 20, limit: 16 << 20}}, false},
		{"access denied", &mysqldrv.MySQLError{Number: 1045}, false},
	} {
		if got := lostConnection(tc.err); got != tc.want {
			t.Errorf("%s: lostConnection(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
