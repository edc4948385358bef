package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SystemSchemas are the schemas every server has. Row counts and restore
// drills leave their tables out of the comparison (a drill still runs
// CHECK TABLE on mysql.*).
var SystemSchemas = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// uncountedEngines hold no rows of their own in a backup: a physical
// backup restores a MEMORY table empty, BLACKHOLE stores nothing, and the
// remote engines' rows live on another server.
var uncountedEngines = map[string]bool{"MEMORY": true, "HEAP": true, "BLACKHOLE": true, "FEDERATED": true,
	"FEDERATEDX": true, "CONNECT": true, "SPIDER": true, "S3": true}

// TableCount is the row count of one table.
type TableCount struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
}

// TableSkip is a table whose rows were not counted, and why.
type TableSkip struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Reason string `json:"reason"`
}

// RowCounts is what CountRows found: the row count of every user table
// (schemas other than SystemSchemas) that it counted, in one consistent
// snapshot, and the binary log position of that snapshot.
type RowCounts struct {
	// SnapshotFile and SnapshotPos are the binlog position the counts
	// belong to: on MariaDB the snapshot's own (binlog_snapshot_file and
	// _position); on MySQL the position of SHOW MASTER STATUS, which was the
	// same before and after the counts (else SnapshotMoved). Empty without
	// a binary log.
	SnapshotFile  string       `json:"snapshot_file,omitempty"`
	SnapshotPos   uint64       `json:"snapshot_pos,omitempty"`
	SnapshotMoved bool         `json:"snapshot_moved,omitempty"`
	Tables        []TableCount `json:"tables"`
	Skipped       []TableSkip  `json:"skipped,omitempty"`
	Seconds       float64      `json:"seconds"`
}

// RowCountOptions configure CountRows.
type RowCountOptions struct {
	// MaxRows skips tables whose information_schema estimate (TABLE_ROWS)
	// is above it; 0 counts every table.
	MaxRows int64
	// Budget skips the tables left once this much time was spent; 0 means
	// no limit. A count running when the budget ends is cancelled.
	Budget time.Duration
	// Flavor decides how the snapshot's binlog position is read.
	Flavor Flavor
}

// CountRows counts the rows of every user table of the server in one
// transaction started WITH CONSISTENT SNAPSHOT, so InnoDB counts belong to
// one point in time; Snapshot says which. Views, sequences and tables of
// engines without rows of their own (MEMORY, BLACKHOLE, FEDERATED, ...)
// are skipped with the reason, as are tables over MaxRows and those left
// when Budget runs out. It needs SELECT on the tables, and BINLOG MONITOR
// (REPLICATION CLIENT) on MySQL for SHOW MASTER STATUS.
func CountRows(ctx context.Context, db *sql.DB, o RowCountOptions) (*RowCounts, error) {
	start := time.Now()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	defer conn.Close()
	rc := &RowCounts{Tables: []TableCount{}}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	var before BinlogPosition
	if o.Flavor != FlavorMariaDB {
		before, _ = masterStatus(ctx, conn)
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return nil, fmt.Errorf("count rows: start a consistent snapshot: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	if o.Flavor == FlavorMariaDB {
		st, err := statusVars(ctx, conn, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return nil, fmt.Errorf("count rows: read the snapshot's binlog position: %w", err)
		}
		if f := st["binlog_snapshot_file"]; f != "" {
			rc.SnapshotFile = f
			rc.SnapshotPos, _ = strconv.ParseUint(st["binlog_snapshot_position"], 10, 64)
		}
	}
	tables, err := listTables(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	var deadline time.Time
	if o.Budget > 0 {
		deadline = start.Add(o.Budget)
	}
	for _, t := range tables {
		skip := func(reason string) {
			rc.Skipped = append(rc.Skipped, TableSkip{Schema: t.schema, Table: t.name, Reason: reason})
		}
		switch {
		case uncountedEngines[strings.ToUpper(t.engine)]:
			skip("engine " + t.engine + " keeps no rows in a backup")
			continue
		case o.MaxRows > 0 && t.estimate > o.MaxRows:
			skip(fmt.Sprintf("about %d rows (information_schema estimate) is over the limit of %d", t.estimate, o.MaxRows))
			continue
		case !deadline.IsZero() && !time.Now().Before(deadline):
			skip(fmt.Sprintf("the time budget of %s for counting was spent", o.Budget))
			continue
		}
		qctx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			qctx, cancel = context.WithDeadline(ctx, deadline)
		}
		var n int64
		err := conn.QueryRowContext(qctx, "SELECT COUNT(*) FROM "+QuoteName(t.schema)+"."+QuoteName(t.name)).Scan(&n)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("count rows: %w", ctx.Err())
			}
			if errors.Is(qctx.Err(), context.DeadlineExceeded) {
				// The cancelled query took the connection with it.
				skip(fmt.Sprintf("the time budget of %s for counting was spent", o.Budget))
				return countRowsRest(rc, tables, t, o, start), nil
			}
			skip("count failed: " + err.Error())
			continue
		}
		rc.Tables = append(rc.Tables, TableCount{Schema: t.schema, Table: t.name, Rows: n})
	}
	if o.Flavor != FlavorMariaDB {
		after, _ := masterStatus(ctx, conn)
		rc.SnapshotFile, rc.SnapshotPos = after.File, after.Pos
		rc.SnapshotMoved = before != after
	}
	rc.Seconds = time.Since(start).Seconds()
	return rc, nil
}

// countRowsRest marks the tables after cur as skipped for the time budget.
func countRowsRest(rc *RowCounts, tables []tableInfo, cur tableInfo, o RowCountOptions, start time.Time) *RowCounts {
	past := false
	for _, t := range tables {
		if past {
			rc.Skipped = append(rc.Skipped, TableSkip{Schema: t.schema, Table: t.name,
				Reason: fmt.Sprintf("the time budget of %s for counting was spent", o.Budget)})
		}
		if t == cur {
			past = true
		}
	}
	rc.SnapshotMoved = o.Flavor != FlavorMariaDB // the position after the counts is unknown
	rc.Seconds = time.Since(start).Seconds()
	return rc
}

type tableInfo struct {
	schema, name, engine string
	estimate             int64
}

// listTables lists the base tables of the user schemas.
func listTables(ctx context.Context, conn *sql.Conn) ([]tableInfo, error) {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(ENGINE, ''), COALESCE(TABLE_ROWS, 0) "+
		"FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []tableInfo
	for rows.Next() {
		var t tableInfo
		if err := rows.Scan(&t.schema, &t.name, &t.engine, &t.estimate); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if !SystemSchemas[strings.ToLower(t.schema)] {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// masterStatus reads the current binlog file and position.
func masterStatus(ctx context.Context, conn *sql.Conn) (BinlogPosition, error) {
	rows, err := conn.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return BinlogPosition{}, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return BinlogPosition{}, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return BinlogPosition{}, err
	}
	pos, _ := strconv.ParseUint(vals[1].String, 10, 64)
	return BinlogPosition{File: vals[0].String, Pos: pos}, nil
}

func statusVars(ctx context.Context, conn *sql.Conn, q string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[strings.ToLower(k)] = v
	}
	return out, rows.Err()
}

// QuoteName quotes an identifier with backticks for SQL.
func QuoteName(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}
