package logicaldump

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
)

// ProgressSchema is the schema on the target where Load records which
// chunks committed, in the same transaction as the chunk's rows: outside
// the restored data, and exact even when the connection drops during the
// COMMIT. Load removes its records when it succeeds, and the schema when
// no other restore is running or has records in it.
//
// Restores into one server share the table, so each touches only the
// records of the chunks it restores (a restore of other tables of the
// same backup, with --include, keeps its own), and each registers a
// marker row while it runs, whose named lock its connection holds: the
// last one to end drops the schema, never one under another that has
// not committed a chunk yet. Creating the table and registering, and
// ending and dropping, happen under one named lock (progressLock).
const ProgressSchema = "mybak_progress"

var progressTable = qualified(ProgressSchema, "chunks")

const (
	// progressLock serialises setting up the progress table and
	// dropping it.
	progressLock = "mybak_progress"
	// markerPrefix starts the file column of a running restore's marker
	// (no chunk's name starts with '/': Load refuses absolute paths).
	markerPrefix = "/running/"
	// lockWait bounds the wait for progressLock (held for milliseconds).
	lockWait = 60
)

// markerLockName is the named lock a restore's marker connection holds
// (at most 64 characters).
func markerLockName(marker string) string {
	return "mybak_progress/" + strings.TrimPrefix(marker, markerPrefix)
}

// progressSetup creates the progress table, registers this restore and
// reads what an earlier run of the same dump committed for the selected
// tables: with Resume those chunks are skipped; without it, records of an
// earlier run are an error (or cleared by Force).
func (l *loader) progressSetup(ctx context.Context, c *sql.Conn) error {
	id := make([]byte, 8)
	rand.Read(id)
	l.marker = markerPrefix + hex.EncodeToString(id)
	if err := l.register(ctx, c); err != nil {
		return err
	}
	rows, err := c.QueryContext(ctx, "SELECT file, sha256 FROM "+progressTable+" WHERE dump_id = "+quoteString(l.plan.DumpID))
	if err != nil {
		return fmt.Errorf("read the restore's progress records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f, s string
		if err := rows.Scan(&f, &s); err != nil {
			return err
		}
		if l.selectedChunk(f) {
			l.done[f] = s
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(l.done) > 0 && !l.o.Resume {
		if !l.o.Force {
			return fmt.Errorf("an earlier restore of these tables of this backup stopped after committing %d chunk(s) (recorded in %s): continue it with --resume, or start over with --force (which drops the restored tables)",
				len(l.done), progressTable)
		}
		if err := l.deleteRecords(ctx, c, slices.Collect(maps.Keys(l.done))); err != nil {
			return fmt.Errorf("clear the earlier restore's progress records: %w", err)
		}
		l.done = map[string]string{}
	}
	return nil
}

// register creates the progress table if it is not there, and registers
// this restore's marker, whose lock a connection of its own (markerConn)
// takes, under progressLock.
func (l *loader) register(ctx context.Context, c *sql.Conn) error {
	mc, err := l.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to the target: %w", err)
	}
	err = withLock(ctx, c, progressLock, func() error {
		for _, q := range []string{
			"CREATE DATABASE IF NOT EXISTS " + quoteIdent(ProgressSchema),
			"CREATE TABLE IF NOT EXISTS " + progressTable + " (dump_id VARCHAR(64) CHARACTER SET ascii NOT NULL, " +
				"file VARBINARY(512) NOT NULL, sha256 CHAR(64) CHARACTER SET ascii NOT NULL, " +
				"committed TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (dump_id, file)) ENGINE=InnoDB",
		} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("set up the restore's progress records (%s): %w", q, err)
			}
		}
		var got sql.NullInt64
		if err := mc.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", markerLockName(l.marker)).Scan(&got); err != nil || got.Int64 != 1 {
			return fmt.Errorf("take the named lock %s of this restore (got %v): %w", markerLockName(l.marker), got, err)
		}
		_, err := c.ExecContext(ctx, "INSERT IGNORE INTO "+progressTable+" (dump_id, file, sha256) VALUES (?, ?, '')", l.plan.DumpID, l.marker)
		return err
	})
	if err != nil {
		mc.Raw(func(any) error { return driver.ErrBadConn }) // its lock, if taken, goes with it
		mc.Close()
		return fmt.Errorf("register the restore in %s: %w", progressTable, err)
	}
	l.markerConn = mc
	return nil
}

// reregister registers this restore again when the connection that held
// its marker's lock is gone (the server restarted): else another restore
// that ends would take the marker for one of a killed restore, and could
// drop the progress table under this one.
func (l *loader) reregister(ctx context.Context) error {
	l.markerMu.Lock()
	defer l.markerMu.Unlock()
	if l.markerConn != nil {
		var held sql.NullInt64
		err := l.markerConn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", markerLockName(l.marker)).Scan(&held)
		if err == nil && held.Int64 == 1 {
			return nil
		}
		l.markerConn.Raw(func(any) error { return driver.ErrBadConn })
		l.markerConn.Close()
		l.markerConn = nil
	}
	c, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := l.register(ctx, c); err != nil {
		return err
	}
	l.o.Log.Info("registered the restore again in the progress table after the connection holding its lock was lost", "marker", l.marker)
	return nil
}

