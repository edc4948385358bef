package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/spool"
)

// capCheck is a conformance check of an optional capability: it runs for
// the backends that declare it (storage.Features names it).
type capCheck struct {
	feature string
	name    string
	fn      func(t testing.TB, b storage.Backend, o Options)
}

// capChecks lists the capability checks in the order Run runs them.
var capChecks = []capCheck{
	{"CheapRanges", "CheapRanges", checkCheapRanges},
	{"ChecksParts", "ChecksParts", checkChecksParts},
	{"Multipart", "Multipart", checkMultipart},
	{"Multipart", "MultipartInvisible", checkMultipartInvisible},
	{"Multipart", "MultipartDeleteUpload", checkDeleteUpload},
	{"Multipart", "Spool", checkSpool},
	{"Multipart", "SpoolResume", checkSpoolResume},
	{"PartStatter", "StatParts", checkStatParts},
	{"UncommittedSweeper", "SweepUncommitted", checkSweepUncommitted},
	{"StaleTempRemover", "RemoveStaleTemp", checkRemoveStaleTemp},
}

func ctxFor(t testing.TB, o Options) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// checkCheapRanges: many concurrent ranged reads of one object each read
// exactly their range.
func checkCheapRanges(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	data := content(41, 1<<20+17)
	put(t, b, "ranges", data)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off, n := int64(i)*65521, int64(4099)
			r, err := b.Get(ctx, "ranges", off)
			if err != nil {
				t.Errorf("Get(ranges, %d): %v", off, err)
				return
			}
			defer r.Close()
			got := make([]byte, n)
			if _, err := io.ReadFull(r, got); err != nil {
				t.Errorf("Get(ranges, %d): read %d bytes: %v", off, n, err)
				return
			}
			if !bytes.Equal(got, data[off:off+n]) {
				t.Errorf("Get(ranges, %d): the range read differs from the object's bytes there", off)
			}
		}()
	}
	wg.Wait()
}

// checkChecksParts: a store that checks its parts by MD5 reports the
// MD5 of what it stored: of the object, or of each part.
func checkChecksParts(t testing.TB, b storage.Backend, o Options) {
	for _, size := range []int64{1000, o.LargeSize} {
		data := content(43, size)
		info := put(t, b, fmt.Sprintf("checked-%d", size), data)
		if len(info.Parts) == 0 {
			if info.MD5 == "" {
				t.Errorf("Put of %d bytes: no MD5 and no parts, from a store that checks its parts", size)
			}
			continue
		}
		var off int64
		for i, p := range info.Parts {
			if p.Size < 0 || off+p.Size > size {
				t.Errorf("Put of %d bytes: part %d has size %d at offset %d", size, i, p.Size, off)
				return
			}
			sum := md5.Sum(data[off : off+p.Size])
			if p.MD5 != hex.EncodeToString(sum[:]) {
				t.Errorf("Put of %d bytes: part %d's MD5 is %q, its bytes' %x", size, i, p.MD5, sum)
			}
			off += p.Size
		}
	}
}

// putParts uploads data as the parts of upload id of object name, cut at
// the store's part size, and returns them as PutPart did.
func putParts(t testing.TB, ctx context.Context, mp storage.Multipart, name, id string, data []byte) []storage.Part {
	t.Helper()
	size := int(mp.PartSize())
	if size <= 0 {
		t.Fatalf("PartSize() = %d", size)
	}
	var parts []storage.Part
	for n, off := 0, 0; off < len(data) || n == 0; n++ {
		end := min(off+size, len(data))
		sum := md5.Sum(data[off:end])
		md5hex := hex.EncodeToString(sum[:])
		p, err := mp.PutPart(ctx, name, id, n, bytes.NewReader(data[off:end]), int64(end-off), md5hex)
		if err != nil {
			t.Fatalf("PutPart(%q, %q, %d): %v", name, id, n, err)
		}
		if p.Size != int64(end-off) || p.MD5 != md5hex {
			t.Errorf("PutPart(%q, %q, %d) = %+v, want size %d and MD5 %s", name, id, n, p, end-off, md5hex)
		}
		parts = append(parts, p)
		off = end
	}
	return parts
}

