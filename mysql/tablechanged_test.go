package mysql

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateWriter blocks the write that takes it past after bytes until open
// is closed, so that the dump tool stops in the middle of a table.
type gateWriter struct {
	after   int
	n       int
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.n += len(p)
	if g.n > g.after {
		g.once.Do(func() { close(g.reached) })
		<-g.open
	}
	return len(p), nil
}

// TestIntegrationDumpTableChanged: DDL on a table mariadb-dump has not
// read yet (it is in the middle of the one before) makes the dump fail;
// the error is ErrTableChanged, naming the table and what to do, not the
// tool's bare exit status.
func TestIntegrationDumpTableChanged(t *testing.T) {
	s := source(t)
	db := s.admin(t)
	tool, err := LookupTool(EngineMariadbDump)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ name, ddl, want string }{
		{"drop", "DROP TABLE %s.b", "(1146)"},
		{"truncate", "TRUNCATE TABLE %s.b", "Error 1412"},
		{"rebuild", "ALTER TABLE %s.b FORCE", "Error 1412"},
	} {
		t.Run(c.name, func(t *testing.T) {
			z := fmt.Sprintf("ddl_%d_%d", i, time.Now().UnixNano())
			mustExec(t, db, "CREATE DATABASE "+z,
				"CREATE TABLE "+z+".a (id INT PRIMARY KEY, v TEXT)",
				"INSERT INTO "+z+".a SELECT seq, REPEAT('x', 1000) FROM "+z+".seq_1_to_3000",
				"CREATE TABLE "+z+".b (id INT PRIMARY KEY)", "INSERT INTO "+z+".b VALUES (1)")
			t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + z) })
			g := &gateWriter{after: 200 << 10, reached: make(chan struct{}), open: make(chan struct{})}
			ddlErr := make(chan error, 1)
			go func() {
				defer close(g.open)
				select {
				case <-g.reached: // the dump is inside table a's rows
				case <-time.After(time.Minute):
					ddlErr <- errors.New("the dump never got 200 KiB into table a")
					return
				}
				conn, err := db.Conn(ctxT(t, time.Minute))
				if err == nil {
					defer conn.Close()
					if _, err = conn.ExecContext(ctxT(t, time.Minute), "SET SESSION lock_wait_timeout = 10"); err == nil {
						_, err = conn.ExecContext(ctxT(t, time.Minute), strings.ReplaceAll(c.ddl, "%s", z))
					}
				}
				ddlErr <- err
			}()
			_, err := BackupLogical(ctxT(t, 2*time.Minute), DumpOptions{Tool: tool, Conn: s.socketConn(), Databases: []string{z}}, g)
			if derr := <-ddlErr; derr != nil {
				t.Fatalf("precondition: %s while the dump is in table a: %v", c.ddl, derr)
			}
			if err == nil {
				t.Fatalf("dump with %s of a table not read yet succeeded", c.name)
			}
			t.Log(err)
			for _, want := range []string{"b", c.want, "run the backup again", "--ignore-table=" + z + ".b"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			var ee *ExitError
			if !errors.Is(err, ErrTableChanged) || !errors.As(err, &ee) {
				t.Errorf("error %q is not ErrTableChanged wrapping the ExitError", err)
			}
		})
	}
}
