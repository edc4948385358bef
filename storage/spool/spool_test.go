package spool

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mybak/mybak/storage"
)

// memStore is a Store in memory. fail, when set, fails PutPart.
type memStore struct {
	partSize int64
	mu       sync.Mutex
	parts    map[string][]byte
	objects  map[string][]storage.Part
	fail     atomic.Bool
	puts     atomic.Int64
	// block, when set, is waited on by every PutPart.
	block chan struct{}
}

func newMemStore(partSize int64) *memStore {
	return &memStore{partSize: partSize, parts: map[string][]byte{}, objects: map[string][]storage.Part{}}
}

func (m *memStore) Location() string    { return "mem://test" }
func (m *memStore) PartSize() int64     { return m.partSize }
func (m *memStore) MaxParts() int       { return 1000 }
func (m *memStore) UploadParallel() int { return 3 }

func partKey(name, id string, n int) string { return fmt.Sprintf("%s/%s/%08d", name, id, n) }

func (m *memStore) PutPart(ctx context.Context, name, uploadID string, n int, r io.ReadSeeker, size int64, md5hex string) (storage.Part, error) {
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return storage.Part{}, ctx.Err()
		}
	}
	if m.fail.Load() {
		return storage.Part{}, errors.New("network down (injected)")
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return storage.Part{}, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return storage.Part{}, err
	}
	sum := md5.Sum(b)
	if int64(len(b)) != size || hex.EncodeToString(sum[:]) != md5hex {
		return storage.Part{}, fmt.Errorf("part %d: got %d bytes md5 %x, want %d %s", n, len(b), sum, size, md5hex)
	}
	m.puts.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	k := partKey(name, uploadID, n)
	m.parts[k] = b
	return storage.Part{Name: k, Size: size, MD5: md5hex}, nil
}

func (m *memStore) StatPart(ctx context.Context, name, uploadID string, n int) (storage.Part, error) {
	if m.fail.Load() {
		return storage.Part{}, errors.New("network down (injected)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := partKey(name, uploadID, n)
	b, ok := m.parts[k]
	if !ok {
		return storage.Part{}, storage.ErrNotFound
	}
	sum := md5.Sum(b)
	return storage.Part{Name: k, Size: int64(len(b)), MD5: hex.EncodeToString(sum[:])}, nil
}

func (m *memStore) CommitParts(ctx context.Context, name string, parts []storage.Part) (storage.ObjectInfo, error) {
	if m.fail.Load() {
		return storage.ObjectInfo{}, errors.New("network down (injected)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var size int64
	for _, p := range parts {
		b, ok := m.parts[p.Name]
		if !ok || int64(len(b)) != p.Size {
			return storage.ObjectInfo{}, fmt.Errorf("commit: part %s missing", p.Name)
		}
		size += p.Size
	}
	m.objects[name] = parts
	return storage.ObjectInfo{Name: name, Size: size, Parts: parts}, nil
}

func (m *memStore) Parts(ctx context.Context, name string) ([]storage.Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.objects[name]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return p, nil
}

func (m *memStore) DeleteUpload(ctx context.Context, name, uploadID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.parts {
		if strings.HasPrefix(k, name+"/"+uploadID+"/") {
			delete(m.parts, k)
		}
	}
	return nil
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.parts)
}

// content returns the committed object's bytes.
func (m *memStore) content(t *testing.T, name string) []byte {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []byte
	for _, p := range m.objects[name] {
		out = append(out, m.parts[p.Name]...)
	}
	return out
}

func plenty(string) (int64, error) { return 1 << 40, nil }

func data(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSpoolRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 1000, 4096, 4097, 10*4096 + 3} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			st := newMemStore(4096)
			dir := t.TempDir()
			ctx := context.Background()
			s, err := Create(ctx, dir, "ID1", "ID1/data", st, Options{FreeSpace: plenty, Reserve: 1})
			if err != nil {
				t.Fatal(err)
			}
			in := data(size)
			n, err := s.Consume(ctx, bytes.NewReader(in))
			if err != nil || n != int64(size) {
				t.Fatalf("Consume = %d, %v", n, err)
			}
			if err := s.SavePending([]byte("pending")); err != nil {
				t.Fatal(err)
			}
			info, err := s.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(size) {
				t.Errorf("info.Size = %d", info.Size)
			}
			if got := st.content(t, "ID1/data"); !bytes.Equal(got, in) {
				t.Fatalf("committed %d bytes, want %d", len(got), size)
			}
			if err := s.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "ID1")); !os.IsNotExist(err) {
				t.Errorf("spool dir left after Remove: %v", err)
			}
		})
	}
}