func multipart(t testing.TB, b storage.Backend) storage.Multipart {
	t.Helper()
	mp, ok := storage.As[storage.Multipart](b)
	if !ok {
		t.Fatal("the backend does not declare storage.Multipart")
	}
	if mp.MaxParts() < 3 || mp.UploadParallel() < 1 {
		t.Errorf("MaxParts() = %d, UploadParallel() = %d: want at least 3 and 1", mp.MaxParts(), mp.UploadParallel())
	}
	return mp
}

// checkMultipart: parts stored, checked, committed (in one piece and in
// several), listed by Parts, committed again harmlessly, and a commit of
// other parts replaces the object.
func checkMultipart(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	mp := multipart(t, b)
	ps := mp.PartSize()
	for _, tc := range []struct {
		name string
		size int64
	}{{"mp/one", ps / 2}, {"mp/three", 2*ps + 13}} {
		data := content(47, tc.size)
		parts := putParts(t, ctx, mp, tc.name, "u1", data)
		for n, p := range parts {
			got, err := mp.StatPart(ctx, tc.name, "u1", n)
			if err != nil || got.Size != p.Size || got.MD5 != p.MD5 {
				t.Errorf("StatPart(%q, u1, %d) = %+v, %v; want %+v", tc.name, n, got, err, p)
			}
		}
		info, err := mp.CommitParts(ctx, tc.name, parts)
		if err != nil {
			t.Fatalf("CommitParts(%q): %v", tc.name, err)
		}
		if info.Name != tc.name || info.Size != tc.size {
			t.Errorf("CommitParts(%q) = %+v, want size %d", tc.name, info, tc.size)
		}
		wantContent(t, b, tc.name, data)
		got, err := mp.Parts(ctx, tc.name)
		if err != nil || len(got) != len(parts) {
			t.Fatalf("Parts(%q) = %d parts, %v; want %d", tc.name, len(got), err, len(parts))
		}
		for i := range got {
			if got[i].Size != parts[i].Size || got[i].MD5 != parts[i].MD5 {
				t.Errorf("Parts(%q)[%d] = %+v, want %+v", tc.name, i, got[i], parts[i])
			}
		}
		if _, err := mp.CommitParts(ctx, tc.name, parts); err != nil {
			t.Errorf("CommitParts(%q) again: %v (committing the same parts again must be harmless)", tc.name, err)
		}
		wantContent(t, b, tc.name, data)
	}
	// Replace: new parts of another upload.
	data := content(53, ps+5)
	parts := putParts(t, ctx, mp, "mp/three", "u2", data)
	if _, err := mp.CommitParts(ctx, "mp/three", parts); err != nil {
		t.Fatalf("CommitParts replacing mp/three: %v", err)
	}
	wantContent(t, b, "mp/three", data)
	if _, err := mp.Parts(ctx, "mp/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Parts of a missing object: %v, want ErrNotFound", err)
	}
	// A part whose bytes do not match its MD5 is refused.
	bad := content(59, 100)
	if _, err := mp.PutPart(ctx, "mp/bad", "u1", 0, bytes.NewReader(bad), 100, md5Hex(61, 100)); err == nil {
		t.Error("PutPart with an MD5 that does not match the bytes succeeded")
	}
}

// checkMultipartInvisible: nothing is visible under the name before
// CommitParts.
func checkMultipartInvisible(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	mp := multipart(t, b)
	putParts(t, ctx, mp, "inv/data", "u1", content(67, 2*mp.PartSize()+1))
	wantAbsent(t, b, "inv/data", "before CommitParts")
	wantNames(t, b, nil, "before CommitParts")
	if _, err := mp.StatPart(ctx, "inv/data", "u1", 7); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StatPart of a part never stored: %v, want ErrNotFound", err)
	}
}

