package pipes

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

const fGetPipeSz = 1032 // F_GETPIPE_SZ

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	n, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fGetPipeSz, 0)
	if e != 0 {
		t.Fatal(e)
	}
	return int(n)
}

func TestGrow(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("F_SETPIPE_SZ is Linux's")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	before := pipeSize(t, r)
	Grow(r)
	if got := pipeSize(t, r); got < Size || got <= before {
		t.Errorf("pipe buffer %d bytes after Grow (was %d), want %d", got, before, Size)
	}
	// Not a pipe, nil: nothing happens, nothing fails.
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	Grow(f)
	Grow(nil)
	f.Close()
}
