package backup

import (
	"strings"
	"testing"

	"github.com/mybak/mybak/mysql"
)

// TestRowCountExactness: counts are exact only when the counting snapshot
// is at the backup's binlog position.
func TestRowCountExactness(t *testing.T) {
	at := mysql.BinlogPosition{File: "bin.000002", Pos: 100}
	for _, tc := range []struct {
		name  string
		rc    mysql.RowCounts
		at    mysql.BinlogPosition
		exact bool
		why   string
	}{
		{"same position", mysql.RowCounts{SnapshotFile: "bin.000002", SnapshotPos: 100}, at, true, "bin.000002:100"},
		{"moved on", mysql.RowCounts{SnapshotFile: "bin.000002", SnapshotPos: 180}, at, false, "committed between"},
		{"moved while counting", mysql.RowCounts{SnapshotFile: "bin.000002", SnapshotPos: 100, SnapshotMoved: true}, at, false, "while counting"},
		{"no binlog", mysql.RowCounts{}, mysql.BinlogPosition{}, false, "no binary log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exact, why := exactness(tc.rc, tc.at)
			if exact != tc.exact || !strings.Contains(why, tc.why) {
				t.Errorf("got %v %q, want %v containing %q", exact, why, tc.exact, tc.why)
			}
		})
	}
	for _, s := range []string{"auto", "exact", "off"} {
		if _, err := ParseRowCountMode(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseRowCountMode("some"); err == nil {
		t.Error("ParseRowCountMode(some) accepted")
	}
	m := &Manifest{ID: "x", Meta: map[string]string{MetaRowCounts: "{bad"}}
	if _, err := RowCountsOf(m); err == nil {
		t.Error("a bad row_counts meta was accepted")
	}
}
