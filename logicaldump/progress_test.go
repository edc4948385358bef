package logicaldump

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentLoadsKeepProgress: two restores into one server share
// mybak_progress. One that ends must neither drop the progress table
// under another that has not committed a chunk yet, nor remove (or
// stumble on) the records of another restore of the same backup that
// restores other tables (--include).
func TestConcurrentLoadsKeepProgress(t *testing.T) {
	s := testServer(t)
	db := s.db(t)

	t.Run("other backup, nothing committed yet", func(t *testing.T) {
		za, zb := schemaName(t, "conca"), schemaName(t, "concb")
		t.Cleanup(func() { dropSchemas(t, db, za, zb) })
		smallSchema(t, db, za)
		smallSchema(t, db, zb)
		wantA, wantB := state(t, db, za), state(t, db, zb)
		_, dataA := dump(t, s, Options{Threads: 2, ChunkRows: 200}, za)
		_, dataB := dump(t, s, Options{Threads: 2, ChunkRows: 200}, zb)
		dropSchemas(t, db, za, zb)

		// B's only connection stops before its first chunk commits,
		// until A has finished.
		blocked, aDone := make(chan struct{}), make(chan struct{})
		var once sync.Once
		ob := LoadOptions{Threads: 1, Conn: s.admin}
		ob.beforeStatement = func(ctx context.Context, c *sql.Conn, file string, i int) {
			once.Do(func() {
				close(blocked)
				select {
				case <-aDone:
				case <-ctx.Done():
				}
			})
		}
		errB := make(chan error, 1)
		go func() {
			_, err := Load(ctxT(t, 5*time.Minute), ob, bytesReader(dataB))
			errB <- err
		}()
		select {
		case <-blocked:
		case err := <-errB:
			t.Fatalf("load B ended before its first chunk: %v", err)
		}
		load(t, s, LoadOptions{Threads: 2}, dataA)
		close(aDone)
		if err := <-errB; err != nil {
			t.Fatalf("load B, while load A started and ended: %v", err)
		}
		sameState(t, "load A", wantA, state(t, db, za))
		sameState(t, "load B", wantB, state(t, db, zb))
	})

	t.Run("same backup, other tables", func(t *testing.T) {
		z := schemaName(t, "concsame")
		t.Cleanup(func() { dropSchemas(t, db, z) })
		smallSchema(t, db, z)
		want := state(t, db, z)
		ix, data := dump(t, s, Options{Threads: 2, ChunkRows: 200}, z)
		var kChunks []string
		for _, tb := range ix.Tables {
			if tb.Name == "k" {
				for _, c := range tb.Chunks {
					kChunks = append(kChunks, c.File)
				}
			}
		}
		if len(kChunks) < 3 {
			t.Fatalf("table k has %d chunks: the test needs some committed and some not", len(kChunks))
		}
		dropSchemas(t, db, z)

		// B restores z.k, commits its first chunk and stops at its
		// second until A (the other tables of the same backup) has
		// started and ended; then B is cancelled.
		blocked, aDone := make(chan struct{}), make(chan struct{})
		ctxB, cancelB := context.WithCancel(ctxT(t, 5*time.Minute))
		defer cancelB()
		ob := LoadOptions{Threads: 1, Conn: s.admin, Filter: Filter{Include: []string{z + ".k"}}}
		var bFiles []string // the chunks B started, in order
		ob.beforeStatement = func(ctx context.Context, c *sql.Conn, file string, i int) {
			// B's one connection takes k's chunks in stream order, which
			// the dump's threads decided: B stops at its second.
			if i != 1 || slices.Contains(bFiles, file) {
				return
			}
			if bFiles = append(bFiles, file); len(bFiles) == 2 {
				close(blocked)
				select {
				case <-aDone:
				case <-ctx.Done():
				}
				cancelB()
			}
		}
		errB := make(chan error, 1)
		go func() {
			_, err := Load(ctxB, ob, bytesReader(data))
			errB <- err
		}()
		select {
		case <-blocked:
		case err := <-errB:
			t.Fatalf("load B ended before its second chunk: %v", err)
		}
		ra := load(t, s, LoadOptions{Threads: 2, Filter: Filter{Exclude: []string{z + ".k"}}}, data)
		close(aDone)
		if err := <-errB; err == nil {
			t.Fatal("load B went on though cancelled")
		}
		if ra.Tables != 2 {
			t.Errorf("load A restored %d tables, want 2", ra.Tables)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM "+progressTable+" WHERE dump_id = ? AND file = ?", ix.DumpID, bFiles[0]).Scan(&n); err != nil || n != 1 {
			t.Fatalf("after load A ended, %d record(s) of load B's committed chunk %s (%v): A removed what B needs to resume", n, bFiles[0], err)
		}
		rb := load(t, s, LoadOptions{Threads: 2, Resume: true, Filter: Filter{Include: []string{z + ".k"}}}, data)
		if rb.Skipped != 1 || rb.Skipped+rb.Chunks != len(kChunks) {
			t.Errorf("resume of load B: %d skipped, %d loaded; k has %d chunks, 1 committed before", rb.Skipped, rb.Chunks, len(kChunks))
		}
		sameState(t, "two restores of one backup's tables, one resumed", want, state(t, db, z))
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", ProgressSchema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			if err := db.QueryRow("SELECT COUNT(*) FROM "+progressTable+" WHERE dump_id = ? AND file NOT LIKE '/%'", ix.DumpID).Scan(&n); err != nil || n != 0 {
				t.Errorf("%d progress records of dump %s left after both restores succeeded (%v)", n, ix.DumpID, err)
			}
		}
	})
}

// TestLoadPrivilegeHint: a restore user without the privileges on the
// progress schema gets the server's error and what to grant.
func TestLoadPrivilegeHint(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "priv")
	user := z
	pw := z + "-pw"
	t.Cleanup(func() {
		dropSchemas(t, db, z)
		db.Exec("DROP USER IF EXISTS " + quoteString(user) + "@'%'")
	})
	execSQL(t, db, "CREATE USER "+quoteString(user)+"@'%' IDENTIFIED BY "+quoteString(pw),
		"GRANT ALL ON "+quoteIdent(z)+".* TO "+quoteString(user)+"@'%'")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := s.admin
	conn.User, conn.PasswordFile = user, pwFile
	_, err := Load(ctxT(t, time.Minute), LoadOptions{Conn: conn, Threads: 1}, bytesReader(containerIn(t, z, nil)))
	if err == nil || !strings.Contains(err.Error(), "1044") || !strings.Contains(err.Error(), "on "+ProgressSchema+".*") {
		t.Fatalf("load by a user without privileges on %s: %v; want the server's error and what to grant", ProgressSchema, err)
	}
	t.Log(err)
}
