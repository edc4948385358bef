package logicaldump

import (
	"fmt"
	"testing"
)

// TestChunksOfSkewedKeys dumps tables whose integer keys are sparse or
// skewed: every chunk must stay within the rows per chunk asked for (a
// range cut by dividing MIN..MAX evenly put almost all rows in one
// chunk, read by one thread), and the round trip must be exact (every
// row in exactly one chunk).
func TestChunksOfSkewedKeys(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "skew")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	q := quoteIdent(z)
	execSQL(t, db, "CREATE DATABASE "+q,
		// Two clusters far apart: 1..1000 and 10^12..10^12+2999.
		"CREATE TABLE "+q+".clusters (id BIGINT PRIMARY KEY, v INT) ENGINE=InnoDB",
		"INSERT INTO "+q+".clusters SELECT seq, seq FROM "+q+".seq_1_to_1000",
		"INSERT INTO "+q+".clusters SELECT 1000000000000 + seq, seq FROM "+q+".seq_0_to_2999",
		// AUTO_INCREMENT with a jump: a few rows, then the counter moved far
		// ahead (a bulk insert that failed, a changed offset), then many.
		"CREATE TABLE "+q+".gaps (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB",
		"INSERT INTO "+q+".gaps (v) SELECT 'a' FROM "+q+".seq_1_to_300",
		"ALTER TABLE "+q+".gaps AUTO_INCREMENT = 4000000000",
		"INSERT INTO "+q+".gaps (v) SELECT 'b' FROM "+q+".seq_1_to_2500",
		// Negative and positive, one outlier at each end of BIGINT.
		"CREATE TABLE "+q+".outliers (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO "+q+".outliers SELECT CAST(seq AS SIGNED) - 1000 FROM "+q+".seq_1_to_2000",
		"INSERT INTO "+q+".outliers VALUES (-9223372036854775808), (9223372036854775807)",
		// Dense: still cut evenly.
		"CREATE TABLE "+q+".dense (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO "+q+".dense SELECT seq FROM "+q+".seq_1_to_2000",
		"ANALYZE TABLE "+q+".clusters, "+q+".gaps, "+q+".outliers, "+q+".dense")
	want := state(t, db, z)
	const rows = 100
	for _, tb := range []string{"clusters", "gaps", "outliers", "dense"} {
		var est int64
		if err := db.QueryRow("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", z, tb).Scan(&est); err != nil {
			t.Fatal(err)
		}
		if est <= rows {
			t.Fatalf("the server estimates %d rows in %s: the test needs more than %d, to cut it", est, tb, rows)
		}
	}
	ix, data := dump(t, s, Options{Threads: 3, ChunkRows: rows, ChunkBytes: 64 << 20}, z)
	for _, tb := range ix.Tables {
		var most, total int64
		for _, ch := range tb.Chunks {
			most = max(most, ch.Rows)
			total += ch.Rows
		}
		t.Logf("%s: %d chunks, %d rows, the largest %d", tb.Name, len(tb.Chunks), total, most)
		if most > rows {
			t.Errorf("%s: a chunk of %d rows, asked for %d per chunk", tb.Name, most, rows)
		}
		if n := int64(len(tb.Chunks)); n > 3*(total/rows+1) {
			t.Errorf("%s: %d chunks for %d rows: mostly empty ranges", tb.Name, n, total)
		}
		if got := want["count "+qualified(z, tb.Name)]; got != fmt.Sprint(total) {
			t.Errorf("%s: the chunks hold %d rows, the table %s", tb.Name, total, got)
		}
	}
	dropSchemas(t, db, z)
	load(t, s, LoadOptions{Threads: 3}, data)
	sameState(t, "round trip of skewed keys", want, state(t, db, z))
}
