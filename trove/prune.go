package trove

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mybak/mybak/backup"
)

// ErrUnreadable is returned (wrapped) by PlanPrune when the headers of a
// backup could not be read at all: it may be an incremental of a backup
// the retention would remove, so prune removes nothing.
var ErrUnreadable = errors.New("cannot read a backup's headers")

// PrunePlan says what Prune removes from a Trove container and keeps.
type PrunePlan struct {
	// PrunePlan is mybak's retention rule (backup.PlanPrune) applied to
	// the complete and incomplete entries: Keep the newest complete
	// backups and the parents they need, Remove the other complete ones
	// (Trove's own included), Stale leftovers older than the grace period
	// and Young ones within it. A leftover is an ID with objects but no
	// data object: segments <id>_NNNNNNNN of an upload that was killed
	// (Trove's or mybak's), or an <id>.mybak.json whose data object was
	// deleted by other means (Trove deletes only its own objects).
	backup.PrunePlan
	// Damaged are backups whose data object is there but whose headers
	// describe nothing mybak can read (backup.ErrInvalidManifest, such as
	// a Parent-Location that names no Trove object): kept whatever their
	// age, since being unreadable does not make a backup garbage. The
	// user deletes one by naming it (Delete).
	Damaged []backup.Entry

	entries []backup.Entry
	order   []string // Remove and Stale, children before parents
}

// PlanPrune decides, from the Trove catalogue's entries (Entries), what
// to remove so that the keep newest complete backups remain with the
// parents they need, as backup.PlanPrune does for mybak's layout; grace
// and now judge the leftovers. Damaged backups are kept (PrunePlan.Damaged).
// An entry whose headers could not be read at all (not
// backup.ErrInvalidManifest: Swift failed to answer) fails the plan with
// ErrUnreadable: it could be an incremental of a backup the plan removes.
func PlanPrune(entries []backup.Entry, keep int, grace time.Duration, now time.Time) (PrunePlan, error) {
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
	plan.PrunePlan = backup.PlanPrune(usable, keep, grace, now)
	plan.entries = entries
	plan.order = deleteOrder(entries, append(append([]string(nil), plan.Remove...), plan.Stale...))
	return plan, nil
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
	out, err := c.remove(ctx, plan.entries, plan.order, leftovers)
	if err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	return out, nil
}
