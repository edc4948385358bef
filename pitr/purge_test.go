package pitr

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/stream"
)

// TestPurge: PURGE BINARY LOGS after archiving loses nothing; before
// archiving, the purged transactions are a gap that verify names.
func TestPurge(t *testing.T) {
	needMySQL(t)
	// A server of its own: PURGE BINARY LOGS on the shared one could take
	// a file another test (a replica started from a backup's position)
	// still needs.
	s := startSandbox(t, "pitr-purge")
	s.arch = s.archUser(t)
	ctx := context.Background()
	st := newStore(t)
	from, _ := ParseState(s.str(t, "SELECT @@gtid_binlog_pos"))
	db := "pitr_" + randHex(3)
	s.exec(t, "CREATE DATABASE "+db)
	t.Cleanup(func() { s.db.Exec("DROP DATABASE IF EXISTS " + db) })
	s.exec(t, "CREATE TABLE "+db+".t (id INT PRIMARY KEY)")
	opts := ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Zstd}}}

	s.write(t, "INSERT INTO "+db+".t VALUES (1)")
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	s.purgeAll(t)
	g2 := s.write(t, "INSERT INTO "+db+".t VALUES (2)")
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	ix, _ := LoadIndex(ctx, st, nil)
	rep, err := Verify(ctx, st, ix, VerifyOptions{Deep: true, From: from})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("purged after archiving: %+v, %v", rep.Problems, err)
	}
	waitArchived(t, st, g2)

	// Purged before it was archived.
	lost := s.write(t, "INSERT INTO "+db+".t VALUES (3)")
	s.purgeAll(t)
	s.write(t, "INSERT INTO "+db+".t VALUES (4)")
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	ix, _ = LoadIndex(ctx, st, nil)
	rep, err = Verify(ctx, st, ix, VerifyOptions{Deep: true, From: from})
	g, _ := ParseState(lost)
	if err != nil || len(rep.Gaps()) != 1 || !strings.Contains(rep.Gaps()[0].Detail, "0-?-"+strings.Split(g.String(), "-")[2]) {
		t.Fatalf("purged before archiving: %+v, %v; want a gap naming %s", rep.Problems, err, lost)
	}
}

// TestNeverOverwrite: a piece whose name is taken (a run that died between
// storing the data and its record) is stored under a new name; the old
// object is left as it was.
func TestNeverOverwrite(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	p := &Piece{Format: PieceFormat, Server: "mariadb-7", ServerID: 7, File: "db-bin.000003",
		Created: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), Start: 0, End: 4}
	taken := p.Dir() + "000000000000-000000000004.binlog.gz"
	if _, err := st.Put(ctx, taken, strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}
	if err := storePiece(ctx, st, p, bytes.NewReader([]byte{0xfe, 'b', 'i', 'n'}), enc, nil, time.Now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Object, "000000000000-000000000004-r") {
		t.Fatalf("stored as %s, want a new name", p.Object)
	}
	rc, _ := st.Get(ctx, taken, 0)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "old" {
		t.Fatalf("the taken object was overwritten: %q", b)
	}
	ix, err := LoadIndex(ctx, st, nil)
	if err != nil || len(ix.Pieces) != 1 || len(ix.Damaged) != 0 || ix.Pieces[0].Object != p.Object {
		t.Fatalf("index: %+v %v", ix, err)
	}
}

// purgeAll rotates and purges every binary log but the new one (the
// server keeps a file until its binlog checkpoint passes it: retried).
func (s *server) purgeAll(t *testing.T) {
	t.Helper()
	old := s.currentLog(t)
	s.exec(t, "FLUSH BINARY LOGS")
	cur := s.currentLog(t)
	testenv.WaitFor(t, 20*time.Second, "PURGE BINARY LOGS removes "+old, func() bool {
		s.exec(t, "PURGE BINARY LOGS TO '"+cur+"'")
		return s.oldestLog(t) == cur
	})
}

func (s *server) oldestLog(t *testing.T) string {
	t.Helper()
	rows, err := s.db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatal("SHOW BINARY LOGS: no file")
	}
	vals := make([]any, len(cols))
	var name string
	vals[0] = &name
	for i := 1; i < len(vals); i++ {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		t.Fatal(err)
	}
	return name
}
