package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mybak/mybak/storage"
)

// Policy is a retention policy in the manner of restic's `forget`: a
// complete backup is kept when any rule keeps it, and a kept incremental
// keeps every backup of its chain. Counts of 0 switch a rule off.
//
// Times are the backups' start times in UTC (the time in their IDs), so a
// day, a week (ISO 8601, starting on Monday) and a month are the same for
// every host that prunes the store, whatever its time zone.
type Policy struct {
	// Last keeps the Last newest backups.
	Last int
	// Daily keeps the newest backup of each of the Daily newest UTC days
	// that have a backup; Weekly, Monthly and Yearly do the same for ISO
	// weeks, months and years. Days without a backup do not count: after
	// a week of failed runs, --keep-daily 7 still keeps seven backups.
	Daily, Weekly, Monthly, Yearly int
	// Within keeps every backup that started at most Within before the
	// newest backup of its group. It counts from the newest backup, not
	// from now, so a job that stopped running does not lose its last
	// backups to the clock (restic's --keep-within).
	Within time.Duration
}

// Empty reports whether the policy keeps nothing at all (no rule is set).
func (p Policy) Empty() bool {
	return p.Last <= 0 && p.Daily <= 0 && p.Weekly <= 0 && p.Monthly <= 0 && p.Yearly <= 0 && p.Within <= 0
}

// String describes the policy as the flags that set it.
func (p Policy) String() string {
	var parts []string
	for _, r := range []struct {
		flag string
		n    int
	}{{"last", p.Last}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
		if r.n > 0 {
			parts = append(parts, fmt.Sprintf("--keep-%s %d", r.flag, r.n))
		}
	}
	if p.Within > 0 {
		parts = append(parts, "--keep-within "+p.Within.String())
	}
	return strings.Join(parts, " ")
}

// Group identifies the backups one job makes: its label (backup --name)
// and the host it ran on (the manifest's host). Retention counts every
// group on its own, so a store shared by several jobs or hosts keeps N of
// each. The manifest records no identity of the database server itself:
// two jobs backing up different servers from one host need different
// labels.
type Group struct {
	Label string `json:"label"`
	Host  string `json:"host"`
}

// String is "label@host", with "-" for what is not recorded.
func (g Group) String() string {
	l, h := g.Label, g.Host
	if l == "" {
		l = "-"
	}
	if h == "" {
		h = "-"
	}
	return l + "@" + h
}

// GroupOf returns the group of a complete backup.
func GroupOf(m *Manifest) Group { return Group{Label: m.Label, Host: m.Host} }

// RetentionOptions configure PlanRetention.
type RetentionOptions struct {
	Policy Policy
	// Label, when set, limits the plan to the complete backups with this
	// label: the others are neither kept nor removed (PrunePlan.Other),
	// but the chains they need are respected.
	Label *string
	// Grace: incomplete or damaged entries whose newest object is older
	// than Grace (relative to Now) are stale leftovers of killed runs.
	Grace time.Duration
	Now   time.Time
	// Live maps the IDs of incomplete backups whose writer is known to be
	// running (see WriterAlive) to why it is believed to be: they are
	// never stale, whatever Grace says.
	Live map[string]string
}

