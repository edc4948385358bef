package swift

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncw/swift/v2"
	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/storage"
)

// randomBytes returns n pseudo-random bytes for seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'm', 'y', 'b', 'a', 'k'}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readBack(t *testing.T, b *Backend, name string) []byte {
	t.Helper()
	r, err := b.Get(context.Background(), name, 0)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", name, err)
	}
	return data
}

// TestFaults puts 20 multi-segment objects through a proxy that breaks
// about 20% of the storage requests (408, 503, 401, connections reset in
// the middle of a body, answers later than the client's timeout) and
// reads them back through it, byte-identical.
func TestFaults(t *testing.T) {
	cfg := testConfig(t)
	p := newFaultProxy(t, cfg.AuthURL, 20260101)
	p.rate = 0.2
	p.faults = []fault{fault408, fault503, fault401, faultResetBody, faultStall}
	cfg.AuthURL = p.authURL(cfg.AuthURL)
	cfg.SegmentSize = 256 << 10
	cfg.MaxRetries = 12
	// The stall fault answers after 1.5 s: the library's own timeout
	// (reported as swift.TimeoutError, a 408) fires first.
	cfg.ConnectTimeout = time.Second
	cfg.Timeout = time.Second
	b := newTestBackend(t, cfg)
	var retries atomic.Int64
	b.retr.onRetry = func(int, error) { retries.Add(1) }

	const objects = 20
	datas := make([][]byte, objects)
	var g errgroup.Group
	g.SetLimit(4)
	start := time.Now()
	for i := range objects {
		datas[i] = randomBytes(uint64(i), 3*256<<10+int(rand.Uint32N(200<<10))+1)
		g.Go(func() error {
			name := fmt.Sprintf("faults/%02d", i)
			info, err := b.Put(context.Background(), name, bytes.NewReader(datas[i]))
			if err != nil {
				return err
			}
			if len(info.Parts) != 4 {
				return fmt.Errorf("Put(%q) reported %d parts, want 4", name, len(info.Parts))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Put through the fault proxy: %v", err)
	}
	t.Logf("20 Puts in %v", time.Since(start))
	for i := range objects {
		name := fmt.Sprintf("faults/%02d", i)
		got := readBack(t, b, name)
		if sha256.Sum256(got) != sha256.Sum256(datas[i]) {
			t.Errorf("Get(%q) through the fault proxy: %d bytes that differ from the %d put", name, len(got), len(datas[i]))
		}
	}
	for _, f := range p.faults {
		t.Logf("fault %-15s injected %d times", f, p.count(f))
		if p.count(f) == 0 {
			t.Errorf("fault %s never injected: the test did not test it", f)
		}
	}
	t.Logf("%d storage requests, %d auth requests, %d retries by the backend", p.requests, p.auths, retries.Load())
	if p.count(fault401) > 0 && p.auths < 2 {
		t.Errorf("%d injected 401s but only %d authentications: no re-auth", p.count(fault401), p.auths)
	}
	// Failed attempts overwrite the same segment name; nothing else is
	// left behind.
	if n := len(segmentNames(t, cfg)); n != objects*4 {
		t.Errorf("segment container holds %d objects, want exactly the %d segments of the objects", n, objects*4)
	}
}

// TestTrickleThroughShortClientTimeout reproduces what killed Trove's
// uploads: a producer that pauses longer than the proxy's client_timeout
// (2 s on the sandbox's short-timeout proxy). A streamed PUT gets a 408;
// the backend, which sends only whole held segments, completes.
func TestTrickleThroughShortClientTimeout(t *testing.T) {
	cfg := testConfig(t)
	short := os.Getenv("MYBAK_SWIFT_SHORT_TIMEOUT_AUTH")
	if short == "" {
		t.Fatal("MYBAK_SWIFT_SHORT_TIMEOUT_AUTH is not set: eval \"$(scripts/swift-sandbox.sh env)\" (the sandbox runs a proxy with client_timeout=2)")
	}
	cfg.AuthURL = short
	cfg.SegmentSize = 256 << 10
	b := newTestBackend(t, cfg)
	pause := 2500 * time.Millisecond
	chunks := [][]byte{randomBytes(1, 300<<10), randomBytes(2, 300<<10), randomBytes(3, 100<<10)}
	trickle := func(w *io.PipeWriter) {
		for i, c := range chunks {
			if i > 0 {
				time.Sleep(pause)
			}
			if _, err := w.Write(c); err != nil {
				return
			}
		}
		w.Close()
	}

	// Control: a streamed PUT through the same proxy fails, so the
	// sandbox really reproduces the failure.
	t.Run("streamed PUT fails", func(t *testing.T) {
		pr, pw := io.Pipe()
		go trickle(pw)
		defer pr.CloseWithError(errors.New("done"))
		_, err := b.conn.ObjectPut(context.Background(), cfg.Container, "streamed", pr, false, "", "", nil)
		var se *swift.Error
		if !errors.As(err, &se) || (se.StatusCode != 408 && se.StatusCode != 499) {
			t.Fatalf("streamed PUT with %v pauses through a proxy with client_timeout 2 s: got %v, want a 408 (is the short-timeout proxy running?)", pause, err)
		}
		t.Logf("streamed PUT failed as Trove's did: %v", err)
	})

	pr, pw := io.Pipe()
	go trickle(pw)
	start := time.Now()
	info, err := b.Put(context.Background(), "trickle", pr)
	if err != nil {
		t.Fatalf("Put of a trickling stream: %v", err)
	}
	t.Logf("Put of a stream with %v pauses took %v, %d parts", pause, time.Since(start), len(info.Parts))
	want := bytes.Join(chunks, nil)
	if got := readBack(t, b, "trickle"); !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes that differ from the %d put", len(got), len(want))
	}
}

// TestCorruptSegment overwrites a segment behind the backend's back: Get
// fails naming it, VerifyParts names it (and only it).
func TestCorruptSegment(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 256 << 10
	b := newTestBackend(t, cfg)
	data := randomBytes(9, 3*256<<10+1000)
	info, err := b.Put(context.Background(), "c/obj", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Parts) != 4 {
		t.Fatalf("%d parts, want 4", len(info.Parts))
	}
	parts, err := b.Parts(context.Background(), "c/obj")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(parts) != fmt.Sprint(info.Parts) {
		t.Fatalf("Parts = %v, Put reported %v", parts, info.Parts)
	}
	if err := b.VerifyParts(context.Background(), parts); err != nil {
		t.Fatalf("VerifyParts of an intact object: %v", err)
	}

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"same size", randomBytes(10, 256<<10)},
		{"shorter", randomBytes(11, 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			container, obj, _ := strings.Cut(parts[1].Name, "/")
			if err := rawConn(t).ObjectPutBytes(context.Background(), container, obj, tc.data, ""); err != nil {
				t.Fatal(err)
			}
			r, err := b.Get(context.Background(), "c/obj", 0)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			r.Close()
			var cp *CorruptPartError
			if !errors.As(err, &cp) || cp.Index != 1 || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get of an object with segment 1 overwritten: read %d bytes, error %v; want a *CorruptPartError for part 1", n, err)
			}
			if n != 256<<10 {
				t.Errorf("Get returned %d bytes before the error, want exactly segment 0 (%d)", n, 256<<10)
			}
			t.Logf("Get: %v", err)
			err = b.VerifyParts(context.Background(), parts)
			if !errors.As(err, &cp) || cp.Index != 1 || strings.Count(err.Error(), "part ") != 1 {
				t.Fatalf("VerifyParts: %v; want exactly part 1 reported", err)
			}
			t.Logf("VerifyParts: %v", err)
		})
	}
}

