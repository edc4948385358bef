//go:build !linux

package procattr

import "syscall"

// No parent-death signal outside Linux: see the package comment.
const hasPdeathsig = false

func setPdeathsig(*syscall.SysProcAttr, syscall.Signal) bool { return false }
