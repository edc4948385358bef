package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/mybak/mybak/xbstream"
)

// ErrToolStream means the backup tool exited successfully but its stream
// is not a valid xbstream (a bad chunk header, a chunk whose CRC-32 does
// not match its payload, a stream cut short): such a backup could not be
// restored, so it is not kept.
var ErrToolStream = errors.New("the backup tool wrote a damaged stream")

// streamCheck checks an engine's xbstream as it passes, on its way to the
// encoder: the framing of every chunk and its CRC-32, as mbstream -x
// would on restore, and that every file name stays inside the extract dir
// (xbstream.ValidPath, xbstream.Paths), as restore requires. A tool that
// exits 0 after writing a damaged stream (it has happened with
// mariabackup under concurrent DDL and load) then fails the backup at
// once, instead of leaving one that looks complete until a restore or
// verify --deep rejects it. The scan is xbstream.Checker, the one verify
// --deep uses; it holds no data.
type streamCheck struct {
	*xbstream.Checker
}

func startStreamCheck(ctx context.Context) *streamCheck {
	return &streamCheck{xbstream.NewChecker(ctx)}
}

// abort stops the check after the engine failed.
func (s *streamCheck) abort(err error) {
	s.Abort(err)
}

// finish ends the check after the engine succeeded and returns the damage
// found, matching ErrToolStream, or nil.
func (s *streamCheck) finish(tool string) error {
	sum, err := s.Finish()
	switch {
	case err != nil && xbstream.Damaged(err):
		return fmt.Errorf("%w: %s exited successfully, but its stream is damaged (%d bad chunks; first: %w): nothing was kept; take the backup again, and if it happens again keep the tool's log and check its version for known stream bugs",
			ErrToolStream, tool, max(sum.Damaged, 1), err)
	case err != nil:
		return fmt.Errorf("check the xbstream: %w", err)
	case sum.Chunks == 0:
		return fmt.Errorf("%w: %s exited successfully but wrote no xbstream chunk", ErrToolStream, tool)
	}
	return nil
}
