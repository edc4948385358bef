package restore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// TestTargetNotTheStore reproduces finding 3 of issue 10 up to the point
// where it did harm: `restore --target-dir X --force` (and --copy-back
// --datadir X --force) with the store inside X went ahead, and once the
// restore succeeded moved X aside and removed it, store and all
// (TestForceKeepsStore in e2e/restore_contained_test.go goes that far with
// a real backup). A target that is, contains or lies inside the store, a
// spool or a scratch dir is refused before anything is written, whatever
// --force says, however the path is spelt.
func TestTargetNotTheStore(t *testing.T) {
	needPhysicalTools(t)
	ctx := context.Background()
	base := t.TempDir()
	storeDir := filepath.Join(base, "store")
	st, err := local.New(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.Run(ctx, backup.Options{Store: st, Engine: bytesEngine{"mariabackup", smallXbstream(t)},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}}})
	if err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(base, "spool")
	os.MkdirAll(filepath.Join(spool, "part"), 0o755)
	linkToBase := filepath.Join(t.TempDir(), "base")
	os.Symlink(base, linkToBase)
	linkToStore := filepath.Join(base, "other", "to-store")
	os.MkdirAll(filepath.Dir(linkToStore), 0o755)
	os.Symlink(storeDir, linkToStore)
	before := files(t, base)

	protect := []Protected{{What: "the spool", Dir: spool}}
	for _, tc := range []struct {
		name              string
		target, datadir   string
		want              string
		force, copyToData bool
	}{
		{"target contains the store", base, "", "contains the store", true, false},
		{"target is the store", storeDir, "", "is or lies inside the store", true, false},
		{"target inside the store", filepath.Join(storeDir, "restore"), "", "inside the store", false, false},
		{"target through a symlink to its parent", linkToBase, "", "contains the store", true, false},
		{"target below a symlink to the store", filepath.Join(linkToStore, "new"), "", "inside the store", false, false},
		{"target with ..", filepath.Join(base, "other", "..", "store", "x"), "", "inside the store", false, false},
		{"datadir contains the store", "", base, "contains the store", true, true},
		{"datadir is the spool", "", spool, "the spool", true, true},
		{"datadir inside the spool", "", filepath.Join(spool, "part", "d"), "the spool", false, true},
		{"target dir and datadir overlap", filepath.Join(base, "t"), filepath.Join(base, "t", "data"), "overlap", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			err := Physical(ctx, st, []*backup.Manifest{m}, PhysicalOptions{TargetDir: tc.target, Datadir: tc.datadir,
				Force: tc.force, Protect: protect, Log: testLogger(&logs)})
			if !errors.Is(err, ErrUnsafeTarget) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore into %q / %q: %v, want ErrUnsafeTarget (%q)", tc.target, tc.datadir, err, tc.want)
			}
			if after := files(t, base); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the restore changed %s:\nbefore %v\nafter  %v", base, before, after)
			}
		})
	}
	if _, err := backup.LoadManifest(ctx, st, m.ID); err != nil {
		t.Errorf("the store lost its backup: %v", err)
	}

	// A bind mount of the store is the store (root only).
	bind := filepath.Join(t.TempDir(), "bind")
	os.Mkdir(bind, 0o755)
	if out, err := exec.Command("mount", "--bind", storeDir, bind).CombinedOutput(); err != nil {
		t.Logf("no bind mount (%v %s): that case is not tested", err, out)
		return
	}
	defer exec.Command("umount", bind).Run()
	err = Physical(ctx, st, []*backup.Manifest{m}, PhysicalOptions{TargetDir: filepath.Join(bind, "restore"), Force: true})
	if !errors.Is(err, ErrUnsafeTarget) {
		t.Errorf("restore below a bind mount of the store: %v, want ErrUnsafeTarget", err)
	}
}

// TestForceKeepsOld: a forced replacement moves the old contents aside
// under a name that says what they are, and deletes them only when asked.
func TestForceKeepsOld(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "target")
	os.MkdirAll(filepath.Join(dst, "db"), 0o755)
	os.WriteFile(filepath.Join(dst, "db", "precious"), []byte("old"), 0o644)
	newDir := func(content string) string {
		src, _ := os.MkdirTemp(dir, ".staging-")
		os.WriteFile(filepath.Join(src, "f"), []byte(content), 0o644)
		return src
	}
	start := time.Date(2026, 12, 3, 6, 30, 0, 0, time.UTC)
	aside := asideName(dst, start)
	if aside != dst+".mybak-old-20261203T063000Z" {
		t.Errorf("aside name %q", aside)
	}
	kept, err := replaceDir(newDir("new"), dst, aside)
	if err != nil || kept != aside {
		t.Fatalf("replaceDir: kept %q, %v", kept, err)
	}
	if b, _ := os.ReadFile(filepath.Join(aside, "db", "precious")); string(b) != "old" {
		t.Errorf("old contents not kept in %s: %q", aside, b)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "new" {
		t.Errorf("new contents not in place: %q", b)
	}
	// A second forced restore in the same second does not clobber the
	// first one's aside dir.
	aside2 := asideName(dst, start)
	if aside2 != aside+"-2" {
		t.Errorf("second aside name %q", aside2)
	}
	if kept, err := replaceDir(newDir("newer"), dst, aside2); err != nil || kept != aside2 {
		t.Fatalf("second replaceDir: %q %v", kept, err)
	}
	// --remove-old: deleted, nothing left beside.
	if kept, err := replaceDir(newDir("newest"), dst, ""); err != nil || kept != "" {
		t.Fatalf("replaceDir removing the old: %q %v", kept, err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "target target.mybak-old-20261203T063000Z target.mybak-old-20261203T063000Z-2" {
		t.Errorf("left in %s: %v", dir, names)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "newest" {
		t.Errorf("newest contents not in place: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(aside2, "f")); string(b) != "new" {
		t.Errorf("second aside holds %q", b)
	}

	// RemoveOld without Force is a caller's mistake.
	err = physical(context.Background(), "mariabackup", []string{"20261121T162435Z-3fa9c1"}, nil,
		PhysicalOptions{TargetDir: filepath.Join(dir, "x"), RemoveOld: true})
	if err == nil || !strings.Contains(err.Error(), "--remove-old goes with --force") {
		t.Errorf("RemoveOld without Force: %v", err)
	}
}

// testLogger logs text to w.
func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
