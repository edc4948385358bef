package logicaldump

import (
	"context"
	"testing"
	"time"
)

// TestWindowExclusiveTables: a worker is not handed a chunk of an
// exclusive table another worker loads while the window holds a chunk of
// another table; it waits when only such chunks are left, and gets one as
// soon as the table is released. A table that is not exclusive is loaded
// by several workers at once.
func TestWindowExclusiveTables(t *testing.T) {
	a, b, free := &Table{Name: "a"}, &Table{Name: "b"}, &Table{Name: "free"}
	ctx := context.Background()
	w := newWindow(ctx, 4, 1<<20, func(t *Table) bool { return t != free })
	for _, c := range []chunkTask{{t: a, file: "a1"}, {t: a, file: "a2"}, {t: b, file: "b1"}, {t: free, file: "f1"}} {
		if err := w.put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	w.close()
	got := func() string {
		c, ok := w.take(ctx)
		if !ok {
			return ""
		}
		return c.file
	}
	if f := got(); f != "a1" {
		t.Fatalf("first take: %s, want a1", f)
	}
	if f := got(); f != "b1" {
		t.Fatalf("second take while a is loaded: %s, want b1 (a2 must wait)", f)
	}
	if f := got(); f != "f1" {
		t.Fatalf("third take: %s, want f1", f)
	}
	// Only a2 is left, and a is busy: take waits until a is released.
	res := make(chan string, 1)
	go func() { res <- got() }()
	select {
	case f := <-res:
		t.Fatalf("took %s while its table was being loaded", f)
	case <-time.After(100 * time.Millisecond):
	}
	w.release(a)
	if f := <-res; f != "a2" {
		t.Fatalf("after release: %s, want a2", f)
	}
	w.release(a)
	w.release(b)
	w.release(free)
	if f := got(); f != "" {
		t.Fatalf("closed, empty window gave %s", f)
	}

	// Not exclusive: two chunks of one table go out at once.
	w2 := newWindow(ctx, 2, 1<<20, func(*Table) bool { return false })
	w2.put(ctx, chunkTask{t: a, file: "x1"})
	w2.put(ctx, chunkTask{t: a, file: "x2"})
	if c1, ok1 := w2.take(ctx); !ok1 || c1.file != "x1" {
		t.Fatalf("take: %v %v", c1.file, ok1)
	}
	if c2, ok2 := w2.take(ctx); !ok2 || c2.file != "x2" {
		t.Fatalf("second chunk of a table that is not exclusive: %v %v", c2.file, ok2)
	}
}

// TestWindowCancel: a worker waiting for a chunk and a reader waiting
// for room return when the context ends.
func TestWindowCancel(t *testing.T) {
	a := &Table{Name: "a"}
	ctx, cancel := context.WithCancel(context.Background())
	w := newWindow(ctx, 1, 1<<20, func(*Table) bool { return true })
	w.put(ctx, chunkTask{t: a, file: "a1"})
	if _, ok := w.take(ctx); !ok {
		t.Fatal("take")
	}
	w.put(ctx, chunkTask{t: a, file: "a2"})
	took := make(chan bool, 1)
	go func() { _, ok := w.take(ctx); took <- ok }()
	put := make(chan error, 1)
	go func() { put <- w.put(ctx, chunkTask{t: a, file: "a3"}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if ok := <-took; ok {
		t.Error("take returned a chunk after the context ended")
	}
	if err := <-put; err == nil {
		t.Error("put into a full window returned nil after the context ended")
	}
}

// TestQueuePrefersIdleTables: the dump's workers take a job of a table
// no one works on before the next job of a busy table, so that the
// stream interleaves the tables.
func TestQueuePrefersIdleTables(t *testing.T) {
	a, b := &tableInfo{}, &tableInfo{}
	q := newQueue()
	for i := 1; i <= 3; i++ {
		q.jobs = append(q.jobs, job{ti: a, seq: i})
	}
	q.jobs = append(q.jobs, job{ti: b, seq: 1}, job{ti: b, seq: 2})
	j1, _ := q.pop()
	j2, _ := q.pop()
	if j1.ti != a || j1.seq != 1 || j2.ti != b || j2.seq != 1 {
		t.Fatalf("popped %+v then %+v: want a's first range, then b's (a is busy)", j1, j2)
	}
	q.done(j1, false)
	j3, _ := q.pop()
	if j3.ti != a || j3.seq != 2 {
		t.Fatalf("popped %+v after a was done: want a's second range in order", j3)
	}
	// Every table busy: the first job in order.
	j4, _ := q.pop()
	if j4.ti != a || j4.seq != 3 {
		t.Fatalf("popped %+v with both tables busy: want the first job, a's third range", j4)
	}
}

// TestWindowBytes: the window takes no more chunks once it holds
// maxBytes, though it has room by count; a chunk larger than maxBytes is
// taken alone.
func TestWindowBytes(t *testing.T) {
	a := &Table{Name: "a"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWindow(ctx, 10, 100, func(*Table) bool { return false })
	if err := w.put(ctx, chunkTask{t: a, file: "big", data: make([]byte, 150)}); err != nil {
		t.Fatalf("a chunk larger than the window into an empty window: %v", err)
	}
	put := make(chan error, 1)
	go func() { put <- w.put(ctx, chunkTask{t: a, file: "next", data: make([]byte, 10)}) }()
	select {
	case err := <-put:
		t.Fatalf("put past the window's bytes returned %v at once", err)
	case <-time.After(100 * time.Millisecond):
	}
	if c, ok := w.take(ctx); !ok || c.file != "big" {
		t.Fatalf("take: %s %v", c.file, ok)
	}
	if err := <-put; err != nil {
		t.Fatalf("put after room was made: %v", err)
	}
}
