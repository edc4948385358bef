package repo_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/trove"
)

// TestLookup: --layout values find their layout in the registry, "" is
// mybak's; an unknown one is a usage error naming the registered ones.
func TestLookup(t *testing.T) {
	if got := repo.Names(); !slices.Equal(got, []string{"mybak", "trove"}) {
		t.Fatalf("Names = %v", got)
	}
	for name, layout := range map[string]string{"": backup.LayoutMybak, "mybak": backup.LayoutMybak, "trove": trove.Layout} {
		k, err := repo.Lookup(name)
		if err != nil || k.Layout.Name() != layout {
			t.Errorf("Lookup(%q) = %v, %v; want layout %q", name, k, err, layout)
		}
	}
	_, err := repo.Lookup("s3")
	var ue repo.UsageError
	if !errors.As(err, &ue) || err.Error() != `--layout "s3": use mybak or trove` {
		t.Errorf("Lookup(s3) = %v", err)
	}
}

// TestOpenTroveNeedsSwift: Trove's layout refuses a store that is not
// Swift, with a usage error that says what to give.
func TestOpenTroveNeedsSwift(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := repo.Lookup("trove")
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Open(st, nil)
	var ue repo.UsageError
	if !errors.As(err, &ue) || err.Error() != "--layout trove needs a Swift store (--storage swift://CONTAINER, e.g. swift://database_backups), not "+st.Location() {
		t.Errorf("Open(trove, local) = %v", err)
	}
	k, _ = repo.Lookup("mybak")
	if r, err := k.Open(st, nil); err != nil || r.Location() != st.Location() {
		t.Errorf("Open(mybak, local) = %v, %v", r, err)
	}
}

// TestLayoutRegistry: manifests of a registered layout name their objects
// through it; an unknown layout is refused by Validate.
func TestLayoutRegistry(t *testing.T) {
	id := trove.NewID()
	for _, tc := range []struct {
		layout, id, object, manifest, marker string
	}{
		{backup.LayoutMybak, "20261121T162435Z-3fa9c1", "20261121T162435Z-3fa9c1/data.gz", "20261121T162435Z-3fa9c1/manifest.json", "20261121T162435Z-3fa9c1/started.json"},
		{trove.Layout, id, "data.gz", id + ".mybak.json", id + ".mybak.started.json"},
	} {
		m := &backup.Manifest{ID: tc.id, Layout: tc.layout}
		if got := m.ObjectPath("data.gz"); got != tc.object {
			t.Errorf("%q: ObjectPath = %q, want %q", tc.layout, got, tc.object)
		}
		if got := backup.ManifestPath(tc.layout, tc.id); got != tc.manifest {
			t.Errorf("%q: ManifestPath = %q, want %q", tc.layout, got, tc.manifest)
		}
		if got := backup.MarkerPath(tc.layout, tc.id); got != tc.marker {
			t.Errorf("%q: MarkerPath = %q, want %q", tc.layout, got, tc.marker)
		}
		if err := backup.ValidateAnyID(tc.id); err != nil {
			t.Errorf("ValidateAnyID(%s): %v", tc.id, err)
		}
	}
	if err := backup.ValidateLayoutID("s3", "x"); err == nil || err.Error() != `unknown layout "s3" (want mybak or trove)` {
		t.Errorf("ValidateLayoutID(s3) = %v", err)
	}
	if err := backup.ValidateAnyID("../x"); err == nil {
		t.Error("ValidateAnyID accepted ../x")
	}
}

// Every repository is what restore reads backups through.
var (
	_ restore.Catalogue     = repo.Repository(nil)
	_ restore.Unfinisher    = repo.Repository(nil)
	_ restore.ObjectChecker = repo.Repository(nil)
)
