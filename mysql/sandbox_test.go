package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// Integration tests run against real MariaDB servers started with
// scripts/mysql-sandbox.sh. They are switched on by MYBAK_TEST_MYSQL=1;
// with CI=true and the switch off they fail instead of skipping.

var (
	sandboxBase    string
	sandboxStarted sync.Map // name -> *sandbox
	sandboxMu      sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	sandboxStarted.Range(func(k, _ any) bool {
		cmd := exec.Command(sandboxScript(), "destroy", k.(string))
		cmd.Env = append(os.Environ(), "MYBAK_SANDBOX_DIR="+sandboxBase)
		cmd.Run()
		return true
	})
	if sandboxBase != "" && os.Getenv("MYBAK_SANDBOX_DIR") == "" && os.Getenv("MYBAK_KEEP_SANDBOX") == "" {
		os.RemoveAll(sandboxBase)
	}
	os.Exit(code)
}

func sandboxScript() string {
	p, _ := filepath.Abs("../scripts/mysql-sandbox.sh")
	return p
}

// integration skips (or, under CI, fails) unless integration tests are on.
func integration(t *testing.T) {
	t.Helper()
	testenv.Need(t, os.Getenv("MYBAK_TEST_MYSQL") == "1",
		"MySQL integration tests are not configured: set MYBAK_TEST_MYSQL=1 (servers come from scripts/mysql-sandbox.sh; needs mariadb-server, mariadb-client, mariadb-backup, sysbench)")
}

type sandbox struct {
	Name          string
	Port          int
	Socket        string
	Datadir       string
	User          string
	PasswordFile  string
	AdminUser     string
	AdminPassFile string
}

func (s *sandbox) conn() Conn {
	return Conn{Host: "127.0.0.1", Port: s.Port, User: s.User, PasswordFile: s.PasswordFile}
}

func (s *sandbox) socketConn() Conn {
	return Conn{Socket: s.Socket, User: s.User, PasswordFile: s.PasswordFile}
}

func (s *sandbox) adminConn() Conn {
	return Conn{Host: "127.0.0.1", Port: s.Port, User: s.AdminUser, PasswordFile: s.AdminPassFile}
}

