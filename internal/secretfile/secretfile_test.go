package secretfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

func TestCheck(t *testing.T) {
	const refused, warned, ok = "refused", "warned", "ok"
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		want map[Kind]string
	}{
		{0o600, map[Kind]string{Password: ok, Key: ok, Settings: ok}},
		{0o400, map[Kind]string{Password: ok, Key: ok, Settings: ok}},
		{0o640, map[Kind]string{Password: refused, Key: warned, Settings: ok}},
		{0o604, map[Kind]string{Password: refused, Key: warned, Settings: ok}},
		{0o644, map[Kind]string{Password: refused, Key: warned, Settings: ok}},
		{0o620, map[Kind]string{Password: refused, Key: refused, Settings: refused}},
		{0o602, map[Kind]string{Password: refused, Key: refused, Settings: refused}},
		{0o666, map[Kind]string{Password: refused, Key: refused, Settings: refused}},
	} {
		p := filepath.Join(dir, tc.mode.String())
		os.WriteFile(p, []byte("x\n"), 0o600)
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		for kind, want := range tc.want {
			w, err := CheckPath("file "+p, p, kind)
			got := ok
			switch {
			case err != nil:
				got = refused
				if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chmod") || !strings.Contains(err.Error(), p) {
					t.Errorf("%v kind %d: error without the fix or the file: %v", tc.mode, kind, err)
				}
			case w != "":
				got = warned
				if !strings.Contains(w, "chmod 600") {
					t.Errorf("%v kind %d: warning without the fix: %s", tc.mode, kind, w)
				}
			}
			if got != want {
				t.Errorf("mode %v kind %d: %s (%q %v), want %s", tc.mode, kind, got, w, err, want)
			}
		}
	}
}

// TestCheckSymlink: the target is judged, not the link (whose own mode is
// always 0777).
func TestCheckSymlink(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("x"), 0o600)
	os.WriteFile(bad, []byte("x"), 0o600)
	os.Chmod(bad, 0o666)
	os.Symlink(good, filepath.Join(dir, "to-good"))
	os.Symlink(bad, filepath.Join(dir, "to-bad"))
	if _, err := CheckPath("link", filepath.Join(dir, "to-good"), Password); err != nil {
		t.Errorf("link to a 0600 file: %v", err)
	}
	f, _, err := Open("link", filepath.Join(dir, "to-bad"), Settings)
	if !errors.Is(err, ErrInsecure) {
		t.Errorf("link to a 0666 file: %v", err)
	}
	if f != nil {
		f.Close()
	}
}

// TestCheckOwner: a file of another (non-root) user is refused, whatever
// its mode; root's files are fine.
func TestCheckOwner(t *testing.T) {
	// (Without root the rule is still checked by TestCheck's modes.)
	testenv.Need(t, os.Geteuid() == 0, "needs root to give a file away")
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	os.WriteFile(p, []byte("x"), 0o600)
	if _, err := CheckPath("key", p, Key); err != nil {
		t.Fatalf("root's own 0600 file: %v", err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := CheckPath("key", p, Key)
	if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chown") {
		t.Fatalf("file of uid 65534 read by root: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Open("missing", filepath.Join(dir, "no"), Password); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := Open("dir", dir, Password); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
}
