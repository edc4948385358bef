package logicaldump

import (
	"testing"
	"time"
)

// TestZooManySmallRows is the zoo's "table of 5M small rows" (issue 14),
// a test of its own so that its cost shows: dumped and loaded with four
// threads, its CHECKSUM TABLE and row count must equal the source's.
func TestZooManySmallRows(t *testing.T) {
	if testing.Short() {
		t.Skip("5M rows: not with -short")
	}
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "rows5m")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	q := quoteIdent(z)
	start := time.Now()
	execSQL(t, db, "CREATE DATABASE "+q,
		"CREATE TABLE "+q+".small (id INT UNSIGNED PRIMARY KEY, n SMALLINT NOT NULL, c CHAR(2)) ENGINE=InnoDB",
		"INSERT INTO "+q+".small SELECT seq, seq % 32768, IF(seq % 5 = 0, NULL, CHAR(65 + seq % 26, 97 + seq % 26)) FROM "+q+".seq_1_to_5000000")
	want := state(t, db, z)
	if want["count "+qualified(z, "small")] != "5000000" {
		t.Fatalf("the source has %s rows, want 5000000", want["count "+qualified(z, "small")])
	}
	made := time.Since(start)
	start = time.Now()
	ix, data := dump(t, s, Options{Threads: 4}, z)
	dumped := time.Since(start)
	if n := len(ix.Tables[0].Chunks); n < 4 {
		t.Errorf("5M rows in %d chunks: the threads did not share them", n)
	}
	dropSchemas(t, db, z)
	start = time.Now()
	res := load(t, s, LoadOptions{Threads: 4}, data)
	loaded := time.Since(start)
	sameState(t, "5M small rows", want, state(t, db, z))
	t.Logf("made in %s; dumped in %s (%d chunks, %d MiB); loaded in %s (%d by LOAD DATA)",
		made.Round(time.Millisecond), dumped.Round(time.Millisecond), ix.ChunkCount(), len(data)>>20, loaded.Round(time.Millisecond), res.LoadData)
}
