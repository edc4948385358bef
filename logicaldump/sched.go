package logicaldump

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"sync"
)

// Loading chunks of one table on several connections at once does not
// always run in parallel: with innodb_autoinc_lock_mode 0 or 1 (1 is the
// default of MariaDB and of MySQL 5.7) a LOAD DATA into a table with an
// AUTO_INCREMENT column holds the table's AUTO-INC lock until the
// statement ends, and every other insert into that table waits for it
// (measured on a sysbench restore with --parallel 2: one LOAD DATA ran
// while the other connection sat in LOCK WAIT on the AUTO-INC lock, and
// the load took as long as with one connection). So the workers take
// chunks from a window of the stream rather than in strict order, and a
// chunk of such a table waits while another worker loads the same table
// if the window holds a chunk of another table. Dump interleaves the
// tables in the stream (queue.pop) so that the window usually does.

// window holds the chunks read ahead of the workers (at most max, and
// at most maxBytes of them unless it holds one) and which tables are
// being loaded.
type window struct {
	mu        sync.Mutex
	cond      *sync.Cond
	tasks     []chunkTask
	max       int
	maxBytes  int
	bytes     int
	closed    bool
	busy      map[*Table]int
	exclusive func(*Table) bool
}

// windowBytes bounds the chunks waiting in a window (a chunk is 16 MiB by
// default): more threads do not hold more memory waiting.
const windowBytes = 64 << 20

// newWindow returns a window of max chunks and maxBytes; exclusive says
// which tables take one chunk at a time.
func newWindow(ctx context.Context, max, maxBytes int, exclusive func(*Table) bool) *window {
	w := &window{max: max, maxBytes: maxBytes, busy: map[*Table]int{}, exclusive: exclusive}
	w.cond = sync.NewCond(&w.mu)
	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	return w
}

// put adds a chunk, waiting while the window is full.
func (w *window) put(ctx context.Context, t chunkTask) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.tasks) >= w.max || len(w.tasks) > 0 && w.bytes+len(t.data) > w.maxBytes) && ctx.Err() == nil {
		w.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.tasks = append(w.tasks, t)
	w.bytes += len(t.data)
	w.cond.Broadcast()
	return nil
}

// close says no chunk follows.
func (w *window) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Broadcast()
}

// take returns the first chunk that may be loaded now (its table is not
// an exclusive one being loaded), waiting for one; false when the window
// is closed and empty, or ctx is done. The caller calls release.
func (w *window) take(ctx context.Context) (chunkTask, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ctx.Err() == nil {
		for i, t := range w.tasks {
			if w.busy[t.t] > 0 && w.exclusive(t.t) {
				continue
			}
			w.tasks = append(w.tasks[:i], w.tasks[i+1:]...)
			w.bytes -= len(t.data)
			w.busy[t.t]++
			w.cond.Broadcast()
			return t, true
		}
		if w.closed && len(w.tasks) == 0 {
			return chunkTask{}, false
		}
		w.cond.Wait()
	}
	return chunkTask{}, false
}

// release says a worker is done with a chunk of table t.
func (w *window) release(t *Table) {
	w.mu.Lock()
	w.busy[t]--
	w.mu.Unlock()
	w.cond.Broadcast()
}

// autoIncTables returns the tables on the target whose LOAD DATA holds
// the table's AUTO-INC lock to the statement's end: those with an
// AUTO_INCREMENT column, unless innodb_autoinc_lock_mode is 2
// (interleaved), where no insert holds it.
func autoIncTables(ctx context.Context, c *sql.Conn) (map[[2]string]bool, error) {
	var mode sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT @@innodb_autoinc_lock_mode").Scan(&mode); err == nil && mode.Valid && mode.Int64 == 2 {
		return nil, nil
	}
	return tableSet(ctx, c, "list the target's AUTO_INCREMENT columns",
		"SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME FROM information_schema.COLUMNS WHERE EXTRA LIKE '%auto_increment%'")
}

// all yields the chunks as the workers may take them, releasing each
// when the loop body is done with it (also when it returns early).
func (w *window) all(ctx context.Context) iter.Seq[chunkTask] {
	return func(yield func(chunkTask) bool) {
		for {
			t, ok := w.take(ctx)
			if !ok {
				return
			}
			more := yield(t)
			w.release(t.t)
			if !more {
				return
			}
		}
	}
}

// exclusiveTables says which tables take one chunk at a time: with LOAD
// DATA, those holding an AUTO-INC lock (autoIncTables); with INSERT
// statements (multi-row inserts of given values take the AUTO_INCREMENT
// mutex only) none.
func (l *loader) exclusiveTables(ctx context.Context) (func(*Table) bool, error) {
	none := func(*Table) bool { return false }
	if !l.useLoadData.Load() {
		return none, nil
	}
	c, err := l.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	defer c.Close()
	ai, err := autoIncTables(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(ai) == 0 {
		return none, nil
	}
	return func(t *Table) bool { return ai[[2]string{t.Schema, t.Name}] }, nil
}
