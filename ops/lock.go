package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned (wrapped) by Lock when another process holds the
// job's lock past the timeout.
var ErrLocked = errors.New("another mybak run of the same job is running")

// Lock is a held job lock; Unlock releases it.
type Lock struct {
	f    *os.File
	path string
}

// LockDir returns the directory job locks live in, and makes sure it is
// safe to use: $MYBAK_LOCK_DIR when set; else /run/mybak when /run is
// writable (root); else mybak-<uid> in the temp dir ($TMPDIR). The
// directory is created 0700 when missing. It must be a directory owned by
// the running user that no one else can write to (see checkLockDir): in a
// directory others can write, another user could plant the lock file (a
// symbolic link to a file to truncate, or a file they hold locked).
func LockDir() (string, error) {
	return lockDir(os.Getenv("MYBAK_LOCK_DIR"), "/run", syscall.Access("/run", 2) == nil, os.TempDir())
}

// lockDir is LockDir with its inputs: env is $MYBAK_LOCK_DIR, run the
// system's run directory and runWritable whether it may be written, tmp
// the temp dir.
func lockDir(env, run string, runWritable bool, tmp string) (string, error) {
	dir, follow := env, true
	switch {
	case dir != "":
	case runWritable:
		dir, follow = filepath.Join(run, "mybak"), false
	default:
		dir, follow = filepath.Join(tmp, "mybak-"+strconv.Itoa(os.Geteuid())), false
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create the lock directory %s: %w (set MYBAK_LOCK_DIR to a directory only you can write)", dir, err)
	}
	if !follow {
		// mybak's own directory is never a link: in the temp dir another
		// user could have made one before us.
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("lock directory %s is a symbolic link: refusing it (remove it, or set MYBAK_LOCK_DIR to a directory only you can write)", dir)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return "", fmt.Errorf("open the lock directory %s: %w (set MYBAK_LOCK_DIR to a directory only you can write)", dir, err)
	}
	defer f.Close()
	if err := checkLockDir(f, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// checkLockDir checks the open directory d (named dir): a directory owned
// by the running user that neither group nor others can write.
func checkLockDir(d *os.File, dir string) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(d.Fd()), &st); err != nil {
		return fmt.Errorf("stat the lock directory %s: %w", dir, err)
	}
	fix := "set MYBAK_LOCK_DIR to a directory only you can write, or fix it with chown/chmod 700"
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return fmt.Errorf("lock directory %s is not a directory (%s)", dir, fix)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("lock directory %s is owned by uid %d, not by uid %d that runs mybak: refusing it (%s)", dir, st.Uid, os.Geteuid(), fix)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("lock directory %s is writable by group or others (mode %04o): another user could plant its lock files; refusing it (%s)", dir, st.Mode&0o7777, fix)
	}
	return nil
}

// LockPath names the lock file of a job, identified by the strings that
// make it the same job (command, storage location, label, ...).
func LockPath(dir string, job ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(job, "\x00")))
	return filepath.Join(dir, "mybak-"+hex.EncodeToString(sum[:8])+".lock")
}

// AcquireLock takes an exclusive flock on path, waiting up to timeout (0:
// not at all). The lock dies with the process, so a killed run never leaves
// a stale lock behind. The file records the holder's pid and start time
// for the message another run prints; describe says what the job is.
//
// The lock file is opened without following symbolic links, in a
// directory that checkLockDir accepts, and must be a regular file owned by
// the running user; it is only written once the flock is held.
func AcquireLock(ctx context.Context, path, describe string, timeout time.Duration) (*Lock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			holder := make([]byte, 256)
			n, _ := f.ReadAt(holder, 0)
			f.Close()
			who := strings.TrimSpace(string(holder[:n]))
			if who == "" {
				who = "unknown process"
			} else if strings.ContainsFunc(who, func(r rune) bool { return !unicode.IsPrint(r) }) {
				who = strconv.Quote(who)
			}
			return nil, fmt.Errorf("%w: %s is held by %s (lock file %s); waited %s: wait for it to finish, or give --lock-timeout",
				ErrLocked, describe, who, path, timeout.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	f.Truncate(0)
	f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" since "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0)
	return &Lock{f: f, path: path}, nil
}

// openLockFile opens (creating it 0600) the lock file path for reading and
// writing, relative to its directory opened once and checked, so that
// neither the directory nor the file can be swapped for a link between
// the checks and the open.
func openLockFile(path string) (*os.File, error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w (set MYBAK_LOCK_DIR to a writable directory)", path, err)
	}
	defer d.Close()
	if err := checkLockDir(d, filepath.Clean(dir)); err != nil {
		return nil, err
	}
	fd, err := openat(int(d.Fd()), name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock file %s is a symbolic link: refusing to follow it (remove it; nothing but mybak should create files in %s)", path, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w (set MYBAK_LOCK_DIR to a writable directory)", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat lock file %s: %w", path, err)
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		f.Close()
		return nil, fmt.Errorf("lock file %s is not a regular file: refusing it (remove it)", path)
	case int(st.Uid) != os.Geteuid():
		f.Close()
		return nil, fmt.Errorf("lock file %s is owned by uid %d, not by uid %d that runs mybak: refusing it (remove it)", path, st.Uid, os.Geteuid())
	}
	return f, nil
}

// openat is openat(2), retried on EINTR.
func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode) // x/sys: syscall has no Openat on darwin
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// Unlock releases the lock. The file stays (removing it would race with a
// waiter that already opened it).
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close() // closing releases the flock
	l.f = nil
	return err
}
