package cli

import (
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/status"
	"github.com/mybak/mybak/internal/units"
	"golang.org/x/term"
)

// progressLogInterval is how often plain progress lines are logged when
// standard error is not a terminal (cron, CI), unless
// MYBAK_PROGRESS_INTERVAL says otherwise.
var progressLogInterval = 30 * time.Second

// progressIntervalEnv overrides progressLogInterval: a Go duration
// ("5s"); 0 logs a line at every step the engine reports (a chunk
// written or committed), for watching a run closely and for tests. It is
// no flag: cron and CI runs keep the default.
const progressIntervalEnv = "MYBAK_PROGRESS_INTERVAL"

// logInterval is the interval of plain progress lines: progressLogInterval
// or MYBAK_PROGRESS_INTERVAL; a value that is not a duration of 0 or more
// is logged as a warning and ignored.
func logInterval(log *slog.Logger) time.Duration {
	v := os.Getenv(progressIntervalEnv)
	if v == "" {
		return progressLogInterval
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		log.Warn(progressIntervalEnv+" is not a duration of 0 or more (such as 10s); using the default", "value", v, "default", progressLogInterval.String())
		return progressLogInterval
	}
	return d
}

// progress reports how far a backup or restore is: the bytes moved, and
// what the engine reports in its own units (status.Report: tables,
// chunks, rows against a total). A progress bar on a terminal, or a log
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

	what string
	log  *slog.Logger
	// perReport: log a plain line at every Report (interval 0).
	perReport bool

	mu sync.Mutex // rep, hasRep, barAt
	// rep is the engine's latest report.
	rep    status.Report
	hasRep bool
	// driven: the engine measures in bytes with a total, and the bar
	// counts its Done less Free (barAt) instead of the bytes Add sees.
	driven atomic.Bool
	barAt  int64
}

// statusRelay passes an engine's reports on to a progress made after the
// engine (which is built first, so that a refusal draws no bar); reports
// before that are dropped. Safe for concurrent use.
type statusRelay struct{ p atomic.Pointer[progress] }

// report is the engine's status.Func.
func (r *statusRelay) report(s status.Report) {
	if p := r.p.Load(); p != nil {
		p.Report(s)
	}
}

// to sends the reports from now on to p.
func (r *statusRelay) to(p *progress) { r.p.Store(p) }

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
// expected byte count, or -1 when unknown (an engine may report its own
// measure and total through Report).
func newProgress(mode string, stderr io.Writer, log *slog.Logger, what string, total int64) *progress {
	p := &progress{total: total, start: time.Now(), stop: make(chan struct{}), what: what, log: log}
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
		every := logInterval(log)
		if every == 0 {
			p.perReport = true
			break
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(every)
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

// Report takes the engine's account of how far it is (a status.Func):
// the bar's description shows it at once, the plain lines from the next
// one on. A report measured in bytes with a total drives the bar: it
// counts the bytes done less the free ones against the total less them,
// so that skipped chunks neither fill the bar nor speed up its rate.
// Safe for concurrent use.
func (p *progress) Report(r status.Report) {
	r.Counts = append([]status.Count(nil), r.Counts...)
	p.mu.Lock()
	p.rep, p.hasRep = r, true
	if p.bar != nil {
		if r.Unit == status.Bytes && r.Total > 0 {
			if !p.driven.Swap(true) {
				p.bar.Reset() // forget the bytes Add counted before
				p.barAt = 0
			}
			p.bar.ChangeMax64(max(r.Total-r.Free, 1))
			if d := r.Done - r.Free - p.barAt; d > 0 {
				p.barAt += d
				p.bar.Add64(d)
			}
		}
		p.bar.Describe(p.describeLocked(time.Since(p.start)))
		p.bar.Add64(0) // draw (throttled)
	}
	p.mu.Unlock()
	if p.perReport {
		p.log.Info(p.what+" progress", p.fields(time.Since(p.start))...)
	}
}

// measure is what the percentage and the ETA are computed from: the
// engine's report when it has a total, else the bytes against the total
// given to newProgress. done-free is what took the time elapsed.
type measure struct {
	done, total, free int64
	estimated         bool
	bytes             bool // done counts bytes: the rate is of them
}

func (p *progress) measureLocked() measure {
	if p.hasRep && p.rep.Total > 0 {
		r := p.rep
		return measure{done: r.Done, total: r.Total, free: r.Free, estimated: r.Estimated, bytes: r.Unit == status.Bytes}
	}
	return measure{done: p.n.Load(), total: p.total, bytes: true}
}

// eta is the time left at the rate so far, and whether there is one: a
// total is known, some work took time, and some is left.
func (m measure) eta(elapsed time.Duration) (time.Duration, bool) {
	worked := m.done - m.free
	left := m.total - m.done
	if m.total <= 0 || worked <= 0 || left <= 0 || elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(elapsed) * float64(left) / float64(worked)).Round(time.Second), true
}

// percent is done of total, to a tenth; none for an estimated total
// that done passed.
func (m measure) percent() (float64, bool) {
	if m.total <= 0 || m.done <= 0 || (m.estimated && m.done >= m.total) {
		return 0, false
	}
	return float64(int(1000*float64(m.done)/float64(m.total))) / 10, true
}

// etaString writes an ETA, with ~ when it rests on an estimated total.
func (m measure) etaString(d time.Duration) string {
	if m.estimated {
		return "~" + d.String()
	}
	return d.String()
}

// counts are the engine's units as name/value pairs: "tables" "3/8",
// "chunks" "12"; and its measure when it is not bytes (the bytes are
// shown anyway): "rows" "120000/~400000".
func (p *progress) countsLocked() [][2]string {
	if !p.hasRep {
		return nil
	}
	var out [][2]string
	for _, c := range p.rep.Counts {
		v := strconv.FormatInt(c.N, 10)
		if c.Of > 0 {
			v += "/" + strconv.FormatInt(c.Of, 10)
		}
		out = append(out, [2]string{c.Name, v})
	}
	if r := p.rep; r.Unit != "" && r.Unit != status.Bytes {
		v := strconv.FormatInt(r.Done, 10)
		if r.Total > 0 {
			v += "/"
			if r.Estimated {
				v += "~"
			}
			v += strconv.FormatInt(r.Total, 10)
		}
		out = append(out, [2]string{r.Unit, v})
	}
	return out
}

// detail is the engine's part of the bar's description: its counts and
// the ETA ("tables 3/8, rows 100000/~400000, eta ~30s"), "" when the
// engine reported nothing.
func (p *progress) detail(elapsed time.Duration) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.detailLocked(elapsed)
}

