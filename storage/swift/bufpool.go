package swift

import "sync"

// segPool keeps segment buffers for reuse. Unlike sync.Pool it does not
// drop them at garbage collections: a dropped 64 MiB buffer stays resident
// until the runtime returns its pages to the OS, while the replacement is
// allocated and filled, so with sync.Pool a long upload's RSS drifted
// towards twice the (UploadParallel+1) segments it holds.
type segPool struct {
	size int64 // bytes per buffer
	max  int   // buffers kept for reuse at most

	mu        sync.Mutex
	free      []*[]byte
	allocated int // buffers ever made, for tests
}

// get returns a buffer of len size, reused when one is free.
func (p *segPool) get() *[]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	p.allocated++
	b := make([]byte, p.size)
	return &b
}

// put gives a buffer back. Beyond max free buffers (concurrent Puts and
// Gets of one backend) it is left to the garbage collector.
func (p *segPool) put(b *[]byte) {
	if b == nil || int64(cap(*b)) != p.size {
		return
	}
	*b = (*b)[:cap(*b)]
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, b)
	}
}

// drop forgets the free buffers (Close).
func (p *segPool) drop() {
	p.mu.Lock()
	p.free = nil
	p.mu.Unlock()
}
