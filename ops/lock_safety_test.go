package ops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

// nobody is a uid that is not the test's own (tests run as root).
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	testenv.Need(t, os.Geteuid() == 0, "needs root to make files owned by another user")
}

// TestLockSymlinkNotFollowed plants a symbolic link at a job's lock path
// pointing at a victim file: taking the lock must refuse it and leave the
// victim untouched (it used to be opened through the link and truncated).
func TestLockSymlinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := LockPath(dir, "backup", "/b", "nightly")
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	l, err := AcquireLock(context.Background(), p, "backup nightly", 0)
	if err == nil {
		l.Unlock()
		t.Fatal("took a lock through a symbolic link")
	}
	if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("victim file changed: %q", b)
	}
}

// TestLockDirRefused: a lock directory others can write to, or that
// another user owns, is refused with a message that names it and says
// what to do; so is a lock file another user owns.
func TestLockDirRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("group or other writable", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o777, 0o1777, 0o770} {
			dir := t.TempDir()
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(dir)
			if fi.Mode().Perm()&0o022 == 0 {
				t.Fatalf("precondition: %s is %v", dir, fi.Mode())
			}
			l, err := AcquireLock(ctx, LockPath(dir, "job"), "job", 0)
			if err == nil {
				l.Unlock()
				t.Fatalf("mode %v: took a lock in a directory others can write", mode)
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "writable") || !strings.Contains(err.Error(), "MYBAK_LOCK_DIR") {
				t.Errorf("mode %v: %v", mode, err)
			}
			if _, err := os.Lstat(LockPath(dir, "job")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("mode %v: a lock file was created in the refused directory", mode)
			}
		}
	})
	t.Run("dir of another user", func(t *testing.T) {
		needRoot(t)
		dir := t.TempDir()
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		l, err := AcquireLock(ctx, LockPath(dir, "job"), "job", 0)
		if err == nil {
			l.Unlock()
			t.Fatal("took a lock in a directory another user owns")
		}
		if !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), "MYBAK_LOCK_DIR") {
			t.Errorf("error: %v", err)
		}
	})
	t.Run("lock file of another user", func(t *testing.T) {
		needRoot(t)
		dir := t.TempDir()
		p := LockPath(dir, "job")
		if err := os.WriteFile(p, []byte("pid 1 since then\n"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		l, err := AcquireLock(ctx, p, "job", 0)
		if err == nil {
			l.Unlock()
			t.Fatal("took a lock file another user owns")
		}
		if !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), p) {
			t.Errorf("error: %v", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "pid 1 since then\n" {
			t.Errorf("the other user's file changed: %q", b)
		}
	})
	t.Run("not a regular file", func(t *testing.T) {
		dir := t.TempDir()
		p := LockPath(dir, "job")
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := AcquireLock(ctx, p, "job", 0)
		if err == nil {
			l.Unlock()
			t.Fatal("took a lock on a FIFO")
		}
		if !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("error: %v", err)
		}
	})
}

// TestLockDirDefault: without MYBAK_LOCK_DIR the lock directory is
// mybak's own, created 0700 for the running user; MYBAK_LOCK_DIR is
// created the same way when missing and checked like the default.
func TestLockDirDefault(t *testing.T) {
	run := t.TempDir()
	tmp := t.TempDir()
	for _, tc := range []struct {
		name       string
		env        string
		runWriteOK bool
		want       string
	}{
		{"root: under /run", "", true, filepath.Join(run, "mybak")},
		{"no /run: under the temp dir", "", false, filepath.Join(tmp, "mybak-"+strconv.Itoa(os.Geteuid()))},
		{"MYBAK_LOCK_DIR", filepath.Join(tmp, "mine"), true, filepath.Join(tmp, "mine")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lockDir(tc.env, run, tc.runWriteOK, tmp)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("lock dir %s, want %s", got, tc.want)
			}
			fi, err := os.Lstat(got)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: %v, want a directory 0700", got, fi.Mode())
			}
			// Twice: an existing, correct directory is fine.
			if again, err := lockDir(tc.env, run, tc.runWriteOK, tmp); err != nil || again != got {
				t.Errorf("second call: %s, %v", again, err)
			}
		})
	}
	t.Run("pre-created by another user", func(t *testing.T) {
		needRoot(t)
		tmp := t.TempDir()
		planted := filepath.Join(tmp, "mybak-"+strconv.Itoa(os.Geteuid()))
		if err := os.Mkdir(planted, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(planted, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		if _, err := lockDir("", run, false, tmp); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("planted lock dir: %v", err)
		}
	})
	t.Run("a symbolic link", func(t *testing.T) {
		tmp := t.TempDir()
		if err := os.Symlink(t.TempDir(), filepath.Join(tmp, "mybak-"+strconv.Itoa(os.Geteuid()))); err != nil {
			t.Fatal(err)
		}
		if _, err := lockDir("", run, false, tmp); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("symlinked lock dir: %v", err)
		}
	})
}