// PlanRetention decides, from a catalogue (oldest first), which complete
// backups the policy keeps in each group, which it removes, and which
// incomplete or damaged leftovers are stale. A kept backup keeps its whole
// chain (also a parent in another group, or a leftover that a chain
// names: removing it would break a kept restore). Only complete backups
// count for the policy. An empty policy keeps every backup (as restic's
// forget without options). The plan's lists are in catalogue order.
func PlanRetention(entries []Entry, opts RetentionOptions) PrunePlan {
	plan := PrunePlan{Reasons: map[string][]string{}, Groups: map[string]Group{}}
	parent := map[string]string{}
	groups := map[Group][]Entry{}
	var order []Group
	selected := map[string]bool{}
	for _, e := range entries {
		if e.State != StateComplete || e.Manifest == nil {
			continue
		}
		parent[e.ID] = e.Manifest.Parent
		if opts.Label != nil && e.Manifest.Label != *opts.Label {
			continue
		}
		selected[e.ID] = true
		g := GroupOf(e.Manifest)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], e)
		plan.Groups[e.ID] = g
	}
	kept := map[string]bool{}
	if opts.Policy.Empty() {
		// As restic's forget without a policy: nothing is removed.
		for id := range selected {
			kept[id] = true
			plan.Reasons[id] = []string{"no retention policy"}
		}
	}
	for _, g := range order {
		for id, why := range applyPolicy(groups[g], opts.Policy) {
			kept[id] = true
			plan.Reasons[id] = why
		}
	}
	// Backups outside --name are untouched, and so are the chains they need.
	var roots []string
	for _, e := range entries {
		if e.State == StateComplete && e.Manifest != nil && (kept[e.ID] || !selected[e.ID]) {
			roots = append(roots, e.ID)
		}
	}
	needed := map[string]bool{}
	for _, id := range roots {
		seen := map[string]bool{id: true}
		for p := parent[id]; p != "" && !seen[p]; p = parent[p] {
			seen[p] = true
			needed[p] = true
			if selected[p] && !kept[p] {
				plan.Reasons[p] = append(plan.Reasons[p], "parent of "+id)
			}
		}
	}
	for _, e := range entries {
		switch {
		case e.State == StateComplete && e.Manifest != nil:
			switch {
			case !selected[e.ID]:
				plan.Other = append(plan.Other, e.ID)
			case kept[e.ID] || needed[e.ID]:
				plan.Keep = append(plan.Keep, e.ID)
			default:
				plan.Remove = append(plan.Remove, e.ID)
			}
		case needed[e.ID]:
			// A damaged manifest (or one deleted half-way) that a kept
			// chain names: removing it cannot help the chain.
			plan.Needed = append(plan.Needed, e.ID)
		case opts.Live[e.ID] != "":
			plan.Live = append(plan.Live, e.ID)
			plan.Reasons[e.ID] = []string{opts.Live[e.ID]}
		case opts.Now.Sub(e.LastModified) > opts.Grace:
			plan.Stale = append(plan.Stale, e.ID)
		default:
			plan.Young = append(plan.Young, e.ID)
		}
	}
	return plan
}