func (p *progress) detailLocked(elapsed time.Duration) string {
	if !p.hasRep {
		return ""
	}
	var parts []string
	for _, c := range p.countsLocked() {
		parts = append(parts, c[0]+" "+c[1])
	}
	m := p.measureLocked()
	if d, ok := m.eta(elapsed); ok {
		parts = append(parts, "eta "+m.etaString(d))
	}
	return strings.Join(parts, ", ")
}

// describeLocked is the bar's description: what, then the detail.
func (p *progress) describeLocked(elapsed time.Duration) string {
	if d := p.detailLocked(elapsed); d != "" {
		return p.what + " " + d + " "
	}
	return p.what
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
// reads, the engine's counts, and where a total is known the percentage
// and the time left. Where the engine measures bytes against a total, the
// rate is of its bytes less the free ones (a resumed restore's: of the
// bytes it loaded, not of the chunks it skipped).
func (p *progress) fields(elapsed time.Duration) []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.n.Load()
	var args []any
	if id, _ := p.id.Load().(string); id != "" {
		args = append(args, "id", id)
	}
	secs := elapsed.Seconds()
	args = append(args, "elapsed", elapsed.Round(time.Second).String(), "bytes", n, "size", units.Bytes(n))
	m := p.measureLocked()
	if secs > 0 {
		moved := n
		if m.bytes {
			moved = m.done - m.free
		}
		args = append(args, "rate", units.Bytes(int64(float64(moved)/secs))+"/s")
	}
	for _, c := range p.countsLocked() {
		args = append(args, c[0], c[1])
	}
	if pc, ok := m.percent(); ok {
		args = append(args, "percent", pc)
	}
	if d, ok := m.eta(elapsed); ok {
		args = append(args, "eta", m.etaString(d))
	}
	return args
}

// Add counts n more bytes. Safe for concurrent use.
func (p *progress) Add(n int64) {
	p.n.Add(n)
	if p.bar != nil && !p.driven.Load() {
		p.bar.Add64(n)
	}
}

// Done stops reporting.
func (p *progress) Done() {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		if p.bar != nil {
			p.mu.Lock()
			if p.hasRep {
				// The last counts stay; an ETA of what ended would be stale.
				var parts []string
				for _, c := range p.countsLocked() {
					parts = append(parts, c[0]+" "+c[1])
				}
				p.bar.Describe(p.what + " " + strings.Join(parts, ", ") + " ")
			}
			p.mu.Unlock()
			p.bar.Finish()
		}
	})
}
