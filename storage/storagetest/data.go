package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mybak/mybak/storage"
)

// gen returns n deterministic pseudo-random bytes for seed.
func gen(seed uint64, n int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], 0x6d796261_6b746573) // "mybaktes"
	return io.LimitReader(rand.NewChaCha8(s), n)
}

// content returns gen(seed, n) as a slice; for small and medium sizes only.
func content(seed uint64, n int64) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(gen(seed, n), b); err != nil {
		panic(err)
	}
	return b
}

// md5Hex returns the hex MD5 of gen(seed, n).
func md5Hex(seed uint64, n int64) string {
	h := md5.New()
	if _, err := io.Copy(h, gen(seed, n)); err != nil {
		panic(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sum256 returns the SHA-256 of b.
func sum256(b []byte) [32]byte { return sha256.Sum256(b) }

// compareStreams reads got and want to their ends and describes the first
// difference, or returns "" when they are equal. A read error of got is
// returned as err.
func compareStreams(got, want io.Reader) (n int64, diff string, err error) {
	gb := make([]byte, 64<<10)
	wb := make([]byte, 64<<10)
	for {
		wn, werr := io.ReadFull(want, wb)
		gn, gerr := io.ReadFull(got, gb[:wn])
		if gerr != nil && gerr != io.EOF && gerr != io.ErrUnexpectedEOF {
			return n + int64(gn), "", gerr
		}
		if i := firstDiff(gb[:gn], wb[:wn]); i >= 0 {
			return n, fmt.Sprintf("first difference at byte %d", n+int64(i)), nil
		}
		n += int64(gn)
		if gn < wn {
			return n, fmt.Sprintf("got %d bytes, want more", n), nil
		}
		if werr != nil { // want ended: got must end too
			var one [1]byte
			k, err := io.ReadFull(got, one[:])
			if k > 0 {
				return n, fmt.Sprintf("got more than the %d bytes wanted", n), nil
			}
			if err != nil && err != io.EOF {
				return n, "", err
			}
			return n, "", nil
		}
	}
}

// firstDiff returns the first index where a and b differ (or where one
// ends), or -1 if they are equal.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// put stores data and checks the returned ObjectInfo.
func put(t testing.TB, b storage.Backend, name string, data []byte) storage.ObjectInfo {
	t.Helper()
	info, err := b.Put(context.Background(), name, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", name, len(data), err)
	}
	sum := md5.Sum(data)
	checkInfo(t, "Put", info, name, int64(len(data)), hex.EncodeToString(sum[:]))
	return info
}

// checkInfo checks an ObjectInfo returned by op for an object of size
// bytes whose MD5 is wantMD5.
func checkInfo(t testing.TB, op string, info storage.ObjectInfo, name string, size int64, wantMD5 string) {
	t.Helper()
	if info.Name != name {
		t.Errorf("%s(%q): ObjectInfo.Name = %q", op, name, info.Name)
	}
	if info.Size != size {
		t.Errorf("%s(%q): ObjectInfo.Size = %d, want %d", op, name, info.Size, size)
	}
	if info.MD5 != "" && info.MD5 != wantMD5 {
		t.Errorf("%s(%q): ObjectInfo.MD5 = %q, want %q (MD5 must be empty or correct)", op, name, info.MD5, wantMD5)
	}
	if op == "Stat" && info.ModTime.IsZero() {
		t.Errorf("%s(%q): ObjectInfo.ModTime is zero", op, name)
	}
	if len(info.Parts) > 0 {
		var sum int64
		for _, p := range info.Parts {
			sum += p.Size
		}
		if sum != size {
			t.Errorf("%s(%q): parts add up to %d bytes, want %d", op, name, sum, size)
		}
	}
}

// readAll reads the object from off to its end.
func readAll(t testing.TB, b storage.Backend, name string, off int64) []byte {
	t.Helper()
	r, err := b.Get(context.Background(), name, off)
	if err != nil {
		t.Fatalf("Get(%q, %d): %v", name, off, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%q, %d): read: %v", name, off, err)
	}
	return data
}

// wantContent checks that the object reads back as want, from Get and Stat.
func wantContent(t testing.TB, b storage.Backend, name string, want []byte) {
	t.Helper()
	got := readAll(t, b, name, 0)
	if i := firstDiff(got, want); i >= 0 {
		t.Errorf("Get(%q): read %d bytes, want %d; first difference at byte %d", name, len(got), len(want), i)
	}
	info, err := b.Stat(context.Background(), name)
	if err != nil {
		t.Errorf("Stat(%q): %v", name, err)
		return
	}
	sum := md5.Sum(want)
	checkInfo(t, "Stat", info, name, int64(len(want)), hex.EncodeToString(sum[:]))
}

// list returns the ObjectInfos that List reports for prefix.
func list(t testing.TB, b storage.Backend, prefix string) []storage.ObjectInfo {
	t.Helper()
	var got []storage.ObjectInfo
	err := b.List(context.Background(), prefix, func(oi storage.ObjectInfo) error {
		got = append(got, oi)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

// names returns the names of infos.
func names(infos []storage.ObjectInfo) []string {
	out := make([]string, len(infos))
	for i, oi := range infos {
		out[i] = oi.Name
	}
	return out
}

// wantNotFound checks that err is ErrNotFound.
func wantNotFound(t testing.TB, err error, what string) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s: got error %v, want one wrapping storage.ErrNotFound", what, err)
	}
}

// wantAbsent checks that Stat and Get report ErrNotFound for name.
func wantAbsent(t testing.TB, b storage.Backend, name, why string) {
	t.Helper()
	_, err := b.Stat(context.Background(), name)
	wantNotFound(t, err, fmt.Sprintf("Stat(%q) %s", name, why))
	r, err := b.Get(context.Background(), name, 0)
	if err == nil {
		r.Close()
	}
	wantNotFound(t, err, fmt.Sprintf("Get(%q) %s", name, why))
}

// wantNames checks that List("") reports exactly want (in order).
func wantNames(t testing.TB, b storage.Backend, want []string, why string) {
	t.Helper()
	got := names(list(t, b, ""))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List(\"\") %s = %q, want %q", why, got, want)
	}
}

// stallingSource hands out data up to stallAfter bytes, then closes
// stalled and blocks until release is closed, then hands out the rest.
type stallingSource struct {
	src        io.Reader
	stallAfter int64
	release    <-chan struct{}
	stalled    chan struct{}
	once       sync.Once

	mu      sync.Mutex
	n       int64 // bytes handed out
	resumed bool
	after   int64 // bytes handed out after release
}

func newStallingSource(src io.Reader, stallAfter int64, release <-chan struct{}) *stallingSource {
	return &stallingSource{src: src, stallAfter: stallAfter, release: release, stalled: make(chan struct{})}
}

// Read implements io.Reader.
func (s *stallingSource) Read(p []byte) (int, error) {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	if n >= s.stallAfter {
		s.once.Do(func() { close(s.stalled) })
		<-s.release
		s.mu.Lock()
		s.resumed = true
		s.mu.Unlock()
	} else if rest := s.stallAfter - n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := s.src.Read(p)
	s.mu.Lock()
	s.n += int64(k)
	if s.resumed {
		s.after += int64(k)
	}
	s.mu.Unlock()
	return k, err
}

// readAfterRelease returns how many bytes were handed out after release.
func (s *stallingSource) readAfterRelease() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.after
}

// failingSource returns r's bytes, then err instead of io.EOF.
type failingSource struct {
	r   io.Reader
	err error
}

// Read implements io.Reader.
func (f *failingSource) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		if n > 0 {
			return n, nil
		}
		return 0, f.err
	}
	return n, err
}
