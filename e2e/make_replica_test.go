//go:build linux

package e2e

// End-to-end tests of make-replica: the mybak binary against real MariaDB
// servers started by scripts/mysql-sandbox.sh (sandboxes repl-primary,
// repl-replica, repl-chain, repl-logical, repl-dump; all destroyed at the
// end). Gated like the other MySQL tests (MYBAK_TEST_MYSQL=1; CI=true fails
// without it).

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

func sandboxBase() string {
	if d := os.Getenv("MYBAK_SANDBOX_DIR"); d != "" {
		return d
	}
	return "/tmp/mybak-sandbox"
}

// replicaArgs are make-replica's flags for a replica sandbox name of
// primary p (the replica is reached through its socket as the admin).
func replicaArgs(p *sandbox, name, replPassFile string) []string {
	base := sandboxBase()
	a := []string{"make-replica", "--socket", filepath.Join(base, name, "mysqld.sock"),
		"--user", p.admin, "--password-file", p.adminPassFile,
		"--primary-host", "127.0.0.1", "--primary-port", strconv.Itoa(p.port),
		"--replication-user", "mybak_repl", "--wait-timeout", "60s", "--start-timeout", "60s",
		"--start-cmd", "MYBAK_SANDBOX_DIR='" + base + "' '" + mysqlSandboxSh + "' start-datadir " + name + ` "$MYBAK_DATADIR"`}
	if replPassFile != "" {
		a = append(a, "--replication-password-file", replPassFile)
	}
	return a
}

