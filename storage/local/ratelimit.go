package local

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// rateBurst is the most bytes the rate limiter lets through at once (as
// storage/swift's).
const rateBurst = 64 << 10

// LimitRate caps the rate at which Put writes data at bytesPerSecond, as
// storage/swift's Config.LimitRate caps uploads (--limit-rate); 0 removes
// the cap. Call it before the Backend is used.
func (b *Backend) LimitRate(bytesPerSecond int64) {
	if bytesPerSecond <= 0 {
		b.limiter = nil
		return
	}
	b.limiter = rate.NewLimiter(rate.Limit(bytesPerSecond), int(min(bytesPerSecond, rateBurst)))
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
