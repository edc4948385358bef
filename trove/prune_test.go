package trove

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
)

var now = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// complete is a complete entry of a backup made ago before now, with a
// parent when parent is not empty.
func complete(id, parent string, ago time.Duration) backup.Entry {
	m := &backup.Manifest{ID: id, Layout: backup.LayoutTrove, Type: "full", StartTime: now.Add(-ago)}
	if parent != "" {
		m.Type, m.Parent = "incremental", parent
	}
	return backup.Entry{ID: id, State: backup.StateComplete, Manifest: m, LastModified: now.Add(-ago)}
}

func leftover(id string, ago time.Duration) backup.Entry {
	return backup.Entry{ID: id, State: backup.StateIncomplete, LastModified: now.Add(-ago)}
}

func damaged(id string, err error, ago time.Duration) backup.Entry {
	return backup.Entry{ID: id, State: backup.StateDamaged, Err: err, LastModified: now.Add(-ago)}
}

func TestPlanPrune(t *testing.T) {
	const day = 24 * time.Hour
	invalid := fmt.Errorf("%w x: parent location %q does not end in a Trove backup's object name", backup.ErrInvalidManifest, "http://h/")
	for _, tc := range []struct {
		name    string
		entries []backup.Entry
		keep    int
		keepIDs []string
		remove  []string
		stale   []string
		young   []string
		damaged []string
		order   []string
		errSub  string
	}{
		{name: "three fulls, keep 1",
			entries: []backup.Entry{complete("a", "", 3*day), complete("b", "", 2*day), complete("c", "", day)},
			keep:    1, keepIDs: []string{"c"}, remove: []string{"a", "b"}, order: []string{"b", "a"}},
		{name: "the newest needs its parents",
			entries: []backup.Entry{complete("f1", "", 4*day), complete("f2", "", 3*day), complete("i1", "f2", 2*day), complete("i2", "i1", day)},
			keep:    1, keepIDs: []string{"f2", "i1", "i2"}, remove: []string{"f1"}, order: []string{"f1"}},
		{name: "a removed chain goes children first",
			entries: []backup.Entry{complete("f1", "", 5*day), complete("i1", "f1", 4*day), complete("i2", "i1", 3*day), complete("f2", "", day)},
			keep:    1, keepIDs: []string{"f2"}, remove: []string{"f1", "i1", "i2"}, order: []string{"i2", "i1", "f1"}},
		{name: "a parent newer than its child (metadata posted later) still goes last",
			entries: []backup.Entry{complete("i1", "f1", 5*day), complete("f1", "", 4*day), complete("f2", "", day)},
			keep:    1, keepIDs: []string{"f2"}, remove: []string{"i1", "f1"}, order: []string{"i1", "f1"}},
		{name: "leftovers: old ones stale, young ones kept",
			entries: []backup.Entry{leftover("killed", 2*day), complete("a", "", day), leftover("running", time.Hour)},
			keep:    1, keepIDs: []string{"a"}, stale: []string{"killed"}, young: []string{"running"}, order: []string{"killed"}},
		{name: "damaged backups are kept, whatever their age",
			entries: []backup.Entry{damaged("bad", invalid, 30*day), complete("a", "", 2*day), complete("b", "", day)},
			keep:    1, keepIDs: []string{"b"}, remove: []string{"a"}, damaged: []string{"bad"}, order: []string{"a"}},
		{name: "keep more than there are",
			entries: []backup.Entry{complete("a", "", 2*day), complete("b", "a", day)},
			keep:    5, keepIDs: []string{"a", "b"}},
		{name: "unreadable headers stop the plan",
			entries: []backup.Entry{complete("a", "", 3*day), damaged("x", errors.New("head: 503 Service Unavailable"), 2*day), complete("b", "", day)},
			keep:    1, errSub: "x (head: 503 Service Unavailable)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := PlanPrune(tc.entries, backup.RetentionOptions{Policy: backup.Policy{Last: tc.keep}, Grace: day, Now: now})
			if tc.errSub != "" {
				if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("err = %v, want ErrUnreadable naming %q", err, tc.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var dmg []string
			for _, e := range plan.Damaged {
				dmg = append(dmg, e.ID)
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"keep", plan.Keep, tc.keepIDs}, {"remove", plan.Remove, tc.remove}, {"stale", plan.Stale, tc.stale},
				{"young", plan.Young, tc.young}, {"damaged", dmg, tc.damaged}, {"order", plan.Order, tc.order},
			} {
				if len(c.got) != 0 || len(c.want) != 0 {
					if !reflect.DeepEqual(c.got, c.want) {
						t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
					}
				}
			}
		})
	}
}

func TestPlanDelete(t *testing.T) {
	entries := []backup.Entry{
		complete("f1", "", 50*time.Hour), complete("i1", "f1", 40*time.Hour), complete("i2", "i1", 30*time.Hour),
		complete("i1b", "f1", 20*time.Hour), complete("f2", "", 10*time.Hour), leftover("killed", time.Hour),
		damaged("bad", backup.ErrInvalidManifest, time.Hour),
	}
	for _, tc := range []struct {
		name    string
		id      string
		cascade bool
		want    []string
		err     error
		errSubs []string
	}{
		{name: "a backup nothing depends on", id: "f2", want: []string{"f2"}},
		{name: "a leaf incremental", id: "i2", want: []string{"i2"}},
		{name: "a parent without cascade", id: "f1", err: backup.ErrHasDependents, errSubs: []string{"i1", "i2", "i1b", "--cascade"}},
		{name: "a parent with cascade: children first", id: "f1", cascade: true, want: []string{"i2", "i1b", "i1", "f1"}},
		{name: "a middle incremental with cascade", id: "i1", cascade: true, want: []string{"i2", "i1"}},
		{name: "a leftover", id: "killed", want: []string{"killed"}},
		{name: "a damaged backup", id: "bad", want: []string{"bad"}},
		{name: "an unknown ID", id: "nope", err: backup.ErrNoBackup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanDelete(entries, tc.id, tc.cascade)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				for _, s := range tc.errSubs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("PlanDelete = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
