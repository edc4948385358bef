package drill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
)

// checkTables runs CHECK TABLE on every table and view of every schema but
// information_schema, performance_schema and sys, and counts the rows of
// the user tables, filling rep.Tables.
func checkTables(ctx context.Context, conn *sql.Conn, srv *scratchServer, rep *Report) (check.Status, string, error) {
	tables, err := listTables(ctx, conn)
	if err != nil {
		return check.Failed, err.Error(), err
	}
	rep.Tables = append(rep.Tables, tables...)
	failed, checked, counted := 0, 0, 0
	for i := range rep.Tables {
		t := &rep.Tables[i]
		checked++
		fails, err := checkAndCount(ctx, conn, t)
		failed += fails
		if t.Rows != nil {
			counted++
		}
		if err != nil && !srv.running() {
			return check.Failed, fmt.Sprintf("the server died during CHECK TABLE %s.%s; its error log ends:\n  %s",
				mysql.QuoteName(t.Schema), mysql.QuoteName(t.Table), srv.errLogTail(20)), err
		}
	}
	detail := fmt.Sprintf("%d tables and views checked, %d user tables counted", checked, counted)
	if failed > 0 {
		return check.Failed, fmt.Sprintf("%s; %d failed", detail, failed), errors.New("CHECK TABLE failed")
	}
	return check.OK, detail, nil
}

// listTables lists the restored tables and views of every schema but
// information_schema, performance_schema and sys.
func listTables(ctx context.Context, conn *sql.Conn) ([]Table, error) {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, '') FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys') ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, fmt.Errorf("list the restored tables: %w", err)
	}
	defer rows.Close()
	var tables []Table
	for rows.Next() {
		var t Table
		if err := rows.Scan(&t.Schema, &t.Table, &t.Type, &t.Engine); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}

// checkAndCount runs CHECK TABLE on t and, for a user table, counts its
// rows, setting t's verdict, count and result. The error is CHECK TABLE's
// own failure (the caller looks at whether the server died of it); fails
// counts what failed (the check, the count).
func checkAndCount(ctx context.Context, conn *sql.Conn, t *Table) (fails int, err error) {
	name := mysql.QuoteName(t.Schema) + "." + mysql.QuoteName(t.Table)
	t.Result = check.OK
	verdict, ok, err := checkTable(ctx, conn, name)
	if err != nil {
		t.Check, t.Result = "CHECK TABLE failed: "+err.Error(), check.Failed
		return 1, err
	}
	t.Check, t.CheckOK = verdict, ok
	if !ok {
		t.Result = check.Failed
		fails++
	}
	if mysql.SystemSchemas[strings.ToLower(t.Schema)] || (t.Type != "BASE TABLE" && t.Type != "SYSTEM VERSIONED") {
		return fails, nil
	}
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+name).Scan(&n); err != nil {
		t.Result, t.Detail = check.Failed, "count: "+err.Error()
		return fails + 1, nil
	}
	t.Rows = &n
	return fails, nil
}

