// Package procattr sets the attributes of a child process that only some
// platforms have, so that callers need no build tags of their own.
//
// The one today is the parent-death signal. On Linux a child started with
// one gets the signal when the thread that started it ends, which is when
// mybak ends (even by kill -9) as long as that thread is kept locked
// (runtime.LockOSThread) until the child has exited. Other platforms
// (darwin) have no such signal: there a child that mybak started runs on
// when mybak is killed with SIGKILL (a cancelled context or an ordinary
// signal still kills its process group), and ends when it notices that
// nobody reads its output.
package procattr

import "syscall"

// HasPdeathsig says whether this platform has a parent-death signal
// (SetPdeathsig does something).
const HasPdeathsig = hasPdeathsig

// SetPdeathsig asks for sig to be sent to the child started with a when
// the thread that starts it ends, where the platform offers that (Linux);
// elsewhere it leaves a unchanged. It reports whether it set the signal.
func SetPdeathsig(a *syscall.SysProcAttr, sig syscall.Signal) bool {
	return setPdeathsig(a, sig)
}
