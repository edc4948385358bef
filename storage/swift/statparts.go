package swift

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/storage"
)

// StatParts checks each part's presence, size and ETag (the MD5 Swift
// computed when it stored the bytes) with HEAD requests only, without
// downloading anything: the fast check of `mybak verify`. It returns nil
// when every part matches, otherwise the problems joined: a
// *CorruptPartError for each part that is missing or differs (errors.Is
// ErrCorrupt holds), or the error that stopped a request.
func (b *Backend) StatParts(ctx context.Context, parts []storage.Part) error {
	errs := make([]error, len(parts))
	var g errgroup.Group
	g.SetLimit(max(b.cfg.UploadParallel, 1))
	for i, p := range parts {
		g.Go(func() error {
			container, obj, ok := strings.Cut(p.Name, "/")
			if !ok {
				errs[i] = fmt.Errorf("stat part %d: name %q is not CONTAINER/OBJECT", i, p.Name)
				return nil
			}
			info, _, err := b.head(ctx, container, obj)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				errs[i] = &CorruptPartError{Index: i, Part: p, Problem: "missing"}
			case err != nil:
				errs[i] = fmt.Errorf("stat part %d (%s): %w", i, p.Name, err)
			case info.Bytes != p.Size:
				errs[i] = &CorruptPartError{Index: i, Part: p, Problem: fmt.Sprintf("it has %d bytes", info.Bytes)}
			case !strings.EqualFold(strings.Trim(info.Hash, `"`), p.MD5):
				errs[i] = &CorruptPartError{Index: i, Part: p, Problem: "its ETag is " + info.Hash}
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}