// checkDeleteUpload: DeleteUpload removes the parts of one upload only,
// and again is no error.
func checkDeleteUpload(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	mp := multipart(t, b)
	gone := putParts(t, ctx, mp, "del/data", "u1", content(71, mp.PartSize()+3))
	kept := putParts(t, ctx, mp, "del/data", "u2", content(73, 10))
	for range 2 {
		if err := mp.DeleteUpload(ctx, "del/data", "u1"); err != nil {
			t.Fatalf("DeleteUpload: %v", err)
		}
	}
	for n := range gone {
		if _, err := mp.StatPart(ctx, "del/data", "u1", n); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("StatPart(u1, %d) after DeleteUpload: %v, want ErrNotFound", n, err)
		}
	}
	if p, err := mp.StatPart(ctx, "del/data", "u2", 0); err != nil || p.MD5 != kept[0].MD5 {
		t.Errorf("StatPart of another upload after DeleteUpload: %+v, %v", p, err)
	}
}

// spoolOptions are the spool's options in the checks: no dependence on
// the free space of the machine running them.
func spoolOptions() spool.Options {
	return spool.Options{FreeSpace: func(string) (int64, error) { return 1 << 50, nil }, Reserve: 1}
}

// checkSpool: a stream spooled to disk and uploaded through the store's
// Multipart capability reads back whole, and only after Finish.
func checkSpool(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	mp := multipart(t, b)
	dir := t.TempDir()
	data := content(79, 3*mp.PartSize()+7)
	s, err := spool.Create(ctx, dir, "ID", "ID/data", mp, spoolOptions())
	if err != nil {
		t.Fatalf("spool.Create: %v", err)
	}
	defer s.Close()
	if n, err := s.Consume(ctx, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("Consume = %d, %v", n, err)
	}
	wantAbsent(t, b, "ID/data", "before the spool's Finish")
	info, err := s.Finish(ctx)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Finish: size %d, want %d", info.Size, len(data))
	}
	wantContent(t, b, "ID/data", data)
	if err := s.Remove(); err != nil {
		t.Error(err)
	}
}

// checkSpoolResume: a spool closed before Finish (its process died) is
// finished by another (spool.Open), and finishing a finished spool again
// is harmless.
func checkSpoolResume(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	mp := multipart(t, b)
	dir := t.TempDir()
	data := content(83, 2*mp.PartSize()+1)
	s, err := spool.Create(ctx, dir, "ID", "ID/data", mp, spoolOptions())
	if err != nil {
		t.Fatalf("spool.Create: %v", err)
	}
	if _, err := s.Consume(ctx, bytes.NewReader(data)); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantAbsent(t, b, "ID/data", "before the spool is finished")
	for i := range 2 {
		r, err := spool.Open(dir, "ID", mp, spoolOptions())
		if err != nil {
			t.Fatalf("spool.Open (%d): %v", i+1, err)
		}
		if _, err := r.Finish(ctx); err != nil {
			t.Fatalf("Finish of the reopened spool (%d): %v", i+1, err)
		}
		wantContent(t, b, "ID/data", data)
		r.Close()
	}
}

// statPartsOf returns the parts of an object stored in several: as Put
// reported them, else through Multipart.
func statPartsOf(t testing.TB, ctx context.Context, b storage.Backend, o Options) []storage.Part {
	t.Helper()
	info := put(t, b, "sp/data", content(89, o.LargeSize))
	if len(info.Parts) > 1 {
		return info.Parts
	}
	mp, ok := storage.As[storage.Multipart](b)
	if !ok {
		t.Fatal("a store with StatParts that neither Puts in parts nor declares Multipart: nothing to check")
	}
	parts := putParts(t, ctx, mp, "sp/mp", "u1", content(97, 2*mp.PartSize()+3))
	if _, err := mp.CommitParts(ctx, "sp/mp", parts); err != nil {
		t.Fatal(err)
	}
	return parts
}

