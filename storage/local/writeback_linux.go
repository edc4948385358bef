package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackWindow is how many bytes are written before their writeback to
// disk is started.
const writebackWindow = 32 << 20

// writeback writes to f and keeps the kernel flushing behind it: every
// window's writeback is started as soon as the window is full, the window
// before it is waited for, and its pages are dropped from the page cache.
// So a large backup neither piles up dirty memory on the database host
// (nor evicts the server's cached data) nor leaves a long flush for the
// final fsync. The calls are hints: errors are ignored here, and the
// fsync in Put stays the authority on durability. (Linux: sync_file_range
// and fadvise; writeback_other.go only writes.)
type writeback struct {
	f         *os.File
	off       int64 // bytes written
	started   int64 // end of the range whose writeback was started
	completed int64 // end of the range known written and dropped
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writebackWindow {
		fd := int(w.f.Fd())
		if w.started > w.completed {
			_ = unix.SyncFileRange(fd, w.completed, w.started-w.completed,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
			_ = unix.Fadvise(fd, w.completed, w.started-w.completed, unix.FADV_DONTNEED)
			w.completed = w.started
		}
		_ = unix.SyncFileRange(fd, w.started, w.off-w.started, unix.SYNC_FILE_RANGE_WRITE)
		w.started = w.off
	}
	return n, err
}
