package trove

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
)

// TestPlansWithParentCycle: entries whose manifests name each other as
// parent (as the catalogue marks them) are planned promptly: delete
// names the cycle, --cascade removes it, prune keeps them as damage.
func TestPlansWithParentCycle(t *testing.T) {
	const day = 24 * time.Hour
	entries := []backup.Entry{complete("a", "b", 3*day), complete("b", "a", 2*day), complete("c", "a", 2*day), complete("f", "", day)}
	backup.MarkParentCycles(entries)
	for _, e := range entries[:3] {
		if e.State != backup.StateDamaged || !errors.Is(e.Err, backup.ErrInvalidManifest) || !strings.HasPrefix(e.Err.Error(), "parent cycle: ") {
			t.Fatalf("%s: %s, %v", e.ID, e.State, e.Err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := PlanDelete(entries, "a", false); !errors.Is(err, backup.ErrHasDependents) || !strings.Contains(err.Error(), "parent cycle: a -> b -> a") {
			t.Errorf("PlanDelete: %v", err)
		}
		if ids, err := PlanDelete(entries, "f", false); err != nil || !reflect.DeepEqual(ids, []string{"f"}) {
			t.Errorf("PlanDelete outside the cycle: %v, %v", ids, err)
		}
		ids, err := PlanDelete(entries, "a", true)
		if err != nil || len(ids) != 3 || ids[0] != "c" {
			t.Errorf("PlanDelete --cascade: %v, %v; want c first, then the cycle", ids, err)
		}
		plan, err := PlanPrune(entries, backup.RetentionOptions{Policy: backup.Policy{Last: 1}, Grace: time.Hour, Now: now})
		if err != nil || !reflect.DeepEqual(plan.Keep, []string{"f"}) || len(plan.Damaged) != 3 || len(plan.Order) != 0 {
			t.Errorf("PlanPrune: %+v, %v", plan, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("planning did not return within 10s")
	}
}

// TestChainParentCycle stores two Trove backups whose Parent-Location
// headers name each other: Entries marks both damaged and Chain names
// the cycle, both promptly.
func TestChainParentCycle(t *testing.T) {
	sw := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := NewCatalogue(sw)
	a, b := NewID(), NewID()
	for _, id := range []string{a, b} {
		if _, err := sw.Put(ctx, id+".xbstream.gz", bytes.NewReader([]byte("data of "+id))); err != nil {
			t.Fatal(err)
		}
	}
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		loc, err := sw.ObjectURL(ctx, pair[1]+".xbstream.gz")
		if err != nil {
			t.Fatal(err)
		}
		if err := sw.SetMetadata(ctx, pair[0]+".xbstream.gz", map[string]string{"Parent-Location": loc, "Lsn": "100"}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := cat.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.State != backup.StateDamaged || !strings.HasPrefix(e.Err.Error(), "parent cycle: ") {
			t.Errorf("%s: %s, %v", e.ID, e.State, e.Err)
		}
	}
	m, err := cat.Resolve(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cat.Chain(ctx, m)
	if want := "parent cycle: " + a + " -> " + b + " -> " + a; !errors.Is(err, backup.ErrInvalidManifest) || !strings.Contains(err.Error(), want) {
		t.Errorf("Chain: %v, want %q", err, want)
	}
	if ctx.Err() != nil {
		t.Fatal("took longer than a minute")
	}
}
