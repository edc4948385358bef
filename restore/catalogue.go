package restore

import (
	"context"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
)

// Catalogue finds backups in a store and the parents they need.
// MybakCatalogue reads mybak's own layout; package repo's repositories
// (mybak's and Trove's, see package trove) implement it too. Errors for a reference
// that names nothing wrap backup.ErrNoBackup.
type Catalogue interface {
	// Resolve returns the manifest of the complete backup ref names (an
	// ID or "latest").
	Resolve(ctx context.Context, ref string) (*backup.Manifest, error)
	// Chain returns the backups restoring m needs, the full backup first
	// and m last.
	Chain(ctx context.Context, m *backup.Manifest) ([]*backup.Manifest, error)
}

// ObjectChecker is implemented by catalogues that check a backup's stored
// objects their own way (Trove: each segment's MD5 and the etag of etags)
// instead of Verify's presence, size and hash check. CheckObject returns
// nil for an intact object and an error that says what is wrong (naming
// the bad piece) otherwise.
type ObjectChecker interface {
	CheckObject(ctx context.Context, m *backup.Manifest, o backup.Object) error
}

// Unfinisher is implemented by catalogues that can say what there is of a
// backup ID that names no complete backup (mybak's layout: a backup being
// written, or the objects of an interrupted one). Unfinished returns the
// backup's marker and why its writer is believed alive (nil and "" when it
// is not being written), and the count of objects it left (0: nothing at
// all); err is the failure to count them.
type Unfinisher interface {
	Unfinished(ctx context.Context, id string) (mk *backup.Marker, writer string, objects int, err error)
}

// MybakCatalogue is the Catalogue of mybak's own layout in Store.
type MybakCatalogue struct {
	Store storage.Backend
}

// Resolve implements Catalogue with backup.Resolve.
func (c MybakCatalogue) Resolve(ctx context.Context, ref string) (*backup.Manifest, error) {
	return backup.Resolve(ctx, c.Store, ref)
}

// Chain implements Catalogue with backup.Chain.
func (c MybakCatalogue) Chain(ctx context.Context, m *backup.Manifest) ([]*backup.Manifest, error) {
	return backup.Chain(ctx, c.Store, m)
}

// Unfinished implements Unfinisher with backup.Unfinished.
func (c MybakCatalogue) Unfinished(ctx context.Context, id string) (*backup.Marker, string, int, error) {
	return backup.Unfinished(ctx, c.Store, id)
}
