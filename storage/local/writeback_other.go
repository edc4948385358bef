//go:build !linux

package local

import "os"

// writeback writes to f. Outside Linux there is no sync_file_range to start
// the kernel's writeback early (writeback_linux.go): the dirty pages are
// flushed by the kernel as it chooses and by the fsync in Put, which stays
// the authority on durability on every platform.
type writeback struct {
	f   *os.File
	off int64 // bytes written
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	return n, err
}
