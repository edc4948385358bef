package restore

import (
	"context"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/storage"
)

// What packages verify and drill use of restore: the damage sentinel, the
// check of a stored object against its manifest, the authentication
// policy. (The LSN check of a physical chain is engine/physical's
// CheckChain.)

// ErrDamaged is check.ErrDamaged: a restore returns it (wrapped) when the
// backup's data is missing or does not match its manifest.
var ErrDamaged = check.ErrDamaged

// Policy returns o's authentication policy with o's key.
func (o Options) Policy() backup.AuthPolicy { return o.policy() }

// CheckObject compares the stored object name with its manifest record o
// (backup.CheckObject: presence, size, and a hash).
func CheckObject(ctx context.Context, st storage.Backend, name string, o backup.Object) error {
	return backup.CheckObject(ctx, st, name, o)
}