// pipeRun runs `mybak a... | mybak b...` and returns both results; b's
// standard error also goes to bLog as it comes.
func pipeRun(t *testing.T, a, b []string, bLog io.Writer) (result, result) {
	t.Helper()
	ca, cb := exec.Command(mybakBin, a...), exec.Command(mybakBin, b...)
	ca.Env, cb.Env = cleanEnv(), cleanEnv()
	var ae, bo, be bytes.Buffer
	ca.Stderr, cb.Stdout, cb.Stderr = &ae, &bo, io.MultiWriter(&be, bLog)
	pr, err := ca.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cb.Stdin = pr
	if err := ca.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Start(); err != nil {
		t.Fatal(err)
	}
	codeOf := func(err error) int {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	eb := cb.Wait()
	ea := ca.Wait()
	return result{"", ae.String(), codeOf(ea)}, result{bo.String(), be.String(), codeOf(eb)}
}

// waitRow waits until query returns want on db (replication is asynchronous).
func waitRow(t *testing.T, db *sql.DB, query, want string) {
	t.Helper()
	var got string
	for i := 0; i < 150; i++ {
		if err := db.QueryRow(query).Scan(&got); err == nil && got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: got %q, want %q", query, got, want)
}

func socketDB(t *testing.T, p *sandbox, name string) *sandbox {
	s := *p
	s.name = name
	b, err := os.ReadFile(filepath.Join(sandboxBase(), name, "port"))
	if err != nil {
		t.Fatalf("sandbox %s: %v", name, err)
	}
	s.port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	return &s
}

// TestMakeReplica: a replica from a stored full+incremental chain, a
// chained third server from the replica's own `backup --to-stdout` stream
// (--from-stdin), a replica from a fresh dump with --create-user, one from
// a stored logical backup; writes on the primary arrive everywhere; the
// error paths: datadir not empty, wrong replication password, primary down.
// No secret is on any argv or in any log meanwhile.
func TestMakeReplica(t *testing.T) {
	primary(t)
	for _, n := range []string{"repl-replica", "repl-chain"} {
		exec.Command(mysqlSandboxSh, "destroy", n).Run()
		n := n
		t.Cleanup(func() { exec.Command(mysqlSandboxSh, "destroy", n).Run() })
	}
	p := startSandbox(t, "repl-primary", "")
	pdb := p.db(t)
	seed(t, pdb, "repl_e2e")
	store, work := t.TempDir(), t.TempDir()
	key := keyFile(t, "replica key")
	replPassFile := filepath.Join(sandboxBase(), "credentials", "mybak_repl.password")
	replPW, _ := os.ReadFile(replPassFile)
	secret := strings.TrimSpace(string(replPW))
	backupArgs := append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)
	must(t, run(t, nil, nil, backupArgs...), "full backup")
	execSQL(t, pdb, "INSERT INTO repl_e2e.items (name, price) SELECT CONCAT('inc-', seq), 5 FROM repl_e2e.seq_1_to_500")
	must(t, run(t, nil, nil, append(backupArgs, "--incremental")...), "incremental backup")
	execSQL(t, pdb, "INSERT INTO repl_e2e.notes VALUES (10, 'after the backups')")

	t.Run("datadir not empty", func(t *testing.T) {
		dir := filepath.Join(work, "busy")
		os.MkdirAll(filepath.Join(dir, "mysql"), 0o755)
		r := run(t, nil, nil, append(replicaArgs(p, "repl-unused", replPassFile), "--backup", "latest", "--storage", store,
			"--encrypt-key-file", key, "--datadir", dir)...)
		if r.code != 1 || !strings.Contains(r.stderr, "not empty") || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})

	// 1. From the stored chain.
	stop := testenv.ArgvWatch(t, secret, "make-replica")
	r := run(t, nil, nil, append(replicaArgs(p, "repl-replica", replPassFile), "--backup", "latest", "--storage", store,
		"--encrypt-key-file", key, "--datadir", filepath.Join(work, "replica", "data"), "--log-level", "debug")...)
	stop()
	must(t, r, "make-replica from the stored chain")
	for _, s := range []string{"IO thread", "Yes", "GTID executed", "caught up to"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("status table lacks %q:\n%s", s, r.stdout)
		}
	}
	if strings.Contains(r.stderr, secret) || strings.Contains(r.stdout, secret) {
		t.Errorf("the replication password is in the output:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "MASTER_PASSWORD='***'") {
		t.Errorf("the debug log does not show the redacted CHANGE MASTER:\n%s", r.stderr)
	}
	rs := socketDB(t, p, "repl-replica")
	rdb := rs.db(t)
	sameChecksums(t, checksums(t, pdb, "repl_e2e"), checksums(t, rdb, "repl_e2e"))
	execSQL(t, pdb, "INSERT INTO repl_e2e.notes VALUES (11, 'replicated')")
	waitRow(t, rdb, "SELECT txt FROM repl_e2e.notes WHERE id=11", "replicated")

	// 2. A chained third server from the replica's own stream.
	a := append([]string{"backup", "--engine", "auto", "--to-stdout", "--encrypt-key-file", key}, rs.conn(true)...)
	// Without --start-cmd mybak waits for someone to start the server: the
	// test does, once the datadir is in place.
	chainDir := filepath.Join(work, "chain", "data")
	b := append(replicaArgs(rs, "repl-chain", replPassFile), "--from-stdin", "--encrypt-key-file", key,
		"--datadir", chainDir, "--json")
	for i, arg := range b {
		if arg == "--start-cmd" {
			b = append(b[:i:i], b[i+2:]...)
			break
		}
	}
	// The server is started when make-replica says the datadir is ready.
	ready := &lineWatch{want: "start its server now", seen: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		select {
		case <-ready.seen:
		case <-time.After(5 * time.Minute):
			started <- errors.New("make-replica never said the datadir is ready")
			return
		}
		out, err := exec.Command(mysqlSandboxSh, "start-datadir", "repl-chain", chainDir).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		started <- err
	}()
	stop = testenv.ArgvWatch(t, secret, "make-replica")
	ra, rb := pipeRun(t, a, b, ready)
	stop()
	if err := <-started; err != nil {
		t.Fatalf("start the chained replica: %v", err)
	}
	if !strings.Contains(rb.stderr, "start its server now") {
		t.Errorf("make-replica did not say it waits for the server:\n%s", rb.stderr)
	}
	must(t, ra, "backup --to-stdout of the replica")
	must(t, rb, "make-replica --from-stdin")
	var js struct {
		OK     bool
		Status struct {
			IORunning  string `json:"io_running"`
			SQLRunning string `json:"sql_running"`
		}
		Position struct{ GTID string }
	}
	if err := json.Unmarshal([]byte(rb.stdout), &js); err != nil || !js.OK || js.Status.IORunning != "Yes" || js.Position.GTID == "" {
		t.Fatalf("--json: %v %+v\n%s", err, js, rb.stdout)
	}
	cdb := socketDB(t, p, "repl-chain").db(t)
	execSQL(t, pdb, "INSERT INTO repl_e2e.notes VALUES (12, 'two hops')")
	waitRow(t, cdb, "SELECT txt FROM repl_e2e.notes WHERE id=12", "two hops")
	waitRow(t, rdb, "SELECT txt FROM repl_e2e.notes WHERE id=12", "two hops")

	// 3. A fresh dump straight from the primary, with a new replication
	// user whose password comes from the environment.
	ldb := startSandbox(t, "repl-logical", "")
	envPW := "n3w'repl\\pw"
	stop = testenv.ArgvWatch(t, envPW, "make-replica")
	stopEnv := testenv.EnvironWatch(t, "MYBAK_REPLICATION_PASSWORD=", mybakBin)
	fr := run(t, nil, []string{"MYBAK_REPLICATION_PASSWORD=" + envPW}, "make-replica", "--fresh", "--engine", "mariadb-dump",
		"--host", "127.0.0.1", "--port", strconv.Itoa(ldb.port), "--user", p.admin, "--password-file", p.adminPassFile,
		"--primary-host", "127.0.0.1", "--primary-port", strconv.Itoa(p.port), "--primary-user", p.admin,
		"--primary-password-file", p.adminPassFile, "--replication-user", "repl_new", "--create-user",
		"--replication-user-host", "127.0.0.1", "--wait-timeout", "60s")
	stop()
	if n := stopEnv(); n > 0 {
		t.Errorf("%d child processes saw MYBAK_REPLICATION_PASSWORD", n)
	}
	must(t, fr, "make-replica --fresh --create-user")
	if strings.Contains(fr.stderr, envPW) {
		t.Error("the replication password is in the log")
	}
	var grants string
	pdb.QueryRow("SHOW GRANTS FOR 'repl_new'@'127.0.0.1'").Scan(&grants)
	if !strings.Contains(grants, "GRANT REPLICATION SLAVE ON *.*") || strings.Contains(grants, "SELECT") {
		t.Errorf("grants of the created user: %s", grants)
	}
	lrdb := ldb.db(t)
	sameChecksums(t, checksums(t, pdb, "repl_e2e"), checksums(t, lrdb, "repl_e2e"))
	execSQL(t, pdb, "INSERT INTO repl_e2e.notes VALUES (13, 'to the logical one')")
	waitRow(t, lrdb, "SELECT txt FROM repl_e2e.notes WHERE id=13", "to the logical one")

	// 4. From a stored logical backup.
	r = run(t, nil, nil, append([]string{"backup", "--engine", "mysqldump", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	must(t, r, "logical backup")
	dumpID := strings.TrimSpace(r.stdout)
	execSQL(t, pdb, "INSERT INTO repl_e2e.notes VALUES (14, 'after the dump')")
	ddb := startSandbox(t, "repl-dump", "")
	dargs := []string{"make-replica", "--backup", dumpID, "--storage", store, "--encrypt-key-file", key,
		"--host", "127.0.0.1", "--port", strconv.Itoa(ddb.port), "--user", p.admin, "--password-file", p.adminPassFile,
		"--primary-host", "127.0.0.1", "--primary-port", strconv.Itoa(p.port), "--replication-user", "mybak_repl",
		"--wait-timeout", "30s"}
	must(t, run(t, nil, nil, append(dargs, "--replication-password-file", replPassFile)...), "make-replica from a stored dump")
	dd := ddb.db(t)
	waitRow(t, dd, "SELECT txt FROM repl_e2e.notes WHERE id=14", "after the dump")

	// Error paths, on the last replica (stopped first; --force re-applies).
	execSQL(t, dd, "STOP SLAVE")
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not-the-password\n"), 0o600)
	r = run(t, nil, nil, append(dargs, "--replication-password-file", wrong, "--force")...)
	if r.code != 1 || !strings.Contains(r.stderr, "Last_IO_Error") || !strings.Contains(r.stderr, "1045") ||
		strings.Contains(r.stderr+r.stdout, "not-the-password") || !strings.Contains(r.stdout, "last IO error") {
		t.Errorf("wrong replication password: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	execSQL(t, dd, "STOP SLAVE")
	sandboxScript(t, "stop", "repl-primary")
	r = run(t, nil, nil, append(dargs, "--replication-password-file", replPassFile, "--force")...)
	if r.code != 1 || !strings.Contains(r.stderr, "Last_IO_Error") || !strings.Contains(r.stderr, "2003") {
		t.Errorf("primary down: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestMakeReplicaUsage: refusals that need no server, and a stream that is
// not mybak's on --from-stdin.
func TestMakeReplicaUsage(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("x\n"), 0o600)
	base := []string{"make-replica", "--primary-host", "127.0.0.1", "--replication-user", "r", "--replication-password-file", pw}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"no source", base, "", 2, "say where the data comes from"},
		{"two sources", append(base, "--fresh", "--from-stdin"), "", 2, "once"},
		{"no primary", []string{"make-replica", "--fresh"}, "", 2, "--primary-host and --replication-user"},
		{"no password", []string{"make-replica", "--fresh", "--primary-host", "h", "--replication-user", "r"}, "", 2, "MYBAK_REPLICATION_PASSWORD"},
		{"fresh physical", append(base, "--fresh", "--engine", "mariabackup", "--primary-user", "u"), "", 2, "--to-stdout ... | mybak make-replica --from-stdin"},
		{"fresh without primary user", append(base, "--fresh"), "", 2, "--primary-user"},
		{"foreign stdin", append(base, "--from-stdin"), "-- MySQL dump\n", 1, "does not start with"},
		{"empty stdin", append(base, "--from-stdin"), "", 1, "standard input is empty"},
		{"to-stdout with storage", []string{"backup", "--to-stdout", "--storage", t.TempDir(), "--no-encrypt"}, "x", 2, "drop --storage"},
		{"to-stdout incremental", []string{"backup", "--to-stdout", "--incremental", "--no-encrypt"}, "x", 2, "drop --incremental"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, strings.NewReader(tc.stdin), nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d (want %d)\n%s", r.code, tc.code, r.stderr)
			}
		})
	}
}

// lineWatch is a writer that closes seen once what was written to it
// contains want (a log line another process prints).
type lineWatch struct {
	want string
	seen chan struct{}
	mu   sync.Mutex
	buf  []byte
	done bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.buf = append(w.buf, p...)
		if bytes.Contains(w.buf, []byte(w.want)) {
			w.done = true
			close(w.seen)
		}
	}
	return len(p), nil
}
