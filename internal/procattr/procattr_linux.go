package procattr

import "syscall"

const hasPdeathsig = true

func setPdeathsig(a *syscall.SysProcAttr, sig syscall.Signal) bool {
	a.Pdeathsig = sig
	return true
}
