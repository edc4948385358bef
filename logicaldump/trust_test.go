package logicaldump

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/xbstream"
)

// hostile are crafted containers: each holds a statement that is not the
// one Dump writes for what the plan or index says it is. Load must refuse
// each before running it, and Verify must say the backup is damaged.
func hostile(z string) map[string]func(map[string][]byte, *Index) {
	setChunk := func(f map[string][]byte, ix *Index, b string) {
		f["d/t.000001.sql"] = []byte(b)
		ix.Tables[0].Chunks[0].SHA256 = sha256hex([]byte(b))
	}
	setView := func(f map[string][]byte, ix *Index, b string) {
		f["d/v.view.sql"] = []byte(b)
		ix.Objects[0].SHA256 = sha256hex([]byte(b))
	}
	ins := "INSERT INTO " + qualified(z, "t") + " (`a`) "
	return map[string]func(map[string][]byte, *Index){
		"table in mysql": func(f map[string][]byte, ix *Index) {
			ix.Tables[0].Schema = "mysql"
			ix.Tables[0].Name = "user"
		},
		"empty table entry": func(f map[string][]byte, ix *Index) { ix.Tables = append(ix.Tables, nil) },
		"deferred index not in the table": func(f map[string][]byte, ix *Index) {
			ix.Tables[0].Deferrable = []string{"KEY `k` (`a`), RENAME TO `mysql`.`t`"}
		},
		"session values inject": func(f map[string][]byte, ix *Index) {
			// Under NO_BACKSLASH_ESCAPES the \' of a quoted time zone ends
			// the string: the rest would be more SET assignments.
			ix.Objects[0].Kind, ix.Objects[0].Name = KindProcedure, "p"
			ix.Objects[0].SQLMode = "NO_BACKSLASH_ESCAPES"
			ix.Objects[0].TimeZone = "+00:00', @@session.autocommit = 0 #"
			setView(f, ix, "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\nSELECT 1")
		},
		"database mysql": func(f map[string][]byte, ix *Index) { ix.Databases[0].Name = "MySQL" },
		"schema file drops": func(f map[string][]byte, ix *Index) {
			f["d.schema.sql"] = []byte("DROP DATABASE `important`")
		},
		"table file of another table": func(f map[string][]byte, ix *Index) {
			f["d/t.schema.sql"] = []byte("CREATE TABLE `u` (`a` INT)")
		},
		"table copies server data": func(f map[string][]byte, ix *Index) {
			f["d/t.schema.sql"] = []byte("CREATE TABLE `t` (`a` TEXT) SELECT authentication_string AS a FROM mysql.user")
		},
		"table copies a file with VALUES": func(f map[string][]byte, ix *Index) {
			f["d/t.schema.sql"] = []byte("CREATE TABLE `t` (`a` TEXT) VALUES (LOAD_FILE('/etc/hostname'))")
		},
		"table copies behind a comment": func(f map[string][]byte, ix *Index) {
			// The quote in the comment must not hide the SELECT after it.
			f["d/t.schema.sql"] = []byte("CREATE TABLE `t` (`a` TEXT) -- '\nSELECT authentication_string AS a FROM mysql.user -- '")
		},
		"chunk reads a host file": func(f map[string][]byte, ix *Index) {
			setChunk(f, ix, ins+"VALUES (LOAD_FILE('/etc/hostname'));\n")
		},
		"chunk selects": func(f map[string][]byte, ix *Index) {
			setChunk(f, ix, ins+"SELECT 1 FROM mysql.user;\n")
		},
		"chunk sleeps": func(f map[string][]byte, ix *Index) { setChunk(f, ix, ins+"VALUES (1),(SLEEP(5));\n") },
		"view is a UDF": func(f map[string][]byte, ix *Index) {
			ix.Objects[0].Kind = KindFunction
			setView(f, ix, "CREATE FUNCTION `v` RETURNS STRING SONAME 'mybak_evil.so'")
		},
		"view creates a user": func(f map[string][]byte, ix *Index) {
			setView(f, ix, "CREATE USER `evil`@`%` IDENTIFIED BY 'x'")
		},
		"view of another name": func(f map[string][]byte, ix *Index) { setView(f, ix, "CREATE VIEW `w` AS SELECT 1") },
		"view in mysql": func(f map[string][]byte, ix *Index) {
			setView(f, ix, "CREATE VIEW `mysql`.`v` AS SELECT 1")
		},
		"object in sys": func(f map[string][]byte, ix *Index) { ix.Objects[0].Schema = "sys" },
		"users grant and more": func(f map[string][]byte, ix *Index) {
			ix.Objects[0] = Object{Kind: KindUsers, File: "d/v.view.sql"}
			setView(f, ix, "GRANT ALL ON *.* TO `x`@`%`;\nDROP DATABASE `mysql`;\n")
		},
		"sequence value runs a function": func(f map[string][]byte, ix *Index) {
			ix.Objects[0].Kind = KindSequence
			setView(f, ix, "SELECT SETVAL("+qualified(z, "v")+", SLEEP(5), 0)")
		},
	}
}

