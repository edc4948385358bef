//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/pitr"
	"github.com/mybak/mybak/storage/local"
)

// lastGTID runs stmts on one connection and returns the GTID of the last
// transaction (@@last_gtid).
func lastGTID(t *testing.T, db *sql.DB, stmts ...string) string {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range stmts {
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

// TestBinlogArchiveListFindVerify: a backup, writes, an accidental DROP
// TABLE; binlog archive --once stores it encrypted; list shows the server
// and the window from the backup; find --statement names the DROP with its
// GTID; verify --deep passes, and a damaged piece makes it exit 3.
func TestBinlogArchiveListFindVerify(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_binlog_" + hex.EncodeToString(rnd[:]) // the server's binary log keeps every earlier run
	execSQL(t, db, "DROP DATABASE IF EXISTS "+name, "CREATE DATABASE "+name,
		"CREATE TABLE "+name+".orders (id INT PRIMARY KEY, v VARCHAR(50))", "INSERT INTO "+name+".orders VALUES (1, 'before the backup')")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	store := t.TempDir()
	key := keyFile(t, "binlog key")
	r := run(t, nil, nil, append([]string{"backup", "--engine", "mysqldump", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)
	lastGTID(t, db, "INSERT INTO "+name+".orders VALUES (2, 'after the backup')")
	drop := lastGTID(t, db, "DROP TABLE "+name+".orders")

	metrics := filepath.Join(t.TempDir(), "mybak.prom")
	r = run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--encrypt-key-file", key, "--compress", "zstd",
		"--metrics-file", metrics}, p.conn(true)...)...)
	must(t, r, "binlog archive --once")
	prom, _ := os.ReadFile(metrics)
	for _, m := range []string{`mybak_binlog_last_event_timestamp_seconds{command="binlog-archive"`, "mybak_binlog_archive_lag_seconds{",
		"mybak_binlog_window_start_timestamp_seconds{", // the names issue 13 gives
		`mybak_last_run_success{command="binlog-archive",engine="",storage="` + store + `",label=""} 1`} {
		if !strings.Contains(string(prom), m) {
			t.Errorf("metrics file has no %s:\n%s", m, prom)
		}
	}

	r = run(t, nil, nil, "binlog", "list", "--storage", store, "--json")
	must(t, r, "binlog list")
	var l struct {
		Servers []struct {
			Server   string `json:"server"`
			LastGTID string `json:"last_gtid"`
		} `json:"servers"`
		Backups []struct {
			ID   string `json:"id"`
			To   string `json:"to"`
			Note string `json:"note"`
		} `json:"backups"`
		Problems []any `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if len(l.Servers) != 1 || !strings.HasPrefix(l.Servers[0].Server, "mariadb-") || len(l.Backups) != 1 || l.Backups[0].ID != id ||
		l.Backups[0].To == "" || len(l.Problems) != 0 {
		t.Fatalf("list: %s", r.stdout)
	}

	r = run(t, nil, nil, "binlog", "find", "--storage", store, "--encrypt-key-file", key, "--statement", "(?i)^DROP TABLE `?"+name)
	must(t, r, "binlog find")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], drop) || !strings.Contains(lines[1], "DROP TABLE") {
		t.Fatalf("find --statement: want the DROP (%s):\n%s", drop, r.stdout)
	}
	r = run(t, nil, nil, "binlog", "find", "--storage", store, "--statement", "DROP")
	if r.code != 1 || !strings.Contains(r.stderr, "encrypted") {
		t.Errorf("find without the key: exit %d: %s", r.code, r.stderr)
	}

	r = run(t, nil, nil, "binlog", "verify", "--storage", store, "--encrypt-key-file", key, "--deep")
	must(t, r, "binlog verify --deep")
	if !strings.Contains(r.stdout, "transactions decoded") || !strings.Contains(r.stdout, "(from backup "+id+" to the newest archived event)") {
		t.Errorf("verify: %s", r.stdout)
	}
	// Damage one stored piece: exit 3, the piece named.
	var piece string
	filepath.Walk(filepath.Join(store, "binlog"), func(path string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(path, ".zst.enc") {
			piece = path
		}
		return nil
	})
	b, err := os.ReadFile(piece)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	os.WriteFile(piece, b, 0o600)
	r = run(t, nil, nil, "binlog", "verify", "--storage", store, "--encrypt-key-file", key)
	if r.code != 3 || !strings.Contains(r.stdout, "DAMAGED: ") || !strings.Contains(r.stderr, "the binlog archive has 1 problem(s): damaged: ") {
		t.Fatalf("verify of a damaged piece: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// verify --pitr is the same check.
	r = run(t, nil, nil, "verify", "--pitr", "--storage", store, "--encrypt-key-file", key, "--json")
	if r.code != 3 || !strings.Contains(r.stdout, `"kind": "damaged"`) || !strings.Contains(r.stdout, `"ok": false`) ||
		!strings.Contains(r.stdout, `"name": "damaged"`) {
		t.Fatalf("verify --pitr of a damaged piece: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, nil, "verify", "--pitr", "--storage", store, id); r.code != 2 {
		t.Errorf("verify --pitr ID: exit %d, want 2", r.code)
	}
}

// TestBinlogArchiveKill9: the archiver (a service, following) is killed
// with SIGKILL while it runs; started again it continues where the
// archive ends: every write is archived once, the archive verifies.
func TestBinlogArchiveKill9(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_kill_" + hex.EncodeToString(rnd[:])
	execSQL(t, db, "CREATE DATABASE "+name, "CREATE TABLE "+name+".t (id INT PRIMARY KEY)")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	store := t.TempDir()
	from := lastGTID(t, db, "INSERT INTO "+name+".t VALUES (0)")
	// The shared server's binary log holds every earlier test's writes
	// (a sysbench load among them): archive them first, with no deadline, so that the running archiver below starts where this
	// archive ends and has only this test's writes to store.
	start := time.Now()
	must(t, run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--no-encrypt"}, p.conn(true)...)...), "archive --once (the server's history)")
	t.Logf("the server's history archived in %v", time.Since(start).Round(time.Millisecond))
	args := append([]string{"binlog", "archive", "--storage", store, "--no-encrypt", "--flush-interval", "1s"}, p.conn(true)...)
	spool := t.TempDir()
	args = append(args, "--spool-dir", spool)
	cmd := exec.Command(mybakBin, args...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait() // (again: returns at once) stderr is complete
		if t.Failed() {
			t.Logf("the running archiver's stderr:\n%s", stderr.String())
		}
	})
	// The running child (mariadb-binlog) never has the password on argv.
	adminPw, err := os.ReadFile(p.adminPassFile)
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.ArgvWatch(t, strings.TrimSpace(string(adminPw)), "--read-from-remote-server")
	// Other packages' tests write to the shared server meanwhile, so g
	// need not be a piece's last GTID: it is archived once a piece ends at
	// or after it.
	archived := func(g string) func() bool {
		want, err := binlog.ParseGTID(g)
		if err != nil {
			t.Fatalf("GTID %q: %v", g, err)
		}
		return func() bool {
			st, err := local.Open(store)
			if err != nil {
				return false
			}
			ix, err := pitr.LoadIndex(context.Background(), st, nil)
			if err != nil {
				return false
			}
			for _, pc := range ix.Pieces {
				if end, err := pitr.ParseState(pc.LastGTID); err == nil && end.Contains(want) {
					return true
				}
			}
			return false
		}
	}
	g1 := lastGTID(t, db, "INSERT INTO "+name+".t VALUES (1)")
	// Another write right after, as other tests make on the shared
	// server: g1 is then inside a piece, not at its end.
	lastGTID(t, db, "INSERT INTO "+name+".t VALUES (11)")
	testenv.WaitFor(t, 30*time.Second, "the running archiver stores "+g1, archived(g1))
	stop()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	g2 := lastGTID(t, db, "INSERT INTO "+name+".t VALUES (2)")
	if left, _ := filepath.Glob(filepath.Join(spool, "mybak-binlog-*")); len(left) != 1 {
		t.Fatalf("the killed run's spool: %v, want one directory", left)
	}
	r := run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--no-encrypt", "--spool-dir", spool}, p.conn(true)...)...)
	must(t, r, "archive --once after kill -9")
	// The killed run's spool (the binary log, unencrypted) is gone.
	if left, _ := filepath.Glob(filepath.Join(spool, "mybak-binlog-*")); len(left) != 0 {
		t.Errorf("spool directories left: %v", left)
	}
	if !archived(g2)() {
		t.Fatalf("%s not archived after the restart", g2)
	}
	st, _ := local.Open(store)
	ix, _ := pitr.LoadIndex(context.Background(), st, nil)
	fromState, _ := pitr.ParseState(from)
	rep, err := pitr.Verify(context.Background(), st, ix, pitr.VerifyOptions{Deep: true, From: fromState})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify after kill -9: %+v %v", rep.Problems, err)
	}
}

// TestBinlogArchiveSwift: the archive goes into a Swift store beside the
// backups, and find and verify read it back.
func TestBinlogArchiveSwift(t *testing.T) {
	testenv.NeedSwift(t)
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_swift_" + hex.EncodeToString(rnd[:])
	container := uniqueName("binlog")
	t.Cleanup(func() {
		for _, c := range []string{container, container + "_segments"} {
			exec.Command("swift", "--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY"), "delete", c).Run()
		}
	})
	env := append(swiftEnv(), "MYBAK_ENCRYPT_KEY=swift binlog pass", "MYBAK_STORAGE=swift://"+container+"/db1")
	execSQL(t, db, "CREATE DATABASE "+name, "CREATE TABLE "+name+".t (id INT PRIMARY KEY)")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	must(t, run(t, nil, env, append([]string{"backup", "--engine", "mysqldump"}, p.conn(false)...)...), "backup to swift")
	drop := lastGTID(t, db, "DROP TABLE "+name+".t")
	must(t, run(t, nil, env, append([]string{"binlog", "archive", "--once"}, p.conn(true)...)...), "binlog archive to swift")
	r := run(t, nil, env, "binlog", "find", "--statement", "DROP TABLE `"+name+"`")
	must(t, r, "binlog find")
	if !strings.Contains(r.stdout, drop) {
		t.Fatalf("find: want %s:\n%s", drop, r.stdout)
	}
	r = run(t, nil, env, "binlog", "verify", "--deep")
	must(t, r, "binlog verify --deep")
}
