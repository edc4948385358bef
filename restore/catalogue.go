package restore

import (
	"context"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
)

// Catalogue finds backups in a store and the parents they need.
// MybakCatalogue reads mybak's own layout; package trove reads the
// backups OpenStack Trove made (trove.Catalogue). Errors for a reference
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