// selectedChunk reports whether file is a chunk of a table this restore
// loads.
func (l *loader) selectedChunk(file string) bool {
	t := l.tables[chunkPrefix(file)]
	return t != nil && l.sel[t] && !strings.HasPrefix(file, "/")
}

// deleteRecords removes the records of files of this dump, in batches.
func (l *loader) deleteRecords(ctx context.Context, c *sql.Conn, files []string) error {
	for b := range slices.Chunk(files, 500) {
		q := make([]string, len(b))
		for i, f := range b {
			q[i] = quoteString(f)
		}
		if _, err := c.ExecContext(ctx, "DELETE FROM "+progressTable+" WHERE dump_id = "+quoteString(l.plan.DumpID)+
			" AND file IN ("+strings.Join(q, ", ")+")"); err != nil {
			return err
		}
	}
	return nil
}

// withLock runs f holding the named lock name on c.
func withLock(ctx context.Context, c *sql.Conn, name string, f func() error) error {
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, lockWait).Scan(&got); err != nil {
		return fmt.Errorf("take the named lock %s: %w", name, err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("another session held the named lock %s for %d s (SELECT IS_USED_LOCK('%s') names its connection): try again when it has let go", name, lockWait, name)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name)
	return f()
}

// finish removes the progress records of a successful load and its
// marker, the markers of restores that ended without removing theirs
// (their lock is free), and the progress schema when nothing else is in
// it.
func (l *loader) finish(ctx context.Context) error {
	c, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	l.mu.Lock()
	files := append(slices.Collect(maps.Keys(l.seen)), l.marker)
	l.mu.Unlock()
	return withLock(ctx, c, progressLock, func() error {
		if err := l.deleteRecords(ctx, c, files); err != nil {
			return fmt.Errorf("remove the restore's progress records: %w", err)
		}
		l.marker = ""
		ms, err := markers(ctx, c)
		if err != nil {
			return err
		}
		for m, free := range ms {
			if !free {
				continue
			}
			if _, err := c.ExecContext(ctx, "DELETE FROM "+progressTable+" WHERE dump_id = ? AND file = ?", m[0], m[1]); err != nil {
				return fmt.Errorf("remove the marker of a restore that ended: %w", err)
			}
		}
		var n int
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+progressTable).Scan(&n); err != nil {
			return fmt.Errorf("count progress records: %w", err)
		}
		if n == 0 {
			if _, err := c.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(ProgressSchema)); err != nil {
				return fmt.Errorf("drop %s: %w", ProgressSchema, err)
			}
		}
		return nil
	})
}

// markers returns the markers of the progress table (dump ID, file),
// each with whether its lock is free: its restore ended without removing
// it (killed, or its server restarted before it registered again).
func markers(ctx context.Context, c *sql.Conn) (map[[2]string]bool, error) {
	rows, err := c.QueryContext(ctx, "SELECT dump_id, file FROM "+progressTable+" WHERE file LIKE ?", markerPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("read the progress markers: %w", err)
	}
	out := map[[2]string]bool{}
	for rows.Next() {
		var d, f string
		if err := rows.Scan(&d, &f); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the progress markers: %w", err)
		}
		out[[2]string{d, f}] = false
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the progress markers: %w", err)
	}
	for m := range out {
		var free bool
		if err := c.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) IS NULL", markerLockName(m[1])).Scan(&free); err != nil {
			return nil, fmt.Errorf("look at the lock of progress marker %s: %w", m[1], err)
		}
		out[m] = free
	}
	return out, nil
}

// release removes the marker of a restore that failed (best effort: a
// marker left behind is removed by the next restore that ends, its lock
// being free) and closes the marker's connection, which lets go of its
// lock.
func (l *loader) release() {
	if l.markerConn == nil {
		return
	}
	if l.marker != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.markerConn.ExecContext(ctx, "DELETE FROM "+progressTable+" WHERE dump_id = ? AND file = ?", l.plan.DumpID, l.marker)
	}
	// Discarded, not back to the pool holding the lock.
	l.markerConn.Raw(func(any) error { return driver.ErrBadConn })
	l.markerConn.Close()
}

// lostConnection reports whether err means the connection (or the server)
// went away, or the transaction was rolled back by a deadlock or lock wait
// timeout: a chunk is then retried on a new connection. A chunk can be
// replayed because its rows and its progress record commit together: the
// retry first looks for the record.
func lostConnection(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysqldrv.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections (everyone reconnecting after a restart)
			1053, // server shutdown in progress
			1205, // lock wait timeout
			1213, // deadlock
			1927, // connection killed
			2006, // server has gone away
			2013: // lost connection during query
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne)
}
