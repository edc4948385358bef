package trove

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/swift"
)

// deleteParallel is how many segments are deleted at once.
const deleteParallel = 4

// Removal reports what Delete or Prune did with one backup
// (repo.Removal): Objects counts the data object, segments and
// <id>.mybak.json deleted; Foreign lists the segments
// ("CONTAINER/OBJECT") the data object joined that are not the backup's
// own (<id>_NNNNNNNN in the same container, as Trove and mybak name
// them), left in place; Synthesized is true for a backup Trove made
// (MadeByTrove), whose record in Trove's database is not touched.
type Removal = repo.Removal

// PlanDelete decides which backups deleting id removes, in the order to
// remove them: id, and, with cascade, every backup whose chain includes
// it, children before their parents. An id that is not in entries is
// backup.ErrNoBackup; dependents without cascade are
// backup.ErrHasDependents, naming them.
func PlanDelete(entries []backup.Entry, id string, cascade bool) ([]string, error) {
	found := false
	for _, e := range entries {
		found = found || e.ID == id
	}
	if !found {
		return nil, fmt.Errorf("%w %s", backup.ErrNoBackup, id)
	}
	deps := backup.Dependents(entries, id)
	if len(deps) > 0 && !cascade {
		note := ""
		if err := backup.CycleOf(entries, id); err != nil {
			note = " (" + err.Error() + ")"
		}
		return nil, fmt.Errorf("delete %s: %w: %s%s; delete them first or add --cascade",
			id, backup.ErrHasDependents, strings.Join(deps, ", "), note)
	}
	return deleteOrder(entries, append([]string{id}, deps...)), nil
}

// deleteOrder sorts ids so that every backup comes before its parent:
// deepest in its chain first, then newest first. Times alone would not
// do: a synthesized manifest's time is the data object's Last-Modified,
// which a metadata POST on the parent moves past its children's.
func deleteOrder(entries []backup.Entry, ids []string) []string {
	parent := map[string]string{}
	pos := map[string]int{}
	for i, e := range entries {
		pos[e.ID] = i
		if e.Manifest != nil {
			parent[e.ID] = e.Manifest.Parent
		}
	}
	return backup.ChildrenFirst(ids, parent, pos)
}

// Delete removes backup id from the container, with every object that
// belongs to it (see removeEntry), and, when cascade is true, the backups
// that depend on it, children first; without cascade, dependents are
// refused with backup.ErrHasDependents. An ID with no object is
// backup.ErrNoBackup. Leftovers without a data object and damaged
// backups are deleted too: the user named them. It returns what was
// removed, also when it fails part-way.
func (c *Catalogue) Delete(ctx context.Context, id string, cascade bool) ([]Removal, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	entries, err := c.Entries(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := PlanDelete(entries, id, cascade)
	if errors.Is(err, backup.ErrNoBackup) {
		return nil, fmt.Errorf("%w in %s (no object %s.xbstream.gz[.enc], %s.gz[.enc], %s_NNNNNNNN or %s%s); %s",
			err, c.sw.Location(), id, id, id, id, ManifestSuffix, backup.ListHint(troveLayout{}, c.sw.Location()))
	}
	if err != nil {
		return nil, err
	}
	return c.remove(ctx, entries, ids, nil)
}

// remove removes the backups ids of entries in that order and stops at
// the first failure. Those in leftovers are only removed while they still
// have no data object.
func (c *Catalogue) remove(ctx context.Context, entries []backup.Entry, ids []string, leftovers map[string]bool) ([]Removal, error) {
	byID := map[string]backup.Entry{}
	for _, e := range entries {
		byID[e.ID] = e
	}
	var out []Removal
	for _, id := range ids {
		e, ok := byID[id]
		if !ok {
			e = backup.Entry{ID: id, State: backup.StateIncomplete}
		}
		r, err := c.removeEntry(ctx, e, leftovers[id])
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// removeEntry deletes the objects of the backup of entry e as the container
// holds them now (listed again, so that segments uploaded since the
// catalogue was read go too): its data object first, with a plain DELETE
// that leaves the segments of a Static or Dynamic Large Object in place,
// so that an interrupted removal leaves an incomplete backup (which prune
// removes once older than its grace period), never a complete-looking one
// with missing segments; then its segments <id>_NNNNNNNN and
// <id>.mybak.json. Segments the data object joins that are not named
// after the backup, or lie in another container, are left in place and
// listed in Removal.Foreign. Dependents are not looked at: see Delete.
//
// With onlyLeftover, the backup is removed only while it has no data
// object (a killed upload's segments, or <id>.mybak.json of a backup
// deleted by other means); when a data object has appeared, nothing is
// deleted and Removal.Skipped says so.
func (c *Catalogue) removeEntry(ctx context.Context, e backup.Entry, onlyLeftover bool) (Removal, error) {
	r := Removal{ID: e.ID, State: e.State, StoredBytes: e.StoredBytes, Synthesized: e.Manifest != nil && MadeByTrove(e.Manifest)}
	fail := func(err error) (Removal, error) {
		return r, fmt.Errorf("delete Trove backup %s: %w", e.ID, err)
	}
	if err := ValidateID(e.ID); err != nil {
		return fail(err)
	}
	byID, err := c.scan(ctx, e.ID)
	if err != nil {
		return fail(err)
	}
	eo := byID[e.ID]
	if eo == nil {
		return r, nil // nothing left
	}
	if onlyLeftover && eo.data != nil {
		r.Skipped = fmt.Sprintf("its data object %s was stored since the container was listed (an upload that finished)", eo.data.Name)
		return r, nil
	}
	container, prefix, err := swift.ParseLocation(c.sw.Location())
	if err != nil {
		return fail(err)
	}
	own := map[string]bool{}
	var data, rest []string
	for _, oi := range eo.objects {
		key := oi.Name
		if prefix != "" {
			key = prefix + "/" + key
		}
		own[container+"/"+key] = true
		if _, ok := ParseObjectName(oi.Name); ok {
			data = append(data, oi.Name)
		} else {
			rest = append(rest, oi.Name)
		}
	}
	for _, name := range data {
		// Which segments it joins: a data object's own are listed under
		// its ID; anything else is reported, not deleted. A manifest that
		// cannot be read (a damaged backup) hides nothing of its own.
		parts, _, err := c.sw.Segments(ctx, name)
		if err != nil && ctx.Err() != nil {
			return fail(err)
		}
		for _, p := range parts {
			if !own[p.Name] {
				r.Foreign = append(r.Foreign, p.Name)
			}
		}
		switch err := c.sw.DeleteOne(ctx, name); {
		case err == nil:
			r.Objects++
		case !errors.Is(err, storage.ErrNotFound):
			return fail(err)
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(deleteParallel)
	for _, name := range rest {
		g.Go(func() error {
			err := c.sw.DeleteOne(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				r.Objects++
			case !errors.Is(err, storage.ErrNotFound):
				errs = append(errs, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return r, nil
}
