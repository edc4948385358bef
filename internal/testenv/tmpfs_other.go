//go:build !linux

package testenv

import (
	"runtime"
	"testing"
)

// Tmpfs mounts a tmpfs of size on a new temporary directory on Linux; on
// other platforms (no tmpfs mount) it skips t, or fails it when Required.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	Need(t, false, "mounting a small tmpfs to fill needs Linux, not "+runtime.GOOS)
	return ""
}
