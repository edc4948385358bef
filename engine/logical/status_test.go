package logical

import (
	"strconv"
	"sync"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/internal/status"
	"github.com/mybak/mybak/logicaldump"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// recorder keeps the reports an engine sends.
type recorder struct {
	mu   sync.Mutex
	reps []status.Report
}

func (r *recorder) fn(rep status.Report) {
	r.mu.Lock()
	r.reps = append(r.reps, rep)
	r.mu.Unlock()
}

func count(rep status.Report, name string) (status.Count, bool) {
	for _, c := range rep.Counts {
		if c.Name == name {
			return c, true
		}
	}
	return status.Count{}, false
}

// TestStatusReports: a logical backup reports through BackupConfig.Status
// its tables done of the selection and its rows against the server's
// (estimated) count, rising to all of them; its restore reports through
// the target's Status the bytes of the chunks committed against the
// manifest's raw size (from 0 before anything is read, to all the chunks'
// bytes), and the chunks committed of the manifest's, rising to all of
// them, with the tables restored.
func TestStatusReports(t *testing.T) {
	bk, adminConn := conns(t)
	ctx, admin, z := scratchSchema(t, adminConn, "t_status_")
	stmts := []string{"CREATE DATABASE `" + z + "`"}
	for _, tb := range []string{"a", "b", "c"} {
		stmts = append(stmts, "CREATE TABLE `"+z+"`."+tb+" (id INT PRIMARY KEY, v VARCHAR(200))",
			"INSERT INTO `"+z+"`."+tb+" SELECT seq, REPEAT('x', 200) FROM `"+z+"`.seq_1_to_3000", "ANALYZE TABLE `"+z+"`."+tb)
	}
	for _, q := range stmts {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	en, err := engine.ByName(Name)
	if err != nil {
		t.Fatal(err)
	}
	var dumped recorder
	be, err := en.NewBackup(engine.BackupConfig{Conn: bk, DumpThreads: 2, Include: []string{z}, Status: dumped.fn})
	if err != nil {
		t.Fatal(err)
	}
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.Run(ctx, backup.Options{Store: st, Engine: be, Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Zstd}}})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if len(dumped.reps) < 3 {
		t.Fatalf("%d reports of the backup; want one per chunk and table at least", len(dumped.reps))
	}
	for i, rep := range dumped.reps {
		tables, _ := count(rep, "tables")
		if rep.Unit != status.Rows || !rep.Estimated || rep.Total <= 0 || tables.Of != 3 {
			t.Errorf("backup report %d: %+v; want rows against an estimated total, of 3 tables", i, rep)
		}
		if i > 0 {
			prev, _ := count(dumped.reps[i-1], "tables")
			if rep.Done < dumped.reps[i-1].Done || tables.N < prev.N {
				t.Errorf("backup report %d went back: %+v after %+v", i, rep, dumped.reps[i-1])
			}
		}
	}
	last := dumped.reps[len(dumped.reps)-1]
	if tables, _ := count(last, "tables"); tables.N != 3 || last.Done != 9000 {
		t.Errorf("last backup report %+v; want 3 tables and 9000 rows done", last)
	}

	if _, err := admin.Exec("DROP DATABASE `" + z + "`"); err != nil {
		t.Fatal(err)
	}
	var loaded recorder
	err = en.Restore(ctx, st, []*backup.Manifest{m}, engine.Target{Server: &restore.LogicalOptions{
		Options: restore.Options{Parallel: 2, Status: loaded.fn}, Conn: adminConn}})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	chunks, _ := strconv.ParseInt(m.Meta[MetaChunks], 10, 64)
	if len(loaded.reps) < 2 || chunks < 3 {
		t.Fatalf("%d reports of the restore, %d chunks in the backup", len(loaded.reps), chunks)
	}
	if first := loaded.reps[0]; first.Unit != status.Bytes || first.Done != 0 || first.Total != m.RawSize {
		t.Errorf("first restore report %+v; want 0 bytes of %d before anything is read", first, m.RawSize)
	}
	for i, rep := range loaded.reps {
		c, _ := count(rep, "chunks")
		tables, _ := count(rep, "tables")
		if rep.Total != m.RawSize || rep.Done > rep.Total || rep.Free != 0 || c.Of != chunks || (i > 0 && tables.N != 3) {
			t.Errorf("restore report %d: %+v; want bytes of %d, none free, chunks of %d, 3 tables", i, rep, m.RawSize, chunks)
		}
		if i > 0 {
			prev, _ := count(loaded.reps[i-1], "chunks")
			if rep.Done < loaded.reps[i-1].Done || c.N != prev.N+1 {
				t.Errorf("restore report %d: %+v after %+v; want the bytes rising and one chunk more", i, rep, loaded.reps[i-1])
			}
		}
	}
	lastLoad := loaded.reps[len(loaded.reps)-1]
	if c, _ := count(lastLoad, "chunks"); c.N != chunks || lastLoad.Done < m.RawSize*9/10 {
		t.Errorf("the last restore report %+v counts %d chunks of %d, %d bytes of %d", lastLoad, c.N, chunks, lastLoad.Done, m.RawSize)
	}
}