func TestVerifyRefusesHostileStatements(t *testing.T) {
	for name, mutate := range hostile("d") {
		_, err := Verify(t.Context(), bytes.NewReader(container(t, mutate)))
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Verify says %v; want the backup damaged", name, err)
		}
	}
}

// TestLoadRefusesHostileStatements loads each crafted container into the
// test server: the load fails saying it refuses, and nothing of the
// crafted statement happened (the test's schema and the server's users
// are as before).
func TestLoadRefusesHostileStatements(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	users := func() string {
		var n string
		if err := db.QueryRow("SELECT CONCAT(COUNT(*), ':', IFNULL(SUM(CRC32(CONCAT(User, Host))), 0)) FROM mysql.user").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := users()
	for name, insertOnly := range map[string]bool{"load data": false, "insert statements": true} {
		t.Run(name, func(t *testing.T) {
			other := schemaName(t, "hostile_other")
			t.Cleanup(func() { dropSchemas(t, db, other) })
			execSQL(t, db, "CREATE DATABASE "+quoteIdent(other))
			for what := range hostile("") {
				z := schemaName(t, "hostile")
				t.Cleanup(func() {
					dropSchemas(t, db, z)
					// The records of the failed load (its dump ID is the
					// test's own).
					db.Exec("DELETE FROM "+progressTable+" WHERE dump_id = ?", "x-"+z)
				})
				mutate := hostile(z)[what]
				if strings.HasPrefix(what, "schema file") {
					// The crafted statement's target is the test's other schema.
					mutate = func(f map[string][]byte, ix *Index) { f["d.schema.sql"] = []byte("DROP DATABASE " + quoteIdent(other)) }
				}
				_, err := Load(ctxT(t, time.Minute), LoadOptions{Conn: s.admin, Threads: 2, insertOnly: insertOnly}, bytesReader(containerIn(t, z, mutate)))
				if err == nil || !strings.Contains(err.Error(), "refusing") {
					t.Errorf("%s: load says %v; want it to refuse", what, err)
				}
				var n int
				if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", other).Scan(&n); err != nil || n != 1 {
					t.Fatalf("%s: schema %s was dropped (%v)", what, other, err)
				}
				db.QueryRow("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", z).Scan(&n)
				if n != 0 {
					t.Errorf("%s: a routine was created in %s", what, z)
				}
				var rows int
				// Objects come at the end of the stream, after the (good)
				// chunks were loaded; a crafted chunk is refused before it runs.
				if err := db.QueryRow("SELECT COUNT(*) FROM " + qualified(z, "t")).Scan(&rows); strings.HasPrefix(what, "chunk") && err == nil && rows > 0 {
					t.Errorf("%s: %d rows loaded into %s.t", what, rows, z)
				}
			}
			if got := users(); got != before {
				t.Errorf("the server's accounts changed: %s, were %s", got, before)
			}
		})
	}
	// The container itself loads (the refusals above are the mutations').
	z := schemaName(t, "hostile")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	if _, err := Load(ctxT(t, time.Minute), LoadOptions{Conn: s.admin, Threads: 2}, bytesReader(containerIn(t, z, nil))); err != nil {
		t.Fatalf("the unchanged container: %v", err)
	}
}

