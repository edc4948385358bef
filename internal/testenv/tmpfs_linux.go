package testenv

import (
	"os"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size (mount's size= option, e.g. "1m") on a new
// temporary directory and unmounts it when the test ends. Mounting needs
// root: without it the test is skipped, or fails when Required.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	Need(t, os.Geteuid() == 0, "mounting a small tmpfs to fill needs root")
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		Need(t, false, "cannot mount a tmpfs on "+dir+": "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
