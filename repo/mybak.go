package repo

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// MybakName is the --layout value of mybak's own layout (also the
// default, "").
const MybakName = "mybak"

func init() {
	Register(Kind{Name: MybakName, Layout: backup.OwnLayout(), Open: func(st storage.Backend, log *slog.Logger) (Repository, error) {
		return NewMybak(st, log), nil
	}}, "")
}

// Mybak is the Repository of mybak's own layout in a store (every object
// of a backup under its ID; see package backup's catalogue).
type Mybak struct {
	st  storage.Backend
	log *slog.Logger
}

// NewMybak returns the repository of mybak's layout in st; log (nil:
// discard) receives what Delete removes.
func NewMybak(st storage.Backend, log *slog.Logger) *Mybak {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mybak{st: st, log: log}
}

var _ Repository = (*Mybak)(nil)

// Layout implements Repository: mybak's own.
func (r *Mybak) Layout() backup.Layout { return backup.OwnLayout() }

// Location implements Repository.
func (r *Mybak) Location() string { return r.st.Location() }

// Store implements Repository.
func (r *Mybak) Store() storage.Backend { return r.st }

// Data implements Repository: the store itself.
func (r *Mybak) Data() storage.Backend { return r.st }

// Entries implements Repository with backup.Catalogue.
func (r *Mybak) Entries(ctx context.Context) ([]backup.Entry, error) {
	return backup.Catalogue(ctx, r.st)
}

// Resolve implements Repository with backup.Resolve.
func (r *Mybak) Resolve(ctx context.Context, ref string) (*backup.Manifest, error) {
	return backup.Resolve(ctx, r.st, ref)
}

// Chain implements Repository with backup.Chain.
func (r *Mybak) Chain(ctx context.Context, m *backup.Manifest) ([]*backup.Manifest, error) {
	return backup.Chain(ctx, r.st, m)
}

// CheckObject implements Repository with backup.CheckObject: presence,
// size, and the parts' MD5s, the store's MD5 or the SHA-256 read back.
func (r *Mybak) CheckObject(ctx context.Context, m *backup.Manifest, o backup.Object) error {
	return backup.CheckObject(ctx, r.st, m.ObjectPath(o.Name), o)
}

// Unfinished implements Repository with backup.Unfinished.
func (r *Mybak) Unfinished(ctx context.Context, id string) (*backup.Marker, string, int, error) {
	return backup.Unfinished(ctx, r.st, id)
}

// Describe implements Repository: mybak made every backup of its layout,
// nothing to add.
func (r *Mybak) Describe(*backup.Manifest) []any { return nil }

// Delete implements Repository with backup.DeleteIDs (the manifest of
// each first), logging "deleted" for each.
func (r *Mybak) Delete(ctx context.Context, entries []backup.Entry, ids []string, _ bool) ([]Removal, error) {
	deleted, err := backup.DeleteIDs(ctx, r.st, ids)
	out := removals(entries, deleted)
	for _, rm := range out {
		r.log.Info("deleted", "id", rm.ID, "stored_bytes", rm.StoredBytes)
	}
	return out, err
}

// PlanPrune implements Repository with backup.PlanRetention.
func (r *Mybak) PlanPrune(entries []backup.Entry, opts backup.RetentionOptions) (*PrunePlan, error) {
	plan := backup.PlanRetention(entries, opts)
	return &PrunePlan{PrunePlan: plan, Entries: entries, Order: backup.PruneOrder(plan)}, nil
}

// Prune implements Repository as backup.Prune does, returning what it
// removed; it logs nothing (prune logged its plan).
func (r *Mybak) Prune(ctx context.Context, plan *PrunePlan) ([]Removal, error) {
	deleted, err := backup.DeleteIDs(ctx, r.st, plan.Order)
	if err != nil {
		err = fmt.Errorf("prune: %w", err)
	}
	return removals(plan.Entries, deleted), err
}

// PrepareWrite implements Repository: mybak's layout takes every option.
func (r *Mybak) PrepareWrite(*stream.EncodeOptions, WriteOptions) error { return nil }

// Writer implements Repository with backup.OwnWriter.
func (r *Mybak) Writer(*backup.Manifest) backup.Writer { return backup.OwnWriter(r.st) }

// removals describes the deleted IDs from the entries they were listed as.
func removals(entries []backup.Entry, ids []string) []Removal {
	byID := make(map[string]backup.Entry, len(entries))
	for _, e := range entries {
		byID[e.ID] = e
	}
	out := make([]Removal, 0, len(ids))
	for _, id := range ids {
		e := byID[id]
		out = append(out, Removal{ID: id, State: e.State, StoredBytes: e.StoredBytes})
	}
	return out
}