// TestCheckObjectStmt: what SHOW CREATE prints passes; other statements
// in an object's place do not.
func TestCheckObjectStmt(t *testing.T) {
	o := func(kind, name string) Object { return Object{Kind: kind, Schema: "db", Name: name, File: "f"} }
	for _, c := range []struct {
		o    Object
		body string
		ok   bool // what SHOW CREATE prints
	}{
		{o(KindView, "v"), "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`", true},
		{o(KindView, "v w"), "CREATE ALGORITHM = MERGE DEFINER=`a``b`@`%` SQL SECURITY INVOKER VIEW `v w` (`x`) AS select 1", true},
		{o(KindProcedure, "p"), "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`(IN a INT)\nBEGIN SELECT a; END", true},
		{o(KindFunction, "f"), "CREATE DEFINER=`root`@`localhost` FUNCTION `f`() RETURNS int(11)\nRETURN 1", true},
		{o(KindFunction, "agg"), "CREATE DEFINER=`r1` AGGREGATE FUNCTION `agg`(x INT) RETURNS int(11)\nBEGIN RETURN 1; END", true},
		{o(KindTrigger, "k_bi"), "CREATE DEFINER=`root`@`localhost` TRIGGER db.k_bi BEFORE INSERT ON k FOR EACH ROW SET NEW.v = UPPER(NEW.v)", true},
		{o(KindTrigger, "K_bi"), "CREATE DEFINER=root@localhost TRIGGER `k_bi` BEFORE INSERT ON k FOR EACH ROW SET NEW.v = 1", true},
		{o(KindEvent, "e"), "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 DAY STARTS '2026-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO SELECT 1", true},
		{o(KindSequence, "s"), "SELECT SETVAL(`db`.`s`, -12, 0)", true},
		{Object{Kind: KindUsers, File: "u"}, "CREATE USER IF NOT EXISTS `a`@`%`;\nGRANT SELECT ON `db`.* TO `a`@`%`;\n", true},
		{o(KindFunction, "f"), "CREATE FUNCTION f RETURNS STRING SONAME 'x.so'", false},
		{o(KindFunction, "f"), "CREATE AGGREGATE FUNCTION `f` RETURNS INTEGER SONAME 'x.so'", false},
		{o(KindProcedure, "p"), "CREATE DEFINER=`root`@`localhost` FUNCTION `p`() RETURNS INT RETURN 1", false},
		{o(KindView, "v"), "CREATE TABLE `v` (a INT)", false},
		{o(KindView, "v"), "CREATE VIEW `db2`.`v` AS SELECT 1", false},
		{o(KindView, "v"), "DROP VIEW `v`", false},
		{o(KindTrigger, "t"), "CREATE DEFINER=`root`@`localhost` EVENT `t` ON SCHEDULE EVERY 1 DAY DO SELECT 1", false},
		{o(KindEvent, "e"), "CREATE SERVER `e` FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')", false},
		{o(KindSequence, "s"), "SELECT SETVAL(`db`.`other`, 1, 0)", false},
		{o("plugin", "p"), "CREATE VIEW `p` AS SELECT 1", false},
		{Object{Kind: KindUsers, File: "u"}, "CREATE USER IF NOT EXISTS `a`@`%`;\nINSTALL SONAME 'x';\n", false},
	} {
		if err := checkObjectStmt(c.o, []byte(c.body)); (err == nil) != c.ok {
			t.Errorf("%q as %s %s: %v, want ok=%v", c.body, c.o.Kind, c.o.Name, err, c.ok)
		}
	}
}

