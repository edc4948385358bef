package swift

import (
	"context"
	"fmt"
)

// DeleteOne removes object name itself and nothing else: a plain DELETE,
// without ?multipart-manifest=delete, so a Static or Dynamic Large
// Object's manifest goes and the segments it joins stay (Delete removes a
// Static Large Object with its segments). A missing object is an error
// wrapping storage.ErrNotFound.
//
// It is retried like every request without a body (see retrier.do): a
// DELETE is idempotent, and a retry after one that succeeded but whose
// answer was lost reports storage.ErrNotFound, which callers that remove
// a backup's objects ignore.
//
// Package trove removes a Trove backup with it in the order that keeps
// its catalogue honest: the data object first (the backup is then
// incomplete, never a complete-looking one with missing segments), then
// its segments one by one.
func (b *Backend) DeleteOne(ctx context.Context, name string) error {
	if err := check(ctx, "delete", name); err != nil {
		return err
	}
	if err := b.deleteKey(ctx, b.key(name)); err != nil {
		return fmt.Errorf("delete %q: %w", name, notFound(err))
	}
	return nil
}

// deleteKey is one retried DELETE of key in the container.
func (b *Backend) deleteKey(ctx context.Context, key string) error {
	return b.retr.do(ctx, "DELETE "+b.cfg.Container+"/"+key, func(ctx context.Context) error {
		return b.conn.ObjectDelete(ctx, b.cfg.Container, key)
	})
}