// TestSpoolNotThrottledByUploads: Consume finishes while every upload is
// blocked (the network is slow): it waits only for the disk.
func TestSpoolNotThrottledByUploads(t *testing.T) {
	st := newMemStore(4096)
	st.block = make(chan struct{})
	ctx := context.Background()
	s, err := Create(ctx, t.TempDir(), "ID", "ID/data", st, Options{FreeSpace: plenty, Reserve: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := data(100 * 4096)
	if _, err := s.Consume(ctx, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if st.puts.Load() != 0 {
		t.Fatalf("%d uploads finished while blocked", st.puts.Load())
	}
	close(st.block)
	if _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.content(t, "ID/data"), in) {
		t.Fatal("wrong content")
	}
}

// TestSpoolResumeAfterNetworkDown: uploads fail; Finish fails; Open in a
// new "process" and Finish uploads only what is missing.
func TestSpoolResumeAfterNetworkDown(t *testing.T) {
	st := newMemStore(4096)
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Create(ctx, dir, "ID", "ID/data", st, Options{FreeSpace: plenty, Reserve: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := data(20*4096 + 5)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(in[:5*4096])
		// Let the first parts upload, then cut the network.
		for st.puts.Load() < 3 {
		}
		st.fail.Store(true)
		pw.Write(in[5*4096:])
		pw.Close()
	}()
	if _, err := s.Consume(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if err := s.SavePending([]byte("manifest")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(ctx); err == nil {
		t.Fatal("Finish with the network down succeeded")
	}
	s.Close()
	uploadedBefore := st.puts.Load()

	st.fail.Store(false)
	r, err := Open(dir, "ID", st, Options{FreeSpace: plenty})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete() {
		t.Fatal("reopened spool is not complete")
	}
	if p, err := r.Pending(); err != nil || string(p) != "manifest" {
		t.Fatalf("Pending = %q, %v", p, err)
	}
	if _, err := r.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	stats := r.Stats()
	if stats.Skipped < int(uploadedBefore) || stats.Uploaded+stats.Skipped != 21 {
		t.Errorf("stats %+v after %d parts were uploaded before", stats, uploadedBefore)
	}
	if !bytes.Equal(st.content(t, "ID/data"), in) {
		t.Fatal("wrong content after resume")
	}
	// Finishing again (killed after the commit) only checks.
	r.Close()
	r2, err := Open(dir, "ID", st, Options{FreeSpace: plenty})
	if err != nil {
		t.Fatal(err)
	}
	puts := st.puts.Load()
	if _, err := r2.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if st.puts.Load() != puts {
		t.Error("finishing a committed spool uploaded parts again")
	}
	r2.Remove()
}

// TestSpoolIncomplete: a stream cut before its end cannot be finished;
// Discard removes the parts and the files.
func TestSpoolIncomplete(t *testing.T) {
	st := newMemStore(4096)
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Create(ctx, dir, "ID", "ID/data", st, Options{FreeSpace: plenty, Reserve: 1})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data(3*4096 + 10))
		pw.CloseWithError(errors.New("engine died"))
	}()
	if _, err := s.Consume(ctx, pr); err == nil {
		t.Fatal("Consume of a broken stream succeeded")
	}
	s.Close()
	r, err := Open(dir, "ID", st, Options{FreeSpace: plenty})
	if err != nil {
		t.Fatal(err)
	}
	if r.Complete() {
		t.Fatal("a cut stream is complete")
	}
	if _, err := r.Finish(ctx); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Finish = %v, want ErrIncomplete", err)
	}
	if err := r.Discard(ctx); err != nil {
		t.Fatal(err)
	}
	if st.count() != 0 {
		t.Errorf("%d parts left after Discard", len(st.parts))
	}
	if _, err := os.Stat(filepath.Join(dir, "ID")); !os.IsNotExist(err) {
		t.Error("spool files left after Discard")
	}
}

func TestSpoolDamagedFile(t *testing.T) {
	st := newMemStore(4096)
	dir := t.TempDir()
	ctx := context.Background()
	st.fail.Store(true)
	s, _ := Create(ctx, dir, "ID", "ID/data", st, Options{FreeSpace: plenty, Reserve: 1})
	s.Consume(ctx, bytes.NewReader(data(3*4096)))
	s.Close()
	st.fail.Store(false)
	p := filepath.Join(dir, "ID", "part-00000001")
	b, _ := os.ReadFile(p)
	b[7] ^= 1
	os.WriteFile(p, b, 0o600)
	r, err := Open(dir, "ID", st, Options{FreeSpace: plenty})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Finish(ctx)
	if err == nil || !strings.Contains(err.Error(), "part-00000001 is damaged") {
		t.Fatalf("Finish with a damaged spool file: %v", err)
	}
}

func TestSpoolFreeSpace(t *testing.T) {
	st := newMemStore(1 << 20)
	ctx := context.Background()
	var free atomic.Int64
	free.Store(100 << 20)
	fs := func(string) (int64, error) { return free.Load(), nil }
	_, err := Create(ctx, t.TempDir(), "ID", "ID/data", st, Options{FreeSpace: fs, SizeHint: 1 << 30})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "100.0 MiB free") || !strings.Contains(err.Error(), "needs about 1.0 GiB") {
		t.Fatalf("Create with too little space: %v", err)
	}
	// Enough at the start, then the disk fills up.
	s, err := Create(ctx, t.TempDir(), "ID", "ID/data", st, Options{FreeSpace: fs, SizeHint: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data(3 << 20))
		free.Store(64<<20 + 100) // only the reserve is left
		pw.Write(data(3 << 20))
		pw.Close()
	}()
	_, err = s.Consume(ctx, pr)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "the next segment needs 1.0 MiB") {
		t.Fatalf("Consume on a full disk: %v", err)
	}
	s.Close()
}

func TestOpenChecks(t *testing.T) {
	st := newMemStore(4096)
	dir := t.TempDir()
	if _, err := Open(dir, "NOPE", st, Options{}); !errors.Is(err, ErrNotSpooled) {
		t.Errorf("Open of a missing spool: %v", err)
	}
	ctx := context.Background()
	s, _ := Create(ctx, dir, "ID", "ID/data", st, Options{FreeSpace: plenty, Reserve: 1})
	s.Consume(ctx, bytes.NewReader(data(100)))
	s.Close()
	other := newMemStore(4096)
	otherLoc := &locStore{other, "swift://other"}
	if _, err := Open(dir, "ID", otherLoc, Options{}); err == nil || !strings.Contains(err.Error(), "it was made for mem://test") {
		t.Errorf("Open for another store: %v", err)
	}
	if _, err := Create(ctx, dir, "ID", "ID/data", st, Options{FreeSpace: plenty, Reserve: 1}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Create over an existing spool: %v", err)
	}
}

type locStore struct {
	*memStore
	loc string
}

func (l *locStore) Location() string { return l.loc }
