package logicaldump

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDumpTableChangedAfterSnapshot: DDL on a table the dump has not read
// yet is not blocked by the dump (reading the schema holds no metadata
// lock); the snapshot then cannot read the table, and the dump fails with
// the server's error, the table's name and what to do, never a dump that
// silently lacks the table.
func TestDumpTableChangedAfterSnapshot(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	for _, c := range []struct{ name, ddl string }{
		{"drop", "DROP TABLE %s.small"},
		{"truncate", "TRUNCATE TABLE %s.small"},
		{"rename", "RENAME TABLE %s.small TO %s.small2"},
		{"rebuild", "ALTER TABLE %s.small FORCE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			z := schemaName(t, "ddl")
			q := quoteIdent(z)
			t.Cleanup(func() { dropSchemas(t, db, z) })
			execSQL(t, db, "CREATE DATABASE "+q,
				"CREATE TABLE "+q+".big (id INT PRIMARY KEY, v VARCHAR(100))",
				"INSERT INTO "+q+".big SELECT seq, REPEAT('x', 100) FROM "+q+".seq_1_to_5000",
				"CREATE TABLE "+q+".small (id INT PRIMARY KEY)",
				"INSERT INTO "+q+".small VALUES (1), (2)",
				// Exact row counts, so that big is dumped first.
				"ANALYZE TABLE "+q+".big, "+q+".small")
			var once sync.Once
			var ddlErr error
			o := Options{Conn: s.backup, Threads: 1, Filter: Filter{Include: []string{z}}, LockWait: 10 * time.Second,
				// The largest table is dumped first; when it is done,
				// the small one has not been read yet.
				Progress: func(p DumpProgress) {
					if p.TablesDone == 1 {
						once.Do(func() {
							conn, err := db.Conn(ctxT(t, time.Minute))
							if err != nil {
								ddlErr = err
								return
							}
							defer conn.Close()
							if _, ddlErr = conn.ExecContext(ctxT(t, time.Minute), "SET SESSION lock_wait_timeout = 10"); ddlErr == nil {
								_, ddlErr = conn.ExecContext(ctxT(t, time.Minute), strings.ReplaceAll(c.ddl, "%s", q))
							}
						})
					}
				}}
			_, err := Dump(ctxT(t, time.Minute), o, io.Discard)
			if ddlErr != nil {
				t.Fatalf("%s while the dump runs (precondition: small not read yet): %v", c.ddl, ddlErr)
			}
			if err == nil {
				t.Fatalf("dump with %s after the snapshot succeeded", c.name)
			}
			for _, want := range []string{"`" + z + "`.`small`", "after the backup's snapshot", "run the backup again", "--exclude"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			t.Log(err)
			if !errors.Is(err, ErrTableChanged) {
				t.Errorf("error %q is not ErrTableChanged", err)
			}
		})
	}
}
