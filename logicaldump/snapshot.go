package logicaldump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mybak/mybak/mysql"
)

// workerSession is what every dump connection runs first: names and time
// zone fixed so that values are printed the same way whatever the server's
// defaults (TIMESTAMPs in UTC, text in utf8mb4), and sql_mode empty so that
// SHOW CREATE prints standard SQL.
var workerSession = []string{
	"SET NAMES utf8mb4",
	"SET SESSION time_zone = '+00:00'",
	"SET SESSION sql_mode = ''",
	"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	"SET SESSION net_write_timeout = 3600",
	"SET SESSION net_read_timeout = 3600",
}

// snapshot is the result of takeSnapshot.
type snapshot struct {
	binlog mysql.BinlogPosition
	locked time.Duration
}

// takeSnapshot starts a consistent-snapshot transaction on every worker
// while the control connection blocks commits, and reads the binary log
// coordinates under that block: every worker then sees the state those
// coordinates describe. The block is released before it returns, on
// success and on failure. On MariaDB with a binary log it also checks
// each worker's binlog_snapshot_position against the coordinates read.
//
// With hold, a successful takeSnapshot returns with the block still on:
// the caller reads the tables of non-transactional engines (whose writes
// it blocks too) and then calls release, which ends it and records how
// long it lasted. release is never nil, and safe to call twice.
func takeSnapshot(ctx context.Context, control *sql.Conn, info *mysql.ServerInfo, workers []*sql.Conn, lockWait time.Duration, hold bool) (s *snapshot, release func() error, err error) {
	s = &snapshot{}
	release = func() error { return nil }
	if lockWait > 0 {
		if _, err := control.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", int(lockWait.Seconds()+0.5))); err != nil {
			return s, release, fmt.Errorf("set lock_wait_timeout: %w", err)
		}
	}
	lock := []string{"FLUSH TABLES WITH READ LOCK"}
	unlock := "UNLOCK TABLES"
	if info.Flavor == mysql.FlavorMariaDB && info.AtLeast(10, 4, 1) && !hold {
		// BACKUP STAGE BLOCK_COMMIT blocks commits only, not the
		// running statements FTWRL would wait for (and make everyone
		// else wait behind). Not when non-transactional tables are read
		// under the block: a write to one that BLOCK_COMMIT stopped
		// still holds its table lock, and the read would wait for it
		// forever; FLUSH TABLES WITH READ LOCK lets running writes
		// finish and stops new ones before they lock a table.
		lock = []string{"BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"}
		unlock = "BACKUP STAGE END"
	}
	start := time.Now()
	for _, q := range lock {
		if _, err := control.ExecContext(ctx, q); err != nil {
			control.ExecContext(context.WithoutCancel(ctx), unlock)
			return s, release, fmt.Errorf("%s: %w: %w (a long-running query or DDL holds it: look at SHOW PROCESSLIST)", q, mysql.ErrLockTimeout, err)
		}
	}
	released := false
	release = func() error {
		if released {
			return nil
		}
		released = true
		_, err := control.ExecContext(context.WithoutCancel(ctx), unlock)
		s.locked = time.Since(start)
		if err != nil {
			return fmt.Errorf("%s: %w", unlock, err)
		}
		return nil
	}
	defer func() {
		if err != nil || !hold {
			if rerr := release(); rerr != nil && err == nil {
				err = rerr
			}
		}
	}()
	if info.LogBin {
		var file string
		var pos uint64
		rows, err := control.QueryContext(ctx, "SHOW MASTER STATUS")
		if err != nil {
			return s, release, fmt.Errorf("SHOW MASTER STATUS: %w (the dump user needs BINLOG MONITOR / REPLICATION CLIENT)", err)
		}
		cols, _ := rows.Columns()
		if rows.Next() {
			dest := make([]any, len(cols))
			dest[0], dest[1] = &file, &pos
			for i := 2; i < len(cols); i++ {
				dest[i] = new(sql.RawBytes)
			}
			err = rows.Scan(dest...)
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return s, release, fmt.Errorf("SHOW MASTER STATUS: %w", err)
		}
		s.binlog.File, s.binlog.Pos = file, pos
		q := "SELECT @@GLOBAL.gtid_executed"
		if info.Flavor == mysql.FlavorMariaDB {
			q = "SELECT @@GLOBAL.gtid_binlog_pos"
		}
		var gtid sql.NullString
		if err := control.QueryRowContext(ctx, q).Scan(&gtid); err != nil {
			return s, release, fmt.Errorf("read the GTID position: %w", err)
		}
		s.binlog.GTID = strings.ReplaceAll(gtid.String, "\n", "")
	}
	for i, w := range workers {
		if _, err := w.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return s, release, fmt.Errorf("start the snapshot of worker %d: %w", i, err)
		}
	}
	if info.Flavor == mysql.FlavorMariaDB && info.LogBin {
		for i, w := range workers {
			var name, file, posName string
			var pos uint64
			if err := w.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'binlog_snapshot_file'").Scan(&name, &file); err != nil {
				return s, release, fmt.Errorf("read the snapshot of worker %d: %w", i, err)
			}
			if err := w.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'binlog_snapshot_position'").Scan(&posName, &pos); err != nil {
				return s, release, fmt.Errorf("read the snapshot of worker %d: %w", i, err)
			}
			if file != s.binlog.File || pos != s.binlog.Pos {
				return s, release, fmt.Errorf("worker %d's snapshot is at %s:%d, the lock's at %s:%d: the snapshot is not consistent (report this as a bug)",
					i, file, pos, s.binlog.File, s.binlog.Pos)
			}
		}
	}
	return s, release, nil
}
