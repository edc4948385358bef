package logicaldump

import (
	"fmt"
	"time"
)

// reportLocked calls Progress with how far the load is, or logs it (at
// most every progressEvery) when no one else shows it; l.mu is held.
func (l *loader) reportLocked() {
	p := LoadProgress{Chunks: l.res.Chunks, Skipped: l.res.Skipped, Bytes: l.res.Bytes, SkippedBytes: l.skippedBytes,
		Tables: l.res.Tables, Elapsed: time.Since(l.started)}
	if l.o.Progress != nil {
		l.o.Progress(p)
		return
	}
	if time.Since(l.lastLog) >= progressEvery {
		l.lastLog = time.Now()
		l.o.Log.Info("load progress", "chunks", p.Chunks, "skipped", p.Skipped, "bytes", p.Bytes,
			"mib_per_s", fmt.Sprintf("%.1f", float64(p.Bytes)/(1<<20)/max(p.Elapsed.Seconds(), 0.001)))
	}
}
