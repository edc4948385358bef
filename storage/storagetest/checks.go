package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

func checkLocation(t testing.TB, b storage.Backend, _ Options) {
	if b.Location() == "" {
		t.Errorf("Location() is empty")
	}
}

func checkRoundTrip(t testing.TB, b storage.Backend, _ Options) {
	for i, size := range []int64{0, 1, 2, 511, 4095, 4097, 65537, 1<<20 + 3, 3<<20 - 1} {
		name := fmt.Sprintf("rt/%d.bin", size)
		data := content(uint64(i+1), size)
		put(t, b, name, data)
		wantContent(t, b, name, data)
	}
}

func checkLarge(t testing.TB, b storage.Backend, o Options) {
	ctx := context.Background()
	const name = "large/data.bin"
	const seed = 7
	info, err := b.Put(ctx, name, gen(seed, o.LargeSize))
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", name, o.LargeSize, err)
	}
	wantMD5 := md5Hex(seed, o.LargeSize)
	checkInfo(t, "Put", info, name, o.LargeSize, wantMD5)
	st, err := b.Stat(ctx, name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	checkInfo(t, "Stat", st, name, o.LargeSize, wantMD5)

	for _, off := range []int64{0, o.LargeSize/2 + 1, o.LargeSize - 1} {
		r, err := b.Get(ctx, name, off)
		if err != nil {
			t.Fatalf("Get(%q, %d): %v", name, off, err)
		}
		want := gen(seed, o.LargeSize)
		if _, err := io.CopyN(io.Discard, want, off); err != nil {
			t.Fatal(err)
		}
		n, diff, err := compareStreams(r, want)
		r.Close()
		switch {
		case err != nil:
			t.Errorf("Get(%q, %d): read after %d bytes: %v", name, off, n, err)
		case diff != "":
			t.Errorf("Get(%q, %d): %s", name, off, diff)
		}
	}
}

func checkGetOffset(t testing.TB, b storage.Backend, _ Options) {
	const size = 100<<10 + 13
	const name = "off/obj"
	data := content(3, size)
	put(t, b, name, data)
	for _, off := range []int64{0, 1, size / 2, size - 1, size, size + 1, size + 1<<20} {
		got := readAll(t, b, name, off)
		want := data[min(off, size):]
		if i := firstDiff(got, want); i >= 0 {
			t.Errorf("Get(%q, %d): read %d bytes, want %d; first difference at byte %d of the read", name, off, len(got), len(want), i)
		}
	}
	put(t, b, "off/empty", nil)
	for _, off := range []int64{0, 1} {
		if got := readAll(t, b, "off/empty", off); len(got) != 0 {
			t.Errorf("Get(empty, %d) read %d bytes", off, len(got))
		}
	}
}

// listNames are stored by the List check. They are chosen so that a
// directory walk in the order of directory entries is not lexical order:
// '-' and '.' sort before '/', '0' after it.
var listNames = []string{
	"a", "a-b", "a.b", "a0",
	"b/x", "b/y/z", "b-c", "b.c", "b0",
	"ID1/manifest.json", "ID1/data/0001", "ID1/data/0002", "ID10/x", "ID2/x",
	".hidden", "Z", "\u00e9t\u00e9", "z/\u00e9",
}

func checkList(t testing.TB, b storage.Backend, _ Options) {
	if got := list(t, b, ""); len(got) != 0 {
		t.Fatalf("List on an empty backend reported %q", names(got))
	}
	sizes := map[string]int64{}
	for i, name := range listNames {
		data := content(uint64(100+i), int64(i*3+1))
		put(t, b, name, data)
		sizes[name] = int64(len(data))
	}
	for _, prefix := range []string{"", "a", "a-", "a.", "b", "b/", "b/y", "b/y/", "b/y/z", "ID1", "ID1/", "ID1/data/", "ID1/data/0", "c", "nope/", "Z", "z", "\u00e9", ".", "..", "../"} {
		var want []string
		for _, n := range listNames {
			if strings.HasPrefix(n, prefix) {
				want = append(want, n)
			}
		}
		slices.Sort(want)
		got := list(t, b, prefix)
		if fmt.Sprint(names(got)) != fmt.Sprint(want) {
			t.Errorf("List(%q) = %q, want %q (in lexical order)", prefix, names(got), want)
			continue
		}
		for _, oi := range got {
			checkInfo(t, "List", oi, oi.Name, sizes[oi.Name], oi.MD5)
		}
	}
}

var errStop = errors.New("storagetest: stop listing")

