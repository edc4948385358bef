package retry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/storage/retry"
	"github.com/mybak/mybak/storage/storagetest"
)

var errReset = syscall.ECONNRESET // transient by retry.Classify

// flaky wraps a backend and fails the next fails[op] calls of op
// transiently; a Put reads half its source before it fails, a Get's reader
// breaks after breakAfter bytes (once per breaks count).
type flaky struct {
	storage.Backend
	mu         sync.Mutex
	fails      map[string]int
	calls      map[string]int
	breaks     int   // Get readers that break
	breakAfter int64 // bytes before a reader breaks
	listFailAt int   // List fails after delivering this many names (once)
}

func newFlaky(t *testing.T) *flaky {
	b, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &flaky{Backend: b, fails: map[string]int{}, calls: map[string]int{}}
}

func (f *flaky) fail(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.fails[op] > 0 {
		f.fails[op]--
		return true
	}
	return false
}

func (f *flaky) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *flaky) Stat(ctx context.Context, name string) (storage.ObjectInfo, error) {
	if f.fail("stat") {
		return storage.ObjectInfo{}, errReset
	}
	return f.Backend.Stat(ctx, name)
}

func (f *flaky) Delete(ctx context.Context, name string) error {
	if f.fail("delete") {
		return errReset
	}
	return f.Backend.Delete(ctx, name)
}

func (f *flaky) Put(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	if f.fail("put") {
		io.CopyN(io.Discard, r, 3)
		return storage.ObjectInfo{}, errReset
	}
	return f.Backend.Put(ctx, name, r)
}

func (f *flaky) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	failing := f.fail("list")
	n := 0
	err := f.Backend.List(ctx, prefix, func(oi storage.ObjectInfo) error {
		if failing && n == f.listFailAt {
			return errReset
		}
		n++
		return fn(oi)
	})
	return err
}

func (f *flaky) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	if f.fail("get") {
		return nil, errReset
	}
	rc, err := f.Backend.Get(ctx, name, off)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.breaks > 0 {
		f.breaks--
		return &breakingReader{rc: rc, left: f.breakAfter}, nil
	}
	return rc, nil
}

type breakingReader struct {
	rc   io.ReadCloser
	left int64
}

func (b *breakingReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errReset
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *breakingReader) Close() error { return b.rc.Close() }

func fastPolicy(retries int) retry.Policy {
	return retry.Policy{MaxRetries: retries, BaseWait: time.Microsecond, MaxWait: time.Microsecond}
}

