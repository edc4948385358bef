package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeReplicaRemoveOld: --remove-old needs --force, and a physical
// backup (a dump is applied into the running replica: there is no old
// datadir to remove).
func TestMakeReplicaRemoveOld(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	store := t.TempDir()
	var so, se bytes.Buffer
	if code := Main([]string{"mybak", "backup", "--storage", store, "--no-encrypt"}, strings.NewReader("-- a dump\n"), &so, &se); code != 0 {
		t.Fatalf("backup of a stdin stream: exit %d %s", code, se.String())
	}
	base := []string{"mybak", "make-replica", "--primary-host", "127.0.0.1", "--replication-user", "r", "--replication-password-file", pw}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fresh", "--engine", "mysqldump", "--primary-user", "u", "--primary-password-file", pw, "--remove-old"}, "--remove-old goes with --force"},
		{[]string{"--fresh", "--engine", "mysqldump", "--primary-user", "u", "--primary-password-file", pw, "--force", "--remove-old"},
			"--remove-old does nothing here: it applies to a physical backup"},
		{[]string{"--backup", "latest", "--storage", store, "--force", "--remove-old"}, "--remove-old does nothing here: it applies to a physical backup"},
	} {
		var out, errb bytes.Buffer
		code := Main(append(append([]string(nil), base...), tc.args...), strings.NewReader(""), &out, &errb)
		if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s", tc.args, code, ExitUsage, tc.want, errb.String())
		}
	}
}
