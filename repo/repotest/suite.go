// Package repotest is the conformance suite of repo.Repository: every
// layout's repository runs it (mybak's on a local store in package repo,
// Trove's on a Swift store in package trove).
package repotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/stream"
)

// Suite checks the contract of repo.Repository on the repository open
// returns, which must be empty and the test's own. It writes two backups
// through the repository's Writer, lists, resolves and reads them back,
// prunes one and deletes the other.
func Suite(t *testing.T, open func(t *testing.T) repo.Repository) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open(t)) })
}

// testEmpty: nothing listed, "latest" and an unknown ID are
// backup.ErrNoBackup with the layout's `mybak list` advice.
func testEmpty(t *testing.T, r repo.Repository) {
	ctx := context.Background()
	entries, err := r.Entries(ctx)
	if err != nil || len(entries) != 0 {
		t.Fatalf("Entries of an empty repository = %v, %v", entries, err)
	}
	hint := "`mybak list" + r.Layout().ListArgs() + " --storage " + r.Location() + "`"
	if _, err := r.Resolve(ctx, "latest"); !errors.Is(err, backup.ErrNoBackup) || !strings.Contains(err.Error(), hint) {
		t.Errorf("Resolve(latest) of an empty repository = %v; want ErrNoBackup with %s", err, hint)
	}
	id := r.Writer(nil).NewID(time.Now())
	if err := r.Layout().ValidateID(id); err != nil {
		t.Fatalf("the Writer's new ID %q is not valid: %v", id, err)
	}
	if _, err := r.Resolve(ctx, id); !errors.Is(err, backup.ErrNoBackup) || !strings.Contains(err.Error(), hint) {
		t.Errorf("Resolve(%s) of an empty repository = %v; want ErrNoBackup with %s", id, err, hint)
	}
	if _, why, _, err := r.Unfinished(ctx, id); err != nil || why != "" {
		t.Errorf("Unfinished(%s) of an empty repository = %q, %v", id, why, err)
	}
	for _, bad := range []string{"", "a/b", "../x", "a b"} {
		if r.Layout().ValidateID(bad) == nil {
			t.Errorf("ValidateID(%q) accepted it", bad)
		}
	}
}

// write takes one backup of data into r through its Writer.
func write(t *testing.T, r repo.Repository, data []byte) *backup.Manifest {
	t.Helper()
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip, Level: 1}}
	if err := r.PrepareWrite(&enc, repo.WriteOptions{}); err != nil {
		t.Fatalf("PrepareWrite: %v", err)
	}
	m, err := backup.Run(context.Background(), backup.Options{Store: r.Store(), Engine: backup.StdinEngine{R: bytes.NewReader(data)},
		Encode: enc, Label: "suite", Writer: r.Writer(nil)})
	if err != nil {
		t.Fatalf("backup.Run: %v", err)
	}
	return m
}

func ids(entries []backup.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID+":"+e.State)
	}
	return out
}

func testLifecycle(t *testing.T, r repo.Repository) {
	ctx := context.Background()
	data := [][]byte{make([]byte, 300<<10), make([]byte, 200<<10)}
	for _, d := range data {
		rand.Read(d)
	}
	m1 := write(t, r, data[0])
	m2 := write(t, r, data[1])
	if m1.Layout != r.Layout().Name() || m1.ID == m2.ID {
		t.Fatalf("the manifests record layout %q (want %q), IDs %s %s", m1.Layout, r.Layout().Name(), m1.ID, m2.ID)
	}

	entries, err := r.Entries(ctx)
	want := []string{m1.ID + ":complete", m2.ID + ":complete"}
	if err != nil || !slices.Equal(ids(entries), want) {
		t.Fatalf("Entries = %v, %v; want %v, oldest first", ids(entries), err, want)
	}
	for ref, id := range map[string]string{m1.ID: m1.ID, "latest": m2.ID} {
		m, err := r.Resolve(ctx, ref)
		if err != nil || m.ID != id {
			t.Fatalf("Resolve(%s) = %v, %v; want %s", ref, m, err, id)
		}
		chain, err := r.Chain(ctx, m)
		if err != nil || len(chain) != 1 || chain[0].ID != id {
			t.Errorf("Chain(%s) = %v, %v", id, chain, err)
		}
	}
	for i, m := range []*backup.Manifest{m1, m2} {
		m, err := r.Resolve(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := restore.ToWriter(ctx, r.Data(), m, &out, restore.Options{}); err != nil || !bytes.Equal(out.Bytes(), data[i]) {
			t.Fatalf("read backup %s through Data(): %d bytes, %v; want the %d bytes written", m.ID, out.Len(), err, len(data[i]))
		}
	}

	// Every object is intact; one that is gone is "missing".
	for _, o := range m1.Objects {
		if err := r.CheckObject(ctx, m1, o); err != nil {
			t.Errorf("CheckObject(%s) = %v", o.Name, err)
		}
	}
	gone := m1.Objects[0]
	gone.Name += ".gone"
	if err := r.CheckObject(ctx, m1, gone); err == nil || err.Error() != "missing" {
		t.Errorf("CheckObject of an object that is not stored = %v, want missing", err)
	}

	// Prune keeps the newest one.
	plan, err := r.PlanPrune(entries, backup.RetentionOptions{Policy: backup.Policy{Last: 1}, Grace: time.Hour, Now: time.Now()})
	if err != nil || !slices.Equal(plan.Remove, []string{m1.ID}) || !slices.Equal(plan.Keep, []string{m2.ID}) || !slices.Equal(plan.Order, []string{m1.ID}) {
		t.Fatalf("PlanPrune(--keep-last 1) = %+v, %v; want %s removed", plan, err, m1.ID)
	}
	removed, err := r.Prune(ctx, plan)
	if err != nil || len(removed) != 1 || removed[0].ID != m1.ID || removed[0].State != backup.StateComplete || removed[0].StoredBytes <= 0 {
		t.Fatalf("Prune = %+v, %v", removed, err)
	}
	if _, err := r.Resolve(ctx, m1.ID); !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("Resolve of a pruned backup = %v, want ErrNoBackup", err)
	}

	// Delete removes the last one.
	entries, err = r.Entries(ctx)
	if err != nil || !slices.Equal(ids(entries), []string{m2.ID + ":complete"}) {
		t.Fatalf("Entries after prune = %v, %v", ids(entries), err)
	}
	del, err := backup.ResolveIDs(entries, []string{"latest"}, false, r.Layout(), r.Location())
	if err != nil {
		t.Fatal(err)
	}
	removed, err = r.Delete(ctx, entries, del, false)
	if err != nil || len(removed) != 1 || removed[0].ID != m2.ID {
		t.Fatalf("Delete(latest) = %+v, %v", removed, err)
	}
	if entries, err := r.Entries(ctx); err != nil || len(entries) != 0 {
		t.Fatalf("Entries after delete = %v, %v; want none: every object of the backups is gone", ids(entries), err)
	}
}
