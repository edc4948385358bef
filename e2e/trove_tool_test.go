//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toolsOnly returns a PATH holding only the named programs (symlinks to
// the installed ones): a host where xtrabackup and xbstream are missing
// whatever this one has.
func toolsOnly(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Fatalf("%s is required for this test: %v", n, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mariabackupStream writes a raw mariabackup xbstream of the sandbox to a
// file (the stream Trove's MariaDB guest agent stored) and returns its
// path and the backup's to_lsn.
func mariabackupStream(t *testing.T, p *sandbox) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cnf := filepath.Join(dir, "my.cnf")
	pw := strings.TrimSpace(p.password(t))
	if err := os.WriteFile(cnf, []byte(fmt.Sprintf("[client]\nuser=%s\npassword=%q\nsocket=%s\n", p.user, pw, p.socket)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "stream.xbstream")
	lsnDir := filepath.Join(dir, "lsn")
	sh(t, fmt.Sprintf("mariabackup --defaults-extra-file=%s --backup --stream=xbstream --extra-lsndir=%s --target-dir=%s > %s 2>%s",
		cnf, lsnDir, filepath.Join(dir, "t"), out, filepath.Join(dir, "log")))
	cp, err := os.ReadFile(filepath.Join(lsnDir, "xtrabackup_checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(cp), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "to_lsn" {
			return out, strings.TrimSpace(v)
		}
	}
	t.Fatalf("no to_lsn in %s", cp)
	return "", ""
}

// TestTroveBackupWithoutDatastoreRestoresWithItsTool (issue 12.13): a
// physical backup Trove made without datastore metadata (before 2015 it
// recorded only Lsn) is taken for xtrabackup; on a host with only
// mariabackup, the stream's own xtrabackup_info decides, the restore
// succeeds, and the log says which evidence decided.
func TestTroveBackupWithoutDatastoreRestoresWithItsTool(t *testing.T) {
	p := primary(t)
	s := newTroveSwiftIn(t, uniqueName("database_backups-tool"))
	key := keyFile(t, "trove tool key")
	orig, lsn := mariabackupStream(t, p)
	id := "7c0ffee0-0000-4000-8000-000000000013"
	s.makeTroveBackup(t, orig, key, troveBackup{id: id, ext: ".xbstream.gz.enc", md: "-md sha256", kind: "single",
		meta: map[string]string{"Lsn": lsn}})
	env := append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container, "MYBAK_LAYOUT=trove", "MYBAK_ENCRYPT_KEY_FILE="+key,
		"PATH="+toolsOnly(t, "mariabackup", "mbstream"))

	r := run(t, nil, env, "list", "--json")
	must(t, r, "list")
	if !strings.Contains(r.stdout, `"engine": "xtrabackup"`) {
		t.Fatalf("the precondition: the catalogue takes a Trove backup without Datastore for xtrabackup:\n%s", r.stdout)
	}
	target := filepath.Join(t.TempDir(), "restored")
	r = run(t, nil, env, "restore", id, "--target-dir", target)
	must(t, r, "restore a Trove backup without Datastore metadata")
	if !strings.Contains(r.stderr, "preparing with mariabackup (the stream's xtrabackup_info says tool_name=mariabackup)") {
		t.Errorf("the log does not say which evidence decided:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "Trove recorded no Datastore") {
		t.Errorf("the log does not say the metadata's engine was an assumption:\n%s", r.stderr)
	}
	for _, f := range []string{"ibdata1", "xtrabackup_info", "mysql"} {
		if _, err := os.Stat(filepath.Join(target, f)); err != nil {
			t.Errorf("restored dir: %v", err)
		}
	}

	// Where the stream names no tool either, the assumption stands and
	// the error says what it rested on.
	bare := filepath.Join(t.TempDir(), "bare")
	sh(t, fmt.Sprintf("cd %s && mkdir x && mbstream -x -C x < %s && cd x && rm xtrabackup_info backup-my.cnf aria_log_control && "+
		"find . -type f -printf '%%P\\n' | xargs mbstream -c > %s", filepath.Dir(bare), orig, bare))
	id2 := "7c0ffee0-0000-4000-8000-000000000014"
	s.makeTroveBackup(t, bare, key, troveBackup{id: id2, ext: ".xbstream.gz.enc", md: "-md sha256", kind: "single",
		meta: map[string]string{"Lsn": lsn}})
	r = run(t, nil, env, "restore", id2, "--target-dir", filepath.Join(t.TempDir(), "restored2"))
	if r.code == 0 || !strings.Contains(r.stderr, "prepare the backup with xtrabackup (assumed: Trove recorded no Datastore") ||
		!strings.Contains(r.stderr, "the stream names no tool") || !strings.Contains(r.stderr, "xtrabackup not found on PATH") {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
}
