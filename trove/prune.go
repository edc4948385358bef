package trove

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/repo"
)

// ErrUnreadable is returned (wrapped) by PlanPrune when the headers of a
// backup could not be read at all: it may be an incremental of a backup
// the retention would remove, so prune removes nothing.
var ErrUnreadable = errors.New("cannot read a backup's headers")

// PrunePlan says what Prune removes from a Trove container and keeps
// (repo.PrunePlan):
//
//   - the embedded backup.PrunePlan is mybak's retention policy
//     (backup.PlanRetention) applied to the complete and incomplete
//     entries: Keep what the policy keeps in each job and the parents
//     they need, Remove the other complete ones (Trove's own included),
//     Stale leftovers older than the grace period, Young ones within it
//     and Live ones being written. A leftover is an ID with objects but no
//     data object: segments <id>_NNNNNNNN of an upload that was killed
//     (Trove's or mybak's), or an <id>.mybak.json whose data object was
//     deleted by other means (Trove deletes only its own objects);
//   - Damaged are backups whose data object is there but whose headers
//     describe nothing mybak can read (backup.ErrInvalidManifest, such as
//     a Parent-Location that names no Trove object): kept whatever their
//     age, since being unreadable does not make a backup garbage. The
//     user deletes one by naming it (Delete);
//   - Order is Remove and Stale, children before parents.
type PrunePlan = repo.PrunePlan

// PlanPrune decides, from the Trove catalogue's entries (Entries), what
// to remove, by backup.PlanRetention's rules for mybak's layout: the
// policy counts each group (label and host: a backup Trove made records
// neither, so Trove's own backups form one group) on its own, kept
// backups keep their chains, and opts.Grace and opts.Now judge the
// leftovers. Damaged backups are kept (PrunePlan.Damaged). An entry whose
// headers could not be read at all (not backup.ErrInvalidManifest: Swift
// failed to answer) fails the plan with ErrUnreadable: it could be an
// incremental of a backup the plan removes.
func PlanPrune(entries []backup.Entry, opts backup.RetentionOptions) (PrunePlan, error) {
	var (
		plan       PrunePlan
		usable     []backup.Entry
		unreadable []string
	)
	for _, e := range entries {
		switch {
		case e.State != backup.StateDamaged:
			usable = append(usable, e)
		case errors.Is(e.Err, backup.ErrInvalidManifest):
			plan.Damaged = append(plan.Damaged, e)
		default:
			unreadable = append(unreadable, fmt.Sprintf("%s (%v)", e.ID, e.Err))
		}
	}
	if len(unreadable) > 0 {
		return PrunePlan{}, fmt.Errorf("%w: %s; any of them may be an incremental of a backup past the retention, so nothing is removed: run prune again once Swift answers, or delete a backup you know to be garbage by its ID",
			ErrUnreadable, strings.Join(unreadable, "; "))
	}
	plan.PrunePlan = backup.PlanRetention(usable, opts)
	plan.Entries = entries
	plan.Order = deleteOrder(entries, append(append([]string(nil), plan.Remove...), plan.Stale...))
	return plan, nil
}

// DeleteIDs deletes the backups refs name (Trove IDs, or "latest": the
// newest complete backup), each as Delete does, children before parents.
// The whole request is refused, deleting nothing, when a reference names
// nothing (backup.ErrNoBackup) or when a backup that is not named depends
// on one that is, unless cascade (backup.ErrHasDependents; with cascade
// the dependents go too). It returns what was removed, also when it fails
// part-way.
func (c *Catalogue) DeleteIDs(ctx context.Context, refs []string, cascade bool) ([]Removal, error) {
	for _, ref := range refs {
		if ref == "latest" {
			continue
		}
		if err := ValidateID(ref); err != nil {
			return nil, err
		}
	}
	entries, err := c.Entries(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := backup.ResolveIDs(entries, refs, cascade, troveLayout{}, c.sw.Location())
	if err != nil {
		return nil, err
	}
	return c.remove(ctx, entries, deleteOrder(entries, ids), nil)
}

// Prune carries out a plan of PlanPrune: it removes plan.Remove and
// plan.Stale, every backup before its parent, each as Delete removes one
// (data object first, then its segments and <id>.mybak.json). A stale
// leftover that has got a data object since the plan was made is kept
// (Removal.Skipped). It stops at the first failure and returns what it
// removed until then.
func (c *Catalogue) Prune(ctx context.Context, plan PrunePlan) ([]Removal, error) {
	leftovers := map[string]bool{}
	for _, id := range plan.Stale {
		leftovers[id] = true
	}
	out, err := c.remove(ctx, plan.Entries, plan.Order, leftovers)
	if err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	return out, nil
}
