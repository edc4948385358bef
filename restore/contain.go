package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/xbstream"
)

// ErrUnsafeName is returned (wrapped) when a name that comes from a
// backup (its ID, in a manifest or a wire stream's header) is not one a
// path may be built from: restore never names a directory or a file after
// it. A file name inside a backup's xbstream that would leave the extract
// dir is xbstream.ErrUnsafePath.
var ErrUnsafeName = errors.New("unsafe name in the backup")

// checkID refuses an ID that is not a backup ID of a registered layout
// (mybak's, or Trove's: a name of letters, digits, '-' and '_'): it
// becomes a directory's and a log file's name.
func checkID(id string) error {
	if backup.ValidateAnyID(id) == nil {
		return nil
	}
	return fmt.Errorf("%w: %q is not a backup ID: a backup from an untrusted source? refusing to restore it", ErrUnsafeName, id)
}

// below returns dir/name after checking that name is one local path
// component (no separator, not "..", ".", empty or absolute), so that the
// result is a direct child of dir.
func below(dir, name string) (string, error) {
	if !filepath.IsLocal(name) || filepath.Base(name) != name || name == "." {
		return "", fmt.Errorf("%w: %q is not a file name below %s", ErrUnsafeName, name, dir)
	}
	return filepath.Join(dir, name), nil
}

// extractGuarded extracts the xbstream r into dir with mbstream/xbstream
// -x, passing each chunk on only once xbstream.Guard checked its header:
// a chunk naming a file outside dir, or a damaged one, stops the stream
// before its first byte and fails the extraction with that error (which
// wraps xbstream.ErrUnsafePath or another damage error), whatever the tool
// made of its cut input.
func extractGuarded(ctx context.Context, eng mysql.Engine, r io.Reader, dir, logPath string) error {
	g := &guardErr{r: xbstream.Guard(r)}
	err := mysql.Extract(ctx, eng, g, dir, logPath)
	if gerr := g.get(); gerr != nil && xbstream.Damaged(gerr) {
		return fmt.Errorf("extract backup stream into %s: %w (the extraction stopped before that chunk)", dir, gerr)
	}
	return err
}

// guardErr remembers the first error of its reader, which the stream
// tool's feeding goroutine reads.
type guardErr struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (g *guardErr) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
	}
	return n, err
}

func (g *guardErr) get() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// unsafeFirst returns the extraction's error xerr when it found an unsafe
// name (the decoder may have failed first, on a stream that was cut or
// whose manifest does not match: the unsafe name says more), else err, the
// first error of the pipeline.
func unsafeFirst(err, xerr error) error {
	if err != nil && errors.Is(xerr, xbstream.ErrUnsafePath) {
		return xerr
	}
	return err
}