// applyPolicy returns the backups of one group that the policy keeps, with
// the rules that keep each ("last 1", "daily 2026-12-03", ...). It walks
// the backups newest first, as restic does: a rule keeps a backup when the
// backup opens a period (day, week, ...) the rule has not seen yet and the
// rule still has a count left.
func applyPolicy(group []Entry, p Policy) map[string][]string {
	list := append([]Entry(nil), group...)
	// Newest first; entries of one start time keep their catalogue order
	// (reversed, the later one being the newer).
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	sort.SliceStable(list, func(i, j int) bool {
		return list[i].Manifest.StartTime.After(list[j].Manifest.StartTime)
	})
	type bucket struct {
		name  string
		count int
		key   func(t time.Time, i int) string
		last  string
	}
	buckets := []*bucket{
		{name: "last", count: p.Last, key: func(_ time.Time, i int) string { return fmt.Sprint(i + 1) }},
		{name: "daily", count: p.Daily, key: func(t time.Time, _ int) string { return t.Format("2006-01-02") }},
		{name: "weekly", count: p.Weekly, key: func(t time.Time, _ int) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{name: "monthly", count: p.Monthly, key: func(t time.Time, _ int) string { return t.Format("2006-01") }},
		{name: "yearly", count: p.Yearly, key: func(t time.Time, _ int) string { return t.Format("2006") }},
	}
	out := map[string][]string{}
	if len(list) == 0 {
		return out
	}
	newest := list[0].Manifest.StartTime
	for i, e := range list {
		t := e.Manifest.StartTime.UTC()
		var why []string
		for _, b := range buckets {
			if b.count <= 0 {
				continue
			}
			if k := b.key(t, i); k != b.last {
				b.last = k
				b.count--
				why = append(why, b.name+" "+k)
			}
		}
		if p.Within > 0 && !t.Before(newest.Add(-p.Within)) {
			why = append(why, "within "+p.Within.String()+" of the newest")
		}
		if len(why) > 0 {
			out[e.ID] = why
		}
	}
	return out
}

// PruneSummary adds up what a plan keeps and removes.
type PruneSummary struct {
	// Kept counts the complete backups kept (Keep), KeptBytes their
	// stored size.
	Kept      int   `json:"kept"`
	KeptBytes int64 `json:"kept_size"`
	// Removed counts the complete backups removed (Remove), Leftovers the
	// stale leftovers removed (Stale); RemovedBytes is what both free.
	Removed      int   `json:"removed"`
	Leftovers    int   `json:"leftovers_removed"`
	RemovedBytes int64 `json:"freed_size"`
	// Pending counts the incomplete backups left alone: still being
	// written (Live) or younger than the grace period (Young).
	Pending int `json:"pending"`
}

// Summary adds up plan over the entries it was made from.
func (plan PrunePlan) Summary(entries []Entry) PruneSummary {
	size := map[string]int64{}
	for _, e := range entries {
		size[e.ID] = e.StoredBytes
	}
	var s PruneSummary
	for _, id := range plan.Keep {
		s.Kept++
		s.KeptBytes += size[id]
	}
	for _, id := range plan.Remove {
		s.Removed++
		s.RemovedBytes += size[id]
	}
	for _, id := range plan.Stale {
		s.Leftovers++
		s.RemovedBytes += size[id]
	}
	s.Pending = len(plan.Live) + len(plan.Young)
	return s
}

// ResolveIDs turns references (IDs, or "latest": the newest complete
// backup) into IDs of entries, and returns every backup deleting them
// removes, children before parents: the IDs themselves and, with cascade,
// every backup whose chain includes one of them. It refuses the whole
// request, deleting nothing, when a reference names no entry
// (ErrNoBackup) or when a backup depends on one that is to be deleted and
// is not itself named, unless cascade (ErrHasDependents). layout and
// location name the store in the messages.
func ResolveIDs(entries []Entry, refs []string, cascade bool, layout Layout, location string) ([]string, error) {
	pos := map[string]int{}
	parent := map[string]string{}
	for i, e := range entries {
		pos[e.ID] = i
		if e.Manifest != nil {
			parent[e.ID] = e.Manifest.Parent
		}
	}
	want := map[string]bool{}
	var ids, missing []string
	for _, ref := range refs {
		id := ref
		if ref == "latest" {
			id = ""
			for i := len(entries) - 1; i >= 0; i-- {
				if entries[i].State == StateComplete {
					id = entries[i].ID
					break
				}
			}
			if id == "" {
				return nil, fmt.Errorf("%w in %s is complete, so none is latest; nothing deleted; %s",
					ErrNoBackup, location, ListHint(layout, location))
			}
		}
		if _, ok := pos[id]; !ok {
			missing = append(missing, id)
			continue
		}
		if !want[id] {
			want[id] = true
			ids = append(ids, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w %s in %s; nothing deleted; %s",
			ErrNoBackup, strings.Join(missing, ", "), location, ListHint(layout, location))
	}
	var refused []string
	for _, id := range ids {
		var deps []string
		for _, d := range Dependents(entries, id) {
			if !want[d] {
				deps = append(deps, d)
			}
		}
		if len(deps) == 0 {
			continue
		}
		if !cascade {
			refused = append(refused, fmt.Sprintf("%s (needed by %s)", id, strings.Join(deps, ", ")))
			continue
		}
		for _, d := range deps {
			want[d] = true
			ids = append(ids, d)
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("delete %s: %w; nothing deleted: delete them too or add --cascade",
			strings.Join(refused, "; "), ErrHasDependents)
	}
	return ChildrenFirst(ids, parent, pos), nil
}

// ChildrenFirst orders ids so that every backup comes before its parent:
// deepest in its chain first (parent maps an ID to its parent's; a cycle
// ends the count), then newest (highest pos, its place in the catalogue)
// first. Both layouts delete in this order.
func ChildrenFirst(ids []string, parent map[string]string, pos map[string]int) []string {
	depth := map[string]int{}
	for _, id := range ids {
		seen := map[string]bool{id: true}
		for p := parent[id]; p != "" && !seen[p]; p = parent[p] {
			seen[p] = true
			depth[id]++
		}
	}
	out := append([]string(nil), ids...)
	sort.SliceStable(out, func(i, j int) bool {
		if di, dj := depth[out[i]], depth[out[j]]; di != dj {
			return di > dj
		}
		return pos[out[i]] > pos[out[j]]
	})
	return out
}

// DeleteIDs removes the backups ids (as ResolveIDs returns them), in
// order, each as Delete removes one (the manifest first). It stops at
// the first failure and returns the IDs deleted until then.
func DeleteIDs(ctx context.Context, st storage.Backend, ids []string) ([]string, error) {
	var deleted []string
	for _, id := range ids {
		if err := ValidateID(id); err != nil {
			return deleted, err
		}
		if err := deleteObjects(ctx, st, id); err != nil {
			return deleted, err
		}
		deleted = append(deleted, id)
	}
	return deleted, nil
}
