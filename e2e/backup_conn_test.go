//go:build linux

package e2e

// The tools mybak runs connect as mybak resolved and reported, whatever
// ~/.my.cnf says: a child reads the option files mybak read and then
// mybak's settings, not its own search, in which ~/.my.cnf came after
// mybak's --defaults-extra-file and won.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChildrenConnectAsResolved(t *testing.T) {
	s := primary(t)
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".my.cnf"), []byte("[client]\nuser=nosuchuser\npassword=wrong\n"), 0o600)
	store := t.TempDir()
	env := []string{"HOME=" + home}
	for _, engine := range []string{"mariadb-dump", "mariabackup"} {
		r := run(t, nil, env, "backup", "--engine", engine, "--socket", s.socket, "--user", "root", "--storage", store, "--no-encrypt")
		if r.code != 0 || strings.Contains(r.stderr, "nosuchuser") {
			t.Errorf("%s as root with a ~/.my.cnf naming another user: exit %d\n%s", engine, r.code, r.stderr)
		}
	}
	// Without --user, ~/.my.cnf's user is the one mybak resolves and
	// reports, and the one the tool is refused as.
	r := run(t, nil, env, "backup", "--engine", "mariadb-dump", "--socket", s.socket, "--storage", store, "--no-encrypt")
	if r.code == 0 || !strings.Contains(r.stderr, "nosuchuser") {
		t.Errorf("user from ~/.my.cnf: exit %d\n%s", r.code, r.stderr)
	}
}
