package backup

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
)

func newStore(t *testing.T) storage.Backend {
	t.Helper()
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// putBackup stores a complete backup (data object + manifest) with the
// given ID and parent.
func putBackup(t *testing.T, st storage.Backend, id, parent string) *Manifest {
	t.Helper()
	ctx := context.Background()
	data := "payload of " + id
	if _, err := st.Put(ctx, id+"/data", strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	m := validManifest()
	m.ID, m.Parent = id, parent
	m.StartTime, _ = IDTime(id)
	m.EndTime = m.StartTime.Add(time.Second)
	if parent != "" {
		m.Type = "incremental"
	}
	m.Objects = []Object{{Name: "data", Size: int64(len(data))}}
	m.StoredSize = int64(len(data))
	if err := WriteManifest(ctx, st, m); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	id1 = "20261101T000000Z-000001"
	id2 = "20261102T000000Z-000002"
	id3 = "20261103T000000Z-000003"
	id4 = "20261104T000000Z-000004"
	id5 = "20261105T000000Z-000005"
)

func TestCatalogueStates(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	putBackup(t, st, id1, "")
	putBackup(t, st, id2, id1)
	st.Put(ctx, id3+"/data", strings.NewReader("no manifest yet"))
	st.Put(ctx, id4+"/data", strings.NewReader("x"))
	st.Put(ctx, id4+"/"+ManifestName, strings.NewReader("{not json"))
	st.Put(ctx, "unrelated/file", strings.NewReader("ignored"))

	entries, err := Catalogue(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.ID+" "+e.State)
	}
	want := []string{id1 + " complete", id2 + " complete", id3 + " incomplete", id4 + " damaged"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("catalogue = %v, want %v", got, want)
	}
	if entries[3].Err == nil || !errors.Is(entries[3].Err, ErrInvalidManifest) {
		t.Errorf("damaged entry error = %v", entries[3].Err)
	}

	m, err := Resolve(ctx, st, "latest")
	if err != nil || m.ID != id2 {
		t.Fatalf("Resolve(latest) = %v, %v; want %s (newest complete)", m, err, id2)
	}
	if _, err := Resolve(ctx, st, id3); !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), "no manifest") {
		t.Errorf("Resolve(incomplete) = %v, want ErrNoBackup saying it has no manifest", err)
	}
	chain, err := Chain(ctx, st, m)
	if err != nil || len(chain) != 2 || chain[0].ID != id1 || chain[1].ID != id2 {
		t.Errorf("Chain = %v, %v", chain, err)
	}
	if _, err := Resolve(ctx, newStore(t), "latest"); !errors.Is(err, ErrNoBackup) {
		t.Errorf("Resolve(latest) on an empty store = %v", err)
	}
}

func TestChainBroken(t *testing.T) {
	st := newStore(t)
	m := putBackup(t, st, id2, id1) // parent never stored
	if _, err := Chain(context.Background(), st, m); !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), "parent of "+id2) {
		t.Fatalf("Chain with a missing parent = %v", err)
	}
}

func TestDeleteDependents(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	putBackup(t, st, id1, "")
	putBackup(t, st, id2, id1)
	putBackup(t, st, id3, id2)
	putBackup(t, st, id4, "")

	_, err := Delete(ctx, st, id1, false)
	if !errors.Is(err, ErrHasDependents) || !strings.Contains(err.Error(), id2) || !strings.Contains(err.Error(), id3) ||
		!strings.Contains(err.Error(), "--cascade") {
		t.Fatalf("Delete(parent) = %v, want ErrHasDependents naming %s and %s and --cascade", err, id2, id3)
	}
	if _, err := LoadManifest(ctx, st, id1); err != nil {
		t.Fatalf("refused delete removed something: %v", err)
	}
	deleted, err := Delete(ctx, st, id1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(deleted, []string{id3, id2, id1}) {
		t.Errorf("deleted %v, want newest first", deleted)
	}
	entries, _ := Catalogue(ctx, st)
	if len(entries) != 1 || entries[0].ID != id4 {
		t.Errorf("left %v, want only %s", entries, id4)
	}
	if _, err := Delete(ctx, st, id1, false); !errors.Is(err, ErrNoBackup) {
		t.Errorf("Delete(missing) = %v, want ErrNoBackup", err)
	}
	// A leaf deletes without --cascade.
	if _, err := Delete(ctx, st, id4, false); err != nil {
		t.Error(err)
	}
}

func TestPlanPrune(t *testing.T) {
	now := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	complete := func(id, parent string) Entry {
		m := validManifest()
		m.ID, m.Parent = id, parent
		return Entry{ID: id, State: StateComplete, Manifest: m}
	}
	incomplete := func(id string, age time.Duration) Entry {
		return Entry{ID: id, State: StateIncomplete, LastModified: now.Add(-age)}
	}
	tests := []struct {
		name    string
		entries []Entry
		keep    int
		want    PrunePlan
	}{
		{
			name:    "keep newest two fulls",
			entries: []Entry{complete(id1, ""), complete(id2, ""), complete(id3, "")},
			keep:    2,
			want:    PrunePlan{Keep: []string{id2, id3}, Remove: []string{id1}},
		},
		{
			name:    "a kept incremental keeps its chain",
			entries: []Entry{complete(id1, ""), complete(id2, id1), complete(id3, id2), complete(id4, "")},
			keep:    2,
			want:    PrunePlan{Keep: []string{id1, id2, id3, id4}},
		},
		{
			name:    "stale and young leftovers",
			entries: []Entry{complete(id1, ""), incomplete(id2, 48*time.Hour), complete(id3, ""), incomplete(id4, time.Hour)},
			keep:    1,
			want:    PrunePlan{Keep: []string{id3}, Remove: []string{id1}, Stale: []string{id2}, Young: []string{id4}},
		},
		{
			name:    "keep more than there are",
			entries: []Entry{complete(id1, "")},
			keep:    5,
			want:    PrunePlan{Keep: []string{id1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanPrune(tt.entries, tt.keep, 24*time.Hour, now)
			got := PrunePlan{Keep: p.Keep, Remove: p.Remove, Stale: p.Stale, Young: p.Young}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PlanPrune = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	putBackup(t, st, id1, "")
	putBackup(t, st, id2, "")
	st.Put(ctx, id3+"/data", strings.NewReader("leftover of a killed run"))
	putBackup(t, st, id4, "")
	putBackup(t, st, id5, id4)
	entries, err := Catalogue(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanPrune(entries, 1, 0, time.Now().Add(time.Hour))
	if err := Prune(ctx, st, plan); err != nil {
		t.Fatal(err)
	}
	entries, _ = Catalogue(ctx, st)
	var left []string
	for _, e := range entries {
		left = append(left, e.ID)
	}
	if !reflect.DeepEqual(left, []string{id4, id5}) {
		t.Errorf("after prune --keep 1: %v, want the newest incremental and its parent", left)
	}
}