// checkTable runs CHECK TABLE name and returns its verdict: "OK", or the
// messages of its error and non-OK status rows.
func checkTable(ctx context.Context, conn *sql.Conn, name string) (string, bool, error) {
	rows, err := conn.QueryContext(ctx, "CHECK TABLE "+name)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	ok := true
	var msgs []string
	for rows.Next() {
		var tbl, op, typ, text sql.NullString
		if err := rows.Scan(&tbl, &op, &typ, &text); err != nil {
			return "", false, err
		}
		switch strings.ToLower(typ.String) {
		case "error":
			ok = false
			msgs = append(msgs, "error: "+text.String)
		case "status":
			if !strings.EqualFold(text.String, "OK") && !strings.EqualFold(text.String, "Table is already up to date") {
				ok = false
				msgs = append(msgs, "status: "+text.String)
			}
		case "warning", "note":
			msgs = append(msgs, strings.ToLower(typ.String)+": "+text.String)
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	if len(msgs) == 0 {
		return "OK", ok, nil
	}
	if ok {
		return "OK (" + strings.Join(msgs, "; ") + ")", true, nil
	}
	return strings.Join(msgs, "; "), false, nil
}

// compareCounts compares the restored tables' counts with the recorded
// ones: a recorded table missing from the restore fails the drill, and so
// does a count that differs from an exact record; differences from an
// approximate record are warnings.
func compareCounts(rep *Report, rec *backup.RowCountRecord, recErr error) (check.Status, string, error) {
	switch {
	case recErr != nil:
		return check.Warn, "cannot read the recorded row counts: " + recErr.Error(), nil
	case rec == nil:
		return check.Warn, "the backup records no row counts (taken with --row-counts off, by an older mybak or by another tool): only CHECK TABLE ran", nil
	}
	rep.RowCounts = &RowCounts{Mode: rec.Mode, Exact: rec.Exact, Why: rec.Why, Tables: len(rec.Tables), Skipped: len(rec.Skipped), Error: rec.Error}
	if rec.Error != "" {
		return check.Warn, "row counts were not recorded at backup time: " + rec.Error, nil
	}
	m := matchCounts(rep, rec)
	kind := "exact"
	if !rec.Exact {
		kind = "approximate"
	}
	detail := fmt.Sprintf("%d of %d recorded (%s) counts match, %d table(s) not counted at backup time", m.same, len(rec.Tables), kind, len(rec.Skipped))
	switch {
	case len(m.missing)+len(m.off) > 0:
		var parts []string
		if len(m.missing) > 0 {
			parts = append(parts, "missing from the restore: "+strings.Join(m.missing, ", "))
		}
		if len(m.off) > 0 {
			parts = append(parts, "row counts differ: "+strings.Join(m.off, ", "))
		}
		return check.Failed, detail + "; " + strings.Join(parts, "; "), errors.New("row counts differ")
	case len(m.drift) > 0:
		return check.Warn, detail + "; approximate counts differ (" + rec.Why + "): " + strings.Join(m.drift, ", "), nil
	}
	return check.OK, detail, nil
}

// countMatch is how the restored counts matched the recorded ones: how
// many are the same, and the tables missing from the restore, off from an
// exact count, or off from an approximate one.
type countMatch struct {
	same                int
	missing, off, drift []string
}

// matchCounts compares rep.Tables' counts with rec's, marking each table's
// result and detail, and adds the recorded tables missing from the
// restore to rep.Tables.
func matchCounts(rep *Report, rec *backup.RowCountRecord) countMatch {
	key := func(s, t string) string { return s + "\x00" + t }
	idx := map[string]int{}
	for i, t := range rep.Tables {
		idx[key(t.Schema, t.Table)] = i
	}
	skipped := map[string]string{}
	for _, s := range rec.Skipped {
		skipped[key(s.Schema, s.Table)] = s.Reason
	}
	var m countMatch
	for _, c := range rec.Tables {
		c := c
		i, ok := idx[key(c.Schema, c.Table)]
		if !ok {
			m.missing = append(m.missing, c.Schema+"."+c.Table)
			rep.Tables = append(rep.Tables, Table{Schema: c.Schema, Table: c.Table, Recorded: &c.Rows, Result: check.Failed,
				Detail: "recorded at backup time, missing from the restored data"})
			continue
		}
		t := &rep.Tables[i]
		t.Recorded = &c.Rows
		switch {
		case t.Rows == nil:
		case *t.Rows == c.Rows:
			m.same++
		case rec.Exact:
			t.Result, t.Detail = check.Failed, fmt.Sprintf("%d rows restored, %d recorded (exact)", *t.Rows, c.Rows)
			m.off = append(m.off, fmt.Sprintf("%s.%s (%d, recorded %d)", c.Schema, c.Table, *t.Rows, c.Rows))
		default:
			if t.Result == check.OK {
				t.Result = check.Warn
			}
			t.Detail = fmt.Sprintf("%d rows restored, about %d recorded (approximate)", *t.Rows, c.Rows)
			m.drift = append(m.drift, fmt.Sprintf("%s.%s (%d, recorded about %d)", c.Schema, c.Table, *t.Rows, c.Rows))
		}
	}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		if r, ok := skipped[key(t.Schema, t.Table)]; ok && t.Detail == "" {
			t.Detail = "not counted at backup time: " + r
		}
	}
	return m
}