// checkStatParts: StatParts passes the parts as stored and fails a part
// that is missing or whose size or MD5 differs.
func checkStatParts(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	ps, _ := storage.As[storage.PartStatter](b)
	parts := statPartsOf(t, ctx, b, o)
	if err := ps.StatParts(ctx, parts); err != nil {
		t.Fatalf("StatParts of the parts as stored: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *storage.Part)
	}{
		{"size", func(p *storage.Part) { p.Size++ }},
		{"MD5", func(p *storage.Part) { p.MD5 = md5Hex(101, 3) }},
		{"name", func(p *storage.Part) { p.Name += "-missing" }},
	} {
		bad := append([]storage.Part(nil), parts...)
		tc.mutate(&bad[len(bad)-1])
		if err := ps.StatParts(ctx, bad); err == nil {
			t.Errorf("StatParts passed a part whose %s differs", tc.name)
		}
	}
}

// checkSweepUncommitted: the parts of an upload never committed under the
// prefix are swept; committed objects, and parts under other prefixes,
// are not.
func checkSweepUncommitted(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	sw, _ := storage.As[storage.UncommittedSweeper](b)
	kept := content(103, 2000)
	put(t, b, "ID1/kept", kept)
	mp, ok := storage.As[storage.Multipart](b)
	if !ok {
		if err := sw.SweepUncommitted(ctx, "ID1/"); err != nil {
			t.Fatalf("SweepUncommitted: %v", err)
		}
		wantContent(t, b, "ID1/kept", kept)
		return
	}
	committed := content(107, 2*mp.PartSize()+1)
	parts := putParts(t, ctx, mp, "ID1/data", "u1", committed)
	if _, err := mp.CommitParts(ctx, "ID1/data", parts); err != nil {
		t.Fatal(err)
	}
	putParts(t, ctx, mp, "ID1/data", "killed", content(109, mp.PartSize()+1))
	putParts(t, ctx, mp, "ID2/data", "running", content(113, 10))
	if err := sw.SweepUncommitted(ctx, "ID1/"); err != nil {
		t.Fatalf("SweepUncommitted: %v", err)
	}
	for n := range 2 {
		if _, err := mp.StatPart(ctx, "ID1/data", "killed", n); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("StatPart(killed, %d) after the sweep: %v, want ErrNotFound", n, err)
		}
	}
	if _, err := mp.StatPart(ctx, "ID2/data", "running", 0); err != nil {
		t.Errorf("a part under another prefix after the sweep: %v", err)
	}
	for n, p := range parts {
		if got, err := mp.StatPart(ctx, "ID1/data", "u1", n); err != nil || got.MD5 != p.MD5 {
			t.Errorf("StatPart(u1, %d) of the committed object after the sweep: %+v, %v", n, got, err)
		}
	}
	wantContent(t, b, "ID1/data", committed)
	wantContent(t, b, "ID1/kept", kept)
}

// checkRemoveStaleTemp: removing stale temporary files never touches an
// object, nor the temporary state of a Put in progress younger than the
// age given.
func checkRemoveStaleTemp(t testing.TB, b storage.Backend, o Options) {
	ctx := ctxFor(t, o)
	tr, _ := storage.As[storage.StaleTempRemover](b)
	data := content(127, 5000)
	put(t, b, "a/obj", data)
	release := make(chan struct{})
	src := newStallingSource(gen(131, o.ReplaceSize), o.StallAfter, release)
	done := startStalledPut(t, ctx, b, o, "a/in-progress", src)
	if n, err := tr.RemoveStaleTemp(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("RemoveStaleTemp(1h) during a Put = %d, %v; want 0, nil", n, err)
	}
	close(release)
	if err := wait(t, o, "the Put in progress", done); err != nil {
		t.Fatalf("the Put in progress failed after RemoveStaleTemp: %v", err)
	}
	if _, err := tr.RemoveStaleTemp(ctx, 0); err != nil {
		t.Errorf("RemoveStaleTemp(0): %v", err)
	}
	wantContent(t, b, "a/obj", data)
	if info, err := b.Stat(ctx, "a/in-progress"); err != nil || info.Size != o.ReplaceSize {
		t.Errorf("the Put's object after RemoveStaleTemp: %+v, %v", info, err)
	}
}
