package pitr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/stream"
)

// TestVerify: a fresh archive verifies clean (deep too); a flipped byte in
// a piece is damage; a missing piece inside a file and a missing file are
// gaps, named.
func TestVerify(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	dir := t.TempDir()
	st, err := newLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The server's older history (other tests') is not this test's to
	// verify: continuity is checked from here, as from a backup.
	from, err := ParseState(s.str(t, "SELECT @@gtid_binlog_pos"))
	if err != nil {
		t.Fatal(err)
	}
	db := "pitr_" + randHex(3)
	s.exec(t, "CREATE DATABASE "+db)
	t.Cleanup(func() { s.db.Exec("DROP DATABASE IF EXISTS " + db) })
	s.exec(t, "CREATE TABLE "+db+".t (id INT PRIMARY KEY)")
	opts := ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Zstd}}}
	// Three files (two rotations), the middle one in two pieces.
	s.exec(t, "FLUSH BINARY LOGS")
	s.write(t, "INSERT INTO "+db+".t VALUES (1)")
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	s.write(t, "INSERT INTO "+db+".t VALUES (2)")
	s.exec(t, "FLUSH BINARY LOGS")
	s.write(t, "INSERT INTO "+db+".t VALUES (3)")
	s.exec(t, "FLUSH BINARY LOGS")
	s.write(t, "INSERT INTO "+db+".t VALUES (4)")
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	ix, err := LoadIndex(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, st, ix, VerifyOptions{Deep: true, From: from})
	if err != nil || len(r.Problems) != 0 || r.Checked != len(ix.Pieces) || r.Txns == 0 {
		t.Fatalf("clean archive: %+v, %v", r, err)
	}
	files := ix.Files()
	n := len(files)
	if n < 3 {
		t.Fatalf("%d files", n)
	}
	split := files[n-3] // two pieces: before and after the first --once
	if len(split.Pieces) != 2 {
		t.Fatalf("%s has %d pieces, want 2", split.Key, len(split.Pieces))
	}

	t.Run("flipped byte", func(t *testing.T) {
		p := files[n-1].Pieces[0]
		path := filepath.Join(dir, filepath.FromSlash(p.ObjectName()))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), b...)
		b[len(b)/2] ^= 0x10
		os.WriteFile(path, b, 0o600)
		defer os.WriteFile(path, orig, 0o600)
		r, err := Verify(ctx, st, ix, VerifyOptions{})
		if err != nil || len(r.Problems) != 1 || r.Problems[0].Kind != ProblemDamaged || r.Problems[0].File != files[n-1].Name {
			t.Fatalf("%+v, %v; want one damaged piece in %s", r.Problems, err, files[n-1].Name)
		}
	})
	t.Run("missing piece", func(t *testing.T) {
		holed := &Index{}
		for _, p := range ix.Pieces {
			if p != split.Pieces[0] {
				holed.Pieces = append(holed.Pieces, p)
			}
		}
		r, err := Verify(ctx, st, holed, VerifyOptions{Deep: true, From: from})
		if err != nil || len(r.Gaps()) == 0 || !strings.Contains(fmt.Sprint(r.Gaps()), "bytes from 0 are missing") {
			t.Fatalf("%+v, %v; want a gap at 0 of %s", r.Problems, err, split.Name)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		holed := &Index{}
		for _, p := range ix.Pieces {
			if p.FileKey() != files[n-2].Key {
				holed.Pieces = append(holed.Pieces, p)
			}
		}
		r, err := Verify(ctx, st, holed, VerifyOptions{Deep: true, From: from})
		gaps := fmt.Sprint(r.Gaps())
		if err != nil || !strings.Contains(gaps, files[n-2].Name+" ") && !strings.Contains(gaps, "File:"+files[n-2].Name) || !strings.Contains(gaps, "are in no archived file") {
			t.Fatalf("%s, %v; want %s named, and the missing GTID", gaps, err, files[n-2].Name)
		}
	})
}
