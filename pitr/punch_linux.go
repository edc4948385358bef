package pitr

import (
	"os"

	"golang.org/x/sys/unix"
)

// punch frees the disk blocks of [off, off+n) of the spool file at path,
// keeping its size (the child goes on appending to it): what is stored
// does not stay on disk unencrypted, and the spool of a 1 GiB binary log
// holds about a flush interval of it. Best effort: a file system without
// hole punching keeps the bytes until the file is removed.
func punch(path string, off, n int64) {
	if n <= 0 {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
