package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/ops"
)

// Exit codes, documented in README.md. Scripts rely on them.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the operation failed
	ExitUsage   = 2 // bad command line, flags or configuration
	ExitDamaged = 3 // verify found damage; a backup or stream failed authentication or is refused as unauthenticated
	ExitLocked  = 4 // another run of the same job holds its lock
	ExitSignal  = 130
)

// usageError marks errors in how mybak was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// exitCode maps an error to the process's exit status.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, check.ErrDamaged), errors.Is(err, backup.ErrAuthentication), errors.Is(err, backup.ErrUnauthenticated):
		return ExitDamaged
	case errors.Is(err, ops.ErrLocked):
		return ExitLocked
	case errors.Is(err, context.Canceled):
		return ExitSignal
	}
	return ExitFailure
}
