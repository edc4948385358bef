package backup

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mybak/mybak/mysql"
)

// MetaRowCounts is the Meta key holding a MySQL backup's per-table row
// counts: a JSON RowCountRecord. It is a Meta entry (not a manifest field)
// so that manifests stay readable by mybak builds that predate it.
const MetaRowCounts = "row_counts"

// Row count modes (backup --row-counts).
const (
	RowCountsAuto  = "auto"  // count tables up to MaxRows (estimate) within Budget
	RowCountsExact = "exact" // count every table, whatever it costs
	RowCountsOff   = "off"   // record nothing
)

// Defaults of RowCountsAuto: a table of a million rows counts in well
// under a second from the buffer pool and a few seconds from disk (InnoDB
// scans its smallest index), and the budget bounds the whole step.
const (
	DefaultRowCountMax    = 1_000_000
	DefaultRowCountBudget = time.Minute
)

// RowCountOptions say whether and how a MySQL backup records row counts.
// The zero value records nothing.
type RowCountOptions struct {
	Mode    string        // RowCountsAuto, RowCountsExact, RowCountsOff or ""
	MaxRows int64         // auto: skip tables estimated above it (0: DefaultRowCountMax)
	Budget  time.Duration // auto: stop counting after it (0: DefaultRowCountBudget)
	// Warnf reports a count that failed (the backup itself succeeds).
	Warnf func(string, ...any)
}

// RowCountRecord is what MetaRowCounts holds. Exact says the counts are the
// rows of the backup itself: the counting snapshot's binlog position is the
// backup's own, so no transaction committed between the backup's
// consistent point and the counts. Otherwise they are approximate (writes
// went on, or the server has no binary log to tell): a restore drill
// reports their differences but fails only on missing tables.
type RowCountRecord struct {
	Mode  string `json:"mode"`
	Exact bool   `json:"exact"`
	// Why explains Exact.
	Why string `json:"why"`
	mysql.RowCounts
	// Error, when set, says why nothing was counted.
	Error string `json:"error,omitempty"`
}

// RowCountsOf returns the row counts recorded in m, or nil when m has none.
func RowCountsOf(m *Manifest) (*RowCountRecord, error) {
	s, ok := m.Meta[MetaRowCounts]
	if !ok {
		return nil, nil
	}
	var r RowCountRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("%w %s: meta %s: %v", ErrInvalidManifest, m.ID, MetaRowCounts, err)
	}
	return &r, nil
}

// ParseRowCountMode checks a --row-counts value.
func ParseRowCountMode(s string) (string, error) {
	switch s {
	case RowCountsAuto, RowCountsExact, RowCountsOff:
		return s, nil
	}
	return "", fmt.Errorf("%q is not auto, exact or off", s)
}

// RecordRowCounts counts the rows of the server's tables right after a
// backup whose consistent point is at binlog position at, and stores the
// record in meta. A failure to count is recorded and reported through
// Warnf; it never fails the backup.
func RecordRowCounts(ctx context.Context, o RowCountOptions, db *sql.DB, conn mysql.Conn, server *mysql.ServerInfo,
	at mysql.BinlogPosition, meta map[string]string) {
	if o.Mode == "" || o.Mode == RowCountsOff {
		return
	}
	rec := RowCountRecord{Mode: o.Mode}
	ro := mysql.RowCountOptions{MaxRows: o.MaxRows, Budget: o.Budget}
	if o.Mode == RowCountsAuto {
		if ro.MaxRows == 0 {
			ro.MaxRows = DefaultRowCountMax
		}
		if ro.Budget == 0 {
			ro.Budget = DefaultRowCountBudget
		}
	} else {
		ro.MaxRows, ro.Budget = 0, 0
	}
	if server != nil {
		ro.Flavor = server.Flavor
	}
	err := func() error {
		if db == nil {
			var err error
			if db, err = mysql.Open(ctx, conn); err != nil {
				return err
			}
			defer db.Close()
		}
		if ro.Flavor == "" {
			info, err := mysql.Probe(ctx, db)
			if err != nil {
				return err
			}
			ro.Flavor = info.Flavor
		}
		rc, err := mysql.CountRows(ctx, db, ro)
		if err != nil {
			return err
		}
		rec.RowCounts = *rc
		return nil
	}()
	if err != nil {
		rec.Error = err.Error()
		if o.Warnf != nil {
			o.Warnf("row counts not recorded (a restore drill will only run CHECK TABLE): %v", err)
		}
	} else {
		rec.Exact, rec.Why = exactness(rec.RowCounts, at)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	meta[MetaRowCounts] = string(b)
}

// exactness decides whether counts taken at snapshot s are the rows of a
// backup whose consistent point is at.
func exactness(rc mysql.RowCounts, at mysql.BinlogPosition) (bool, string) {
	s := mysql.BinlogPosition{File: rc.SnapshotFile, Pos: rc.SnapshotPos}
	switch {
	case at.File == "" || s.File == "":
		return false, "no binary log position to compare the counting snapshot with the backup's: counts are approximate"
	case rc.SnapshotMoved:
		return false, "the binary log moved while counting: counts are approximate"
	case s.File != at.File || s.Pos != at.Pos:
		return false, fmt.Sprintf("transactions committed between the backup (%s:%d) and the counting snapshot (%s:%d): counts are approximate",
			at.File, at.Pos, s.File, s.Pos)
	}
	return true, fmt.Sprintf("counted in a snapshot at the backup's binlog position %s:%d", s.File, s.Pos)
}
