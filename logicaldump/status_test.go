package logicaldump

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestProgressCallbacks: Dump calls Progress with the tables of the
// selection and the server's row estimate as totals and rising counts,
// ending at every table and row; Load calls it with rising chunks, and a
// resumed Load counts the chunks it skips (and their bytes, which took no
// time) as they pass, with the tables it restores. With Progress set,
// neither logs its own progress lines (the caller shows them).
func TestProgressCallbacks(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "status")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	smallSchema(t, db, z)
	execSQL(t, db, "ANALYZE TABLE "+quoteIdent(z)+".k, "+quoteIdent(z)+".nk, "+quoteIdent(z)+".other")
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 0
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	var dumps []DumpProgress
	ix, data := dump(t, s, Options{Threads: 2, ChunkRows: 100, ChunkBytes: 4096, Log: log,
		Progress: func(p DumpProgress) { dumps = append(dumps, p) }}, z)
	if len(dumps) < ix.ChunkCount() {
		t.Fatalf("%d progress calls for %d chunks", len(dumps), ix.ChunkCount())
	}
	for i, p := range dumps {
		if p.Tables != 3 || p.RowsEstimate <= 0 {
			t.Errorf("dump progress %d: %+v; want 3 tables and the server's row estimate as totals", i, p)
		}
		if i > 0 && (p.TablesDone < dumps[i-1].TablesDone || p.RowsDone < dumps[i-1].RowsDone || p.Bytes < dumps[i-1].Bytes || p.Elapsed < dumps[i-1].Elapsed) {
			t.Errorf("dump progress went back: %+v after %+v", p, dumps[i-1])
		}
	}
	if last := dumps[len(dumps)-1]; last.TablesDone != 3 || last.RowsDone != ix.Rows || last.Bytes != ix.Bytes {
		t.Errorf("last dump progress %+v; want 3 tables, %d rows, %d bytes", last, ix.Rows, ix.Bytes)
	}
	if first := dumps[0]; first.RowsDone >= first.RowsEstimate || first.ETA() <= 0 && first.RowsDone > 0 {
		t.Errorf("first dump progress %+v: no work left to estimate", first)
	}
	dropSchemas(t, db, z)

	// A load stopped after 3 chunks, then resumed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loads []LoadProgress
	o := LoadOptions{Threads: 1, Conn: s.admin, Log: log, Progress: func(p LoadProgress) {
		if loads = append(loads, p); p.Chunks == 3 {
			cancel()
		}
	}}
	if _, err := Load(ctx, o, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("first load: %v, want it cancelled", err)
	}
	for i, p := range loads {
		if p.Chunks != i+1 || p.Skipped != 0 || p.Tables != 3 {
			t.Errorf("load progress %d: %+v; want %d chunks, none skipped, 3 tables", i, p, i+1)
		}
	}
	loads = nil
	o.Progress = func(p LoadProgress) { loads = append(loads, p) }
	o.Resume = true
	res, err := Load(ctxT(t, time.Minute), o, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("resumed load: %v", err)
	}
	if res.Skipped < 3 || len(loads) != res.Chunks+res.Skipped {
		t.Fatalf("resumed load: %d skipped, %d loaded, %d progress calls; want a call per chunk", res.Skipped, res.Chunks, len(loads))
	}
	for i, p := range loads {
		if p.Tables != 3 || p.Chunks+p.Skipped != i+1 {
			t.Errorf("resumed load progress %d: %+v; want 3 tables, %d chunks done or skipped", i, p, i+1)
		}
		if i > 0 && (p.SkippedBytes < loads[i-1].SkippedBytes || p.Bytes < loads[i-1].Bytes) {
			t.Errorf("resumed load progress went back: %+v after %+v", p, loads[i-1])
		}
	}
	last := loads[len(loads)-1]
	if last.Skipped != res.Skipped || last.SkippedBytes <= 0 || last.Bytes+last.SkippedBytes != ix.Bytes {
		t.Errorf("last progress of the resumed load %+v; want %d skipped, and loaded + skipped bytes = the backup's %d", last, res.Skipped, ix.Bytes)
	}
	if out := logs.String(); strings.Contains(out, `msg="dump progress"`) || strings.Contains(out, `msg="load progress"`) {
		t.Errorf("progress logged though the caller shows it:\n%s", out)
	}
}
