//go:build linux

package e2e

// End-to-end tests of mybak's own logical engine (--engine logical): the
// mybak binary against the sandbox "primary" (see backup_mysql_test.go).

import (
	"bytes"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// TestLogicalBackupRestore: a logical backup of one schema (encrypted,
// with the password never on an argv), listed with its engine, verified
// deep, unpacked by the stock mbstream into SQL files; one table restored
// alone with --include into the server that lost it (the other tables
// untouched), refused while it exists, replaced with --force; the flags
// that apply to the logical engine only are usage errors elsewhere.
func TestLogicalBackupRestore(t *testing.T) {
	scratch := scratchParent(t) // before primary's private TMPDIR, which the server's user cannot enter
	p := primary(t)
	db := p.db(t)
	name := strings.ReplaceAll(uniqueName("e2e_logical"), "-", "_")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	seed(t, db, name)
	want := checksums(t, db, name)
	store := t.TempDir()
	key := keyFile(t, "logical key")
	common := []string{"--storage", store, "--encrypt-key-file", key}

	stop := testenv.ArgvWatch(t, p.password(t), "--dump-threads")
	r := run(t, nil, nil, append(append([]string{"backup", "--engine", "logical", "--dump-threads", "2", "--include", name, "--users"}, common...), p.conn(false)...)...)
	must(t, r, "backup --engine logical")
	stop()
	id := strings.TrimSpace(r.stdout)
	meta := metaOf(t, store, id)
	for _, k := range []string{"binlog_file", "binlog_pos", "gtid", "logical_dump_id", "row_counts"} {
		if meta[k] == "" {
			t.Errorf("the manifest lacks meta %q: %v", k, meta)
		}
	}
	r = run(t, nil, nil, "list", "--storage", store)
	must(t, r, "list")
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "logical") {
		t.Errorf("list does not show %s as logical:\n%s", id, r.stdout)
	}
	r = run(t, nil, nil, append([]string{"verify", "--deep", id}, common...)...)
	must(t, r, "verify --deep")
	if !strings.Contains(r.stdout, "logical container (index, chunk hashes)") {
		t.Errorf("verify --deep did not check the chunks' hashes:\n%s", r.stdout)
	}
	// The scratch server's tools (run as mysql under root) write
	// temporary files to mybak's TMPDIR: the test's private one is not
	// theirs, /tmp is.
	r = run(t, nil, []string{"TMPDIR=/tmp"}, append([]string{"verify", "--drill", id, "--scratch-dir", scratch}, common...)...)
	must(t, r, "verify --drill")
	if !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, "(exact) counts match") {
		t.Errorf("verify --drill of a logical backup:\n%s", r.stdout)
	}

	// The stream is an xbstream of SQL files.
	r = run(t, nil, nil, append([]string{"restore", id, "--to-stdout"}, common...)...)
	must(t, r, "restore --to-stdout")
	dir := t.TempDir()
	x := exec.Command(mbstreamBin(t), "-x", "-C", dir)
	x.Stdin = strings.NewReader(r.stdout)
	if out, err := x.CombinedOutput(); err != nil {
		t.Fatalf("mbstream -x: %v\n%s", err, out)
	}
	chunk, err := os.ReadFile(filepath.Join(dir, name, "items.000001.sql"))
	if err != nil || !bytes.HasPrefix(chunk, []byte("INSERT INTO `"+name+"`.`items` (")) {
		t.Errorf("the unpacked chunk of items: %.100q, %v", chunk, err)
	}

	restore := append(append([]string{"restore", id, "--to-mysql", "--parallel", "2"}, common...), p.conn(true)...)
	r = run(t, nil, nil, append(restore, "--include", name+".items")...)
	if r.code != 1 || !strings.Contains(r.stderr, "`"+name+"`.`items`") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("restore over the existing table: exit %d, want 1 and a refusal naming it and --force\n%s", r.code, r.stderr)
	}
	execSQL(t, db, "DROP TABLE "+name+".items", "INSERT INTO "+name+".notes VALUES (3, 'after the backup')")
	r = run(t, nil, nil, append(restore, "--include", name+".items", "--defer-indexes")...)
	must(t, r, "restore --include --defer-indexes")
	got := checksums(t, db, name)
	if got[name+".items"] != want[name+".items"] {
		t.Errorf("restored items: %s, want %s", got[name+".items"], want[name+".items"])
	}
	if got[name+".notes"] == want[name+".notes"] {
		t.Errorf("--include %s.items restored notes too", name)
	}
	execSQL(t, db, "UPDATE "+name+".items SET price = 0")
	r = run(t, nil, nil, append(restore, "--include", name+".items", "--force")...)
	must(t, r, "restore --include --force")
	if got := checksums(t, db, name); got[name+".items"] != want[name+".items"] {
		t.Errorf("items after --force: %s, want %s", got[name+".items"], want[name+".items"])
	}

	for _, c := range [][]string{
		append(restore, "--resume", "--force"),
		append(append([]string{"backup", "--engine", "mariabackup", "--dump-threads", "2"}, common...), p.conn(false)...),
		append([]string{"restore", id, "--to-stdout", "--include", name}, common...),
	} {
		if r := run(t, nil, nil, c...); r.code != 2 {
			t.Errorf("mybak %s: exit %d, want 2 (usage)\n%s", strings.Join(c, " "), r.code, r.stderr)
		}
	}
}

