package logicaldump

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/mysql"
)

// makeZoo creates schema z with every kind of object and value the
// logical engine must restore exactly (issue 14's list).
func makeZoo(t *testing.T, db *sql.DB, z string) {
	t.Helper()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	allHex := hex.EncodeToString(all)
	q := quoteIdent(z)
	c, err := db.Conn(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := c.ExecContext(ctxT(t, 2*time.Minute), s); err != nil {
				t.Fatalf("%.300s: %v", s, err)
			}
		}
	}
	run("SET NAMES utf8mb4", "SET SESSION sql_mode = ''", "SET SESSION time_zone = '+05:30'",
		"CREATE DATABASE "+q+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", "USE "+q,
		`CREATE TABLE types (
			id INT PRIMARY KEY,
			b BIT(13), j JSON, g GEOMETRY NOT NULL, d DECIMAL(65,30), dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(3), y YEAR,
			dd DATE, e ENUM('a','b','c'), s SET('x','y','z'), bl LONGBLOB, vb VARBINARY(300), bn BINARY(4),
			u VARCHAR(100), l1 VARCHAR(50) CHARACTER SET latin1, f FLOAT, f2 FLOAT(10,3), db DOUBLE, ti TINYINT UNSIGNED, bi BIGINT,
			ubi BIGINT UNSIGNED, tx TEXT, nul VARCHAR(10) NULL, ip INET6, uu UUID, zd DATETIME,
			gv INT AS (id * 2) VIRTUAL, gs VARCHAR(40) AS (CONCAT(e, '-', id)) STORED,
			inv INT INVISIBLE DEFAULT 7,
			KEY by_u (u), FULLTEXT KEY ft (tx), SPATIAL KEY sp (g), KEY by_gs (gs)
		) ENGINE=InnoDB`,
		`INSERT INTO types (id, b, j, g, d, dt, ts, tm, y, dd, e, s, bl, vb, bn, u, l1, f, f2, db, ti, bi, ubi, tx, nul, ip, uu, zd, inv) VALUES
		 (1, b'1010101010101', '{"a": [1, 2.5, "x\\"y"], "b": null}', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))', 4326),
		  '12345678901234567890123456789012345.123456789012345678901234567891', '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.499999',
		  '-838:59:59.000', 2155, '1000-01-01', 'c', 'x,z', UNHEX('`+allHex+`'), UNHEX('`+allHex[:200]+`'), UNHEX('00ff0a27'),
		  'emoji 😀 and 𝄞 ''quoted'' \\ back\nslash', CONVERT(UNHEX('636166e9') USING latin1), 1.2345678, 3.14159, 0.1, 255, -9223372036854775808,
		  18446744073709551615, 'tab\there\rcr\0nul\Zctrlz', NULL, '2001:db8::1', '123e4567-e89b-12d3-a456-426614174000', '0000-00-00 00:00:00', 9),
		 (2, b'0', '[]', ST_GeomFromText('POINT(1 2)'), '-0.000000000000000000000000000001', '1970-01-01 00:00:00', '1970-01-01 05:30:01',
		  '00:00:00', 1901, '9999-12-31', 'a', '', '', '', '', '', '', 3.4028234e38, -1.5, 1.7976931348623157e308, 0, 0, 0, '', '',
		  '::', '00000000-0000-0000-0000-000000000000', '2024-00-00 00:00:00', 0),
		 (3, NULL, NULL, ST_GeomFromText('LINESTRING(0 0,1 1)'), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		  NULL, NULL, 1e-45, NULL, 5e-324, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT)`,
		// Partitions, a key range cut into several chunks.
		`CREATE TABLE part (id INT NOT NULL, v VARCHAR(20), PRIMARY KEY (id)) ENGINE=InnoDB
		 PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN MAXVALUE)`,
		"INSERT INTO part SELECT seq, CONCAT('v', seq) FROM seq_1_to_350",
		// Keys the chunks are cut by: strings (walked), composite, unique NOT NULL.
		"CREATE TABLE strkey (code VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, n INT) ENGINE=InnoDB",
		"INSERT INTO strkey SELECT CONCAT(IF(seq % 3, 'k', 'K'), LPAD(seq, 5, '0'), IF(seq % 7 = 0, ' é', '')), seq FROM seq_1_to_333",
		"CREATE TABLE comp (a INT NOT NULL, b VARBINARY(8) NOT NULL, c DATETIME, PRIMARY KEY (a, b)) ENGINE=InnoDB",
		"INSERT INTO comp SELECT seq DIV 10, UNHEX(HEX(seq % 10 * 25)), '2020-01-01' + INTERVAL seq MINUTE FROM seq_1_to_400",
		"CREATE TABLE uniq (x BIGINT UNSIGNED NOT NULL, y INT, UNIQUE KEY ux (x)) ENGINE=InnoDB",
		"INSERT INTO uniq SELECT 18446744073709551615 - seq * 1000003, seq FROM seq_1_to_260",
		// No key (duplicate rows), empty, non-transactional engines.
		"CREATE TABLE nokey (a INT, b TEXT) ENGINE=InnoDB",
		"INSERT INTO nokey VALUES (1, 'dup'), (1, 'dup'), (NULL, NULL), (2, '')",
		"CREATE TABLE empty_t (id INT PRIMARY KEY) ENGINE=InnoDB",
		// A name that is no file name: backquote, dot, slash, newline, non-ASCII.
		"CREATE TABLE `we``ird.t/ab\né` (id INT PRIMARY KEY, v VARCHAR(5)) ENGINE=InnoDB",
		"INSERT INTO `we``ird.t/ab\né` VALUES (1, 'a'), (2, 'b')",
		"CREATE TABLE aria_t (id INT PRIMARY KEY, v TEXT) ENGINE=Aria",
		"INSERT INTO aria_t VALUES (1, 'aria'), (2, 'x')",
		"CREATE TABLE myisam_t (id INT, v VARCHAR(5), KEY (id)) ENGINE=MyISAM",
		"INSERT INTO myisam_t VALUES (1, 'a'), (1, 'b')",
		// Foreign keys in a cycle.
		"CREATE TABLE fa (id INT PRIMARY KEY, fb_id INT, KEY (fb_id)) ENGINE=InnoDB",
		"CREATE TABLE fb (id INT PRIMARY KEY, fa_id INT, CONSTRAINT fb_fa FOREIGN KEY (fa_id) REFERENCES fa (id)) ENGINE=InnoDB",
		"ALTER TABLE fa ADD CONSTRAINT fa_fb FOREIGN KEY (fb_id) REFERENCES fb (id)",
		"SET foreign_key_checks = 0",
		"INSERT INTO fa VALUES (1, 1), (2, 2)", "INSERT INTO fb VALUES (1, 2), (2, 1)",
		"SET foreign_key_checks = 1",
		// Huge rows near max_allowed_packet (16 MiB in the sandbox): every
		// byte value, so the escapes are exercised at size.
		"CREATE TABLE huge (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT) ENGINE=InnoDB",
		"INSERT INTO huge VALUES (1, REPEAT(UNHEX('"+allHex+"'), 60000), 'small'), (2, 'x', REPEAT('😀''\\\\', 1500000)), (3, NULL, '')",
		// Sequences (MariaDB).
		"CREATE SEQUENCE seq_a START WITH 100 INCREMENT BY 5 CACHE 10",
		"SELECT NEXTVAL(seq_a)", "SELECT NEXTVAL(seq_a)",
		// Views on views, created so that name order is the wrong order.
		"CREATE VIEW v_b AS SELECT id, u FROM types WHERE id < 3",
		"CREATE VIEW v_a AS SELECT id FROM v_b",
		"CREATE VIEW v_0 AS SELECT a.id FROM v_a a JOIN part p ON p.id = a.id",
		// Routines with a definer, triggers (two, ordered), an event.
		"CREATE DEFINER=`mybak_admin`@`localhost` PROCEDURE add_part(n INT) SQL SECURITY DEFINER INSERT INTO part VALUES (n, 'proc')",
		"SET SESSION sql_mode = 'STRICT_ALL_TABLES'",
		"CREATE DEFINER=`mybak_admin`@`localhost` FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
		"SET SESSION sql_mode = ''",
		"CREATE TRIGGER part_bi BEFORE INSERT ON part FOR EACH ROW SET NEW.v = CONCAT(NEW.v, '!')",
		"CREATE TRIGGER part_bi2 BEFORE INSERT ON part FOR EACH ROW FOLLOWS part_bi SET NEW.v = CONCAT(NEW.v, '?')",
		"CREATE EVENT ev_nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM nokey WHERE a IS NULL",
	)
}