// TestMemoryBound checks that a Put holds at most UploadParallel+1
// segment buffers whatever the stream's length.
func TestMemoryBound(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 128 << 10
	cfg.UploadParallel = 2
	b := newTestBackend(t, cfg)
	const size = 40 * 128 << 10
	info, err := b.Put(context.Background(), "mem", io.LimitReader(rand.NewChaCha8([32]byte{1}), size))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Parts) != 40 {
		t.Errorf("%d parts, want 40", len(info.Parts))
	}
	if m := b.maxInUse.Load(); m > int64(cfg.UploadParallel+1) || m < 2 {
		t.Errorf("Put held up to %d segment buffers, want at most UploadParallel+1 = %d (and parallelism)", m, cfg.UploadParallel+1)
	}
	if n := b.inUse.Load(); n != 0 {
		t.Errorf("%d buffers still held after Put", n)
	}
}

// TestLimitRate checks that uploads honour LimitRate.
func TestLimitRate(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 128 << 10
	cfg.LimitRate = 256 << 10
	b := newTestBackend(t, cfg)
	start := time.Now()
	if _, err := b.Put(context.Background(), "rate", bytes.NewReader(randomBytes(3, 512<<10))); err != nil {
		t.Fatal(err)
	}
	// 512 KiB at 256 KiB/s with a 64 KiB burst: at least ~1.75 s.
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("Put of 512 KiB at 256 KiB/s took %v", d)
	}
}

