package trove

import (
	"context"
	"fmt"
	"io"

	"github.com/mybak/mybak/storage"
)

// Store is the storage.Backend restore reads Trove backups through. Get
// streams an object's segments one after the other straight from Swift,
// checking each one's size and MD5 as it ends (Swift.ReadParts): Trove's
// segments are up to 2 GiB, too large to hold, and a Dynamic Large
// Object's GET checks nothing. Every other method is the Swift store's.
type Store struct {
	Swift
}

// Get opens object name from byte off. A corrupt segment fails the read
// with a *swift.CorruptPartError naming it, after its bytes were returned.
func (s Store) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("get %q: negative offset %d", name, off)
	}
	parts, _, err := s.Swift.Segments(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", name, err)
	}
	return s.Swift.ReadParts(ctx, parts, off), nil
}

var _ storage.Backend = Store{}
