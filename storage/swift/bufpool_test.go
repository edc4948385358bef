package swift

import (
	"runtime"
	"testing"
)

// TestSegPoolKeepsBuffersAcrossGC: a sync.Pool would drop its buffers at
// the second collection and the next get would allocate a new one while
// the old one is still resident.
func TestSegPoolKeepsBuffersAcrossGC(t *testing.T) {
	p := &segPool{size: 1 << 20, max: 2}
	a, b, c := p.get(), p.get(), p.get()
	if p.allocated != 3 {
		t.Fatalf("allocated %d, want 3", p.allocated)
	}
	p.put(a)
	p.put(b)
	p.put(c) // beyond max: left to the GC
	for range 3 {
		runtime.GC()
	}
	for range 5 {
		x, y := p.get(), p.get()
		if len(*x) != 1<<20 || len(*y) != 1<<20 {
			t.Fatalf("buffer of %d, %d bytes", len(*x), len(*y))
		}
		p.put(x)
		p.put(y)
		runtime.GC()
	}
	if p.allocated != 3 {
		t.Errorf("allocated %d buffers, want no more than the first 3", p.allocated)
	}
	p.put(&[]byte{1}) // a stranger's buffer is not kept
	if len(p.free) != 2 {
		t.Errorf("%d free, want 2", len(p.free))
	}
}
