package cli

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/units"
	"golang.org/x/term"
)

// progressLogInterval is how often plain progress lines are logged when
// standard error is not a terminal (cron, CI).
var progressLogInterval = 30 * time.Second

// progress reports bytes moved: a progress bar on a terminal, or a log
// line at a modest interval elsewhere, or nothing.
type progress struct {
	// id names the backup in the log lines ("" until known).
	id    atomic.Value
	bar   *progressbar.ProgressBar
	n     atomic.Int64
	total int64
	start time.Time
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// isTerminalReader reports whether r is a terminal.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts reporting. mode is auto, always or never; total is the
// expected byte count, or -1 when unknown.
func newProgress(mode string, stderr io.Writer, log *slog.Logger, what string, total int64) *progress {
	p := &progress{total: total, start: time.Now(), stop: make(chan struct{})}
	bar := mode == "always" || (mode == "auto" && isTerminal(stderr))
	switch {
	case mode == "never":
	case bar:
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { io.WriteString(stderr, "\n") }),
		)
	default:
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(progressLogInterval)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					log.Info(what+" progress", p.fields(time.Since(p.start))...)
				}
			}
		}()
	}
	return p
}

// completeFields are the fields of a finished backup's log line: its
// sizes, how long it took at what rate, the compression ratio and, for a
// MySQL backup, the binary log position and GTID it is consistent with.
func completeFields(m *backup.Manifest) []any {
	secs := m.EndTime.Sub(m.StartTime).Seconds()
	args := []any{"id", m.ID, "engine", m.Engine.Name, "raw_bytes", m.RawSize, "stored_bytes", m.StoredSize,
		"size", units.Bytes(m.RawSize), "stored", units.Bytes(m.StoredSize), "seconds", float64(int(secs*10)) / 10}
	if secs > 0 {
		args = append(args, "rate", units.Bytes(int64(float64(m.RawSize)/secs))+"/s")
	}
	if m.StoredSize > 0 {
		args = append(args, "ratio", float64(int(100*float64(m.RawSize)/float64(m.StoredSize)))/100)
	}
	for _, k := range []string{backup.MetaBinlogFile, backup.MetaBinlogPos, backup.MetaGTID, backup.MetaToLSN} {
		if v := m.Meta[k]; v != "" {
			args = append(args, k, v)
		}
	}
	return args
}

// SetID names the backup in the progress lines.
func (p *progress) SetID(id string) { p.id.Store(id) }

// fields are a progress line's: the backup's ID, the time elapsed, the
// bytes moved (exact and in IEC units), the rate rounded to what a person
// reads, and where the size is known the percentage and the time left.
func (p *progress) fields(elapsed time.Duration) []any {
	n := p.n.Load()
	var args []any
	if id, _ := p.id.Load().(string); id != "" {
		args = append(args, "id", id)
	}
	secs := elapsed.Seconds()
	args = append(args, "elapsed", elapsed.Round(time.Second).String(), "bytes", n, "size", units.Bytes(n))
	if secs > 0 {
		rate := float64(n) / secs
		args = append(args, "rate", units.Bytes(int64(rate))+"/s")
		if p.total > 0 && n > 0 {
			args = append(args, "percent", float64(int(1000*float64(n)/float64(p.total)))/10)
			if left := p.total - n; left > 0 && rate > 0 {
				args = append(args, "eta", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second).String())
			}
		}
	}
	return args
}

// Add counts n more bytes. Safe for concurrent use.
func (p *progress) Add(n int64) {
	p.n.Add(n)
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

// Done stops reporting.
func (p *progress) Done() {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		if p.bar != nil {
			p.bar.Finish()
		}
	})
}