// TestLoadReportResumed: the chunks a resumed load skipped count as done,
// and their bytes as free (read in no time), so that no rate includes
// them; a partial restore has no chunk total.
func TestLoadReportResumed(t *testing.T) {
	ls := newLoadStatus(func(status.Report) {}, 1000, 0)
	rep := ls.report(logicaldump.LoadProgress{Chunks: 2, Skipped: 4, Bytes: 150, SkippedBytes: 400, Tables: 5})
	c, _ := count(rep, "chunks")
	sk, _ := count(rep, "skipped")
	tb, _ := count(rep, "tables")
	if rep.Done != 550 || rep.Total != 1000 || rep.Free != 400 || c.N != 6 || c.Of != 0 || sk.N != 4 || tb.N != 5 {
		t.Errorf("report of a resumed partial load: %+v", rep)
	}
	m := &backup.Manifest{Meta: map[string]string{MetaChunks: "40"}}
	if n := backupChunks(m, nil, nil); n != 40 {
		t.Errorf("a whole restore's chunks: %d, want the manifest's 40", n)
	}
	if n := backupChunks(m, []string{"db.t"}, nil); n != 0 {
		t.Errorf("a partial restore's chunks: %d, want 0 (not known)", n)
	}
	if newLoadStatus(nil, 1, 1) != nil || newLoadStatus(nil, 1, 1).progress() != nil {
		t.Error("a load status without a listener")
	}
}

// TestFreshReport: a dump loaded as it is taken reports the rows loaded
// (the dump's rows by the share of its bytes committed), not the rows
// dumped, which run ahead of the load by the chunks in flight.
func TestFreshReport(t *testing.T) {
	var got []status.Report
	fs := &freshStatus{fn: func(r status.Report) { got = append(got, r) }}
	fs.onDump(logicaldump.DumpProgress{Tables: 4, TablesDone: 4, RowsEstimate: 1000, RowsDone: 1000, Bytes: 4000})
	fs.onLoad(logicaldump.LoadProgress{Chunks: 1, Bytes: 1000})
	r := got[len(got)-1]
	tables, _ := count(r, "tables dumped")
	chunks, _ := count(r, "chunks loaded")
	if r.Unit != status.Rows || r.Done != 250 || r.Total != 1000 || !r.Estimated || tables.N != 4 || tables.Of != 4 || chunks.N != 1 {
		t.Errorf("fresh report %+v; want 250 rows loaded of ~1000, 4/4 tables dumped, 1 chunk loaded", r)
	}
	if got[0].Done != 0 {
		t.Errorf("rows loaded before any chunk: %+v", got[0])
	}
}
