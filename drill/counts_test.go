package drill

import (
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
)

func rows(n int64) *int64 { return &n }

// TestCompareCounts: what the drill makes of the restored counts against
// exact, approximate and missing records.
func TestCompareCounts(t *testing.T) {
	restored := func() *Report {
		return &Report{Tables: []Table{
			{Schema: "db", Table: "a", Type: "BASE TABLE", Rows: rows(10), Result: check.OK},
			{Schema: "db", Table: "b", Type: "BASE TABLE", Rows: rows(5), Result: check.OK},
			{Schema: "db", Table: "big", Type: "BASE TABLE", Rows: rows(7), Result: check.OK},
		}}
	}
	rec := func(exact bool, counts ...mysql.TableCount) *backup.RowCountRecord {
		r := &backup.RowCountRecord{Mode: "auto", Exact: exact, Why: "test"}
		r.Tables = counts
		r.Skipped = []mysql.TableSkip{{Schema: "db", Table: "big", Reason: "too big"}}
		return r
	}
	for _, tc := range []struct {
		name   string
		rec    *backup.RowCountRecord
		status check.Status
		detail string
	}{
		{"exact match", rec(true, mysql.TableCount{Schema: "db", Table: "a", Rows: 10}, mysql.TableCount{Schema: "db", Table: "b", Rows: 5}), check.OK, "2 of 2"},
		{"exact off", rec(true, mysql.TableCount{Schema: "db", Table: "a", Rows: 11}), check.Failed, "db.a (10, recorded 11)"},
		{"approximate off", rec(false, mysql.TableCount{Schema: "db", Table: "a", Rows: 11}), check.Warn, "approximate"},
		{"missing", rec(false, mysql.TableCount{Schema: "db", Table: "gone", Rows: 1}), check.Failed, "missing from the restore: db.gone"},
		{"none recorded", nil, check.Warn, "records no row counts"},
		{"count failed at backup", &backup.RowCountRecord{Mode: "auto", Error: "access denied"}, check.Warn, "access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := restored()
			status, detail, _ := compareCounts(rep, tc.rec, nil)
			if status != tc.status || !strings.Contains(detail, tc.detail) {
				t.Errorf("got %s %q, want %s containing %q", status, detail, tc.status, tc.detail)
			}
			if tc.rec != nil && tc.rec.Error == "" && !strings.Contains(rep.Tables[2].Detail, "too big") {
				t.Errorf("skipped table not explained: %+v", rep.Tables[2])
			}
		})
	}
}
