package backup

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// within runs fn and fails the test when it does not return within d: a
// walk of a parent cycle that never ends.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// TestParentCycle stores two backups that name each other as parent, a
// child of one of them and an unrelated full backup: every walk of a
// chain returns, and names the cycle.
func TestParentCycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := newStore(t)
	putBackup(t, st, id1, id2)
	m2 := putBackup(t, st, id2, id1)
	putBackup(t, st, id3, id1)
	putBackup(t, st, id4, "")
	cycle := "parent cycle: " + id2 + " -> " + id1 + " -> " + id2

	var entries []Entry
	var err error
	within(t, 10*time.Second, "Catalogue", func() { entries, err = Catalogue(ctx, st) })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.ID+" "+e.State)
		if e.State == StateDamaged {
			var ce *CycleError
			if !errors.As(e.Err, &ce) || !errors.Is(e.Err, ErrInvalidManifest) || e.Manifest == nil {
				t.Errorf("%s: err %v, manifest %v", e.ID, e.Err, e.Manifest)
			}
		}
	}
	want := []string{id1 + " damaged", id2 + " damaged", id3 + " damaged", id4 + " complete"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("catalogue %v, want %v", got, want)
	}
	if entries[1].Err.Error() != cycle {
		t.Errorf("error %q, want %q", entries[1].Err, cycle)
	}
	if m, err := Resolve(ctx, st, "latest"); err != nil || m.ID != id4 {
		t.Errorf("latest: %v, %v; want %s", m, err, id4)
	}

	within(t, 10*time.Second, "Chain", func() { _, err = Chain(ctx, st, m2) })
	if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), cycle) {
		t.Errorf("Chain: %v, want %q", err, cycle)
	}

	var deps []string
	within(t, 10*time.Second, "Dependents of a backup outside the cycle", func() { deps = Dependents(entries, id4) })
	if len(deps) != 0 {
		t.Errorf("dependents of %s: %v", id4, deps)
	}
	within(t, 10*time.Second, "Dependents of a backup in the cycle", func() { deps = Dependents(entries, id1) })
	if !reflect.DeepEqual(deps, []string{id2, id3}) {
		t.Errorf("dependents of %s: %v, want %s %s", id1, deps, id2, id3)
	}

	var plan PrunePlan
	within(t, 10*time.Second, "PlanPrune", func() { plan = PlanPrune(entries, 1, time.Hour, time.Now().Add(2*time.Hour)) })
	if !reflect.DeepEqual(plan.Keep, []string{id4}) || len(plan.Remove) != 0 || len(plan.Stale) != 3 {
		t.Errorf("plan %+v: keep %s, the cycle and its child are stale damage", plan, id4)
	}

	within(t, 10*time.Second, "Delete without cascade", func() { _, err = Delete(ctx, st, id1, false) })
	if !errors.Is(err, ErrHasDependents) || !strings.Contains(err.Error(), "parent cycle: "+id1+" -> "+id2+" -> "+id1) {
		t.Errorf("Delete: %v", err)
	}
	var deleted []string
	within(t, 10*time.Second, "Delete outside the cycle", func() { deleted, err = Delete(ctx, st, id4, false) })
	if err != nil || !reflect.DeepEqual(deleted, []string{id4}) {
		t.Errorf("Delete(%s): %v, %v", id4, deleted, err)
	}
	within(t, 10*time.Second, "Delete --cascade", func() { deleted, err = Delete(ctx, st, id1, true) })
	if err != nil || len(deleted) != 3 {
		t.Errorf("Delete --cascade: %v, %v", deleted, err)
	}
	if entries, _ := Catalogue(ctx, st); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}

// TestChainHonoursContext: a cancelled context stops a walk.
func TestChainHonoursContext(t *testing.T) {
	st := newStore(t)
	putBackup(t, st, id1, "")
	m := putBackup(t, st, id2, id1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Chain(ctx, st, m); !errors.Is(err, context.Canceled) {
		t.Errorf("Chain with a cancelled context: %v", err)
	}
}

func TestAncestors(t *testing.T) {
	parent := map[string]string{"c": "b", "b": "a", "x": "y", "y": "z", "z": "y", "s": "s"}
	for _, tc := range []struct {
		id, want, err string
	}{
		{"c", "b a", ""},
		{"a", "", ""},
		{"x", "y z", "parent cycle: x -> y -> z -> y"},
		{"s", "", "parent cycle: s -> s"},
	} {
		anc, err := Ancestors(parent, tc.id)
		if strings.Join(anc, " ") != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("Ancestors(%s) = %v, %v; want %q, %q", tc.id, anc, err, tc.want, tc.err)
		}
	}
}
