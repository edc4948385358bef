// Package ratelimit caps the rate at which a store takes bytes
// (--limit-rate), the same way for every store.
package ratelimit

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// Burst is the most bytes a limiter lets through at once.
const Burst = 64 << 10

// New returns a limiter of bytesPerSecond, or nil (no cap) for 0 or less.
func New(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSecond), int(min(bytesPerSecond, Burst)))
}

// Reader returns r, read no faster than l allows (r itself when l is nil);
// a wait ends with ctx.
func Reader(ctx context.Context, r io.Reader, l *rate.Limiter) io.Reader {
	if l == nil {
		return r
	}
	return &limitedReader{ctx: ctx, r: r, l: l}
}

// limitedReader waits for the limiter before handing out bytes.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *rate.Limiter
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if len(p) > r.l.Burst() {
		p = p[:r.l.Burst()]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.l.WaitN(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
