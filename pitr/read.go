package pitr

import (
	"context"
	"fmt"
	"io"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// ReadOptions configure ReadFile.
type ReadOptions struct {
	// Pass is the archive's passphrase (nil: not encrypted).
	Pass []byte
}

// ReadFile writes the archived bytes of f (its contiguous pieces from the
// first, decoded and checked against their records' sizes and hashes) to
// w, up to and including piece upTo (-1: all). It returns how many file
// bytes it wrote. A piece whose data is damaged, missing, or not where
// the previous one ended stops it with an error naming the piece.
func ReadFile(ctx context.Context, st storage.Backend, f *File, w io.Writer, upTo int, opts ReadOptions) (int64, error) {
	var pos int64
	for i, p := range f.Pieces {
		if upTo >= 0 && i > upTo {
			break
		}
		if p.Start != pos {
			return pos, fmt.Errorf("%s: piece %s starts at %d, the one before ends at %d: %w", f.Key, p.Object, p.Start, pos, ErrGap)
		}
		if err := readPiece(ctx, st, p, w, opts); err != nil {
			return pos, err
		}
		pos = p.End
	}
	return pos, nil
}

func readPiece(ctx context.Context, st storage.Backend, p *Piece, w io.Writer, opts ReadOptions) error {
	if p.Encrypted && opts.Pass == nil {
		return fmt.Errorf("read %s: %w (give the key the archive was written with)", p.ObjectName(), stream.ErrNeedPass)
	}
	rc, err := st.Get(ctx, p.ObjectName(), 0)
	if err != nil {
		return fmt.Errorf("read %s: %w", p.ObjectName(), err)
	}
	defer rc.Close()
	var pass []byte
	if p.Encrypted {
		pass = opts.Pass
	}
	if _, err := stream.Decode(ctx, w, rc, stream.DecodeOptions{Compression: p.Compression.Kind, Pass: pass, Expect: p.Expect}); err != nil {
		return fmt.Errorf("read %s: %w", p.ObjectName(), err)
	}
	return nil
}