func (s *sandbox) password(t *testing.T) string {
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (s *sandbox) admin(t *testing.T) *sql.DB {
	t.Helper()
	db, err := Open(context.Background(), s.adminConn())
	if err != nil {
		t.Fatalf("connect as admin to %s: %v", s.Name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func runScript(t *testing.T, args ...string) string {
	t.Helper()
	sandboxMu.Lock()
	if sandboxBase == "" {
		sandboxBase = os.Getenv("MYBAK_SANDBOX_DIR")
		if sandboxBase == "" {
			d, err := os.MkdirTemp("", "mybak-mysql-test-")
			if err != nil {
				sandboxMu.Unlock()
				t.Fatal(err)
			}
			sandboxBase = d
		}
	}
	base := sandboxBase
	sandboxMu.Unlock()
	cmd := exec.Command(sandboxScript(), args...)
	cmd.Env = append(os.Environ(), "MYBAK_SANDBOX_DIR="+base)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mysql-sandbox.sh %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// startSandbox starts (once per test binary) the sandbox name with the
// given extra mariadbd options, or on datadir when it is not empty. A
// sandbox of that name that an earlier run left is destroyed first: every
// run starts from a new datadir (TestMain destroys them at the end).
func startSandbox(t *testing.T, name, datadir string, extra ...string) *sandbox {
	t.Helper()
	if s, ok := sandboxStarted.Load(name); ok {
		return s.(*sandbox)
	}
	runScript(t, "destroy", name)
	if datadir != "" {
		runScript(t, append([]string{"start-datadir", name, datadir}, extra...)...)
	} else {
		runScript(t, append([]string{"start", name}, extra...)...)
	}
	env := map[string]string{}
	for _, l := range strings.Split(runScript(t, "env", name), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		if ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	port, _ := strconv.Atoi(env["MYBAK_TEST_MYSQL_PORT"])
	s := &sandbox{Name: name, Port: port, Socket: env["MYBAK_TEST_MYSQL_SOCKET"], Datadir: env["MYBAK_TEST_MYSQL_DATADIR"],
		User: env["MYBAK_TEST_MYSQL_USER"], PasswordFile: env["MYBAK_TEST_MYSQL_PASSWORD_FILE"],
		AdminUser: env["MYBAK_TEST_MYSQL_ADMIN_USER"], AdminPassFile: env["MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE"]}
	sandboxStarted.Store(name, s)
	return s
}

// stopSandbox stops name and deletes its state directory.
func stopSandbox(t *testing.T, name string) {
	runScript(t, "destroy", name)
	sandboxStarted.Delete(name)
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

var sourceOnce sync.Once
var sourceSB *sandbox

// source is the shared sandbox with test data: a schema with a view, a
// trigger, a routine, an event, binary data, and a sysbench-sized table.
func source(t *testing.T) *sandbox {
	t.Helper()
	integration(t)
	sourceOnce.Do(func() {
		s := startSandbox(t, "src", "")
		db := s.admin(t)
		mustExec(t, db,
			"DROP DATABASE IF EXISTS shop",
			"CREATE DATABASE shop",
			"CREATE TABLE shop.items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64), price DECIMAL(10,2), blob_col VARBINARY(64), created DATETIME) ENGINE=InnoDB",
			"CREATE TABLE shop.audit (id INT PRIMARY KEY AUTO_INCREMENT, item INT, at DATETIME) ENGINE=InnoDB",
			"CREATE TABLE shop.notes (id INT PRIMARY KEY, txt TEXT) ENGINE=Aria",
			"CREATE OR REPLACE VIEW shop.cheap AS SELECT id, name FROM shop.items WHERE price < 10",
			"CREATE OR REPLACE TRIGGER shop.items_ai AFTER INSERT ON shop.items FOR EACH ROW INSERT INTO shop.audit (item, at) VALUES (NEW.id, NOW())",
			"CREATE OR REPLACE PROCEDURE shop.add_item(n VARCHAR(64)) INSERT INTO shop.items (name, price) VALUES (n, 1)",
			"CREATE OR REPLACE EVENT shop.nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM shop.audit WHERE at < NOW() - INTERVAL 30 DAY",
			"INSERT INTO shop.notes VALUES (1, 'aria table'), (2, 'quote '' and \\\\ backslash')",
			"INSERT INTO shop.items (name, price, blob_col, created) SELECT CONCAT('item-', seq), seq % 100, UNHEX(SHA2(seq, 256)), NOW() FROM shop.seq_1_to_20000",
			"CALL shop.add_item('by procedure')",
		)
		sourceSB = s
	})
	if sourceSB == nil {
		t.Fatal("source sandbox set-up failed in an earlier test")
	}
	return sourceSB
}

// checksums returns CHECKSUM TABLE for the test tables.
func checksums(t *testing.T, db *sql.DB, tables ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range tables {
		var name string
		var sum sql.NullString
		if err := db.QueryRow("CHECKSUM TABLE "+tb).Scan(&name, &sum); err != nil {
			t.Fatalf("checksum %s: %v", tb, err)
		}
		if !sum.Valid {
			t.Fatalf("checksum %s: table missing", tb)
		}
		out[tb] = sum.String
	}
	return out
}

var testTables = []string{"shop.items", "shop.audit", "shop.notes", "mysql.global_priv"}

func sameChecksums(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("CHECKSUM TABLE %s: restored %s, source %s", k, got[k], v)
		}
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func logf(t *testing.T) func(string, ...any) {
	return func(f string, a ...any) { t.Logf(f, a...) }
}

var _ = fmt.Sprintf
