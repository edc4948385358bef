package procattr

import (
	"syscall"
	"testing"
)

// TestSetPdeathsigLinux: the signal asked for is the one set.
func TestSetPdeathsigLinux(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		var a syscall.SysProcAttr
		SetPdeathsig(&a, sig)
		if a.Pdeathsig != sig {
			t.Errorf("Pdeathsig = %v, want %v", a.Pdeathsig, sig)
		}
	}
}
