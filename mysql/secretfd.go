package mysql

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// ErrUnsupportedPlatform: what was asked cannot work on this operating
// system; the error's text says what does.
var ErrUnsupportedPlatform = errors.New("not supported on this platform")

// childDefaultsFD is the descriptor number under which a child finds its
// defaults file (the first of exec.Cmd.ExtraFiles).
const childDefaultsFD = 3

// childDefaultsPath is the path the child opens it by.
var childDefaultsPath = fmt.Sprintf("/dev/fd/%d", childDefaultsFD)

// maxPipedDefaults is the most a defaults file handed over by secretPipe
// may hold: all of it is written before the child starts, so it must fit
// in the pipe's buffer (16 KiB on darwin at first, 64 KiB on Linux).
const maxPipedDefaults = 16 << 10

// secretPipe returns the read end of a pipe that holds content and then
// ends (its write end is closed), closed on exec (exec.Cmd.ExtraFiles
// hands it to one child). It is how a child gets its defaults file where
// there is no memfd (secretfd_other.go): the password is in the kernel's
// pipe buffer only, never in a file, and gone when mybak and the child
// are. A pipe can be read once: a second open of /dev/fd/3 reads nothing.
func secretPipe(content []byte) (*os.File, error) {
	if len(content) > maxPipedDefaults {
		return nil, fmt.Errorf("the child's settings are %d bytes, more than the %d a pipe holds on %s", len(content), maxPipedDefaults, runtime.GOOS)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create a pipe for the child's settings: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("write the child's settings: %w", err)
	}
	if err := w.Close(); err != nil {
		r.Close()
		return nil, fmt.Errorf("write the child's settings: %w", err)
	}
	return r, nil
}

// readsDefaultsTwice names the tools that open their option file more
// than once (mariabackup reads the server's groups, then the client's).
var readsDefaultsTwice = []string{"mariabackup", "mariadb-backup", "xtrabackup"}

// checkDefaultsReopen refuses to hand a defaults file to a tool that
// reads it twice where the file can be read only once (reopen false: a
// pipe): the second read would find it empty, and the tool would connect
// without the password and fail with a misleading "access denied".
func checkDefaultsReopen(path string, reopen bool) error {
	name := filepath.Base(path)
	if reopen || !slices.Contains(readsDefaultsTwice, name) {
		return nil
	}
	return fmt.Errorf("%s reads its option file twice, and on %s mybak hands a password to a tool only through a pipe that can be read once (never through a file on disk): physical backups need Linux; use --engine mariadb-dump (or mysqldump) here, or run mybak on Linux: %w",
		name, runtime.GOOS, ErrUnsupportedPlatform)
}
