package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mybak/mybak/storage"
)

// ErrNoBackup is returned (wrapped) when a backup reference resolves to
// nothing: an unknown ID, an incomplete backup, or "latest" in an empty store.
var ErrNoBackup = errors.New("no backup")

// ErrHasDependents is returned (wrapped) by Delete when other backups
// depend on the one to delete and cascade was not asked for.
var ErrHasDependents = errors.New("backup has dependent incremental backups")

// maxManifestSize bounds how much of a manifest object is read.
const maxManifestSize = 64 << 20

// State of a backup in the catalogue.
const (
	StateComplete   = "complete"
	StateIncomplete = "incomplete" // objects without a manifest
	StateDamaged    = "damaged"    // a manifest that cannot be read or parsed
)

// Entry is one backup as found in a store.
type Entry struct {
	ID    string
	State string
	// Manifest is set for complete backups, and for damaged ones whose
	// manifest was read but whose chain of parents is a cycle (Err is
	// then a *CycleError, see MarkParentCycles).
	Manifest *Manifest
	// Objects are the stored objects under the ID, manifest included.
	Objects []storage.ObjectInfo
	// StoredBytes adds up the objects' sizes.
	StoredBytes int64
	// LastModified is the newest object's time.
	LastModified time.Time
	// Err explains a damaged entry.
	Err error
}

// Catalogue lists every backup in the store, oldest first. Objects whose
// first path element is not a backup ID are ignored. A backup whose chain
// of parents is a cycle is damaged (see MarkParentCycles).
func Catalogue(ctx context.Context, st storage.Backend) ([]Entry, error) {
	byID := map[string]*Entry{}
	var ids []string
	err := st.List(ctx, "", func(oi storage.ObjectInfo) error {
		id, _, ok := strings.Cut(oi.Name, "/")
		if !ok || ValidateID(id) != nil {
			return nil
		}
		e := byID[id]
		if e == nil {
			e = &Entry{ID: id, State: StateIncomplete}
			byID[id] = e
			ids = append(ids, id)
		}
		e.Objects = append(e.Objects, oi)
		e.StoredBytes += oi.Size
		if oi.ModTime.After(e.LastModified) {
			e.LastModified = oi.ModTime
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", st.Location(), err)
	}
	sort.Strings(ids)
	out := make([]Entry, 0, len(ids))
	for _, id := range ids {
		e := byID[id]
		for _, oi := range e.Objects {
			if oi.Name != id+"/"+ManifestName {
				continue
			}
			m, err := LoadManifest(ctx, st, id)
			switch {
			case err == nil:
				e.State, e.Manifest = StateComplete, m
			case errors.Is(err, storage.ErrNotFound):
				// deleted while we listed: stays incomplete
			case ctx.Err() != nil:
				return nil, err
			default:
				e.State, e.Err = StateDamaged, err
			}
		}
		out = append(out, *e)
	}
	// IDs sort by their start second; within a second the manifests' start
	// times order the backups.
	sort.SliceStable(out, func(i, j int) bool { return out[i].start().Before(out[j].start()) })
	MarkParentCycles(out)
	return out, nil
}

// start is when the backup started, as precisely as the entry knows.
func (e *Entry) start() time.Time {
	if e.Manifest != nil {
		return e.Manifest.StartTime
	}
	t, _ := IDTime(e.ID)
	return t
}

// LoadManifest reads and parses the manifest of backup id.
func LoadManifest(ctx context.Context, st storage.Backend, id string) (*Manifest, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	name := id + "/" + ManifestName
	rc, err := st.Get(ctx, name, 0)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, noBackup(ctx, st, id, err)
		}
		return nil, fmt.Errorf("read manifest of %s: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", id, err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%w %s: larger than %d bytes", ErrInvalidManifest, name, maxManifestSize)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("%w: %s holds the manifest of %s", ErrInvalidManifest, name, m.ID)
	}
	return m, nil
}

// Resolve turns a user's reference (an ID or "latest") into the manifest of
// a complete backup.
func Resolve(ctx context.Context, st storage.Backend, ref string) (*Manifest, error) {
	if ref != "latest" {
		return LoadManifest(ctx, st, ref)
	}
	entries, err := Catalogue(ctx, st)
	if err != nil {
		return nil, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].State == StateComplete {
			return entries[i].Manifest, nil
		}
	}
	return nil, fmt.Errorf("%w in %s is complete, so none is latest; %s", ErrNoBackup, st.Location(), ListHint(ownLayout{}, st.Location()))
}