// TestFailedPutCleanup checks that a failed Put deletes its segments, and
// keeps them with KeepPartial.
func TestFailedPutCleanup(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepPartial=%v", keep), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SegmentSize = 128 << 10
			cfg.KeepPartial = keep
			b := newTestBackend(t, cfg)
			boom := errors.New("source broke")
			src := io.MultiReader(bytes.NewReader(randomBytes(4, 600<<10)), &errReader{boom})
			_, err := b.Put(context.Background(), "failed", src)
			if !errors.Is(err, boom) {
				t.Fatalf("Put: %v, want the source's error", err)
			}
			segs := segmentNames(t, cfg)
			if keep && len(segs) != 4 {
				t.Errorf("KeepPartial: %d segments left, want the 4 complete ones", len(segs))
			}
			if !keep && len(segs) != 0 {
				t.Errorf("%d segments left behind after a failed Put: %v", len(segs), segs)
			}
			if _, err := b.Stat(context.Background(), "failed"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Stat after a failed Put: %v", err)
			}
		})
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// TestPermanentErrors checks that 403 and 413 fail at once, without
// retries, with a message that says what to do; and that limits read from
// /info are enforced.
func TestPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		f    fault
		want string
	}{
		{fault403, "permission denied"},
		{fault413, "segment size"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			cfg := testConfig(t)
			p := newFaultProxy(t, cfg.AuthURL, 1)
			cfg.AuthURL = p.authURL(cfg.AuthURL)
			cfg.SegmentSize = 128 << 10
			b := newTestBackend(t, cfg)
			p.decide = func(r *http.Request) fault {
				if r.Method == "PUT" && strings.Contains(r.URL.Path, SegmentContainerSuffix+"/") {
					return tc.f
				}
				return faultNone
			}
			var retries atomic.Int64
			b.retr.onRetry = func(int, error) { retries.Add(1) }
			_, err := b.Put(context.Background(), "perm", bytes.NewReader(randomBytes(5, 300<<10)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Put with every segment PUT answered %s: %v, want an error saying %q", tc.f, err, tc.want)
			}
			if retries.Load() != 0 {
				t.Errorf("%d retries after a %s", retries.Load(), tc.f)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("segment container deleted", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.SegmentSize = 128 << 10
		b := newTestBackend(t, cfg)
		var retries atomic.Int64
		b.retr.onRetry = func(_ int, err error) {
			if errors.Is(err, swift.ObjectNotFound) || errors.Is(err, swift.ContainerNotFound) {
				retries.Add(1) // a 404 retried (other retries, of the cleanup's DELETEs, do not count)
			}
		}
		if err := rawConn(t).ContainerDelete(context.Background(), cfg.Container+SegmentContainerSuffix); err != nil {
			t.Fatal(err)
		}
		_, err := b.Put(context.Background(), "gone", bytes.NewReader(randomBytes(5, 300<<10)))
		if err == nil || !strings.Contains(err.Error(), "is gone") || retries.Load() != 0 {
			t.Fatalf("Put after the segment container was deleted: %v (%d 404s retried); want an immediate error saying it is gone", err, retries.Load())
		}
		t.Logf("%v", err)
	})
	t.Run("max_manifest_segments", func(t *testing.T) {
		cfg := testConfig(t)
		p := newFaultProxy(t, cfg.AuthURL, 1)
		p.info = func(info map[string]any) {
			info["slo"].(map[string]any)["max_manifest_segments"] = 3
		}
		cfg.AuthURL = p.authURL(cfg.AuthURL)
		cfg.SegmentSize = 128 << 10
		b := newTestBackend(t, cfg)
		_, err := b.Put(context.Background(), "big", bytes.NewReader(randomBytes(6, 5*128<<10)))
		if err == nil || !strings.Contains(err.Error(), "max_manifest_segments") {
			t.Fatalf("Put of 5 segments with max_manifest_segments 3: %v", err)
		}
		if segs := segmentNames(t, cfg); len(segs) != 0 {
			t.Errorf("%d segments left behind", len(segs))
		}
	})
	t.Run("max_file_size", func(t *testing.T) {
		cfg := testConfig(t)
		p := newFaultProxy(t, cfg.AuthURL, 1)
		p.info = func(info map[string]any) {
			info["swift"].(map[string]any)["max_file_size"] = 100 << 10
		}
		cfg.AuthURL = p.authURL(cfg.AuthURL)
		cfg.SegmentSize = 128 << 10
		_, err := New(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "max_file_size") {
			t.Fatalf("New with a segment size above max_file_size: %v", err)
		}
	})
}

// TestResumeGet breaks every download after 100 KiB: Get resumes each
// from the byte where it stopped.
func TestResumeGet(t *testing.T) {
	cfg := testConfig(t)
	p := newFaultProxy(t, cfg.AuthURL, 1)
	cfg.AuthURL = p.authURL(cfg.AuthURL)
	cfg.SegmentSize = 256 << 10
	b := newTestBackend(t, cfg)
	small := randomBytes(7, 200<<10)   // plain object
	large := randomBytes(8, 600<<10+3) // SLO, 3 segments
	for name, data := range map[string][]byte{"small": small, "large": large} {
		if _, err := b.Put(context.Background(), name, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	var broken atomic.Int64
	p.decide = func(r *http.Request) fault {
		if r.Method == "GET" && r.Header.Get("Range") == "" && !strings.Contains(r.URL.RawQuery, "multipart-manifest") && strings.Contains(r.URL.Path, "/") {
			broken.Add(1)
			return faultResetBody
		}
		return faultNone
	}
	for name, data := range map[string][]byte{"small": small, "large": large} {
		for _, off := range []int64{0, 1000, 300 << 10} {
			if off >= int64(len(data)) {
				continue
			}
			r, err := b.Get(context.Background(), name, off)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data[off:]) {
				t.Errorf("Get(%q, %d) with broken downloads: %d bytes, equal %v, error %v", name, off, len(got), bytes.Equal(got, data[off:]), err)
			}
		}
	}
	if broken.Load() == 0 {
		t.Error("no download was broken: the test did not test resuming")
	}
}

// TestWrongCredentialsFailAtOnce: a 401 from the auth endpoint is wrong
// credentials, not an expired token: no retries, and a hint.
func TestWrongCredentialsFailAtOnce(t *testing.T) {
	cfg := testConfig(t)
	cfg.Key = "not-the-key"
	cfg.MaxRetries = 5
	cfg.RetryBaseWait = time.Second // five retries would take over 15 s
	start := time.Now()
	_, err := New(context.Background(), cfg)
	if err == nil {
		t.Fatal("New with a wrong key succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the refusal was retried", d)
	}
	if msg := err.Error(); !strings.Contains(msg, "credentials were refused") || strings.Contains(msg, "gave up") {
		t.Errorf("error %q: want the hint about credentials, no retries", msg)
	}
}
