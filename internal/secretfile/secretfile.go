// Package secretfile holds mybak's one rule for files that hold secrets or
// say where they come from: the encryption key file, the MySQL, Swift and
// replication password files, a MySQL option file, the config file.
//
// Whoever can write such a file decides what mybak does with it: a key
// only they know for future backups, a server of theirs that receives the
// password, a store of theirs. So a file the group or others may write is
// refused, and so is a file owned by another user than the one mybak runs
// as (or root), who could change its mode back at any time. Whoever can
// read a password can log in with it: a password file the group or others
// may read is refused. A key file they may read is used with a warning,
// since a key shared with a group (restore hosts) may be meant. Symlinks
// are followed: the file judged is the one read.
package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Kind is what a file holds; it decides what Check allows.
type Kind int

const (
	// Password: a credential. The group and others may neither read nor
	// write it.
	Password Kind = iota
	// Key: the encryption passphrase. The group and others may not write
	// it; their reading it gives a warning.
	Key
	// Settings: names the secrets or where they go (the config file, a
	// MySQL option file without a password). The group and others may read
	// it, not write it.
	Settings
)

// ErrInsecure matches every refusal of Check and Open.
var ErrInsecure = errors.New("insecure permissions")

// Check judges the file whose FileInfo (of the file itself, after symlinks)
// is fi. what names it in messages (e.g. "--encrypt-key-file /etc/mybak/key").
// It returns an error matching ErrInsecure that says the command that fixes
// it, or, for a Key the group or others may read, a warning to show.
func Check(what string, fi fs.FileInfo, kind Kind) (warning string, err error) {
	if fi.IsDir() {
		return "", fmt.Errorf("%s is a directory, not a file", what)
	}
	perm := fi.Mode().Perm()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		owner := strconv.FormatUint(uint64(st.Uid), 10)
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username + " (uid " + owner + ")"
		} else {
			owner = "uid " + owner
		}
		return "", fmt.Errorf("%w: %s belongs to %s, who can change it while mybak runs as uid %d: "+
			"chown it to the user mybak runs as (or root)", ErrInsecure, what, owner, os.Geteuid())
	}
	if perm&0o022 != 0 {
		return "", fmt.Errorf("%w: %s is writable by group or others (mode %04o), so they can change what mybak uses: "+
			"chmod go-w it (chmod 600 for a secret)", ErrInsecure, what, perm)
	}
	if perm&0o044 != 0 {
		switch kind {
		case Password:
			return "", fmt.Errorf("%w: %s is readable by group or others (mode %04o) and holds a password: chmod 600 it",
				ErrInsecure, what, perm)
		case Key:
			return fmt.Sprintf("%s is readable by group or others (mode %04o): whoever reads it can decrypt every backup "+
				"made with this key; chmod 600 it unless that group is meant to", what, perm), nil
		}
	}
	return "", nil
}

// Open opens path for reading and checks the opened file (so the file
// judged is the file read, whatever a symlink pointed to). The caller
// closes the file. Errors of Check are returned with the file closed.
func Open(what, path string, kind Kind) (f *os.File, warning string, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, "", err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", err
	}
	if warning, err = Check(what, fi, kind); err != nil {
		f.Close()
		return nil, "", err
	}
	return f, warning, nil
}

// CheckPath is Check for the file at path (symlinks followed).
func CheckPath(what, path string, kind Kind) (warning string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return Check(what, fi, kind)
}
