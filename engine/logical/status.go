package logical

import (
	"io"
	"strconv"
	"sync"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/status"
	"github.com/mybak/mybak/logicaldump"
)

// dumpReport is a dump's progress as the engine reports it: tables done
// of the selection, rows written against the server's estimate of them
// (information_schema: an estimate, so the ETA is one too). Rows, not
// bytes: the server's estimate of a table's size is of its pages, not of
// the SQL the dump writes.
func dumpReport(p logicaldump.DumpProgress) status.Report {
	return status.Report{Unit: status.Rows, Done: p.RowsDone, Total: p.RowsEstimate, Estimated: true,
		Counts: []status.Count{{Name: "tables", N: int64(p.TablesDone), Of: int64(p.Tables)}}}
}

// loadStatus reports a load's progress: the bytes of the chunks committed
// or skipped against the backup's raw size (known before the load
// starts), the chunks committed or skipped (of the backup's, for a whole
// restore), those skipped, whose bytes took no time (Free), and the
// tables restored. Not the bytes Load has read of the stream: it reads
// ahead (a chunk per connection, and a window of up to 64 MiB waiting:
// logicaldump's sched.go), so the stream is read whole while the last
// chunks still load, and an ETA from it would end early. The raw size holds a little more than the chunks
// (schemas, objects, the index): the measure ends just short of it.
type loadStatus struct {
	fn     status.Func
	total  int64 // the stream's size, 0 when not known
	chunks int64 // the chunks to load, 0 when not known
}

// newLoadStatus returns nil when fn is nil (no one listens).
func newLoadStatus(fn status.Func, total, chunks int64) *loadStatus {
	if fn == nil {
		return nil
	}
	return &loadStatus{fn: fn, total: total, chunks: chunks}
}

// backupChunks is the number of chunks a restore of m into s loads: the
// manifest's count for a whole restore, 0 (not known) for a partial one.
func backupChunks(m *backup.Manifest, include, exclude []string) int64 {
	if len(include) > 0 || len(exclude) > 0 {
		return 0
	}
	n, err := strconv.ParseInt(m.Meta[MetaChunks], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// start reports the load before anything is read: the total, no progress.
func (s *loadStatus) start() {
	if s != nil {
		s.fn(s.report(logicaldump.LoadProgress{}))
	}
}

// progress is Load's Progress (nil when no one listens).
func (s *loadStatus) progress() func(logicaldump.LoadProgress) {
	if s == nil {
		return nil
	}
	return func(p logicaldump.LoadProgress) { s.fn(s.report(p)) }
}

func (s *loadStatus) report(p logicaldump.LoadProgress) status.Report {
	r := status.Report{Unit: status.Bytes, Done: p.Bytes + p.SkippedBytes, Total: s.total, Free: p.SkippedBytes,
		Counts: []status.Count{{Name: "chunks", N: int64(p.Chunks + p.Skipped), Of: s.chunks}}}
	if p.Skipped > 0 {
		r.Counts = append(r.Counts, status.Count{Name: "skipped", N: int64(p.Skipped)})
	}
	if p.Tables > 0 {
		r.Counts = append(r.Counts, status.Count{Name: "tables", N: int64(p.Tables)})
	}
	return r
}

// freshStatus reports a dump loaded as it is taken (make-replica
// --fresh): the tables dumped of the selection, the chunks loaded, and
// the rows loaded against the server's estimate. The load lags the dump
// by the chunks in flight (a chunk per connection and one more), which
// would end an ETA of the rows dumped early; the rows loaded are
// estimated from the dump's rows by the share of its bytes committed.
type freshStatus struct {
	fn   status.Func
	mu   sync.Mutex
	dump logicaldump.DumpProgress
	load logicaldump.LoadProgress
}

func (s *freshStatus) onDump(p logicaldump.DumpProgress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dump = p
	s.reportLocked()
}

func (s *freshStatus) onLoad(p logicaldump.LoadProgress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load = p
	s.reportLocked()
}

func (s *freshStatus) reportLocked() {
	d := s.dump
	var rows int64
	if d.Bytes > 0 {
		rows = int64(float64(d.RowsDone) * float64(min(s.load.Bytes, d.Bytes)) / float64(d.Bytes))
	}
	s.fn(status.Report{Unit: status.Rows, Done: rows, Total: d.RowsEstimate, Estimated: true,
		Counts: []status.Count{{Name: "tables dumped", N: int64(d.TablesDone), Of: int64(d.Tables)}, {Name: "chunks loaded", N: int64(s.load.Chunks)}}})
}

// progressWriter counts the bytes written through it.
type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}
