package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RedoWrapError: the server overwrote redo log the backup tool had not yet
// copied, so the backup cannot be made consistent. It matches ErrRedoWrapped.
type RedoWrapError struct {
	Tool      string
	Capacity  int64         // redo log capacity in bytes (0: unknown)
	Rate      float64       // measured redo generation, bytes per second (0: unknown)
	ServerLSN uint64        // server's LSN at detection (0: unknown)
	CopiedLSN uint64        // last LSN the tool reported copying (0: unknown)
	Elapsed   time.Duration // since the backup started
	Throttle  int           // the --throttle in use
	Evidence  string        // the log line or measurement that decided it
}

// Is matches ErrRedoWrapped.
func (e *RedoWrapError) Is(target error) bool { return target == ErrRedoWrapped }

func (e *RedoWrapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s aborted after %s: the InnoDB redo log wrapped: the server overwrote redo the backup had not copied yet (%s)",
		e.Tool, e.Elapsed.Round(time.Second), e.Evidence)
	if e.Capacity > 0 {
		fmt.Fprintf(&b, "; redo capacity %s", size(e.Capacity))
	}
	if e.Rate > 0 {
		fmt.Fprintf(&b, ", redo generated at %s/s", size(int64(e.Rate)))
		if e.Capacity > 0 {
			fmt.Fprintf(&b, " (the log holds only %.1f s of writes)", float64(e.Capacity)/e.Rate)
		}
	}
	b.WriteString(". To fix: ")
	want := int64(0)
	if e.Rate > 0 {
		want = roundUpMiB(int64(e.Rate * 600)) // ten minutes of redo
	}
	if want < 4*e.Capacity {
		want = roundUpMiB(4 * e.Capacity)
	}
	if want > 0 {
		fmt.Fprintf(&b, "raise the redo log to at least %s (MariaDB: innodb_log_file_size, dynamic since 10.9: "+
			"SET GLOBAL innodb_log_file_size=%d; MySQL 8.0.30+: innodb_redo_log_capacity; older MySQL: "+
			"innodb_log_file_size × innodb_log_files_in_group, needs a restart)", size(want), want)
	} else {
		b.WriteString("raise the redo log (innodb_log_file_size, or innodb_redo_log_capacity on MySQL 8.0.30+)")
	}
	if e.Throttle > 0 {
		fmt.Fprintf(&b, "; remove or raise --throttle (now %d)", e.Throttle)
	} else {
		b.WriteString("; do not use --throttle")
	}
	b.WriteString("; back up in a quieter window; if the destination is slow (network object store), " +
		"spool the backup to local disk first so the tool is never held up by the upload")
	return b.String()
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// roundUpMiB rounds up to a multiple of 64 MiB (a value a DBA would set).
func roundUpMiB(n int64) int64 {
	const unit = 64 << 20
	return (n + unit - 1) / unit * unit
}

var (
	reScanned  = regexp.MustCompile(`>> log scanned up to \((\d+)\)`)
	reRetrying = regexp.MustCompile(`Retrying read of log at LSN=(\d+)`)
	reOnlyCopy = regexp.MustCompile(`Was only able to copy log from (\d+) to (\d+), not (\d+)`)
)

// wrapPhrases are log lines that prove a wrap by themselves.
var wrapPhrases = []string{
	"log block numbers mismatch",       // xtrabackup 2.x / 8.0
	"log has wrapped around",           // xtrabackup: "it looks like InnoDB log has wrapped around before xtrabackup could process all records"
	"Was only able to copy log from",   // mariabackup 10.x, after ~259 s of retries
	"xtrabackup_copy_logfile() failed", // xtrabackup, following a mismatch
}