func TestBackendRetries(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000)

	t.Run("put from a seeker is retried from its start", func(t *testing.T) {
		f := newFlaky(t)
		f.fails["put"] = 2
		b := retry.New(f, fastPolicy(3))
		src := bytes.NewReader(append([]byte("skip"), data...))
		src.Seek(4, io.SeekStart)
		if _, err := b.Put(ctx, "o", src); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, b, "o", 0); !bytes.Equal(got, data) || f.count("put") != 3 {
			t.Errorf("%d puts, %d bytes stored; want 3 and the source from where it was", f.count("put"), len(got))
		}
	})
	t.Run("put from a stream is not retried", func(t *testing.T) {
		f := newFlaky(t)
		f.fails["put"] = 1
		b := retry.New(f, fastPolicy(3))
		_, err := b.Put(ctx, "o", io.MultiReader(bytes.NewReader(data)))
		if !errors.Is(err, errReset) || f.count("put") != 1 {
			t.Errorf("err %v after %d puts, want the reset after 1", err, f.count("put"))
		}
	})
	t.Run("stat and delete", func(t *testing.T) {
		f := newFlaky(t)
		b := retry.New(f, fastPolicy(3))
		if _, err := b.Put(ctx, "o", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		f.fails["stat"], f.fails["delete"] = 3, 2
		if oi, err := b.Stat(ctx, "o"); err != nil || oi.Size != int64(len(data)) {
			t.Errorf("stat: %+v, %v", oi, err)
		}
		if err := b.Delete(ctx, "o"); err != nil {
			t.Error(err)
		}
		if f.count("stat") != 4 || f.count("delete") != 3 {
			t.Errorf("%d stats, %d deletes; want 4 and 3", f.count("stat"), f.count("delete"))
		}
		// Not found is permanent: one attempt.
		if err := b.Delete(ctx, "o"); !errors.Is(err, storage.ErrNotFound) || f.count("delete") != 4 {
			t.Errorf("delete of a missing object: %v after %d deletes", err, f.count("delete"))
		}
	})
	t.Run("too many failures", func(t *testing.T) {
		f := newFlaky(t)
		f.fails["stat"] = 5
		b := retry.New(f, fastPolicy(2))
		_, err := b.Stat(ctx, "o")
		if !errors.Is(err, errReset) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
			t.Errorf("err %v, want gave up after 3 attempts", err)
		}
	})
	t.Run("list resumes after the last name", func(t *testing.T) {
		f := newFlaky(t)
		b := retry.New(f, fastPolicy(3))
		for _, n := range []string{"a", "b", "c", "d"} {
			if _, err := b.Put(ctx, n, strings.NewReader(n)); err != nil {
				t.Fatal(err)
			}
		}
		f.fails["list"], f.listFailAt = 1, 2
		var got []string
		if err := b.List(ctx, "", func(oi storage.ObjectInfo) error { got = append(got, oi.Name); return nil }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "a,b,c,d" || f.count("list") != 2 {
			t.Errorf("listed %q in %d lists, want a,b,c,d in 2", got, f.count("list"))
		}
	})
	t.Run("an error of fn is returned as is, not retried", func(t *testing.T) {
		f := newFlaky(t)
		b := retry.New(f, fastPolicy(3))
		if _, err := b.Put(ctx, "a", strings.NewReader("a")); err != nil {
			t.Fatal(err)
		}
		stop := errors.New("stop")
		if err := b.List(ctx, "", func(storage.ObjectInfo) error { return stop }); err != stop || f.count("list") != 1 {
			t.Errorf("err %v after %d lists, want stop as is after 1", err, f.count("list"))
		}
		if err := b.List(ctx, "", func(storage.ObjectInfo) error { return errReset }); err != errReset || f.count("list") != 2 {
			t.Errorf("a transient-looking error of fn: %v after %d lists, want it as is after 1 more", err, f.count("list"))
		}
	})
	t.Run("get opens again and resumes a broken read", func(t *testing.T) {
		f := newFlaky(t)
		b := retry.New(f, fastPolicy(3))
		if _, err := b.Put(ctx, "o", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		f.fails["get"], f.breaks, f.breakAfter = 1, 3, 3000
		if got := readAll(t, b, "o", 5); !bytes.Equal(got, data[5:]) {
			t.Errorf("read %d bytes that differ from the object's", len(got))
		}
		if f.count("get") != 5 {
			t.Errorf("%d gets, want 1 failed + 1 + 3 resumed", f.count("get"))
		}
	})
	t.Run("a read that keeps breaking gives up", func(t *testing.T) {
		f := newFlaky(t)
		b := retry.New(f, fastPolicy(2))
		if _, err := b.Put(ctx, "o", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		f.breaks, f.breakAfter = 100, 0
		rc, err := b.Get(ctx, "o", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		_, err = io.ReadAll(rc)
		if !errors.Is(err, errReset) || !strings.Contains(err.Error(), "gave up resuming after 3 attempts") {
			t.Errorf("err %v, want gave up resuming after 3 attempts", err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		f := newFlaky(t)
		f.fails["stat"] = 5
		b := retry.New(f, retry.Policy{MaxRetries: 5, BaseWait: time.Hour, MaxWait: time.Hour})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := b.Stat(cctx, "o"); !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
}

func readAll(t *testing.T, b storage.Backend, name string, off int64) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), name, off)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// selfRetrying is a store that retries by itself.
type selfRetrying struct{ storage.Backend }

func (selfRetrying) RetriesItself() {}

// TestNewLeavesSelfRetryingStores: no request is retried twice over.
func TestNewLeavesSelfRetryingStores(t *testing.T) {
	s := selfRetrying{}
	if got := retry.New(s, fastPolicy(3)); got != storage.Backend(s) {
		t.Errorf("New wrapped a store that retries itself: %T", got)
	}
	f := newFlaky(t)
	if _, ok := retry.New(f, fastPolicy(3)).(*retry.Backend); !ok {
		t.Error("New did not wrap a plain store")
	}
}

// TestCapabilitiesThroughDecorator: the decorator hides none of the
// wrapped store's capabilities.
func TestCapabilitiesThroughDecorator(t *testing.T) {
	lb, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := retry.New(lb, fastPolicy(1))
	defer b.Close()
	if _, ok := storage.As[storage.CheapRanges](b); !ok {
		t.Error("CheapRanges hidden by the retry decorator")
	}
	if _, ok := storage.As[storage.StaleTempRemover](b); !ok {
		t.Error("StaleTempRemover hidden by the retry decorator")
	}
	if _, ok := storage.As[storage.Multipart](b); ok {
		t.Error("Multipart found on a local store")
	}
}

// TestConformance: the decorator around a local store keeps the
// storage.Backend contract.
func TestConformance(t *testing.T) {
	storagetest.RunOptions(t, func(t *testing.T) storage.Backend {
		lb, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return retry.New(lb, fastPolicy(2))
	}, storagetest.Options{Features: []string{"CheapRanges", "StaleTempRemover"}})
}
