//go:build linux

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRestoreUntil: restore with a recovery target. A logical backup into
// a running server: the newest backup that reaches the target is chosen,
// restored and rolled forward to just before the DROP TABLE in one
// command; a target the archive cannot reach fails before anything is
// written. A physical chain: restored into a datadir, the server started
// with --start-cmd and rolled forward; without --start-cmd the exact
// binlog replay command is printed.
func TestRestoreUntil(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_until_" + hex.EncodeToString(rnd[:])
	execSQL(t, db, "CREATE DATABASE "+name, "CREATE TABLE "+name+".t (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB",
		"INSERT INTO "+name+".t VALUES (1, 'in the backups')")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	store, work := t.TempDir(), t.TempDir()
	key := keyFile(t, "until key")
	must(t, run(t, nil, nil, append([]string{"backup", "--engine", "mysqldump", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...), "logical backup")
	r := run(t, nil, nil, append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	must(t, r, "physical backup")
	phys := strings.TrimSpace(r.stdout)
	execSQL(t, db, "INSERT INTO "+name+".t VALUES (2, 'after the backups')", "UPDATE "+name+".t SET v='changed' WHERE id=1")
	want := checksums(t, db, name)
	lastGTID(t, db, "DROP TABLE "+name+".t")
	execSQL(t, db, "CREATE TABLE "+name+".after_drop (id INT)")
	must(t, run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--encrypt-key-file", key}, p.conn(true)...)...), "archive")
	stmt := "(?i)^DROP TABLE `?" + name

	// Logical, into a running server, in one command. The target is a new
	// server whose binary log is empty, with gtid_strict_mode=ON; the load
	// and the replay are not binlogged on it (--no-binlog): its binary log
	// is not ahead of the replayed GTIDs however few transactions the
	// source ran (TestRestoreUntilTargetBinlog tests the other cases).
	target := startSandbox(t, "e2e-until", "")
	if pos := binlogPos(t, target.db(t)); pos != "" {
		t.Fatalf("precondition: a new target with an empty binary log, gtid_binlog_pos %q", pos)
	}
	base := []string{"restore", "--storage", store, "--encrypt-key-file", key}
	r = run(t, nil, nil, append(append(base, "--to-mysql", "--until", "2000-01-01 00:00:00"), target.conn(true)...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was restored") {
		t.Fatalf("restore to an unreachable target: exit %d\n%s", r.code, r.stderr)
	}
	var n int
	target.db(t).QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name=?", name).Scan(&n)
	if n != 0 {
		t.Fatal("a refused point-in-time restore wrote to the server")
	}
	// The logical backup is older than the physical one; both reach the
	// target; the newest is chosen unless named. Here: the logical one by ID.
	logical := ""
	r = run(t, nil, nil, "list", "--storage", store, "--json")
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, `"id"`) && logical == "" {
			logical = strings.Trim(strings.TrimSpace(strings.SplitN(l, ":", 2)[1]), `",`)
		}
	}
	r = run(t, nil, nil, append(append(append(base, logical), "--to-mysql", "--force", "--no-binlog", "--before-statement", stmt), target.conn(true)...)...)
	must(t, r, "restore --to-mysql --before-statement")
	if !strings.Contains(r.stderr, "point-in-time plan") || !strings.Contains(r.stderr, "point-in-time restore complete") {
		t.Errorf("restore log does not say the plan and the end:\n%s", r.stderr)
	}
	sameChecksums(t, want, checksums(t, target.db(t), name))
	if pos := binlogPos(t, target.db(t)); pos != "" {
		t.Errorf("restore --no-binlog wrote to the target's binary log: gtid_binlog_pos %q", pos)
	}

	// Physical, without --start-cmd: the command that finishes the job.
	dd1 := filepath.Join(work, "one", "data")
	r = run(t, nil, nil, append(base, phys, "--target-dir", filepath.Join(work, "one", "prep"), "--copy-back", "--datadir", dd1,
		"--before-statement", stmt)...)
	must(t, r, "physical restore --before-statement")
	if !strings.HasPrefix(r.stdout, "mybak binlog replay --storage "+store+" --backup "+phys+" --until-gtid ") {
		t.Fatalf("stdout: %q", r.stdout)
	}
	// Physical, with --start-cmd: started and rolled forward.
	dd2 := filepath.Join(work, "two", "data")
	if os.Getenv("MYBAK_SANDBOX_DIR") == "" {
		t.Fatal("MYBAK_SANDBOX_DIR is not set: the restored server would start in another sandbox directory")
	}
	sock := filepath.Join(os.Getenv("MYBAK_SANDBOX_DIR"), "e2e-until-phys", "mysqld.sock")
	t.Cleanup(func() { sandboxScript(t, "destroy", "e2e-until-phys") })
	r = run(t, nil, nil, append(base, phys, "--target-dir", filepath.Join(work, "two", "prep"), "--copy-back", "--datadir", dd2,
		"--before-statement", stmt, "--start-timeout", "2m",
		// mybak runs without the test's MYBAK_ variables: the sandbox
		// directory is named in the command itself.
		"--start-cmd", "MYBAK_SANDBOX_DIR='"+os.Getenv("MYBAK_SANDBOX_DIR")+"' "+mysqlSandboxSh+` start-datadir e2e-until-phys "$MYBAK_DATADIR"`,
		"--socket", sock, "--user", p.admin, "--password-file", p.adminPassFile)...)
	must(t, r, "physical restore --start-cmd --before-statement")
	restored := startedSandbox(t, "e2e-until-phys")
	sameChecksums(t, want, checksums(t, restored.db(t), name))

	// A drill to the same point: the newest backup restored into a scratch
	// server, rolled forward, its tables checked.
	r = run(t, nil, nil, "verify", "--drill", "--storage", store, "--encrypt-key-file", key, "--before-statement", stmt, "--json", "latest")
	must(t, r, "verify --drill --before-statement")
	// (At least the two writes between the backup and the DROP: other
	// tests may write to the shared server meanwhile.)
	if !strings.Contains(r.stdout, `"replay binary logs"`) || !regexp.MustCompile(`"[0-9]+ transactions to `).MatchString(r.stdout) {
		t.Errorf("drill report has no replay step:\n%s", r.stdout)
	}
	r = run(t, nil, nil, "verify", "--drill", "--storage", store, "--encrypt-key-file", key, "--until", "2000-01-01 00:00:00", "latest")
	if r.code != 1 || !strings.Contains(r.stderr, "drill to a point in time") {
		t.Errorf("drill to an unreachable target: exit %d\n%s", r.code, r.stderr)
	}
}

// startedSandbox is a sandbox something else started (mybak's --start-cmd).
func startedSandbox(t *testing.T, name string) *sandbox {
	t.Helper()
	env := map[string]string{}
	for _, l := range strings.Split(sandboxScript(t, "env", name), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	return sandboxFromEnv(func(k string) string { return env[k] })
}

// TestPointInTimeNeedsMybakLayout: point-in-time recovery reads the binary
// log archive kept beside mybak's backups. In Trove's layout every way to
// it (verify --pitr, restore and verify --drill to a target) is refused
// with a usage error (exit 2) that names the layout it needs, before
// anything is read or restored; mybak prune there still works (it has no
// archive to prune).
func TestPointInTimeNeedsMybakLayout(t *testing.T) {
	container := testContainer(t)
	if err := swiftConn(t).ContainerCreate(context.Background(), container, nil); err != nil {
		t.Fatal(err)
	}
	env := swiftEnv()
	store := "swift://" + container
	for _, args := range [][]string{
		{"verify", "--pitr", "--layout", "trove", "--storage", store},
		{"restore", "--layout", "trove", "--storage", store, "--until", "2026-01-01 00:00:00", "--to-mysql"},
		{"verify", "--drill", "--layout", "trove", "--storage", store, "--until-gtid", "0-1-5", "latest"},
	} {
		r := run(t, nil, env, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "point-in-time recovery") || !strings.Contains(r.stderr, "needs mybak's layout (--layout mybak)") {
			t.Errorf("%s: exit %d, want 2 and a message naming mybak's layout:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	must(t, run(t, nil, env, "prune", "--layout", "trove", "--storage", store, "--keep", "1", "--dry-run"), "prune --layout trove")
}
