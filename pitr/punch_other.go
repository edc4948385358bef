//go:build !linux

package pitr

// punch does nothing where there is no hole punching: the spool file
// keeps what was stored until it is removed.
func punch(path string, off, n int64) {}