func TestHasQuery(t *testing.T) {
	for s, want := range map[string]bool{
		"CREATE TABLE `t` (a INT) SELECT 1":                             true,
		"CREATE TABLE `t` (a INT) AS\nselect 1":                         true,
		"CREATE TABLE `t` (`select` INT, b INT COMMENT 'select')":       false,
		"CREATE TABLE `t` (selected INT, preselect INT)":                false,
		"CREATE TABLE `t` (a TEXT DEFAULT 'it''s \\' select')":          false,
		"CREATE TABLE `t` (a INT) /*!50100 SELECT 1 */":                 true,
		"CREATE TABLE `t` (a INT) /*M!100000 SELECT 1 */":               true,
		"CREATE TABLE `t` (a INT) -- '\nSELECT 1 -- '":                  true,
		"CREATE TABLE `t` (a INT) #'\nSELECT 1 #'":                      true,
		"CREATE TABLE `t` (a INT) /* ' */ SELECT 1 /* ' */":             true,
		"CREATE TABLE `t` (a INT) /* select */":                         false,
		"CREATE TABLE `t` (a INT) /*!50100SELECT 1*/":                   true,
		"CREATE TABLE `t` (a INT) /*M!100000SELECT 1*/":                 true,
		"CREATE TABLE `t` (a INT) --'x' SELECT 1":                       true,
		"CREATE TABLE `t` (a INT) --'x'\nSELECT 1":                      true,
		"CREATE TABLE `t` (a INT) -- select":                            false,
		"CREATE TABLE `t` (a INT COMMENT '-- x', b INT)":                false,
		"CREATE TABLE `t` (a TEXT) VALUES (LOAD_FILE('/etc/hostname'))": true,
		"CREATE TABLE `t` (a TEXT) IGNORE (values (1))":                 true,
		"CREATE TABLE `t` (a TEXT) TABLE mysql.user":                    true,
		"CREATE TABLE `t` (`table` INT, `values` INT, tables INT)":      false,
		"CREATE TABLE `t` (a INT) PARTITION BY LIST (`a`)\n(PARTITION `p0` VALUES IN (1) ENGINE = InnoDB,\n PARTITION `p1` VALUES  in (2))":     false,
		"CREATE TABLE `t` (a INT) PARTITION BY RANGE (`a`)\n(PARTITION `p0` VALUES LESS THAN (10),\n PARTITION `p1` VALUES LESS THAN MAXVALUE)": false,
	} {
		// What checkTableStmt passes: the statement after "CREATE TABLE `t` (".
		rest, ok := strings.CutPrefix(s, "CREATE TABLE `t` (")
		if !ok {
			t.Fatalf("case %q", s)
		}
		if got := hasQuery([]byte(rest)); got != want {
			t.Errorf("hasQuery(%q) = %v, want %v", rest, got, want)
		}
	}
}

// indexContainer is a container of one table d.t with one chunk and a
// view, with plan.json and index.json as given; seedIndexes are the ones
// that describe it.
func indexContainer(plan, index []byte) []byte {
	var buf bytes.Buffer
	w := xbstream.NewWriter(&buf)
	put := func(name string, b []byte) { w.WriteFile(name, bytes.NewReader(b)) }
	put("d.schema.sql", []byte("CREATE DATABASE `d`"))
	put("d/t.schema.sql", []byte("CREATE TABLE `t` (`a` INT)"))
	put(PlanFile, plan)
	put("d/t.000001.sql", seedChunk)
	put("d/v.view.sql", seedView)
	put(IndexFile, index)
	return buf.Bytes()
}

var seedChunk, seedView = []byte("INSERT INTO `d`.`t` (`a`) VALUES (1);\n"), []byte("CREATE VIEW v AS SELECT 1")

func seedIndexes() (plan, index []byte) {
	ix := &Index{Format: Format, DumpID: "x-d", Databases: []Database{{Name: "d", File: "d.schema.sql"}},
		Tables: []*Table{{Schema: "d", Name: "t", Kind: "table", File: "d/t.schema.sql", DataPrefix: "d/t"}}}
	plan, _ = jsonMarshal(ix)
	ix.Tables[0].Chunks = []Chunk{{File: "d/t.000001.sql", Rows: 1, SHA256: sha256hex(seedChunk)}}
	ix.Objects = []Object{{Kind: KindView, Schema: "d", Name: "v", File: "d/v.view.sql", SHA256: sha256hex(seedView)}}
	index, _ = jsonMarshal(ix)
	return plan, index
}

// TestSeedIndexesVerify: the fuzzer below starts from a container that
// gets past every check.
func TestSeedIndexesVerify(t *testing.T) {
	if _, err := Verify(t.Context(), bytes.NewReader(indexContainer(seedIndexes()))); err != nil {
		t.Fatal(err)
	}
}

// FuzzVerifyIndexes: whatever plan.json and index.json a container holds,
// Verify (and the checks Load shares with it) return an error or a
// result, never panic.
func FuzzVerifyIndexes(f *testing.F) {
	plan, index := seedIndexes()
	f.Add(plan, index)
	f.Add([]byte(`{"format":1,"tables":[null]}`), index)
	f.Add(plan, []byte(`{"format":1,"dump_id":"x-d","tables":[null],"objects":[{}]}`))
	f.Fuzz(func(t *testing.T, plan, index []byte) {
		Verify(t.Context(), bytes.NewReader(indexContainer(plan, index)))
	})
}