// TestLogicalReplica: a logical backup taken while transfers commit on the
// primary makes a replica (make-replica --backup) whose tables, once it
// has caught up with the primary's binary log, equal the primary's: the
// coordinates recorded are those of the snapshot. The same with
// make-replica --fresh, whose default engine is logical (the dump loaded as
// it is taken).
func TestLogicalReplica(t *testing.T) {
	primary(t)
	p := startSandbox(t, "logical-primary", "")
	pdb := p.db(t)
	seed(t, pdb, "logical_repl")
	execSQL(t, pdb, "CREATE TABLE logical_repl.acct (id INT PRIMARY KEY, bal BIGINT NOT NULL)",
		"INSERT INTO logical_repl.acct SELECT seq, 100 FROM logical_repl.seq_1_to_1000")
	stopWrites := make(chan struct{})
	writes := make(chan error, 1)
	var n atomic.Int64
	go func() {
		var err error
		for i := 0; err == nil; i, _ = i+1, n.Add(1) {
			select {
			case <-stopWrites:
				writes <- nil
				return
			default:
			}
			_, err = pdb.Exec("UPDATE logical_repl.acct SET bal = bal + IF(id = ?, -1, 1) WHERE id IN (?, ?)", i%1000+1, i%1000+1, (i+1)%1000+1)
		}
		writes <- err
	}()
	store := t.TempDir()
	key := keyFile(t, "logical replica key")
	testenv.WaitFor(t, 30*time.Second, "transfers on the primary", func() bool { return n.Load() >= 20 })
	before := n.Load()
	r := run(t, nil, nil, append([]string{"backup", "--engine", "logical", "--dump-threads", "2", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	close(stopWrites)
	if err := <-writes; err != nil {
		t.Fatalf("writes on the primary: %v", err)
	}
	if n.Load()-before < 10 {
		t.Fatalf("only %d transfers committed while the backup ran: the test proves nothing", n.Load()-before)
	}
	must(t, r, "backup --engine logical")
	id := strings.TrimSpace(r.stdout)
	execSQL(t, pdb, "INSERT INTO logical_repl.notes VALUES (20, 'after the backup')")
	replPassFile := filepath.Join(sandboxBase(), "credentials", "mybak_repl.password")

	caughtUp := func(db *sql.DB) {
		t.Helper()
		var pos string
		if err := pdb.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			t.Fatal(err)
		}
		var ok sql.NullInt64
		if err := db.QueryRow("SELECT MASTER_GTID_WAIT(?, 60)", pos).Scan(&ok); err != nil || ok.Int64 != 0 {
			t.Fatalf("the replica did not reach the primary's %s: %v %v", pos, ok, err)
		}
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"from the store", []string{"--backup", id, "--storage", store, "--encrypt-key-file", key}},
		// --fresh without --engine: issue 14 makes the logical engine its default.
		{"fresh", []string{"--fresh", "--primary-user", p.admin, "--primary-password-file", p.adminPassFile}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := startSandbox(t, "logical-replica", "")
			args := append([]string{"make-replica", "--host", "127.0.0.1", "--port", strconv.Itoa(rs.port), "--user", p.admin,
				"--password-file", p.adminPassFile, "--primary-host", "127.0.0.1", "--primary-port", strconv.Itoa(p.port),
				"--replication-user", "mybak_repl", "--replication-password-file", replPassFile, "--wait-timeout", "60s"}, c.args...)
			rr := run(t, nil, nil, args...)
			must(t, rr, "make-replica "+c.name)
			if c.name == "fresh" && !strings.Contains(rr.stderr, "engine=logical") {
				t.Errorf("make-replica --fresh did not dump with the logical engine by default:\n%s", rr.stderr)
			}
			rdb := rs.db(t)
			caughtUp(rdb)
			sameChecksums(t, checksums(t, pdb, "logical_repl"), checksums(t, rdb, "logical_repl"))
			var sum int64
			rdb.QueryRow("SELECT SUM(bal) FROM logical_repl.acct").Scan(&sum)
			if sum != 100000 {
				t.Errorf("balances on the replica sum to %d, want 100000", sum)
			}
		})
	}
}
