package trove

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/swift"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
)

// prefixedStore opens a second store on the container of sw, under
// prefix: Trove's layout below swift://CONTAINER/PREFIX.
func prefixedStore(t *testing.T, sw *swift.Backend, prefix string) *swift.Backend {
	t.Helper()
	cfg, err := swift.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Container, _, err = swift.ParseLocation(sw.Location()); err != nil {
		t.Fatal(err)
	}
	cfg.Prefix, cfg.SegmentSize = prefix, 256<<10
	b, err := swift.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// names lists the store's objects.
func names(t *testing.T, st storage.Backend) []string {
	t.Helper()
	var out []string
	if err := st.List(context.Background(), "", func(oi storage.ObjectInfo) error {
		out = append(out, oi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// withID returns the names that start with id.
func withID(all []string, id string) []string {
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, id) {
			out = append(out, n)
		}
	}
	return out
}

// TestDeleteRemovesEveryObject writes a chain in Trove's layout below a
// prefix (several segments each) and deletes it: refused without
// cascade, then the whole chain, every segment and mybak's manifests,
// while a backup beside it and objects of the store's container outside
// the prefix stay.
func TestDeleteRemovesEveryObject(t *testing.T) {
	root := testStore(t)
	sw := prefixedStore(t, root, "tenant/a")
	ctx := context.Background()
	if err := root.DeleteOne(ctx, "nothing-here"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteOne of a missing object: %v, want storage.ErrNotFound", err)
	}
	outside := SegmentName("0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90", 0)
	if _, err := root.Put(ctx, outside, strings.NewReader("not below the prefix")); err != nil {
		t.Fatal(err)
	}
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}
	var ms []*backup.Manifest
	for i, eng := range []fakePhysical{{randXbstream(t, 700<<10), "0", "1000"}, {randXbstream(t, 600<<10), "1000", "2000"}, {randXbstream(t, 600<<10), "0", "3000"}} {
		var parent *backup.Manifest
		if i == 1 {
			parent = ms[0]
		}
		w := NewWriter(sw, parent)
		m, err := backup.Run(ctx, backup.Options{Store: sw, Engine: eng, Parent: parent, Encode: enc,
			Writer: w})
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if len(m.Objects[0].Parts) < 2 {
			t.Fatalf("backup %d has %d segments, the test wants several", i, len(m.Objects[0].Parts))
		}
		ms = append(ms, m)
	}
	full, incr, other := ms[0], ms[1], ms[2]
	cat := NewCatalogue(sw)
	before := names(t, sw)

	_, err := cat.Delete(ctx, full.ID, false)
	if !errors.Is(err, backup.ErrHasDependents) || !strings.Contains(err.Error(), incr.ID) {
		t.Fatalf("delete of a parent without cascade: %v", err)
	}
	if got := names(t, sw); !equal(got, before) {
		t.Fatalf("a refused delete changed the store: %v -> %v", before, got)
	}
	removed, err := cat.Delete(ctx, full.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0].ID != incr.ID || removed[1].ID != full.ID || removed[0].Synthesized || removed[1].Foreign != nil {
		t.Fatalf("removed %+v, want the incremental, then the full one, both mybak's", removed)
	}
	for i, m := range []*backup.Manifest{incr, full} {
		// the data object, its segments and <id>.mybak.json
		if want := len(m.Objects[0].Parts) + 2; removed[i].Objects != want {
			t.Errorf("%s: %d objects deleted, want %d", m.ID, removed[i].Objects, want)
		}
	}
	after := names(t, sw)
	for _, m := range []*backup.Manifest{full, incr} {
		if left := withID(after, m.ID); len(left) > 0 {
			t.Errorf("delete left %v", left)
		}
	}
	if got, want := withID(after, other.ID), withID(before, other.ID); !equal(got, want) || len(want) < 4 {
		t.Errorf("the other backup's objects: %v, were %v", got, want)
	}
	if _, err := root.Stat(ctx, outside); err != nil {
		t.Errorf("an object outside the prefix: %v", err)
	}
	if _, err := cat.Delete(ctx, full.ID, false); !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("delete of a deleted backup: %v", err)
	}
}

// TestDeleteLeavesForeignSegments deletes a backup whose Static Large
// Object joins segments named after nothing of it: they are reported and
// stay, while its own go.
func TestDeleteLeavesForeignSegments(t *testing.T) {
	sw := testStore(t)
	ctx := context.Background()
	id := NewID()
	_, err := sw.PutSegmented(ctx, id+".gz", bytes.NewReader(randBytes(600<<10)), swift.SegmentedPut{
		SegmentName: func(n int) string { return fmt.Sprintf("shared/seg%08d", n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Put(ctx, SegmentName(id, 7), strings.NewReader("a leftover of an earlier try")); err != nil {
		t.Fatal(err)
	}
	removed, err := NewCatalogue(sw).Delete(ctx, id, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || !removed[0].Synthesized || removed[0].Objects != 2 || len(removed[0].Foreign) != 3 ||
		!strings.HasSuffix(removed[0].Foreign[0], "/shared/seg00000000") {
		t.Fatalf("removed %+v", removed)
	}
	if got := names(t, sw); len(got) != 3 || !strings.HasPrefix(got[0], "shared/seg") {
		t.Errorf("left %v, want the three shared segments", got)
	}
}

// TestPruneLeftovers: a delete interrupted after the data object leaves
// an incomplete backup, which a prune past the grace period removes; a
// leftover that gets its data object between plan and prune is kept;
// a damaged backup is kept.
func TestPruneLeftovers(t *testing.T) {
	sw := testStore(t)
	ctx := context.Background()
	cat := NewCatalogue(sw)
	put := func(name string, data []byte) {
		t.Helper()
		if _, err := sw.Put(ctx, name, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	// A backup whose delete was killed right after its data object went.
	half := NewID()
	if _, err := NewWriter(sw, nil).PutData(ctx, half+".gz", bytes.NewReader(randBytes(600<<10))); err != nil {
		t.Fatal(err)
	}
	if err := sw.DeleteOne(ctx, half+".gz"); err != nil {
		t.Fatal(err)
	}
	// An upload that finishes after the plan.
	late := NewID()
	put(SegmentName(late, 0), []byte("segment 0"))
	// Headers that name no parent mybak can find.
	bad := NewID()
	put(bad+".gz", []byte("x"))
	if err := sw.SetMetadata(ctx, bad+".gz", map[string]string{"Parent-Location": "http://h/v1/AUTH_t/c/"}); err != nil {
		t.Fatal(err)
	}
	keep := NewID()
	put(keep+".gz", []byte("a full backup"))

	entries, err := cat.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, e := range entries {
		state[e.ID] = e.State
	}
	if state[half] != backup.StateIncomplete || state[late] != backup.StateIncomplete || state[bad] != backup.StateDamaged || state[keep] != backup.StateComplete {
		t.Fatalf("states %v", state)
	}
	plan, err := PlanPrune(entries, backup.RetentionOptions{Policy: backup.Policy{Last: 1}, Grace: time.Nanosecond, Now: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(plan.Stale)
	wantStale := []string{half, late}
	sort.Strings(wantStale)
	if !equal(plan.Stale, wantStale) || len(plan.Damaged) != 1 || plan.Damaged[0].ID != bad || !equal(plan.Keep, []string{keep}) {
		t.Fatalf("plan %+v", plan)
	}
	put(late+".gz", []byte("segment 0")) // the upload finished
	removed, err := cat.Prune(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range removed {
		switch r.ID {
		case half:
			if r.Skipped != "" || r.Objects < 3 {
				t.Errorf("the half-deleted backup: %+v", r)
			}
		case late:
			if r.Skipped == "" || r.Objects != 0 {
				t.Errorf("the upload that finished: %+v", r)
			}
		default:
			t.Errorf("removed %+v", r)
		}
	}
	got := names(t, sw)
	if len(withID(got, half)) != 0 || len(withID(got, late)) != 2 || len(withID(got, bad)) != 1 || len(withID(got, keep)) != 1 {
		t.Errorf("after prune: %v", got)
	}
	// The damaged one goes when named.
	if removed, err := cat.Delete(ctx, bad, false); err != nil || len(removed) != 1 || removed[0].State != backup.StateDamaged {
		t.Errorf("delete of the damaged backup: %+v, %v", removed, err)
	}
}

// randXbstream returns an xbstream of one file of n random bytes, as a
// physical engine writes it (backup.Run checks the stream).
func randXbstream(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := xbstream.NewWriter(&b).WriteFile("ibdata1", bytes.NewReader(randBytes(n))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
