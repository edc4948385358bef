package cli

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressLogInterval is how often plain progress lines are logged when
// standard error is not a terminal (cron, CI).
var progressLogInterval = 30 * time.Second

// progress reports bytes moved: a progress bar on a terminal, or a log
// line at a modest interval elsewhere, or nothing.
type progress struct {
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
					n := p.n.Load()
					secs := time.Since(p.start).Seconds()
					args := []any{"bytes", n, "mib_per_s", float64(n) / secs / (1 << 20)}
					if p.total > 0 {
						args = append(args, "percent", 100*float64(n)/float64(p.total))
					}
					log.Info(what, args...)
				}
			}
		}()
	}
	return p
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
