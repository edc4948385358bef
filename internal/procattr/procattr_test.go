package procattr

import (
	"runtime"
	"syscall"
	"testing"
)

// TestSetPdeathsig: on Linux the signal is set (mysql.Run and the drill's
// scratch server rely on it); elsewhere nothing is, and HasPdeathsig says
// so. Other attributes stay as they were.
func TestSetPdeathsig(t *testing.T) {
	a := &syscall.SysProcAttr{Setpgid: true}
	got := SetPdeathsig(a, syscall.SIGKILL)
	if want := runtime.GOOS == "linux"; got != want || HasPdeathsig != want {
		t.Fatalf("on %s: SetPdeathsig = %v, HasPdeathsig = %v, want %v", runtime.GOOS, got, HasPdeathsig, want)
	}
	if !a.Setpgid {
		t.Error("SetPdeathsig changed another attribute")
	}
}
