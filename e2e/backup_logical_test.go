//go:build linux

package e2e

// End-to-end tests of mybak's own logical engine (--engine logical): the
// mybak binary against the sandbox "primary" (see backup_mysql_test.go).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

// TestLogicalBackupRestore: a logical backup of one schema (encrypted,
// with the password never on an argv), listed with its engine, verified
// deep, unpacked by the stock mbstream into SQL files; one table restored
// alone with --include into the server that lost it (the other tables
// untouched), refused while it exists, replaced with --force; the flags
// that apply to the logical engine only are usage errors elsewhere.
func TestLogicalBackupRestore(t *testing.T) {
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
	r := run(t, nil, nil, append(append([]string{"backup", "--engine", "logical", "--dump-threads", "2", "--include", name}, common...), p.conn(false)...)...)
	must(t, r, "backup --engine logical")
	stop()
	id := strings.TrimSpace(r.stdout)
	meta := metaOf(t, store, id)
	for _, k := range []string{"binlog_file", "binlog_pos", "gtid", "logical_dump_id", "row_counts"} {
		if meta[k] == "" {
			t.Errorf("the manifest lacks meta %q: %v", k, meta)
		}
	}
	r = run(t, nil, nil, append([]string{"list"}, common...)...)
	must(t, r, "list")
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "logical") {
		t.Errorf("list does not show %s as logical:\n%s", id, r.stdout)
	}
	r = run(t, nil, nil, append([]string{"verify", "--deep", id}, common...)...)
	must(t, r, "verify --deep")

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
