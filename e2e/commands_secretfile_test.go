//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

// TestSecretFileRule: every file that holds a secret, or says where
// secrets come from and go, follows one rule (internal/secretfile): the
// group and others may not write it and it belongs to mybak's user or
// root; a password the group or others may read is refused; a key they
// may read is used with a warning. Each refusal names the file and the
// chmod/chown that fixes it, before anything is read from or sent to a
// server or store.
func TestSecretFileRule(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			if err := os.Chown(p, uid, uid); err != nil {
				testenv.Need(t, false, fmt.Sprintf("giving a file to uid %d needs root: %v", uid, err))
			}
		}
		return p
	}
	store := t.TempDir()
	swift := []string{"list", "--storage", "swift://c", "--swift-auth-url", "http://127.0.0.1:9/auth/v1.0", "--swift-user", "u"}
	for _, tc := range []struct {
		name    string
		args    func() []string
		refused bool
		warn    string
	}{
		{"key writable by group", func() []string {
			return []string{"backup", "--storage", store, "--encrypt-key-file", file("key-g+w", "k\n", 0o620, -1)}
		}, true, ""},
		{"key writable by others", func() []string {
			return []string{"backup", "--storage", store, "--encrypt-key-file", file("key-o+w", "k\n", 0o602, -1)}
		}, true, ""},
		{"key of another user", func() []string {
			return []string{"backup", "--storage", store, "--encrypt-key-file", file("key-nobody", "k\n", 0o600, 65534)}
		}, true, ""},
		{"key readable by group", func() []string {
			return []string{"backup", "--storage", store, "--encrypt-key-file", file("key-g+r", "k\n", 0o640, -1)}
		}, false, "decrypt every backup"},
		{"key through a symlink to a writable file", func() []string {
			target := file("key-target", "k\n", 0o666, -1)
			link := filepath.Join(dir, "key-link")
			os.Symlink(target, link)
			return []string{"backup", "--storage", store, "--encrypt-key-file", link}
		}, true, ""},
		{"swift key readable by group", func() []string {
			return append(swift, "--swift-key-file", file("swift-g+r", "pw\n", 0o640, -1))
		}, true, ""},
		{"swift key writable by others", func() []string {
			return append(swift, "--swift-key-file", file("swift-o+w", "pw\n", 0o602, -1))
		}, true, ""},
		{"mysql password readable by others", func() []string {
			return []string{"backup", "--engine", "mariadb-dump", "--storage", store, "--no-encrypt", "--password-file", file("mysql-o+r", "pw\n", 0o604, -1)}
		}, true, ""},
		{"option file with a password readable by group", func() []string {
			return []string{"backup", "--engine", "mariadb-dump", "--storage", store, "--no-encrypt",
				"--defaults-file", file("my-pw.cnf", "[client]\nuser=u\npassword=pw\n", 0o640, -1)}
		}, true, ""},
		{"option file writable by group", func() []string {
			return []string{"backup", "--engine", "mariadb-dump", "--storage", store, "--no-encrypt",
				"--defaults-file", file("my-g+w.cnf", "[client]\nhost=127.0.0.1\n", 0o660, -1)}
		}, true, ""},
		{"config writable by others", func() []string {
			return []string{"list", "--config", file("config-o+w.yaml", "storage: "+store+"\n", 0o646, -1)}
		}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args()
			r := run(t, strings.NewReader("data\n"), nil, args...)
			path := args[len(args)-1]
			if tc.refused {
				if r.code != 2 || !strings.Contains(r.stderr, path) || !(strings.Contains(r.stderr, "chmod") || strings.Contains(r.stderr, "chown")) {
					t.Errorf("not refused with the fix: exit %d\n%s", r.code, r.stderr)
				}
				if bytes.Contains([]byte(r.stderr), []byte("connect")) {
					t.Errorf("refused only after trying to connect:\n%s", r.stderr)
				}
				return
			}
			if r.code != 0 || !strings.Contains(r.stderr, tc.warn) {
				t.Errorf("want success with a warning %q: exit %d\n%s", tc.warn, r.code, r.stderr)
			}
		})
	}
}
