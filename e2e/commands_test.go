//go:build linux

package e2e

// Behaviour every command shares: usage errors (exit 2, naming the
// flag), and read-only commands that create nothing in a store.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "--bogus"},
		{"backup", "--storage", "x", "--no-encrypt", "--compress", "lz4"},
		{"restore", "--storage", "x", "not-an-id", "--to-stdout"},
		{"restore", "--storage", "x"},
		{"nosuchcommand"},
		{"list", "--storage", "ftp://host/x"},
		{"list", "--log-format", "xml", "--storage", "x"},
		{"list"},
	} {
		r := run(t, nil, nil, args...)
		if r.code != 2 {
			t.Errorf("mybak %s: exit %d (stderr %q), want 2", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// TestReadCommandsCreateNoStore: a mistyped --storage is an error for the
// commands that only read or delete, and leaves nothing behind.
func TestReadCommandsCreateNoStore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	env := []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + missing}
	for _, args := range [][]string{{"list"}, {"restore", "latest", "--to-stdout"}, {"verify", "latest"}, {"prune", "--keep", "1"}} {
		r := run(t, nil, env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "no such directory") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stderr)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("%v created %s", args, missing)
		}
	}
	must(t, run(t, strings.NewReader("x"), env, "backup"), "backup")
	must(t, run(t, nil, env, "list"), "list after backup")
}
