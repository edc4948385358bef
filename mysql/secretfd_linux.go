package mysql

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// defaultsReopen: on Linux the child may open its defaults file more than
// once. The tools open their option files by name, possibly more than once
// (mariabackup does); opening /dev/fd/N of a memfd opens the same
// in-memory file anew at offset 0, which a pipe could not offer.
const defaultsReopen = true

// secretFD returns an anonymous in-memory file (memfd) holding content,
// mode 0600 (a memfd starts 0777, and the MySQL tools ignore a
// world-writable option file), positioned at its start and closed on exec
// (exec.Cmd.ExtraFiles hands it to one child). It has no name in any
// directory: it vanishes when the last process holding it exits, however
// mybak ends, so a password in it never outlives mybak and its child.
func secretFD(name string, content []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create an in-memory file for the child's settings: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("chmod the child's in-memory settings file: %w", err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the child's settings: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("rewind the child's settings: %w", err)
	}
	return f, nil
}
