package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned (wrapped) by Lock when another process holds the
// job's lock past the timeout.
var ErrLocked = errors.New("another mybak run of the same job is running")

// Lock is a held job lock; Unlock releases it.
type Lock struct {
	f    *os.File
	path string
}

// LockDir is where job locks live: $MYBAK_LOCK_DIR, else /run/lock when
// writable, else the temp dir.
func LockDir() string {
	if d := os.Getenv("MYBAK_LOCK_DIR"); d != "" {
		return d
	}
	if fi, err := os.Stat("/run/lock"); err == nil && fi.IsDir() && syscall.Access("/run/lock", 2) == nil {
		return "/run/lock"
	}
	return os.TempDir()
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
func AcquireLock(ctx context.Context, path, describe string, timeout time.Duration) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w (set MYBAK_LOCK_DIR to a writable directory)", path, err)
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
			holder, _ := os.ReadFile(path)
			f.Close()
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "unknown process"
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