// Chain returns the backups that restoring m needs, oldest (the full
// backup) first and m last. A chain that comes back to a backup it passed
// is a *CycleError.
func Chain(ctx context.Context, st storage.Backend, m *Manifest) ([]*Manifest, error) {
	chain := []*Manifest{m}
	w := NewParentWalk(m.ID)
	for cur := m; cur.Parent != ""; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := w.Step(cur.Parent); err != nil {
			return nil, fmt.Errorf("backup chain of %s: %w", m.ID, err)
		}
		p, err := LoadManifest(ctx, st, cur.Parent)
		if err != nil {
			return nil, fmt.Errorf("parent of %s: %w", cur.ID, err)
		}
		chain = append(chain, p)
		cur = p
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// Dependents returns the IDs of the backups whose chain includes id
// (children, grandchildren, ...), in catalogue order: complete ones, and
// damaged ones whose chain is a cycle (the other backups of a cycle that
// includes id, and their descendants). A walk stops at a cycle.
func Dependents(entries []Entry, id string) []string {
	parent := parents(entries)
	var out []string
	for _, e := range entries {
		if e.ID == id {
			continue
		}
		anc, _ := Ancestors(parent, e.ID)
		if slices.Contains(anc, id) {
			out = append(out, e.ID)
		}
	}
	return out
}

// CycleOf returns the *CycleError of the chain of id as the entries'
// manifests name it, or nil when it ends.
func CycleOf(entries []Entry, id string) error {
	_, err := Ancestors(parents(entries), id)
	return err
}

// Delete removes backup id. The manifest goes first, so that a delete
// interrupted half-way leaves an incomplete backup (that prune removes),
// never a complete-looking one with missing data. When other backups depend
// on id, Delete refuses with ErrHasDependents unless cascade is true; then
// the dependents are deleted too, newest first. It returns the deleted IDs.
func Delete(ctx context.Context, st storage.Backend, id string, cascade bool) ([]string, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	entries, err := Catalogue(ctx, st)
	if err != nil {
		return nil, err
	}
	found := false
	for _, e := range entries {
		found = found || e.ID == id
	}
	if !found {
		return nil, fmt.Errorf("%w %s in %s; %s", ErrNoBackup, id, st.Location(), ListHint(ownLayout{}, st.Location()))
	}
	deps := Dependents(entries, id)
	if len(deps) > 0 && !cascade {
		note := ""
		if err := CycleOf(entries, id); err != nil {
			note = " (" + err.Error() + ")"
		}
		return nil, fmt.Errorf("delete %s: %w: %s%s; delete them first or add --cascade",
			id, ErrHasDependents, strings.Join(deps, ", "), note)
	}
	victims := append([]string{id}, deps...)
	sort.Sort(sort.Reverse(sort.StringSlice(victims)))
	var deleted []string
	for _, v := range victims {
		if err := deleteObjects(ctx, st, v); err != nil {
			return deleted, err
		}
		deleted = append(deleted, v)
	}
	return deleted, nil
}

// deleteObjects removes every object under id/, the manifest first.
func deleteObjects(ctx context.Context, st storage.Backend, id string) error {
	if err := st.Delete(ctx, id+"/"+ManifestName); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("delete backup %s: %w", id, err)
	}
	var names []string
	if err := st.List(ctx, id+"/", func(oi storage.ObjectInfo) error {
		names = append(names, oi.Name)
		return nil
	}); err != nil {
		return fmt.Errorf("delete backup %s: %w", id, err)
	}
	for _, n := range names {
		if err := st.Delete(ctx, n); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete backup %s: %w", id, err)
		}
	}
	// A killed upload leaves parts that no object lists (Swift segments
	// of a data object whose manifest was never committed).
	if sw, ok := storage.As[storage.UncommittedSweeper](st); ok {
		if err := sw.SweepUncommitted(ctx, id+"/"); err != nil {
			return fmt.Errorf("delete backup %s: %w", id, err)
		}
	}
	return nil
}

// PrunePlan says what Prune removes and keeps (see PlanRetention).
type PrunePlan struct {
	Keep   []string // complete backups kept (by the policy, and the parents they need)
	Remove []string // complete backups past the retention
	Stale  []string // incomplete or damaged leftovers older than the grace period
	Young  []string // incomplete leftovers within the grace period: maybe still running
	// Live are incomplete backups whose writer is running
	// (RetentionOptions.Live): kept whatever the grace period.
	Live []string
	// Needed are incomplete or damaged entries that a kept chain names.
	Needed []string
	// Other are complete backups outside the label the plan was limited
	// to (RetentionOptions.Label): left alone.
	Other []string
	// Reasons says why each kept backup is kept ("last 1", "daily
	// 2026-12-03", "parent of ID", ...); Groups gives the group of every
	// complete backup the policy looked at.
	Reasons map[string][]string
	Groups  map[string]Group
}

// PlanPrune is PlanRetention with --keep keep (the newest keep complete
// backups of each group), grace and now.
func PlanPrune(entries []Entry, keep int, grace time.Duration, now time.Time) PrunePlan {
	return PlanRetention(entries, RetentionOptions{Policy: Policy{Last: keep}, Grace: grace, Now: now})
}

// PruneOrder is the order in which Prune removes plan.Remove and
// plan.Stale in mybak's layout: newest first (IDs sort by time), so a
// chain is never left with a child whose parent is gone.
func PruneOrder(plan PrunePlan) []string {
	ids := append(append([]string{}, plan.Remove...), plan.Stale...)
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids
}

// Prune carries out a plan: removes plan.Remove and plan.Stale, in
// PruneOrder.
func Prune(ctx context.Context, st storage.Backend, plan PrunePlan) error {
	for _, id := range PruneOrder(plan) {
		if err := deleteObjects(ctx, st, id); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
	}
	return nil
}