// redoMonitor decides, from log lines and LSN samples, that the redo log
// wrapped, and then calls abort once.
type redoMonitor struct {
	tool     string
	throttle int
	limit    int
	abort    func(*RedoWrapError)
	start    time.Time

	mu          sync.Mutex
	capacity    int64
	copied      uint64 // highest LSN the tool reported (scanned / stuck at)
	retryLSN    uint64
	retries     int
	firstT      time.Time
	firstLSN    uint64
	lastT       time.Time
	lastLSN     uint64
	overstrikes int
	err         *RedoWrapError
}

func newRedoMonitor(tool string, throttle, limit int, abort func(*RedoWrapError)) *redoMonitor {
	if limit <= 0 {
		limit = 5
	}
	return &redoMonitor{tool: tool, throttle: throttle, limit: limit, abort: abort, start: time.Now()}
}

func (m *redoMonitor) rateLocked() float64 {
	if m.lastT.After(m.firstT) && m.lastLSN > m.firstLSN {
		return float64(m.lastLSN-m.firstLSN) / m.lastT.Sub(m.firstT).Seconds()
	}
	return 0
}

// tripLocked records the verdict and aborts the tool (once).
func (m *redoMonitor) tripLocked(evidence string) {
	if m.err != nil {
		return
	}
	m.err = &RedoWrapError{Tool: m.tool, Capacity: m.capacity, Rate: m.rateLocked(), ServerLSN: m.lastLSN,
		CopiedLSN: m.copied, Elapsed: time.Since(m.start), Throttle: m.throttle, Evidence: evidence}
	go m.abort(m.err)
}

func (m *redoMonitor) tripped() *RedoWrapError {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// line inspects one log line of the tool.
func (m *redoMonitor) line(l string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return
	}
	if s := reScanned.FindStringSubmatch(l); s != nil {
		if n, err := strconv.ParseUint(s[1], 10, 64); err == nil && n > m.copied {
			m.copied = n
		}
		return
	}
	if s := reRetrying.FindStringSubmatch(l); s != nil {
		n, _ := strconv.ParseUint(s[1], 10, 64)
		if n == m.retryLSN {
			m.retries++
		} else {
			m.retryLSN, m.retries = n, 1
		}
		if n > m.copied {
			m.copied = n
		}
		if m.retries >= m.limit {
			m.tripLocked(fmt.Sprintf("%d reads of the redo log at LSN %d failed: it was overwritten", m.retries, n))
		}
		return
	}
	for _, p := range wrapPhrases {
		if strings.Contains(l, p) {
			if s := reOnlyCopy.FindStringSubmatch(l); s != nil {
				m.copied, _ = strconv.ParseUint(s[2], 10, 64)
			}
			m.tripLocked(strings.TrimSpace(l))
			return
		}
	}
}

// observe records a server LSN sample taken at t and checks the lag.
func (m *redoMonitor) observe(t time.Time, lsn uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return
	}
	if m.firstT.IsZero() {
		m.firstT, m.firstLSN = t, lsn
	}
	m.lastT, m.lastLSN = t, lsn
	// Without a copied LSN from the tool (mariabackup copies silently while
	// it keeps up) the lag is unknown: nothing to conclude.
	if m.capacity <= 0 || m.copied == 0 || lsn <= m.copied {
		m.overstrikes = 0
		return
	}
	lag := lsn - m.copied
	if lag > uint64(m.capacity) {
		// Twice in a row, so that a copied LSN printed a moment before the
		// sample cannot trip it alone.
		m.overstrikes++
		if m.overstrikes >= 2 {
			m.tripLocked(fmt.Sprintf("server LSN %d is %s ahead of the last copied LSN %d, more than the redo capacity",
				lsn, size(int64(lag)), m.copied))
		}
		return
	}
	m.overstrikes = 0
}

// sample polls the server's LSN until ctx ends.
func (m *redoMonitor) sample(ctx context.Context, db *sql.DB, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, every*3)
		lsn, err := CurrentLSN(qctx, db)
		cancel()
		if err == nil {
			m.observe(time.Now(), lsn)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
