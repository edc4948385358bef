package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/storage/storagetest"
)

func newBackend(t *testing.T) *local.Backend {
	t.Helper()
	b, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	storagetest.RunOptions(t, func(t *testing.T) storage.Backend { return newBackend(t) },
		storagetest.Options{Features: []string{"CheapRanges", "StaleTempRemover"}})
}

func put(t *testing.T, b *local.Backend, name string, data []byte) {
	t.Helper()
	if _, err := b.Put(context.Background(), name, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
}

func listNames(t *testing.T, b *local.Backend) []string {
	t.Helper()
	var names []string
	if err := b.List(context.Background(), "", func(oi storage.ObjectInfo) error {
		names = append(names, oi.Name)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return names
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".mybak-tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// A backup written and closed is there when the store is opened again.
func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "store")
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, b, "ID/manifest.json", []byte("{}"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := listNames(t, b); !slices.Equal(got, []string{"ID/manifest.json"}) {
		t.Errorf("after reopening: List = %q", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, "ID", "manifest.json"))
	if err != nil || string(data) != "{}" {
		t.Errorf("object is not the file DIR/ID/manifest.json: %q, %v", data, err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := local.New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.New(file); err == nil {
		t.Errorf("New on a regular file succeeded")
	}
}

func TestLocationIsAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	b, err := local.New("rel/store")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "rel", "store"); b.Location() != want {
		t.Errorf("Location() = %q, want %q", b.Location(), want)
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	put(t, b, "ID/sub/data", []byte("x"))
	for p, want := range map[string]os.FileMode{
		dir:                               0o700 | os.ModeDir,
		filepath.Join(dir, ".mybak-tmp"):  0o700 | os.ModeDir,
		filepath.Join(dir, "ID"):          0o700 | os.ModeDir,
		filepath.Join(dir, "ID/sub"):      0o700 | os.ModeDir,
		filepath.Join(dir, "ID/sub/data"): 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

// A Put in progress lives in .mybak-tmp/ only; a cancelled one leaves
// nothing behind.
func TestTempFilesInvisible(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := b.Put(ctx, "ID/data", pr)
		done <- err
	}()
	if _, err := pw.Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	if got := tempFiles(t, dir); len(got) != 1 || !strings.HasSuffix(got[0], ".tmp") {
		t.Errorf("temporary files during Put: %q, want one", got)
	}
	if got := listNames(t, b); len(got) != 0 {
		t.Errorf("List during Put = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "ID")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory ID exists before the Put finished: %v", err)
	}
	cancel()
	pw.Close() // Put sees the cancel before its next chunk or before the rename
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Put: %v, want context.Canceled", err)
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files after a cancelled Put: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "ID")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory ID left by a cancelled Put: %v", err)
	}

	// What a kill -9 leaves behind is invisible too.
	if err := os.WriteFile(filepath.Join(dir, ".mybak-tmp", "0123.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, b); len(got) != 0 {
		t.Errorf("List shows a stale temporary file: %q", got)
	}
	for _, name := range []string{".mybak-tmp/0123.tmp", ".mybak-tmp"} {
		if _, err := b.Stat(context.Background(), name); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Stat(%q): %v, want ErrInvalidName (reserved)", name, err)
		}
		if _, err := b.Put(context.Background(), name, strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Put(%q): %v, want ErrInvalidName (reserved)", name, err)
		}
	}
	// A name that only starts like the reserved one is fine.
	put(t, b, ".mybak-tmpx/y", []byte("y"))
}

// countingSource cancels ctx once it has handed out cancelAt bytes and
// then goes on handing out data for ever.
type countingSource struct {
	n, cancelAt int64
	cancel      func()
}

func (s *countingSource) Read(p []byte) (int, error) {
	if s.n >= s.cancelAt {
		s.cancel()
	}
	s.n += int64(len(p))
	return len(p), nil
}

// Put checks ctx between chunks of 1 MiB: it stops within about a chunk
// of the cancel, not at the end of its source.
func TestPutStopsPromptly(t *testing.T) {
	b := newBackend(t)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &countingSource{cancelAt: 5 << 20, cancel: cancel}
	_, err := b.Put(ctx, "x", src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	if after := src.n - src.cancelAt; after > 2<<20 {
		t.Errorf("Put read %d bytes after the cancel, want at most 2 MiB", after)
	}
}

func TestDeleteRemovesEmptyParents(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	put(t, b, "ID/a/b/c", []byte("c"))
	put(t, b, "ID/keep", []byte("k"))
	if err := b.Delete(ctx, "ID/a/b/c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ID", "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory ID/a left after Delete: %v", err)
	}
	if err := b.Delete(ctx, "ID/keep"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != ".mybak-tmp" {
		t.Errorf("after deleting everything the root holds %v, want only .mybak-tmp", entries)
	}
}

// A name cannot be both an object and a prefix of objects on a file system.
func TestObjectAndPrefix(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	put(t, b, "a", []byte("a"))
	if _, err := b.Put(context.Background(), "a/b", strings.NewReader("b")); err == nil {
		t.Error("Put(a/b) over the object a succeeded")
	}
	put(t, b, "d/x", []byte("x"))
	if _, err := b.Put(context.Background(), "d", strings.NewReader("d")); err == nil {
		t.Error("Put(d) over the directory of d/x succeeded")
	}
	if got := listNames(t, b); !slices.Equal(got, []string{"a", "d/x"}) {
		t.Errorf("List = %q", got)
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files left by failed Puts: %q", got)
	}
}

// Symbolic links inside the store never lead mybak outside it, and List
// does not follow them.
func TestSymlinksNotFollowedOutside(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	if _, err := b.Put(ctx, "evil/new", strings.NewReader("x")); err == nil {
		t.Error("Put through a symlink to outside the store succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Put wrote outside the store: %v", err)
	}
	if _, err := b.Put(ctx, "evil/secret", strings.NewReader("overwritten")); err == nil {
		t.Error("Put(evil/secret) succeeded")
	}
	if r, err := b.Get(ctx, "evil/secret", 0); err == nil {
		r.Close()
		t.Error("Get through a symlink to outside the store succeeded")
	}
	if err := b.Delete(ctx, "evil/secret"); err == nil {
		t.Error("Delete through a symlink to outside the store succeeded")
	}
	if r, err := b.Get(ctx, "link", 0); !errors.Is(err, storage.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Get(link) of a symlink: %v, want ErrNotFound", err)
	}
	if got := listNames(t, b); len(got) != 0 {
		t.Errorf("List follows symlinks: %q", got)
	}
	// Put of the symlink's name replaces the link, not its target.
	put(t, b, "link", []byte("object"))
	if data, err := os.ReadFile(secret); err != nil || string(data) != "secret" {
		t.Errorf("file outside the store after Put(link): %q, %v", data, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("link after Put: %v, %v; want a regular file", fi, err)
	}
}

// Files that are not objects (bad names, other types) are not listed.
func TestListSkipsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	put(t, b, "ok", []byte("ok"))
	if err := os.WriteFile(filepath.Join(dir, "back\\slash"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, b); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("List = %q, want [ok]", got)
	}
	if _, err := b.Stat(context.Background(), "fifo"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(fifo): %v, want ErrNotFound", err)
	}
	if r, err := b.Get(context.Background(), "fifo", 0); !errors.Is(err, storage.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Get(fifo): %v, want ErrNotFound", err)
	}
}

func TestRemoveStaleTemp(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tmp := filepath.Join(dir, ".mybak-tmp")
	old := time.Now().Add(-48 * time.Hour)
	for _, name := range []string{"old1.tmp", "old2.tmp", "fresh.tmp"} {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "old") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(t, b, "obj", []byte("kept"))
	n, err := b.RemoveStaleTemp(context.Background(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("RemoveStaleTemp removed %d files, want 2", n)
	}
	if got := tempFiles(t, dir); !slices.Equal(got, []string{"fresh.tmp"}) {
		t.Errorf("temporary files left: %q, want [fresh.tmp]", got)
	}
	if got := listNames(t, b); !slices.Equal(got, []string{"obj"}) {
		t.Errorf("List = %q", got)
	}
	// Without a temporary directory there is nothing to do, and Put
	// recreates it.
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if n, err := b.RemoveStaleTemp(context.Background(), 0); n != 0 || err != nil {
		t.Errorf("RemoveStaleTemp without the directory: %d, %v", n, err)
	}
	put(t, b, "again", []byte("x"))
}

// A full file system gives a message that says what to do, and leaves
// nothing behind.
func TestNoSpace(t *testing.T) {
	dir := testenv.Tmpfs(t, "1m")
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Put(context.Background(), "ID/data.gz", bytes.NewReader(make([]byte, 4<<20)))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put of 4 MiB into 1 MiB: %v, want ENOSPC", err)
	}
	for _, want := range []string{`put "ID/data.gz"`, "no space left on device writing " + dir, "free space or choose another --storage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got := listNames(t, b); len(got) != 0 {
		t.Errorf("List after a failed Put = %q", got)
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files after a failed Put: %q", got)
	}
	put(t, b, "small", []byte("fits once the space is back"))
}

func TestGetNegativeOffset(t *testing.T) {
	b := newBackend(t)
	defer b.Close()
	put(t, b, "x", []byte("x"))
	if r, err := b.Get(context.Background(), "x", -1); err == nil {
		r.Close()
		t.Error("Get with offset -1 succeeded")
	}
}

// TestOpenCreatesNothing: Open is for reading an existing store.
func TestOpenCreatesNothing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	if _, err := local.Open(missing); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("Open of a missing directory: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Open created %s", missing)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := local.Open(file); err == nil {
		t.Error("Open of a regular file succeeded")
	}
	dir := t.TempDir()
	w, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Put(context.Background(), "a/b", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	os.RemoveAll(filepath.Join(dir, ".mybak-tmp"))
	r, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := r.Get(context.Background(), "a/b", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "data" {
		t.Errorf("read %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ".mybak-tmp")); !os.IsNotExist(err) {
		t.Error("Open created the temporary directory")
	}
}
