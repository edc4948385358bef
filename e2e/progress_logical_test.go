//go:build linux

package e2e

// Progress of mybak's logical engine, as the user sees it: plain log lines
// (standard error not a terminal) and the bar (--progress always).

import (
	"regexp"
	"strings"
	"testing"
)

// progressLines returns the plain progress lines of stderr with message msg.
func progressLines(stderr, msg string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// TestLogicalProgress: `backup --engine logical` reports its tables done
// of the selection and its rows against the server's estimate with an ETA
// marked as estimated (~); `restore --to-mysql` its chunks of the backup's
// with the percentage of the stream and an ETA; both on the bar's line
// too. MYBAK_PROGRESS_INTERVAL=0 logs a line at every step the engine
// reports, so that the lines between the first and the last step are
// there to read however fast the run is.
func TestLogicalProgress(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	name := strings.ReplaceAll(uniqueName("e2e_progress"), "-", "_")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	execSQL(t, db, "CREATE DATABASE "+name)
	for _, tb := range []string{"t1", "t2", "t3", "t4"} {
		execSQL(t, db, "CREATE TABLE "+name+"."+tb+" (id INT PRIMARY KEY, v VARCHAR(255))",
			"INSERT INTO "+name+"."+tb+" SELECT seq, REPEAT(CHAR(65 + seq % 26), 250) FROM "+name+".seq_1_to_6000",
			"ANALYZE TABLE "+name+"."+tb)
	}
	store := t.TempDir()
	every := []string{"MYBAK_PROGRESS_INTERVAL=0"}

	r := run(t, nil, every, append([]string{"backup", "--engine", "logical", "--include", name, "--storage", store, "--no-encrypt"}, p.conn(false)...)...)
	must(t, r, "backup --engine logical")
	id := strings.TrimSpace(r.stdout)
	lines := progressLines(r.stderr, "backup progress")
	if len(lines) < 2 {
		t.Fatalf("%d backup progress lines, want one per chunk and table:\n%s", len(lines), r.stderr)
	}
	if !regexp.MustCompile(`tables=[0-3]/4 rows=[0-9]+/~[0-9]+ percent=[0-9.]+ eta=~[0-9]`).MatchString(strings.Join(lines, "\n")) {
		t.Errorf("no backup progress line with tables of 4, rows of an estimate, a percentage and an estimated ETA:\n%s", strings.Join(lines, "\n"))
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "tables=4/4 rows=24000/~") || strings.Contains(last, "eta=") {
		t.Errorf("the last backup progress line %q: want all 4 tables and 24000 rows, no ETA", last)
	}
	if strings.Contains(r.stderr, `msg="dump progress"`) {
		t.Errorf("the engine's own progress lines beside the command's:\n%s", r.stderr)
	}
	chunks := metaOf(t, store, id)["logical_chunks"]

	execSQL(t, db, "DROP DATABASE "+name)
	r = run(t, nil, every, append([]string{"restore", id, "--to-mysql", "--parallel", "1", "--storage", store}, p.conn(true)...)...)
	must(t, r, "restore --to-mysql")
	lines = progressLines(r.stderr, "restore progress")
	if len(lines) < 2 {
		t.Fatalf("%d restore progress lines, want one per chunk:\n%s", len(lines), r.stderr)
	}
	if !regexp.MustCompile(`chunks=[1-9][0-9]*/` + chunks + ` tables=4 percent=[0-9.]+ eta=[0-9]`).MatchString(strings.Join(lines, "\n")) {
		t.Errorf("no restore progress line with chunks of the backup's %s, its tables, a percentage and an ETA:\n%s", chunks, strings.Join(lines, "\n"))
	}
	if first := lines[0]; !strings.Contains(first, "chunks=0/"+chunks) || strings.Contains(first, "eta=") {
		t.Errorf("the first restore progress line %q: want no chunk yet and no ETA", first)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "chunks="+chunks+"/"+chunks) {
		t.Errorf("the last restore progress line %q: want all %s chunks", last, chunks)
	}

	// The bar (its last drawing, when the run is over: counts, no ETA).
	r = run(t, nil, nil, append([]string{"restore", id, "--to-mysql", "--force", "--progress", "always", "--storage", store}, p.conn(true)...)...)
	must(t, r, "restore --to-mysql --progress always")
	if !strings.Contains(r.stderr, "restore chunks "+chunks+"/"+chunks+", tables 4") || !strings.Contains(r.stderr, "100% |") {
		t.Errorf("the bar of restore --to-mysql does not show its chunks and the stream's percentage:\n%q", r.stderr)
	}
	r = run(t, nil, nil, append([]string{"backup", "--engine", "logical", "--include", name, "--storage", store, "--no-encrypt", "--progress", "always"}, p.conn(false)...)...)
	must(t, r, "backup --engine logical --progress always")
	if !strings.Contains(r.stderr, "backup tables 4/4, rows 24000/~") {
		t.Errorf("the bar of backup --engine logical does not show its tables and rows:\n%q", r.stderr)
	}
}
