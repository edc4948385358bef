package pitr

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// serverFile reads a binary log file of the sandbox from its disk (the
// tests run on the server's host).
func (s *server) serverFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(s.str(t, "SELECT @@log_bin_basename")), name))
	if err != nil {
		t.Fatalf("read the server's binary log (the test must run on the server's host): %v", err)
	}
	return b
}

// checkArchiveMatches asserts that every archived file is a prefix of the
// server's file of that name (the whole file when closed), and that the
// archive is contiguous.
func checkArchiveMatches(t *testing.T, s *server, st storage.Backend, ix *Index, opts ReadOptions) map[string]int64 {
	t.Helper()
	ends := map[string]int64{}
	for _, f := range ix.Files() {
		var buf bytes.Buffer
		n, err := ReadFile(context.Background(), st, f, &buf, -1, opts)
		if err != nil {
			t.Fatalf("read %s: %v", f.Key, err)
		}
		want := s.serverFile(t, f.Name)
		if len(want) > 21 {
			// The file being written has the in-use flag set in its
			// Format_description on disk; the server sends it cleared.
			want[21] &^= 1
		}
		if f.Closed() && int64(len(want)) != n {
			t.Errorf("%s closed at %d, the server's file has %d bytes", f.Key, n, len(want))
		}
		if int64(len(want)) < n || !bytes.Equal(want[:n], buf.Bytes()) {
			dumpDiff(t, buf.Bytes(), want)
			t.Fatalf("%s: the archive's %d bytes are not the server's file's", f.Key, n)
		}
		ends[f.Name] = n
	}
	if len(ix.Damaged) > 0 {
		t.Fatalf("damaged records: %v", ix.Damaged)
	}
	return ends
}

func TestArchiveOnceThenFollow(t *testing.T) {
	s := needServer(t)
	st := newStore(t)
	ctx := context.Background()
	db := "pitr_" + randHex(3)
	s.exec(t, "CREATE DATABASE "+db)
	t.Cleanup(func() { s.db.Exec("DROP DATABASE IF EXISTS " + db) })
	s.exec(t, "CREATE TABLE "+db+".t (id INT PRIMARY KEY, v LONGTEXT) ENGINE=InnoDB")
	s.exec(t, "FLUSH BINARY LOGS")
	s.exec(t, "INSERT INTO "+db+".t VALUES (1, 'before once')")
	current := s.write(t, "INSERT INTO "+db+".t VALUES (100, 'last before once')")

	opts := ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Zstd}, Pass: []byte("k3y")}}
	if err := Archive(ctx, opts); err != nil {
		t.Fatalf("archive --once: %v", err)
	}
	ix, err := LoadIndex(ctx, st, []byte("k3y"))
	if err != nil {
		t.Fatal(err)
	}
	ends := checkArchiveMatches(t, s, st, ix, ReadOptions{Pass: []byte("k3y")})
	if len(ends) < 2 {
		t.Fatalf("archived %d files, want the flushed one and the current one", len(ends))
	}
	if last := ix.Pieces[len(ix.Pieces)-1]; last.Closed || last.LastGTID == "" || last.LastGTID != current {
		t.Errorf("last piece %+v: want the open current file ending with the last GTID of %s", last, current)
	}
	if !ix.Pieces[0].Encrypted || ix.Pieces[0].Compression.Kind != stream.Zstd {
		t.Errorf("piece not encoded as asked: %+v", ix.Pieces[0])
	}

	// A second --once stores only what is new, after the end.
	s.exec(t, "INSERT INTO "+db+".t VALUES (2, 'second once')")
	if err := Archive(ctx, opts); err != nil {
		t.Fatalf("second archive --once: %v", err)
	}
	ix2, _ := LoadIndex(ctx, st, []byte("k3y"))
	checkArchiveMatches(t, s, st, ix2, ReadOptions{Pass: []byte("k3y")})
	if len(ix2.Pieces) != len(ix.Pieces)+1 {
		t.Errorf("%d pieces after the second run, want %d (one new piece)", len(ix2.Pieces), len(ix.Pieces)+1)
	}

	// Following: writes reach the store within the flush interval, a
	// rotation closes the file.
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	fopts := opts
	fopts.Once, fopts.FlushInterval = false, 200*time.Millisecond
	go func() { done <- Archive(fctx, fopts) }()
	defer func() { cancel(); <-done }()
	var want string
	for i := 3; i < 6; i++ {
		want = s.write(t, fmt.Sprintf("INSERT INTO %s.t VALUES (%d, 'followed')", db, i))
	}
	waitArchived(t, st, want)
	// What is stored leaves the spool's disk blocks (holes punched), though
	// the file the child appends to keeps its size.
	waitArchived(t, st, s.write(t, "INSERT INTO "+db+".t VALUES (200, REPEAT('x', 2000000))"))
	// The index names the piece before its blocks are punched: wait for
	// the holes (a fresh CI run once looked in between).
	var big []string
	spooled := func() (onDisk []string) {
		files, _ := filepath.Glob(filepath.Join(fopts.SpoolDir, "mybak-binlog-*", "run*", "*"))
		big = big[:0]
		for _, f := range files {
			var sys syscall.Stat_t
			if err := syscall.Stat(f, &sys); err == nil && sys.Size > 2000000 {
				big = append(big, f)
				if sys.Blocks*512 > 512<<10 {
					onDisk = append(onDisk, fmt.Sprintf("%s: %d bytes, %d on disk", f, sys.Size, sys.Blocks*512))
				}
			}
		}
		return onDisk
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(spooled()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if held := spooled(); len(held) > 0 {
		t.Errorf("spool blocks still held 10 s after the piece was stored: %v", held)
	}
	if len(big) == 0 {
		t.Errorf("no spool file holds the 2 MB transaction")
	}
	s.exec(t, "FLUSH BINARY LOGS")
	waitArchived(t, st, s.write(t, "INSERT INTO "+db+".t VALUES (6, 'after rotation')"))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("archive: %v", err)
	}
	done <- nil
	ix3, _ := LoadIndex(ctx, st, []byte("k3y"))
	checkArchiveMatches(t, s, st, ix3, ReadOptions{Pass: []byte("k3y")})
}

// waitArchived waits until a piece of the archive ends with GTID g.
func waitArchived(t *testing.T, st storage.Backend, g string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "the archive reaches "+g, func() bool {
		ix, err := LoadIndex(context.Background(), st, nil)
		if err != nil {
			return false
		}
		for _, p := range ix.Pieces {
			if p.LastGTID == g {
				return true
			}
		}
		return false
	})
}

func dumpDiff(t *testing.T, a, b []byte) {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			t.Logf("first difference at %d: archive % x, server % x", i, a[i:min(i+16, len(a))], b[i:min(i+16, len(b))])
			return
		}
	}
}