// TestZooRoundTrip restores the zoo with mariadb-dump and with the logical
// engine: CHECKSUM TABLE of every table and SHOW CREATE of every object
// must be identical to the source's. It also unpacks the container with
// the stock mbstream.
func TestZooRoundTrip(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "zoo")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	makeZoo(t, db, z)
	want := state(t, db, z)

	// The baseline, for the record: mariadb-dump --hex-blob doubles a
	// huge BLOB past max_allowed_packet ("Server has gone away", so the
	// table huge is left out of its dump); what else differs is logged,
	// not failed: the logical engine is held to the source itself below.
	t.Run("mariadb-dump", func(t *testing.T) {
		defer func() {
			dropSchemas(t, db, z)
			makeZoo(t, db, z)
		}()
		var buf bytes.Buffer
		if _, err := mysql.BackupLogical(ctxT(t, 5*time.Minute), mysql.DumpOptions{Tool: mysql.Tool{Engine: mysql.EngineMariadbDump},
			Conn: s.backup, Databases: []string{z}, ExtraArgs: []string{"--ignore-table=" + z + ".huge"}}, &buf); err != nil {
			t.Fatal(err)
		}
		dropSchemas(t, db, z)
		if err := mysql.ApplyDump(ctxT(t, 5*time.Minute), mysql.ApplyOptions{Engine: mysql.EngineMariadbDump, Conn: s.admin}, &buf); err != nil {
			t.Logf("mariadb-dump's dump does not load: %v", err)
			return
		}
		got := state(t, db, z)
		for k, v := range want {
			if got[k] != v && !strings.Contains(k, "`huge`") {
				t.Logf("mariadb-dump round trip differs: %s:\n  source:   %.200q\n  restored: %.200q", k, v, got[k])
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	ix, data := dump(t, s, Options{Threads: 3, ChunkRows: 100, ChunkBytes: 64 << 10}, z)
	var chunked int
	for _, tb := range ix.Tables {
		if len(tb.Chunks) > 1 {
			chunked++
		}
	}
	if chunked < 4 {
		t.Errorf("only %d tables were cut into several chunks; want part, strkey, comp, uniq", chunked)
	}
	if ix.BinlogFile == "" || ix.GTID == "" {
		t.Errorf("no binlog coordinates in the index: %+v", ix)
	}

	if vr, err := Verify(ctxT(t, time.Minute), bytes.NewReader(data)); err != nil || vr.Chunks != ix.ChunkCount() {
		t.Errorf("Verify of the dump: %v (%+v)", err, vr)
	}

	// The stock tool unpacks the container into schema and data files.
	dir := t.TempDir()
	cmd := exec.Command("mbstream", "-x", "-C", dir)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mbstream -x: %v\n%s", err, out)
	}
	for _, f := range []string{IndexFile, PlanFile, ix.Tables[0].File, ix.Tables[0].Chunks[0].File, ix.Objects[0].File} {
		if _, err := filepath.Glob(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
		if b, err := readFile(filepath.Join(dir, f)); err != nil || (len(b) == 0 && !strings.HasPrefix(f, "data/")) {
			t.Errorf("mbstream -x gave no %s: %v", f, err)
		}
	}

	dropSchemas(t, db, z)
	var logs strings.Builder
	res := load(t, s, LoadOptions{Threads: 3, Log: slog.New(slog.NewTextHandler(&logs, nil))}, data)
	sameState(t, "logical round trip (LOAD DATA)", want, state(t, db, z))
	if res.Chunks != ix.ChunkCount() {
		t.Errorf("loaded %d chunks, the index has %d", res.Chunks, ix.ChunkCount())
	}
	// Which chunks LOAD DATA could not load exactly (and went by INSERT):
	// the zoo's zero dates and ENUM error values would warn.
	t.Logf("chunks loaded with INSERTs after LOAD DATA: %d", strings.Count(logs.String(), "not exact"))
	if res.LoadData < ix.ChunkCount()/2 {
		t.Errorf("only %d of %d chunks went by LOAD DATA", res.LoadData, ix.ChunkCount())
	}

	t.Run("insert statements", func(t *testing.T) {
		dropSchemas(t, db, z)
		load(t, s, LoadOptions{Threads: 3, insertOnly: true}, data)
		sameState(t, "logical round trip (INSERT statements)", want, state(t, db, z))
	})

	t.Run("defer-indexes", func(t *testing.T) {
		dropSchemas(t, db, z)
		res := load(t, s, LoadOptions{Threads: 2, DeferIndexes: true}, data)
		if res.IndexesAdded < 3 {
			t.Errorf("%d deferred indexes added, want the 4 of types (by_u, ft, sp, by_gs) and strkey's none", res.IndexesAdded)
		}
		sameState(t, "logical round trip with deferred indexes", want, state(t, db, z))
	})
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", ProgressSchema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		if err := db.QueryRow("SELECT COUNT(*) FROM "+progressTable+" WHERE dump_id = ?", ix.DumpID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d progress records of dump %s left behind after successful loads (%v)", n, ix.DumpID, err)
		}
	}
	_ = fmt.Sprint
}