func checkListStop(t testing.TB, b storage.Backend, _ Options) {
	for _, n := range []string{"s/1", "s/2", "s/3"} {
		put(t, b, n, []byte(n))
	}
	calls := 0
	err := b.List(context.Background(), "", func(storage.ObjectInfo) error {
		calls++
		return errStop
	})
	if err != errStop {
		t.Errorf("List with fn returning an error returned %v, want that error as is", err)
	}
	if calls != 1 {
		t.Errorf("List called fn %d times after it returned an error, want 1", calls)
	}
}

func checkNotFound(t testing.TB, b storage.Backend, _ Options) {
	ctx := context.Background()
	data := []byte("present")
	put(t, b, "dir/obj", data)
	for _, name := range []string{"missing", "missing/deeper", "dir", "dir/ob", "dir/obj/x", "dir/obj2"} {
		wantAbsent(t, b, name, "of a missing object")
		wantNotFound(t, b.Delete(ctx, name), fmt.Sprintf("Delete(%q) of a missing object", name))
	}
	wantContent(t, b, "dir/obj", data)
	wantNames(t, b, []string{"dir/obj"}, "after reading and deleting missing objects")
}

// invalidNames must be rejected with ErrInvalidName by every method.
var invalidNames = []string{"", "../x", "/abs", "a//b", "a/./b", "a/..", "..", ".", "./a", "a/", "x/../../y", "a\\b", "a\x00b", "a\nb"}

func checkInvalidName(t testing.TB, b storage.Backend, _ Options) {
	ctx := context.Background()
	for _, name := range invalidNames {
		if storage.ValidateName(name) == nil {
			t.Fatalf("suite bug: ValidateName accepts %q", name)
		}
		want := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("%s(%q): got error %v, want one wrapping storage.ErrInvalidName", op, name, err)
			}
		}
		_, err := b.Put(ctx, name, strings.NewReader("x"))
		want("Put", err)
		r, err := b.Get(ctx, name, 0)
		if err == nil {
			r.Close()
		}
		want("Get", err)
		_, err = b.Stat(ctx, name)
		want("Stat", err)
		want("Delete", b.Delete(ctx, name))
	}
	wantNames(t, b, nil, "after Puts of invalid names")
}

func checkOverwrite(t testing.TB, b storage.Backend, _ Options) {
	const name = "ow/obj"
	for i, size := range []int64{1000, 10, 0, 100<<10 + 1, 5} {
		data := content(uint64(200+i), size)
		put(t, b, name, data)
		wantContent(t, b, name, data)
	}
	wantNames(t, b, []string{name}, "after overwrites")
}

func checkReplaceWhileReading(t testing.TB, b storage.Backend, o Options) {
	ctx := context.Background()
	const name = "replace/obj"
	oldData := content(11, o.ReplaceSize)
	newData := content(12, o.ReplaceSize-4099)
	put(t, b, name, oldData)

	r, err := b.Get(ctx, name, 0)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	defer r.Close()
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("Get(%q): read the first %d bytes: %v", name, len(head), err)
	}
	if i := firstDiff(head, oldData[:len(head)]); i >= 0 {
		t.Fatalf("Get(%q): first bytes differ at %d before any replace", name, i)
	}

	put(t, b, name, newData)

	rest, err := io.ReadAll(r)
	got := append(head, rest...)
	switch {
	case err != nil && o.EarlyReaderMayFail:
		t.Logf("reader opened before the replace failed after %d bytes (allowed by EarlyReaderMayFail): %v", len(got), err)
	case err != nil:
		t.Errorf("reader opened before the replace failed after %d bytes: %v; it must read the old content wholly (or set EarlyReaderMayFail and document it)", len(got), err)
	default:
		if i := firstDiff(got, oldData); i >= 0 {
			t.Errorf("reader opened before the replace read %d bytes that are not the old content (old %d bytes, new %d bytes), first difference at byte %d: a mix of old and new", len(got), len(oldData), len(newData), i)
		}
	}
	wantContent(t, b, name, newData)
}

