package backup

import (
	"context"
	"errors"
	"fmt"
	"io"

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
// (xbstream.ValidPath, xbstream.Paths), as restore requires. A tool that exits 0 after writing a damaged stream (it
// has happened with mariabackup under concurrent DDL and load) then fails
// the backup at once, instead of leaving one that looks complete until a
// restore or verify --deep rejects it. The check reads what the engine
// writes through a pipe in a goroutine of its own; it holds no data.
type streamCheck struct {
	pw   *io.PipeWriter
	done chan struct{}
	sum  *xbstream.Summary
	err  error
}

func startStreamCheck(ctx context.Context) *streamCheck {
	pr, pw := io.Pipe()
	s := &streamCheck{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.sum, s.err = xbstream.Scan(ctx, pr)
		// After damage that stops the scan, let the engine finish (its
		// own errors come first): take what follows.
		io.Copy(io.Discard, pr)
	}()
	return s
}

// Write implements io.Writer.
func (s *streamCheck) Write(p []byte) (int, error) {
	n, err := s.pw.Write(p)
	if err != nil {
		return n, fmt.Errorf("check the xbstream: %w", err)
	}
	return n, nil
}

// abort stops the check after the engine failed.
func (s *streamCheck) abort(err error) {
	s.pw.CloseWithError(err)
	<-s.done
}

// finish ends the check after the engine succeeded and returns the damage
// found, matching ErrToolStream, or nil.
func (s *streamCheck) finish(tool string) error {
	s.pw.Close()
	<-s.done
	switch {
	case s.err != nil && xbstream.Damaged(s.err):
		return fmt.Errorf("%w: %s exited successfully, but its stream is damaged (%d bad chunks; first: %w): nothing was kept; take the backup again, and if it happens again keep the tool's log and check its version for known stream bugs",
			ErrToolStream, tool, max(s.sum.Damaged, 1), s.err)
	case s.err != nil:
		return fmt.Errorf("check the xbstream: %w", s.err)
	case s.sum.Chunks == 0:
		return fmt.Errorf("%w: %s exited successfully but wrote no xbstream chunk", ErrToolStream, tool)
	}
	return nil
}
