package logicaldump

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/mysql"
)

// TestZooSystemVersioned: system-versioned tables are restored with their
// versioning, their current rows and their history (row_start and
// row_end as in the source: CHECKSUM TABLE covers them and the history
// rows), as `mariadb-dump --dump-history` restores them; a table with
// transaction-precise history gets its current rows, and the dump logs a
// warning naming it.
func TestZooSystemVersioned(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "sysver")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	q := quoteIdent(z)
	c, err := db.Conn(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, stmt := range []string{
		"SET SESSION time_zone = '+05:30'",
		"CREATE DATABASE " + q, "USE " + q,
		"CREATE TABLE sv (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB WITH SYSTEM VERSIONING",
		"INSERT INTO sv SELECT seq, CONCAT('v', seq) FROM seq_1_to_400",
		"UPDATE sv SET v = CONCAT(v, '+') WHERE id % 3 = 0",
		"UPDATE sv SET v = CONCAT(v, '*') WHERE id % 6 = 0",
		"DELETE FROM sv WHERE id % 5 = 0",
		`CREATE TABLE sv_explicit (id INT NOT NULL, v INT, rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE,
		  re TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME (rs, re), PRIMARY KEY (id, re))
		  ENGINE=InnoDB WITH SYSTEM VERSIONING`,
		"INSERT INTO sv_explicit (id, v) SELECT seq, seq FROM seq_1_to_250",
		"UPDATE sv_explicit SET v = v + 1000 WHERE id % 2 = 0",
		"DELETE FROM sv_explicit WHERE id > 240",
		`CREATE TABLE sv_part (id INT NOT NULL, v INT, PRIMARY KEY (id)) ENGINE=InnoDB WITH SYSTEM VERSIONING
		  PARTITION BY SYSTEM_TIME (PARTITION p_hist HISTORY, PARTITION p_cur CURRENT)`,
		"INSERT INTO sv_part SELECT seq, seq FROM seq_1_to_150",
		"UPDATE sv_part SET v = -v WHERE id <= 50",
		`CREATE TABLE sv_trx (id INT NOT NULL, v INT, rs BIGINT UNSIGNED GENERATED ALWAYS AS ROW START INVISIBLE,
		  re BIGINT UNSIGNED GENERATED ALWAYS AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME (rs, re), PRIMARY KEY (id, re))
		  ENGINE=InnoDB WITH SYSTEM VERSIONING`,
		"INSERT INTO sv_trx (id, v) SELECT seq, seq FROM seq_1_to_120",
		"UPDATE sv_trx SET v = v * 2 WHERE id <= 10",
	} {
		if _, err := c.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%.200s: %v", stmt, err)
		}
	}
	c.Close()
	trx := qualified(z, "sv_trx")
	current := func(tb string) string {
		var s string
		if err := db.QueryRow("SELECT CONCAT(COUNT(*), ':', BIT_XOR(CRC32(CONCAT_WS(',', id, v)))) FROM " + qualified(z, tb)).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	history := func(tb string) int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + qualified(z, tb) + " FOR SYSTEM_TIME ALL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := state(t, db, z)
	wantTrx := current("sv_trx")
	wantHistory := map[string]int{}
	for _, tb := range []string{"sv", "sv_explicit", "sv_part"} {
		wantHistory[tb] = history(tb)
		if n := want["count "+qualified(z, tb)]; wantHistory[tb] <= 0 || n == "" || strings.HasPrefix(n, "0") {
			t.Fatalf("%s: %s current rows, %d with history: the test needs both", tb, n, wantHistory[tb])
		}
	}
	// What is compared of sv_trx is its current rows: its row_start and
	// row_end are transaction ids that no restore can give back.
	skip := func(k string) bool {
		return strings.HasPrefix(k, "checksum "+trx)
	}

	var logs syncBuffer
	ix, data := dump(t, s, Options{Threads: 3, ChunkRows: 100, Log: slog.New(slog.NewTextHandler(&logs, nil))}, z)
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "sv_trx") || !strings.Contains(l, "history") ||
		strings.Contains(l, "`sv`") || strings.Contains(l, "sv_explicit") {
		t.Errorf("the dump does not warn (only) that sv_trx's history is not kept:\n%s", l)
	}
	for _, tb := range ix.Tables {
		if tb.Name == "sv" && len(tb.Chunks) < 3 {
			t.Errorf("sv in %d chunks: want it cut by its key", len(tb.Chunks))
		}
		if h := wantHistory[tb.Name] > 0; tb.History != h {
			t.Errorf("%s: History %v in the index, want %v", tb.Name, tb.History, h)
		}
		// What verify --drill compares with COUNT(*) of the restore.
		if n := want["count "+qualified(z, tb.Name)]; fmt.Sprint(tb.RowCount()) != n {
			t.Errorf("%s: RowCount %d, COUNT(*) %s", tb.Name, tb.RowCount(), n)
		}
	}

	// The baseline: mariadb-dump --dump-history, which refuses a table
	// with transaction-precise history (dumped without it, separately).
	var buf bytes.Buffer
	for _, args := range [][]string{{"--dump-history", "--ignore-table=" + z + ".sv_trx"}, {"--tables", "sv_trx"}} {
		// --tables (the second dump: no CREATE DATABASE, runs in the
		// schema the first one chose) overrides --databases.
		o := mysql.DumpOptions{Tool: mysql.Tool{Engine: mysql.EngineMariadbDump}, Conn: s.backup, Databases: []string{z}, ExtraArgs: args}
		if _, err := mysql.BackupLogical(ctxT(t, 5*time.Minute), o, &buf); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, what string) {
		t.Helper()
		got := state(t, db, z)
		for k, v := range want {
			if got[k] != v && !skip(k) {
				t.Errorf("%s: %s:\n  source:   %.200q\n  restored: %.200q", what, k, v, got[k])
			}
		}
		if g := current("sv_trx"); g != wantTrx {
			t.Errorf("%s: current rows of sv_trx %s, want %s", what, g, wantTrx)
		}
		for tb, n := range wantHistory {
			if g := history(tb); g != n {
				t.Errorf("%s: %s has %d rows with history, want %d", what, tb, g, n)
			}
		}
	}
	t.Run("mariadb-dump --dump-history", func(t *testing.T) {
		dropSchemas(t, db, z)
		if err := mysql.ApplyDump(ctxT(t, 5*time.Minute), mysql.ApplyOptions{Engine: mysql.EngineMariadbDump, Conn: s.admin}, &buf); err != nil {
			t.Fatalf("mariadb-dump's dump does not load: %v", err)
		}
		check(t, "mariadb-dump --dump-history")
	})
	t.Run("logical, LOAD DATA", func(t *testing.T) {
		dropSchemas(t, db, z)
		res := load(t, s, LoadOptions{Threads: 3}, data)
		if res.LoadData == 0 {
			t.Errorf("no chunk went by LOAD DATA")
		}
		check(t, "logical")
	})
	t.Run("logical, INSERT statements", func(t *testing.T) {
		dropSchemas(t, db, z)
		load(t, s, LoadOptions{Threads: 3, insertOnly: true, DeferIndexes: true}, data)
		check(t, "logical (INSERT statements)")
	})
}