func checkConcurrentWriters(t testing.TB, b storage.Backend, o Options) {
	ctx := context.Background()
	const same = "conc/same"
	n := o.Writers
	distinct := make([][]byte, n)
	sames := make([][]byte, n)
	sameSums := map[[32]byte]int{}
	for i := range n {
		distinct[i] = content(uint64(300+i), o.WriterSize+int64(i)*101)
		sames[i] = content(uint64(400+i), o.WriterSize+int64(i)*37+1)
		sameSums[sum256(sames[i])] = i
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var mixes, reads, readErrs int
	var mu sync.Mutex
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := b.Get(ctx, same, 0)
				if errors.Is(err, storage.ErrNotFound) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("Get(%q) during concurrent Puts: %v", same, err)
					return
				}
				data, err := io.ReadAll(r)
				r.Close()
				mu.Lock()
				reads++
				if err != nil {
					readErrs++
				} else if _, ok := sameSums[sum256(data)]; !ok {
					mixes++
				}
				mu.Unlock()
			}
		})
	}

	var writers sync.WaitGroup
	for i := range n {
		writers.Go(func() {
			name := fmt.Sprintf("conc/%02d/obj", i)
			if _, err := b.Put(ctx, name, bytes.NewReader(distinct[i])); err != nil {
				t.Errorf("concurrent Put(%q): %v", name, err)
			}
		})
		writers.Go(func() {
			if _, err := b.Put(ctx, same, bytes.NewReader(sames[i])); err != nil {
				t.Errorf("concurrent Put(%q) by writer %d: %v", same, i, err)
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()

	if mixes > 0 {
		t.Errorf("%d of %d reads of %q during concurrent Puts returned content that no writer wrote", mixes, reads, same)
	}
	if readErrs > 0 && !o.EarlyReaderMayFail {
		t.Errorf("%d of %d reads of %q during concurrent Puts failed", readErrs, reads, same)
	}
	for i := range n {
		wantContent(t, b, fmt.Sprintf("conc/%02d/obj", i), distinct[i])
	}
	got := readAll(t, b, same, 0)
	i, ok := sameSums[sha256.Sum256(got)]
	if !ok {
		t.Errorf("after %d concurrent Puts of %q it holds %d bytes that are not any one writer's content", n, same, len(got))
	} else {
		wantContent(t, b, same, sames[i])
	}
	want := []string{same}
	for i := range n {
		want = append(want, fmt.Sprintf("conc/%02d/obj", i))
	}
	slices.Sort(want)
	wantNames(t, b, want, "after concurrent Puts")
}

func checkConcurrentPutDelete(t testing.TB, b storage.Backend, o Options) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range o.Writers {
		wg.Go(func() {
			name := fmt.Sprintf("pd/a/b/%d", i)
			for round := range 10 {
				data := content(uint64(500+i*10+round), int64(1000+i))
				if _, err := b.Put(ctx, name, bytes.NewReader(data)); err != nil {
					t.Errorf("Put(%q) round %d, while others Delete in the same prefix: %v", name, round, err)
					return
				}
				if err := b.Delete(ctx, name); err != nil {
					t.Errorf("Delete(%q) round %d, while others Put in the same prefix: %v", name, round, err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantNames(t, b, nil, "after concurrent Put and Delete of every object")
}

// startStalledPut starts Put of a stalling source in a goroutine and waits
// until the source has handed out o.StallAfter bytes.
func startStalledPut(t testing.TB, ctx context.Context, b storage.Backend, o Options, name string, src *stallingSource) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := b.Put(ctx, name, src)
		done <- err
	}()
	select {
	case <-src.stalled:
	case err := <-done:
		t.Fatalf("Put(%q) returned %v before it read %d bytes of its source", name, err, o.StallAfter)
	case <-time.After(o.Timeout):
		t.Fatalf("Put(%q) did not read %d bytes of its source within %v", name, o.StallAfter, o.Timeout)
	}
	return done
}

// wait waits for a Put started by startStalledPut.
func wait(t testing.TB, o Options, name string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(o.Timeout):
		t.Fatalf("Put(%q) did not return within %v after its source resumed", name, o.Timeout)
		return nil
	}
}

func checkInProgressInvisible(t testing.TB, b storage.Backend, o Options) {
	ctx := context.Background()
	oldData := []byte("old content")
	put(t, b, "prog/existing", oldData)
	before := []string{"prog/existing"}
	total := o.StallAfter + 1<<20 + 3

	for _, name := range []string{"prog/new", "prog/existing"} {
		release := make(chan struct{})
		resume := sync.OnceFunc(func() { close(release) })
		defer resume() // never leave a Put blocked when the check fails
		src := newStallingSource(gen(21, total), o.StallAfter, release)
		done := startStalledPut(t, ctx, b, o, name, src)
		if name == "prog/new" {
			wantAbsent(t, b, name, "while its Put is in progress")
		} else {
			wantContent(t, b, name, oldData)
		}
		wantNames(t, b, before, "while a Put is in progress")
		resume()
		if err := wait(t, o, name, done); err != nil {
			t.Fatalf("Put(%q) after its source resumed: %v", name, err)
		}
		r, err := b.Get(ctx, name, 0)
		if err != nil {
			t.Fatalf("Get(%q) after Put: %v", name, err)
		}
		_, diff, err := compareStreams(r, gen(21, total))
		r.Close()
		if err != nil || diff != "" {
			t.Errorf("Get(%q) after a stalled Put: %s %v", name, diff, err)
		}
		if name == "prog/new" {
			before = []string{"prog/existing", "prog/new"}
		}
		wantNames(t, b, before, "after the Put completed")
	}
}

func checkCancelPut(t testing.TB, b storage.Backend, o Options) {
	oldData := []byte("old content that a cancelled Put must not touch")
	put(t, b, "cancel/existing", oldData)
	before := []string{"cancel/existing"}
	for _, name := range []string{"cancel/new", "cancel/existing", "cancel/sub/dir/new"} {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// After cancel the source goes on handing out data, so a backend
		// that ignores ctx completes the Put and fails the check.
		src := newStallingSource(gen(31, o.StallAfter+8<<20), o.StallAfter, ctx.Done())
		done := startStalledPut(t, ctx, b, o, name, src)
		cancel()
		err := wait(t, o, name, done)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put(%q) cancelled mid-write returned %v, want an error wrapping context.Canceled", name, err)
		}
		t.Logf("Put(%q) read %d bytes after the cancel", name, src.readAfterRelease())
		if name == "cancel/existing" {
			wantContent(t, b, name, oldData)
		} else {
			wantAbsent(t, b, name, "after its Put was cancelled")
		}
		wantNames(t, b, before, "after a cancelled Put")
	}
}

func checkCancelledContext(t testing.TB, b storage.Backend, o Options) {
	const name = "cc/obj"
	data := content(41, o.ReplaceSize)
	put(t, b, name, data)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	want := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got error %v, want one wrapping context.Canceled", op, err)
		}
	}
	_, err := b.Put(ctx, "cc/new", strings.NewReader("x"))
	want("Put", err)
	r, err := b.Get(ctx, name, 0)
	if err == nil {
		r.Close()
	}
	want("Get", err)
	_, err = b.Stat(ctx, name)
	want("Stat", err)
	want("List", b.List(ctx, "", func(storage.ObjectInfo) error { return nil }))
	want("Delete", b.Delete(ctx, name))
	wantContent(t, b, name, data)
	wantAbsent(t, b, "cc/new", "after a Put with a cancelled context")

	// List cancelled between two objects.
	put(t, b, "cc/other", []byte("x"))
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	err = b.List(ctx, "", func(storage.ObjectInfo) error {
		calls++
		cancel()
		return nil
	})
	want("List cancelled by fn", err)
	if calls != 1 {
		t.Errorf("List called fn %d times after the context was cancelled, want 1", calls)
	}

	// A reader cancelled mid-read.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r, err = b.Get(ctx, name, 0)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	defer r.Close()
	if _, err := io.CopyN(io.Discard, r, 64<<10); err != nil {
		t.Fatalf("Get(%q): read: %v", name, err)
	}
	cancel()
	n, err := io.Copy(io.Discard, r)
	want(fmt.Sprintf("Read of Get(%q) (read %d more bytes)", name, n), err)
}

var errSource = errors.New("storagetest: source failed")

func checkFailingSource(t testing.TB, b storage.Backend, o Options) {
	ctx := context.Background()
	oldData := []byte("old content that a failed Put must not touch")
	put(t, b, "fail/existing", oldData)
	before := []string{"fail/existing"}
	for _, tc := range []struct {
		name string
		at   int64
	}{
		{"fail/at0", 0},
		{"fail/at1000", 1000},
		{"fail/sub/atMiB", 1<<20 + 5},
		{"fail/late", o.StallAfter},
		{"fail/existing", 1<<20 + 5},
	} {
		_, err := b.Put(ctx, tc.name, &failingSource{r: gen(51, tc.at), err: errSource})
		if !errors.Is(err, errSource) {
			t.Errorf("Put(%q) with a source that fails after %d bytes returned %v, want an error wrapping the source's error", tc.name, tc.at, err)
		}
		if tc.name == "fail/existing" {
			wantContent(t, b, tc.name, oldData)
		} else {
			wantAbsent(t, b, tc.name, "after its Put failed")
		}
	}
	wantNames(t, b, before, "after failed Puts")
}

func checkDelete(t testing.TB, b storage.Backend, _ Options) {
	ctx := context.Background()
	put(t, b, "d/e/f", []byte("f"))
	put(t, b, "d/g", []byte("g"))
	if err := b.Delete(ctx, "d/e/f"); err != nil {
		t.Fatalf("Delete(%q): %v", "d/e/f", err)
	}
	wantAbsent(t, b, "d/e/f", "after Delete")
	wantNotFound(t, b.Delete(ctx, "d/e/f"), "second Delete")
	wantNames(t, b, []string{"d/g"}, "after Delete")
	wantContent(t, b, "d/g", []byte("g"))
	put(t, b, "d/e/f", []byte("again"))
	wantContent(t, b, "d/e/f", []byte("again"))
	for _, n := range []string{"d/e/f", "d/g"} {
		if err := b.Delete(ctx, n); err != nil {
			t.Errorf("Delete(%q): %v", n, err)
		}
	}
	wantNames(t, b, nil, "after deleting everything")
}
