//go:build !linux

package e2e

import (
	"runtime"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

// TestNeedsLinux stands for the end-to-end tests outside Linux, where they
// are not built (//go:build linux in every other file): they read /proc,
// mount a tmpfs, measure pipes and run the Linux packages of MariaDB and
// Swift. It skips saying so, and fails under CI=true, so that a run on
// another platform never passes quietly with nothing run.
func TestNeedsLinux(t *testing.T) {
	testenv.Need(t, false, "the end-to-end tests need Linux, not "+runtime.GOOS+": run go test ./e2e/ on Linux (scripts/test.sh)")
}
