package pitr

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/mysql/mysqltest"
	"github.com/mybak/mybak/storage/local"
)

// server is a MariaDB sandbox a test runs against (mysqltest.Start).
type server struct {
	sb    *mysqltest.Server
	admin mysql.Conn
	// arch is a user made for the test with what Archive needs.
	arch mysql.Conn
	db   *sql.DB
}

// needMySQL skips (or, under CI, fails) unless the MySQL tests are on.
func needMySQL(t *testing.T) {
	t.Helper()
	mysqltest.Need(t)
}

// needServer starts a MariaDB sandbox for the test.
func needServer(t *testing.T) *server {
	t.Helper()
	needMySQL(t)
	// A server of the test's own: the tests count pieces, files and
	// transactions, which other tests writing to a shared server (the e2e
	// tests run at the same time under go test ./...) would change.
	name := "pitr-" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	s := startSandbox(t, name)
	s.arch = s.archUser(t)
	return s
}

// needTarget is a second server to replay into: a fresh sandbox in the
// same MYBAK_SANDBOX_DIR (the same users and passwords), destroyed when
// the test ends.
func needTarget(t *testing.T) *server {
	t.Helper()
	return startSandbox(t, "pitr-target")
}

// startSandbox starts a fresh sandbox NAME (in MYBAK_SANDBOX_DIR, sharing
// the primary's users) and destroys it when the test ends.
func startSandbox(t *testing.T, name string) *server {
	t.Helper()
	return connectServer(t, mysqltest.Start(t, name))
}

// connectServer connects to sandbox sb as its admin.
func connectServer(t *testing.T, sb *mysqltest.Server) *server {
	t.Helper()
	return &server{sb: sb, admin: sb.Admin, db: sb.Open(t)}
}

// exec runs statements on one connection of the admin pool (SET session
// variables stick only to sql.Conn, so the tests use exec for independent
// statements only).
func (s *server) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (s *server) str(t *testing.T, q string) string {
	t.Helper()
	var v string
	if err := s.db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newStore(t *testing.T) *local.Backend {
	t.Helper()
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// write runs q on a connection of its own and returns the GTID the server
// gave its transaction (@@last_gtid).
func (s *server) write(t *testing.T, qs ...string) string {
	t.Helper()
	c, err := s.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range qs {
		if _, err := c.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var g string
	if err := c.QueryRowContext(context.Background(), "SELECT @@last_gtid").Scan(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

func newLocal(dir string) (*local.Backend, error) { return local.New(dir) }

// archUser makes a user with what Archive needs and returns its
// connection.
func (s *server) archUser(t *testing.T) mysql.Conn {
	t.Helper()
	user := "pitr_" + randHex(4)
	pw := randHex(12)
	pwFile := t.TempDir() + "/pw"
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not binlogged: no test's GTIDs come from setting up users.
	s.write(t, "SET sql_log_bin=0", fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, pw),
		fmt.Sprintf("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '%s'@'127.0.0.1'", user), "SET sql_log_bin=1")
	t.Cleanup(func() {
		// The server may be gone (a test destroyed it): nothing to drop then.
		if c, err := s.db.Conn(context.Background()); err == nil {
			c.ExecContext(context.Background(), "SET sql_log_bin=0")
			c.ExecContext(context.Background(), fmt.Sprintf("DROP USER '%s'@'127.0.0.1'", user))
			c.ExecContext(context.Background(), "SET sql_log_bin=1")
			c.Close()
		}
	})
	return mysql.Conn{Host: "127.0.0.1", Port: s.admin.Port, User: user, PasswordFile: pwFile}
}

// currentLog is the binary log file the server writes.
func (s *server) currentLog(t *testing.T) string {
	t.Helper()
	rows, err := s.db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatal("SHOW MASTER STATUS: no row (binary log off?)")
	}
	vals := make([]any, len(cols))
	var file string
	vals[0] = &file
	for i := 1; i < len(vals); i++ {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		t.Fatal(err)
	}
	return file
}
