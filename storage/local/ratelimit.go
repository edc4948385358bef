package local

import "github.com/mybak/mybak/internal/ratelimit"

// LimitRate caps the rate at which Put writes data at bytesPerSecond, as
// storage/swift's Config.LimitRate caps uploads (--limit-rate); 0 removes
// the cap. Call it before the Backend is used.
func (b *Backend) LimitRate(bytesPerSecond int64) {
	b.limiter = ratelimit.New(bytesPerSecond)
}
