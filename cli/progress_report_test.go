package cli

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/status"
)

// TestProgressReport: what an engine reports (tables, chunks, rows against
// a total) is in the progress line and the bar's description, with a
// percentage and an ETA only where a total is known and some work is
// done; an estimated total marks the ETA as one (~); chunks a resumed load
// skipped count as done but not in the rate.
func TestProgressReport(t *testing.T) {
	tables := status.Count{Name: "tables", N: 3, Of: 8}
	for _, tc := range []struct {
		name       string
		n          int64 // bytes the cli counted
		r          status.Report
		want, lack []string
	}{
		{"backup, rows estimated", 10 << 20,
			status.Report{Unit: status.Rows, Done: 100000, Total: 400000, Estimated: true, Counts: []status.Count{tables}},
			[]string{"tables 3/8", "rows 100000/~400000", "percent 25", "eta ~30s", "rate 1.0 MiB/s"}, nil},
		{"backup, nothing done yet", 1 << 20,
			status.Report{Unit: status.Rows, Done: 0, Total: 400000, Estimated: true, Counts: []status.Count{{Name: "tables", Of: 8}}},
			[]string{"tables 0/8", "rows 0/~400000"}, []string{"eta", "percent"}},
		{"backup, more rows than estimated", 10 << 20,
			status.Report{Unit: status.Rows, Done: 500000, Total: 400000, Estimated: true, Counts: []status.Count{tables}},
			[]string{"rows 500000/~400000"}, []string{"eta", "percent"}},
		{"no total", 10 << 20,
			status.Report{Counts: []status.Count{{Name: "chunks", N: 12}, {Name: "tables", N: 8}}},
			[]string{"chunks 12", "tables 8"}, []string{"eta", "percent", "chunks 12/"}},
		{"restore, exact total", 30 << 20,
			status.Report{Unit: status.Bytes, Done: 30 << 20, Total: 120 << 20, Counts: []status.Count{{Name: "chunks", N: 3, Of: 12}}},
			[]string{"chunks 3/12", "percent 25", "eta 30s", "rate 3.0 MiB/s"}, []string{"~"}},
		{"resumed restore", 60 << 20,
			status.Report{Unit: status.Bytes, Done: 60 << 20, Total: 100 << 20, Free: 40 << 20,
				Counts: []status.Count{{Name: "chunks", N: 2, Of: 10}, {Name: "skipped", N: 4}}},
			[]string{"chunks 2/10", "skipped 4", "percent 60", "rate 2.0 MiB/s", "eta 20s"}, nil},
		{"resumed restore, only skipped so far", 40 << 20,
			status.Report{Unit: status.Bytes, Done: 40 << 20, Total: 100 << 20, Free: 40 << 20,
				Counts: []status.Count{{Name: "chunks", Of: 10}, {Name: "skipped", N: 4}}},
			[]string{"skipped 4", "percent 40"}, []string{"eta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &progress{total: -1}
			p.n.Store(tc.n)
			p.Report(tc.r)
			fields := fmt.Sprint(p.fields(10 * time.Second))
			desc := p.detail(10 * time.Second)
			for _, w := range tc.want {
				if !strings.Contains(fields, w) {
					t.Errorf("progress fields %s lack %q", fields, w)
				}
				if strings.HasPrefix(w, "percent") || strings.HasPrefix(w, "rate") {
					continue // the bar shows these itself
				}
				if !strings.Contains(desc, w) {
					t.Errorf("bar description %q lacks %q", desc, w)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(fields, l) || (l != "percent" && strings.Contains(desc, l)) {
					t.Errorf("progress fields %s / description %q have %q", fields, desc, l)
				}
			}
		})
	}
}

// TestProgressReportBar: on a bar, the engine's report is in the
// description the bar draws, and a byte total it reports makes the bar
// count the bytes it loads against it (skipped ones left out).
func TestProgressReportBar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress("always", &out, slog.New(slog.NewTextHandler(&out, nil)), "restore", -1)
	p.Add(5 << 20) // decoded before the engine said anything
	p.Report(status.Report{Unit: status.Bytes, Total: 100 << 20})
	p.Add(50 << 20)
	p.Report(status.Report{Unit: status.Bytes, Done: 50 << 20, Total: 100 << 20, Free: 30 << 20,
		Counts: []status.Count{{Name: "chunks", N: 2, Of: 10}, {Name: "skipped", N: 3}}})
	if got := p.bar.GetMax64(); got != 70<<20 {
		t.Errorf("the bar's total is %d, want the bytes left to load after the skipped ones, %d", got, 70<<20)
	}
	if got := int64(p.bar.State().CurrentNum); got != 20<<20 {
		t.Errorf("the bar stands at %d, want the bytes loaded (not skipped), %d", got, 20<<20)
	}
	p.Done()
	if s := out.String(); !strings.Contains(s, "chunks 2/10") || !strings.Contains(s, "skipped 3") {
		t.Errorf("the bar does not show the engine's chunks:\n%q", s)
	}
}

// TestProgressLinePerReport: with the log interval 0 (MYBAK_PROGRESS_INTERVAL=0)
// every report of the engine is logged as a progress line at once.
func TestProgressLinePerReport(t *testing.T) {
	t.Setenv(progressIntervalEnv, "0")
	var out bytes.Buffer
	p := newProgress("auto", &out, slog.New(slog.NewTextHandler(&out, nil)), "backup", -1)
	p.Add(1 << 20)
	p.Report(status.Report{Unit: status.Rows, Done: 10, Total: 40, Counts: []status.Count{{Name: "tables", N: 1, Of: 4}}})
	p.Report(status.Report{Unit: status.Rows, Done: 20, Total: 40, Counts: []status.Count{{Name: "tables", N: 2, Of: 4}}})
	p.Done()
	s := out.String()
	if strings.Count(s, `msg="backup progress"`) != 2 || !strings.Contains(s, "tables=1/4") || !strings.Contains(s, "tables=2/4 rows=20/40") ||
		!strings.Contains(s, "eta=") {
		t.Errorf("want one line per report with its tables, rows and an ETA:\n%s", s)
	}
}

// TestProgressInterval: MYBAK_PROGRESS_INTERVAL sets the interval of the
// plain lines; a value that is not a duration is refused with a warning.
func TestProgressInterval(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	for _, tc := range []struct {
		env  string
		want time.Duration
		warn bool
	}{{"", progressLogInterval, false}, {"5s", 5 * time.Second, false}, {"0", 0, false}, {"soon", progressLogInterval, true}, {"-1s", progressLogInterval, true}} {
		out.Reset()
		t.Setenv(progressIntervalEnv, tc.env)
		if got := logInterval(log); got != tc.want || strings.Contains(out.String(), progressIntervalEnv) != tc.warn {
			t.Errorf("%s=%q: interval %v (want %v), warning %q", progressIntervalEnv, tc.env, got, tc.want, out.String())
		}
	}
}
