package logicaldump

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	mysqldrv "github.com/go-sql-driver/mysql"
)

// ProgressSchema is the schema on the target where Load records which
// chunks committed, in the same transaction as the chunk's rows: outside
// the restored data, and exact even when the connection drops during the
// COMMIT. Load removes its records when it succeeds, and the schema when
// no other restore has records in it.
const ProgressSchema = "mybak_progress"

var progressTable = qualified(ProgressSchema, "chunks")

// progressSetup creates the progress table, and reads what an earlier run
// of the same dump committed: with Resume those chunks are skipped;
// without it, records of an earlier run are an error (or cleared by Force).
func (l *loader) progressSetup(ctx context.Context, c *sql.Conn) error {
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
		l.done[f] = s
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(l.done) > 0 && !l.o.Resume {
		if !l.o.Force {
			return fmt.Errorf("an earlier restore of this backup stopped after committing %d chunk(s) (recorded in %s): continue it with --resume, or start over with --force (which drops the restored tables)",
				len(l.done), progressTable)
		}
		if _, err := c.ExecContext(ctx, "DELETE FROM "+progressTable+" WHERE dump_id = "+quoteString(l.plan.DumpID)); err != nil {
			return fmt.Errorf("clear the earlier restore's progress records: %w", err)
		}
		l.done = map[string]string{}
	}
	return nil
}

// finish removes the progress records of a successful load, and the
// progress schema when nothing else is recorded in it.
func (l *loader) finish(ctx context.Context) error {
	c, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "DELETE FROM "+progressTable+" WHERE dump_id = "+quoteString(l.plan.DumpID)); err != nil {
		return fmt.Errorf("remove the restore's progress records: %w", err)
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
