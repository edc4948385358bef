//go:build linux

package e2e

// End-to-end tests of the MySQL engines: the mybak binary against real
// MariaDB servers started by scripts/mysql-sandbox.sh. scripts/test.sh
// starts the sandbox "primary" and exports its MYBAK_TEST_MYSQL_* variables;
// the tests start further sandboxes (restore targets, a small-redo server)
// in the same MYBAK_SANDBOX_DIR and destroy them when they finish. Without
// MYBAK_TEST_MYSQL=1 they are skipped, and with CI=true they fail.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// TestMySQLPhysicalChain: full + two incrementals of the primary (the
// second with an explicit --parent), encrypted; list shows the chain;
// deleting the full needs --cascade; restore of the chain with copy-back
// into a new datadir; a server started on it has the same CHECKSUM TABLE.
// No argv on the host shows the password meanwhile.
func TestMySQLPhysicalChain(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	seed(t, db, "e2e_phys")
	store, work := t.TempDir(), t.TempDir()
	key := keyFile(t, "physical chain key")
	backupArgs := append([]string{"backup", "--engine", "auto", "--storage", store, "--encrypt-key-file", key, "--parallel", "2"}, p.conn(false)...)

	stop := testenv.ArgvWatch(t, p.password(t), "--stream=xbstream")
	r := run(t, nil, nil, backupArgs...)
	must(t, r, "full backup")
	full := strings.TrimSpace(r.stdout)
	execSQL(t, db, "INSERT INTO e2e_phys.items (name, price) SELECT CONCAT('inc1-', seq), 3 FROM e2e_phys.seq_1_to_3000",
		"UPDATE e2e_phys.items SET price = price + 1 WHERE id % 7 = 0")
	r = run(t, nil, nil, append(backupArgs, "--incremental", "--use-memory", "64M")...)
	must(t, r, "incremental 1")
	inc1 := strings.TrimSpace(r.stdout)
	execSQL(t, db, "DELETE FROM e2e_phys.items WHERE id % 11 = 0", "INSERT INTO e2e_phys.notes VALUES (3, 'inc2')")
	r = run(t, nil, nil, append(backupArgs, "--incremental", "--parent", inc1)...)
	must(t, r, "incremental 2")
	inc2 := strings.TrimSpace(r.stdout)
	stop() // fails the test when it never saw mariabackup running
	want := checksums(t, db, "e2e_phys")

	fm, m1, m2 := metaOf(t, store, full), metaOf(t, store, inc1), metaOf(t, store, inc2)
	for _, k := range []string{"tool", "tool_version", "backup_type", "from_lsn", "to_lsn", "binlog_file", "binlog_pos", "gtid", "server_flavor"} {
		if fm[k] == "" {
			t.Errorf("full backup's manifest lacks meta %q: %v", k, fm)
		}
	}
	if fm["backup_type"] != "full-backuped" || m1["backup_type"] != "incremental" || m1["from_lsn"] != fm["to_lsn"] || m2["from_lsn"] != m1["to_lsn"] {
		t.Errorf("LSN chain: full %v, inc1 %v, inc2 %v", fm, m1, m2)
	}
	if mf := manifestOf(t, store, inc2); mf["parent"] != inc1 || mf["type"] != "incremental" {
		t.Errorf("inc2 manifest: parent %v type %v", mf["parent"], mf["type"])
	}
	if mf := manifestOf(t, store, full); mf["engine"].(map[string]any)["name"] != "mariabackup" ||
		!strings.Contains(fmt.Sprint(mf["engine"].(map[string]any)["server_version"]), "MariaDB") {
		t.Errorf("full manifest engine: %v", mf["engine"])
	}

	r = run(t, nil, nil, "list", "--storage", store)
	must(t, r, "list")
	if !strings.Contains(r.stdout, "incremental of "+full) || !strings.Contains(r.stdout, "incremental of "+inc1) {
		t.Errorf("list does not show the chain:\n%s", r.stdout)
	}
	r = run(t, nil, nil, "delete", "--storage", store, full)
	if r.code != 1 || !strings.Contains(r.stderr, "--cascade") {
		t.Errorf("delete of a parent without --cascade: exit %d\n%s", r.code, r.stderr)
	}
	must(t, run(t, nil, nil, "verify", "--deep", "--storage", store, "--encrypt-key-file", key, inc2), "verify")

	target, datadir := filepath.Join(work, "prepared"), filepath.Join(work, "restored", "data")
	r = run(t, nil, nil, "restore", inc2, "--storage", store, "--encrypt-key-file", key, "--target-dir", target, "--copy-back", "--datadir", datadir)
	must(t, r, "restore chain")
	for _, s := range []string{"extracting", full, inc1, inc2, "datadir restored"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("restore log lacks %q", s)
		}
	}
	if fi, err := os.Stat(filepath.Join(datadir, "ibdata1")); err != nil {
		t.Fatal(err)
	} else if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && st.Uid == 0 {
		t.Error("restored files are owned by root, not the server's user")
	}
	leftovers, _ := filepath.Glob(filepath.Join(work, "*", ".*mybak-*"))
	more, _ := filepath.Glob(filepath.Join(work, ".*mybak-*"))
	if len(leftovers)+len(more) > 0 {
		t.Errorf("staging dirs left behind: %v %v", leftovers, more)
	}

	// Refusals: a non-empty target, a datadir a server runs on.
	r = run(t, nil, nil, "restore", inc2, "--storage", store, "--encrypt-key-file", key, "--target-dir", target)
	if r.code != 1 || !strings.Contains(r.stderr, "not empty") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("restore into a non-empty target: exit %d\n%s", r.code, r.stderr)
	}
	// An interrupted copy-back leaves no datadir (only its staging dir
	// while it runs, removed on the signal). mariabackup on mybak's PATH
	// is a wrapper whose copy-back copies, says so in a file, and then
	// does not end: SIGTERM comes while the copy-back runs, with the
	// staging dir full, however fast the copy was.
	idir := filepath.Join(work, "interrupted", "data")
	copied := filepath.Join(t.TempDir(), "copied")
	wrapDir := slowCopyBack(t, copied)
	cmd := exec.Command(mybakBin, "restore", inc2, "--storage", store, "--encrypt-key-file", key, "--copy-back", "--datadir", idir)
	cmd.Env = append(cleanEnv(), "PATH="+wrapDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	testenv.WaitFor(t, 5*time.Minute, "the copy-back to copy the files", func() bool {
		_, err := os.Stat(copied)
		return err == nil
	})
	if m, _ := filepath.Glob(filepath.Join(work, "interrupted", ".data.mybak-partial-*", "ibdata1")); len(m) == 0 {
		t.Fatalf("the copy-back runs, but no staging datadir holds ibdata1:\n%s", se.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("restore did not stop within a minute of SIGTERM:\n%s", se.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("a restore interrupted during copy-back: %v, want exit status 130\n%s", err, se.String())
	}
	if _, serr := os.Stat(idir); serr == nil {
		t.Errorf("an interrupted restore left a datadir:\n%s", se.String())
	}
	if m, _ := filepath.Glob(filepath.Join(work, "interrupted", ".data.mybak-partial-*")); len(m) > 0 {
		t.Errorf("an interrupted restore left its staging datadir %v", m)
	}

	// --force replaces a non-empty target (here with the same prepared
	// backup, with prepare's --use-memory).
	os.WriteFile(filepath.Join(target, "stale-file"), []byte("x"), 0o644)
	r = run(t, nil, nil, "restore", inc2, "--storage", store, "--encrypt-key-file", key, "--target-dir", target, "--force", "--use-memory", "64M")
	must(t, r, "restore --force")
	if _, err := os.Stat(filepath.Join(target, "stale-file")); err == nil {
		t.Error("--force kept the old content of the target")
	}
	if _, err := os.Stat(filepath.Join(target, "ibdata1")); err != nil {
		t.Errorf("--force: %v", err)
	}
	// --copy-back without --target-dir (prepared in a staging dir) and --owner.
	if os.Geteuid() == 0 {
		owned := filepath.Join(work, "owned", "data")
		must(t, run(t, nil, nil, "restore", full, "--storage", store, "--encrypt-key-file", key, "--copy-back", "--datadir", owned, "--owner", "nobody"),
			"restore --owner")
		fi, err := os.Stat(filepath.Join(owned, "ibdata1"))
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := user.Lookup("nobody"); fmt.Sprint(fi.Sys().(*syscall.Stat_t).Uid) != u.Uid {
			t.Errorf("--owner nobody: files owned by uid %d", fi.Sys().(*syscall.Stat_t).Uid)
		}
		if m, _ := filepath.Glob(filepath.Join(work, "owned", ".*")); len(m) > 0 {
			t.Errorf("staging left behind: %v", m)
		}
	}

	rs := startSandbox(t, "e2e-phys-restored", datadir)
	sameChecksums(t, want, checksums(t, rs.db(t), "e2e_phys"))
	r = run(t, nil, nil, "restore", inc2, "--storage", store, "--encrypt-key-file", key, "--target-dir", filepath.Join(work, "t2"),
		"--copy-back", "--datadir", datadir, "--force")
	if r.code != 1 || !strings.Contains(r.stderr, "running server") {
		t.Errorf("restore over a running server's datadir: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "t2")); err == nil {
		t.Error("a refused restore created its target dir")
	}
}

// TestMySQLLogical: mysqldump engine, binlog coordinates in the manifest,
// --to-stdout ends with the trailer, --to-mysql into an empty server gives
// the same checksums, and a second --to-mysql is refused.
func TestMySQLLogical(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	seed(t, db, "e2e_logical")
	store := t.TempDir()
	key := keyFile(t, "logical key")
	stop := testenv.ArgvWatch(t, p.password(t), "--single-transaction")
	r := run(t, nil, nil, "backup", "--engine", "mysqldump", "--storage", store, "--encrypt-key-file", key, "--compress", "zstd",
		"--socket", p.socket, "--user", p.user, "--password-file", p.passFile)
	stop()
	must(t, r, "logical backup")
	id := strings.TrimSpace(r.stdout)
	want := checksums(t, db, "e2e_logical")
	meta := metaOf(t, store, id)
	if meta["binlog_file"] == "" || meta["binlog_pos"] == "" || meta["gtid"] == "" || meta["tool"] != "mysqldump" {
		t.Errorf("logical meta: %v", meta)
	}
	r = run(t, nil, nil, "restore", id, "--storage", store, "--encrypt-key-file", key, "--to-stdout")
	must(t, r, "restore --to-stdout")
	if !strings.Contains(r.stdout[max(0, len(r.stdout)-200):], "-- Dump completed") || !strings.Contains(r.stdout, "e2e_logical") {
		t.Errorf("--to-stdout is not the dump (ends %q)", r.stdout[max(0, len(r.stdout)-200):])
	}

	target := startSandbox(t, "e2e-logical", "")
	cnf := filepath.Join(t.TempDir(), "my.cnf")
	apw, _ := os.ReadFile(target.adminPassFile)
	os.WriteFile(cnf, []byte(fmt.Sprintf("[client]\nhost=127.0.0.1\nport=%d\nuser=%s\npassword=\"%s\"\n", target.port, target.admin,
		strings.TrimSpace(string(apw)))), 0o600)
	r = run(t, nil, nil, "restore", id, "--storage", store, "--encrypt-key-file", key, "--to-mysql", "--defaults-file", cnf)
	must(t, r, "restore --to-mysql --defaults-file")
	sameChecksums(t, want, checksums(t, target.db(t), "e2e_logical"))
	r = run(t, nil, nil, append([]string{"restore", id, "--storage", store, "--encrypt-key-file", key, "--to-mysql"}, target.conn(true)...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "already holds the database(s)") {
		t.Errorf("second --to-mysql: exit %d\n%s", r.code, r.stderr)
	}
}

// TestMySQLBackupUnderLoad: a physical backup while sysbench writes; the
// restored server's tables hold exactly table-size rows (oltp_write_only
// deletes and re-inserts within one transaction) and pass CHECK TABLE.
func TestMySQLBackupUnderLoad(t *testing.T) {
	p := primary(t)
	heavyLoadLock(t)
	db := p.db(t)
	execSQL(t, db, "DROP DATABASE IF EXISTS e2e_sb", "CREATE DATABASE e2e_sb")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb := sysbench(t, p, "e2e_sb", "--tables=2", "--table-size=20000")
	if out, err := sb(ctx, "--threads=2", "prepare").CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	lctx, stopLoad := context.WithCancel(ctx)
	load := sb(lctx, "--threads=4", "--time=120", "run")
	base := commits(t, db)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stopLoad(); load.Wait() }()
	waitCommits(t, db, base+200)

	store, work := t.TempDir(), t.TempDir()
	r := run(t, nil, nil, append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--no-encrypt"}, p.conn(false)...)...)
	must(t, r, "backup under load")
	id := strings.TrimSpace(r.stdout)
	stopLoad()
	datadir := filepath.Join(work, "data")
	must(t, run(t, nil, nil, "restore", id, "--storage", store, "--move-back", "--datadir", datadir), "restore --move-back")
	rs := startSandbox(t, "e2e-load-restored", datadir)
	rdb := rs.db(t)
	for _, tb := range []string{"e2e_sb.sbtest1", "e2e_sb.sbtest2"} {
		var n int
		if err := rdb.QueryRow("SELECT COUNT(*) FROM " + tb).Scan(&n); err != nil || n != 20000 {
			t.Errorf("%s: %d rows (%v), want 20000", tb, n, err)
		}
		var tbl, op, typ, msg string
		if err := rdb.QueryRow("CHECK TABLE "+tb).Scan(&tbl, &op, &typ, &msg); err != nil || msg != "OK" {
			t.Errorf("CHECK TABLE %s: %s %v", tb, msg, err)
		}
	}
}

// slowCopyBack writes a mariabackup wrapper into a new directory (put it
// first on PATH) that runs the real tool, except that after a --copy-back
// it creates the file copied and then waits to be killed instead of
// exiting: a copy-back that is still running, its files in place.
func slowCopyBack(t *testing.T, copied string) string {
	t.Helper()
	real := testenv.NeedTool(t, "mariabackup", "mariadb-backup")
	dir := t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do
	if [ "$a" = --copy-back ]; then
		%[1]q "$@" || exit $?
		: > %[2]q
		exec sleep 3600
	fi
done
exec %[1]q "$@"
`, real, copied)
	if err := os.WriteFile(filepath.Join(dir, "mariabackup"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// commits returns the server's count of committed transactions (sysbench's
// load commits one per event).
func commits(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var name string
	var n int64
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_commit'").Scan(&name, &n); err != nil {
		t.Fatalf("SHOW GLOBAL STATUS LIKE 'Com_commit': %v", err)
	}
	return n
}

// waitCommits waits until the server has committed n transactions in all:
// a load started meanwhile is running.
func waitCommits(t *testing.T, db *sql.DB, n int64) {
	t.Helper()
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d commits (the load to run)", n), func() bool { return commits(t, db) >= n })
}

// sysbench returns a command maker for sysbench oltp_write_only against s
// (the password in a config file, not on argv).
func sysbench(t *testing.T, s *sandbox, dbName string, opts ...string) func(ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	testenv.NeedTool(t, "sysbench")
	cfg := testenv.SysbenchConfig(t, s.adminPassFile)
	return func(ctx context.Context, args ...string) *exec.Cmd {
		base := append([]string{cfg, "oltp_write_only", "--db-driver=mysql", "--mysql-socket=" + s.socket, "--mysql-db=" + dbName,
			"--mysql-user=" + s.admin}, opts...)
		return exec.CommandContext(ctx, "sysbench", append(base, args...)...)
	}
}

// TestMySQLFailures reproduces the known failures for real and checks the
// message the user sees.
func TestMySQLFailures(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	store := t.TempDir()
	noComplete := func(t *testing.T) {
		t.Helper()
		r := run(t, nil, nil, "list", "--storage", store, "--json")
		if strings.Contains(r.stdout, `"complete"`) {
			t.Errorf("a failed backup left a complete backup:\n%s", r.stdout)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(bad, []byte("not-the-password\n"), 0o600)
		for _, eng := range []string{"auto", "mysqldump"} {
			r := run(t, nil, nil, "backup", "--engine", eng, "--storage", store, "--no-encrypt", "--host", "127.0.0.1",
				"--port", strconv.Itoa(p.port), "--user", p.user, "--password-file", bad)
			if r.code != 1 || !strings.Contains(r.stderr, "access denied") || !strings.Contains(r.stderr, "check the user and password") {
				t.Errorf("%s: exit %d\n%s", eng, r.code, r.stderr)
			}
			if strings.Contains(r.stderr, "not-the-password") {
				t.Error("the password is in the error message")
			}
		}
		// MYSQL_PWD works, and reaches no child: neither its argv nor its
		// environment (only mybak's own).
		stop := testenv.ArgvWatch(t, p.password(t), "--single-transaction")
		stopEnv := testenv.EnvironWatch(t, "MYSQL_PWD="+p.password(t), mybakBin)
		for _, eng := range []string{"mysqldump", "auto"} {
			r := run(t, nil, []string{"MYSQL_PWD=" + p.password(t)}, "backup", "--engine", eng, "--storage", t.TempDir(), "--no-encrypt",
				"--host", "127.0.0.1", "--port", strconv.Itoa(p.port), "--user", p.user)
			must(t, r, "backup with MYSQL_PWD")
		}
		stop()
		if n := stopEnv(); n > 0 {
			t.Errorf("MYSQL_PWD reached %d child process(es)", n)
		}
		noComplete(t)
	})

	t.Run("tool missing", func(t *testing.T) {
		r := run(t, nil, []string{"PATH=" + t.TempDir()}, append([]string{"backup", "--engine", "auto", "--storage", store, "--no-encrypt"}, p.conn(false)...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "mariabackup not found on PATH: install mariadb-backup") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("missing privilege", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("weak-pass-e2e\n"), 0o600)
		execSQL(t, db, "CREATE OR REPLACE USER 'e2e_weak'@'127.0.0.1' IDENTIFIED BY 'weak-pass-e2e'",
			"GRANT PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO 'e2e_weak'@'127.0.0.1'")
		conn := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(p.port), "--user", "e2e_weak", "--password-file", pw}
		r := run(t, nil, nil, append([]string{"backup", "--engine", "auto", "--storage", store, "--no-encrypt"}, conn...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "RELOAD") || !strings.Contains(r.stderr, "GRANT") {
			t.Errorf("backup: exit %d\n%s", r.code, r.stderr)
		}
		r = run(t, nil, nil, append([]string{"preflight", "--sample", "1s"}, conn...)...)
		if r.code != 1 || !regexp.MustCompile(`privileges\s+FAIL.*RELOAD`).MatchString(r.stdout) {
			t.Errorf("preflight: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		r = run(t, nil, nil, append([]string{"backup", "--preflight", "--engine", "auto", "--storage", store, "--no-encrypt"}, conn...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "not backing up") || r.stdout != "" {
			t.Errorf("backup --preflight: exit %d\n%s", r.code, r.stderr)
		}
		noComplete(t)
	})

	t.Run("backup lock blocked", func(t *testing.T) {
		execSQL(t, db, "DROP DATABASE IF EXISTS e2e_ftwrl", "CREATE DATABASE e2e_ftwrl", "CREATE TABLE e2e_ftwrl.t (id INT) ENGINE=Aria",
			"INSERT INTO e2e_ftwrl.t VALUES (1)")
		go db.Exec("SELECT SLEEP(20) FROM e2e_ftwrl.t")
		defer func() {
			var id int64
			if db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(20) FROM e2e_ftwrl%' LIMIT 1").Scan(&id) == nil {
				db.Exec(fmt.Sprintf("KILL QUERY %d", id))
			}
		}()
		testenv.WaitFor(t, 30*time.Second, "SELECT SLEEP(20) to run for 1 s", func() bool {
			var ms float64
			return db.QueryRow("SELECT TIME_MS FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(20) FROM e2e_ftwrl%' LIMIT 1").Scan(&ms) == nil && ms >= 1000
		})
		r := run(t, nil, nil, append([]string{"preflight", "--sample", "1s", "--long-query", "1s"}, p.conn(false)...)...)
		if r.code != 1 || !regexp.MustCompile(`long queries\s+FAIL.*SLEEP\(20\)`).MatchString(r.stdout) {
			t.Errorf("preflight: exit %d\n%s", r.code, r.stdout)
		}
		r = run(t, nil, nil, append([]string{"backup", "--engine", "auto", "--storage", store, "--no-encrypt", "--ftwrl-wait-timeout", "2"}, p.conn(false)...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "could not take its backup lock") || !strings.Contains(r.stderr, "SLEEP(20)") ||
			!strings.Contains(r.stderr, "--ftwrl-wait-timeout") {
			t.Errorf("backup: exit %d\n%s", r.code, r.stderr)
		}
		noComplete(t)
	})

	t.Run("lock wait timeout on mariabackup", func(t *testing.T) {
		r := run(t, nil, nil, append([]string{"backup", "--engine", "auto", "--storage", store, "--no-encrypt", "--lock-wait-timeout", "5"}, p.conn(false)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "use --ftwrl-wait-timeout") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("extra args reach the tool", func(t *testing.T) {
		r := run(t, nil, nil, append(append([]string{"backup", "--engine", "auto", "--storage", store, "--no-encrypt"}, p.conn(false)...),
			"--", "--no-such-option-xyz")...)
		if r.code != 1 || !strings.Contains(r.stderr, "no-such-option-xyz") || !strings.Contains(r.stderr, "full log") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
		noComplete(t)
	})

	t.Run("child killed", func(t *testing.T) {
		cmd := exec.Command(mybakBin, append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--no-encrypt", "--throttle", "2"}, p.conn(false)...)...)
		cmd.Env = cleanEnv()
		var se bytes.Buffer
		cmd.Stderr = &se
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killed := false
		for i := 0; i < 300 && !killed; i++ {
			time.Sleep(20 * time.Millisecond)
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
				if err != nil {
					continue
				}
				f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
				if len(f) > 1 && f[1] == strconv.Itoa(cmd.Process.Pid) && strings.Contains(string(b), "(mariabackup)") {
					pid, _ := strconv.Atoi(e.Name())
					syscall.Kill(pid, syscall.SIGKILL)
					killed = true
				}
			}
		}
		err := cmd.Wait()
		if !killed {
			t.Fatalf("never saw mariabackup running (backup: %v)\n%s", err, se.String())
		}
		if err == nil || !strings.Contains(se.String(), "killed by") {
			t.Errorf("backup with its tool killed: %v\n%s", err, se.String())
		}
		if !strings.Contains(se.String(), "full log") {
			t.Errorf("the error does not point to the tool's log:\n%s", se.String())
		}
		noComplete(t)
	})

	// A dump cut on a statement boundary, stored as is: the trailer check
	// stops it before the held-back tail is applied.
	t.Run("truncated dump", func(t *testing.T) {
		seed(t, db, "e2e_trunc")
		st := t.TempDir()
		r := run(t, nil, nil, append([]string{"backup", "--engine", "mysqldump", "--storage", st, "--no-encrypt"}, p.conn(false)...)...)
		must(t, r, "dump")
		id := strings.TrimSpace(r.stdout)
		r = run(t, nil, nil, "restore", id, "--storage", st, "--to-stdout")
		must(t, r, "to-stdout")
		dump := r.stdout
		cut := strings.LastIndex(dump[:len(dump)*2/3], ";\n") + 2
		r = run(t, strings.NewReader(dump[:cut]), nil, "backup", "--engine", "stdin", "--storage", st, "--no-encrypt")
		must(t, r, "store the cut dump")
		target := startSandbox(t, "e2e-trunc", "")
		r = run(t, nil, nil, append([]string{"restore", strings.TrimSpace(r.stdout), "--storage", st, "--to-mysql"}, target.conn(true)...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "Dump completed") || !strings.Contains(r.stderr, "PARTIAL") || !strings.Contains(r.stderr, "lines") {
			t.Errorf("cut dump: exit %d\n%s", r.code, r.stderr)
		}
		// The stored object of the real dump cut short: caught by the
		// manifest before anything is applied (exit 3: damaged backup).
		obj, _ := filepath.Glob(filepath.Join(st, id, "data*"))
		fi, _ := os.Stat(obj[0])
		os.Truncate(obj[0], fi.Size()/2)
		target2 := startSandbox(t, "e2e-trunc2", "")
		r = run(t, nil, nil, append([]string{"restore", id, "--storage", st, "--to-mysql"}, target2.conn(true)...)...)
		if r.code != 3 || !strings.Contains(r.stderr, "nothing was applied") {
			t.Errorf("truncated object: exit %d\n%s", r.code, r.stderr)
		}
		var n int
		target2.db(t).QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='e2e_trunc'").Scan(&n)
		if n != 0 {
			t.Error("the truncated backup was applied")
		}
	})

	t.Run("SQL error in dump", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("CREATE DATABASE e2e_sqlerr;\nCREATE TABLE e2e_sqlerr.t (id INT PRIMARY KEY, v TEXT);\n")
		b.WriteString("INSERT INTO e2e_sqlerr.t VALUES (1, 'ok');\nINSERT INTO e2e_sqlerr.t VALUES (2, 'broken' ;\n")
		for i := 0; i < 20000; i++ {
			fmt.Fprintf(&b, "INSERT INTO e2e_sqlerr.t VALUES (%d, '%s');\n", i+10, strings.Repeat("x", 500))
		}
		b.WriteString("-- Dump completed on 2026-01-01\n")
		st := t.TempDir()
		r := run(t, strings.NewReader(b.String()), nil, "backup", "--engine", "stdin", "--storage", st, "--no-encrypt")
		must(t, r, "store the dump")
		target := startSandbox(t, "e2e-sqlerr", "")
		r = run(t, nil, nil, append([]string{"restore", "latest", "--storage", st, "--to-mysql"}, target.conn(true)...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "ERROR 1064") || !strings.Contains(r.stderr, "at line 4") ||
			strings.Contains(r.stderr, "broken pipe") || !strings.Contains(r.stderr, "PARTIAL") {
			t.Errorf("SQL error: exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestMySQLRedoWrap: 4 MiB of redo, sysbench oltp_write_only with 8
// threads, mariabackup --throttle=1: mybak must fail within a minute with
// the redo advice, and preflight must flag the redo headroom.
// (To leave it out of a run by hand: go test -skip TestMySQLRedoWrap.)
func TestMySQLRedoWrap(t *testing.T) {
	mysqlTests(t)
	heavyLoadLock(t)
	privateTmp(t)
	s := startSandbox(t, "e2e-redo", "", "--innodb-log-file-size=4M")
	sdb := s.db(t)
	execSQL(t, sdb, "CREATE DATABASE sbtest")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb := sysbench(t, s, "sbtest", "--tables=4", "--table-size=20000")
	if out, err := sb(ctx, "--threads=2", "prepare").CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	lctx, stopLoad := context.WithCancel(ctx)
	load := sb(lctx, "--threads=8", "--time=600", "--report-interval=5", "run")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	base := commits(t, sdb)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan struct{})
	go func() { load.Wait(); close(loadDone) }()
	defer func() { stopLoad(); <-loadDone }()
	waitCommits(t, sdb, base+200)

	r := run(t, nil, nil, append([]string{"preflight", "--sample", "2s", "--json"}, s.conn(false)...)...)
	var rep struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("preflight --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	redoFailed := false
	for _, c := range rep.Checks {
		redoFailed = redoFailed || (c.Name == "redo" && c.Status == "fail")
	}
	if r.code != 1 || rep.OK || !redoFailed {
		t.Errorf("preflight under load with 4 MiB redo: exit %d %+v", r.code, rep)
	}

	store := t.TempDir()
	start := time.Now()
	// Bounded: without a wrap, --throttle=1 copies for minutes.
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer bcancel()
	wd := t.TempDir()
	cmd := exec.CommandContext(bctx, mybakBin, append([]string{"backup", "--engine", "auto", "--storage", store, "--no-encrypt", "--throttle=1",
		"--work-dir", wd}, s.conn(false)...)...)
	cmd.Env = cleanEnv()
	var se bytes.Buffer
	cmd.Stderr = &se
	cmd.Run()
	r = result{stderr: se.String(), code: cmd.ProcessState.ExitCode()}
	took := time.Since(start)
	t.Logf("backup failed after %s:\n%s", took.Round(time.Millisecond), r.stderr)
	select {
	case <-loadDone:
		t.Logf("sysbench ended before the backup did:\n%s", loadOut.String())
	default:
	}
	if r.code != 1 || !strings.Contains(r.stderr, "redo log wrapped") {
		t.Fatalf("want a redo wrap failure, got exit %d", r.code)
	}
	for _, want := range []string{"innodb_log_file_size", "--throttle", "quieter window"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("advice lacks %q", want)
		}
	}
	// When the redo wraps depends on the load and on the runner (about 25 s
	// on a quiet 2-core machine, later when every package's tests compete
	// for the cores); what mybak controls is how soon it acts once the
	// tool's first read of overwritten redo failed (mariabackup alone keeps
	// retrying for minutes).
	end := time.Now()
	logs, _ := filepath.Glob(filepath.Join(wd, "mybak-backup-*", "mariabackup.log"))
	if len(logs) != 1 {
		t.Fatalf("the tool's log was not kept in --work-dir: %v", logs)
	}
	b, _ := os.ReadFile(logs[0])
	var first time.Time
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "Retrying read of log") || strings.Contains(l, "Was only able to copy") {
			if f := strings.Fields(l); len(f) > 3 {
				first, _ = time.ParseInLocation("2006-01-02 15:04:05", f[1]+" "+f[2], time.Local)
			}
			break
		}
	}
	if !first.IsZero() {
		t.Logf("mybak stopped the backup %s after the tool's first failed read of the redo log", end.Sub(first).Round(time.Second))
		if end.Sub(first) > 15*time.Second {
			t.Errorf("mybak took %s after the first failed redo read to stop the backup", end.Sub(first))
		}
	}
	if took > time.Minute {
		t.Logf("NOTE: the redo log wrapped only after %s (a loaded runner); on a quiet one it wraps within about 25 s", took.Round(time.Second))
	}
	if took > 2*time.Minute {
		t.Errorf("detection took %s", took)
	}
	if out, _ := exec.Command("pgrep", "-f", "mybak-backup-.*--throttle=1").Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("mariabackup still running after mybak exited: %s", out)
	}
}

// TestMySQLUsage: flag combinations of the MySQL engines that are refused
// before anything connects (exit 2). Needs no server.
func TestMySQLUsage(t *testing.T) {
	store := t.TempDir()
	open := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(open, []byte("secret\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "latest", "--copy-back"}, "--datadir"},
		{[]string{"restore", "latest", "--datadir", "/x"}, "--copy-back"},
		{[]string{"restore", "latest", "--copy-back", "--move-back", "--datadir", "/x"}, "exclude"},
		{[]string{"restore", "latest", "--to-mysql", "--target-dir", "/x"}, "pick one"},
		{[]string{"restore", "latest"}, "--to-mysql"},
		{[]string{"backup", "--engine", "stdin", "--incremental"}, "physical engine"},
		{[]string{"backup", "--engine", "percona"}, "unknown engine"},
		{[]string{"backup", "--engine", "auto", "--password-file", open}, "chmod 600"},
		{[]string{"backup", "--engine", "auto", "stray"}, "after --"},
		{[]string{"backup", "--engine", "auto", "--password", "x"}, "password"},
		{[]string{"preflight", "--engine", "stdin"}, "--engine"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, nil, nil, append(tc.args, "--storage", store, "--no-encrypt")...)
			if tc.args[0] != "backup" {
				r = run(t, nil, nil, append(tc.args, "--storage", store)...)
			}
			if tc.args[0] == "preflight" {
				r = run(t, nil, nil, tc.args...)
			}
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

// heavyLoadLock serialises the redo-wrap reproductions of this package and
// of the mysql package (go test runs packages in parallel): two sysbench
// loads at once on a 2-core runner slow both servers so much that neither
// redo log wraps. It holds an flock on a file in the temp dir until the
// test ends.
func heavyLoadLock(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "mybak-test-redo-wrap.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}
