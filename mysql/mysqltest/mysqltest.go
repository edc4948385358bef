// Package mysqltest starts and connects to the MariaDB servers that
// integration tests run against: sandboxes of scripts/mysql-sandbox.sh,
// each with the same users and password files (its `env NAME` prints
// them). It is for tests only.
//
// MYBAK_TEST_MYSQL=1 switches the tests on (Need); with CI=true they fail
// instead of skipping (internal/testenv). A package whose tests must not
// share a server with the rest of `go test ./...` starts one of its own,
// for the whole package (Main) or for one test (Start).
package mysqltest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
)

// Need returns when the MySQL integration tests are switched on
// (MYBAK_TEST_MYSQL=1); otherwise it skips t, or fails it under CI.
func Need(t testing.TB) {
	t.Helper()
	testenv.Need(t, os.Getenv("MYBAK_TEST_MYSQL") == "1",
		`MySQL integration tests are not configured: set MYBAK_TEST_MYSQL=1 (export MYBAK_SANDBOX_DIR=...; scripts/mysql-sandbox.sh start primary && eval "$(scripts/mysql-sandbox.sh env primary)")`)
}

// Script returns the path of scripts/mysql-sandbox.sh, found from the
// working directory up to the module's root.
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "scripts", "mysql-sandbox.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("the sandbox script: %w", err)
			}
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("the sandbox script: no go.mod above the working directory")
		}
		dir = up
	}
}

// Server is a sandbox the tests reach over TCP on 127.0.0.1 (or where
// the environment says, FromEnv).
type Server struct {
	// Name is the sandbox's name (scripts/mysql-sandbox.sh start NAME).
	Name string
	// Admin may do everything (set-up, loads); Backup has the privileges
	// a DBA grants mybak.
	Admin, Backup mysql.Conn
}

// Port is the server's TCP port.
func (s *Server) Port() int { return s.Admin.Port }

// conns are the sandbox users' connections to host:port.
func conns(host string, port int) (admin, backup mysql.Conn) {
	return mysql.Conn{Host: host, Port: port, User: os.Getenv("MYBAK_TEST_MYSQL_ADMIN_USER"), PasswordFile: os.Getenv("MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")},
		mysql.Conn{Host: host, Port: port, User: os.Getenv("MYBAK_TEST_MYSQL_USER"), PasswordFile: os.Getenv("MYBAK_TEST_MYSQL_PASSWORD_FILE")}
}

// FromEnv is the server the environment describes (eval "$(scripts/
// mysql-sandbox.sh env NAME)", or Main's).
func FromEnv(t testing.TB) *Server {
	t.Helper()
	Need(t)
	port, _ := strconv.Atoi(os.Getenv("MYBAK_TEST_MYSQL_PORT"))
	host := os.Getenv("MYBAK_TEST_MYSQL_HOST")
	if port == 0 || host == "" {
		t.Fatal(`MYBAK_TEST_MYSQL_HOST/PORT not set: eval "$(scripts/mysql-sandbox.sh env primary)"`)
	}
	s := &Server{Name: os.Getenv("MYBAK_TEST_MYSQL_NAME")}
	s.Admin, s.Backup = conns(host, port)
	return s
}

// Start starts a fresh sandbox name (one left by an earlier run is
// destroyed first) in MYBAK_SANDBOX_DIR, beside the environment's, with
// the same users; it is destroyed when t ends.
func Start(t testing.TB, name string) *Server {
	t.Helper()
	Need(t)
	dir := os.Getenv("MYBAK_SANDBOX_DIR")
	if dir == "" {
		t.Fatal("MYBAK_SANDBOX_DIR is not set: the sandboxes of a test share the directory (and users) of the environment's")
	}
	script, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	exec.Command(script, "destroy", name).Run()
	if out, err := exec.Command(script, "start", name).CombinedOutput(); err != nil {
		t.Fatalf("start sandbox %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { exec.Command(script, "destroy", name).Run() })
	b, err := os.ReadFile(filepath.Join(dir, name, "port"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("sandbox %s: port file: %v", name, err)
	}
	s := &Server{Name: name}
	s.Admin, s.Backup = conns("127.0.0.1", port)
	return s
}

// Restart stops the sandbox cleanly and starts it again on its datadir
// (a server restart as a DBA does one).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	script, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"stop", "start"} {
		if out, err := exec.Command(script, action, s.Name).CombinedOutput(); err != nil {
			t.Fatalf("%s sandbox %s: %v\n%s", action, s.Name, err, out)
		}
	}
}

// Open returns a pool of Admin's connections, closed when t ends.
func (s *Server) Open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := mysql.Open(context.Background(), s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Main runs a package's tests (TestMain: os.Exit(mysqltest.Main(m,
// "NAME"))) against a sandbox of the package's own, name, started beside
// the environment's with the same users: the environment then describes
// it (FromEnv), and it is destroyed when the tests end. Without
// MYBAK_TEST_MYSQL=1 and MYBAK_SANDBOX_DIR nothing is started (the tests
// skip, or fail under CI).
func Main(m *testing.M, name string) int {
	if os.Getenv("MYBAK_TEST_MYSQL") != "1" || os.Getenv("MYBAK_SANDBOX_DIR") == "" {
		return m.Run()
	}
	script, err := Script()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exec.Command(script, "destroy", name).Run()
	if out, err := exec.Command(script, "start", name).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "start this package's MariaDB (%s start %s): %v\n%s", script, name, err, out)
		return 1
	}
	defer exec.Command(script, "destroy", name).Run()
	out, err := exec.Command(script, "env", name).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s env %s: %v\n", script, name, err)
		return 1
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			continue
		}
		os.Setenv(k, strings.Trim(v, "'"))
	}
	if os.Getenv("MYBAK_TEST_MYSQL_NAME") != name {
		fmt.Fprintf(os.Stderr, "%s env %s did not describe the server:\n%s", script, name, out)
		return 1
	}
	return m.Run()
}
