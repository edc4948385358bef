package logicaldump

import (
	"bytes"
	"strings"
	"testing"
)

// unescape reads back one single-quoted literal written by appendString
// (the server's escapes), returning the value and the rest.
func unescape(t testing.TB, s []byte) ([]byte, []byte) {
	t.Helper()
	if len(s) == 0 || s[0] != '\'' {
		t.Fatalf("not a quoted literal: %q", s)
	}
	var out []byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			out = append(out, map[byte]byte{'0': 0, 'n': '\n', 'r': '\r', 'Z': 0x1a, '\\': '\\', '\'': '\''}[s[i]])
		case '\'':
			return out, s[i+1:]
		default:
			out = append(out, c)
		}
	}
	t.Fatalf("unterminated literal %q", s)
	return nil, nil
}

func TestAppendStringEveryByte(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	lit := appendString(nil, all)
	if bytes.ContainsAny(lit, "\n\r") {
		t.Errorf("a literal holds a raw newline: statements would not be one line")
	}
	got, rest := unescape(t, lit)
	if !bytes.Equal(got, all) || len(rest) != 0 {
		t.Errorf("round trip of 256 bytes: %x, rest %q", got, rest)
	}
}

func TestAppendValue(t *testing.T) {
	for _, c := range []struct {
		class valueClass
		in    []byte
		want  string
	}{
		{classString, nil, "NULL"},
		{classString, []byte{}, "''"},
		{classString, []byte("it's"), `'it\'s'`},
		{classNumeric, []byte("-12.50"), "-12.50"},
		{classFloat, []byte("1.2345677614212036"), "1.2345677614212036"},
		{classBinary, []byte{}, "X''"},
		{classBinary, []byte{0, 0xff, '\''}, "X'00ff27'"},
		{classBinary, []byte("abcdef"), `_binary'abcdef'`}, // over hexLimit (4)
		{classBinary, nil, "NULL"},
	} {
		if got := string(appendValue(nil, c.class, c.in, 4)); got != c.want {
			t.Errorf("appendValue(%d, %q) = %s, want %s", c.class, c.in, got, c.want)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"A;\nB;\n", []string{"A", "B"}, false},
		{"INSERT INTO `a;\n` VALUES ('x;\n\\';\ny');\n", []string{"INSERT INTO `a;\n` VALUES ('x;\n\\';\ny')"}, false},
		{`SELECT "q;` + "\n" + `";` + "\n", []string{`SELECT "q;` + "\n" + `"`}, false},
		{"A;\nB", []string{"A"}, true},
		{"A;\n'open;\n", []string{"A"}, true},
		{"A;x;\n", []string{"A;x"}, false},
	} {
		var got []string
		err := splitStatements([]byte(c.in), func(s []byte) error { got = append(got, string(s)); return nil })
		if (err != nil) != c.err || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("splitStatements(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

// FuzzChunkRoundTrip: rows of arbitrary values written as a chunk split
// back into the statements written, and their literals read back as the
// values.
func FuzzChunkRoundTrip(f *testing.F) {
	f.Add([]byte("a'b\\c\n;\x00\x1a"), []byte{0, 1, 2, 255}, "t`x")
	f.Add([]byte(""), []byte(nil), "")
	f.Fuzz(func(t *testing.T, text, bin []byte, table string) {
		ti := &tableInfo{t: &Table{Schema: "d;\n", Name: table}, insert: []column{{name: "s", dataType: "text"}, {name: "b", dataType: "blob"}}}
		ti.prepare()
		d := &dumper{o: Options{ChunkBytes: 1 << 20}, stmtMax: 64, hexLimit: 8, ix: &Index{}}
		cw := &chunkWriter{d: d, ti: ti, stmt: -1}
		var rows [][]byte
		for i := 0; i < 3; i++ {
			row := append([]byte("("), appendValue(nil, classString, text, d.hexLimit)...)
			row = append(row, ',')
			row = append(appendValue(row, classBinary, bin, d.hexLimit), ')')
			rows = append(rows, row)
			if err := cw.addRow(row); err != nil {
				t.Fatal(err)
			}
		}
		cw.closeStmt()
		var n int
		err := splitStatements(cw.buf, func(s []byte) error {
			rest, ok := bytes.CutPrefix(s, ti.insertPre)
			if !ok {
				t.Fatalf("statement %q does not start with %q", s, ti.insertPre)
			}
			for len(rest) > 0 {
				if rest[0] == ',' {
					rest = rest[1:]
				}
				if !bytes.HasPrefix(rest, rows[n]) {
					t.Fatalf("row %d: %q, want %q", n, rest, rows[n])
				}
				v, _ := unescape(t, rows[n][1:])
				if !bytes.Equal(v, text) {
					t.Fatalf("row %d: text %q, want %q", n, v, text)
				}
				rest = rest[len(rows[n]):]
				n++
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Fatalf("split: %v, %d rows of 3", err, n)
		}
	})
}

func TestFilter(t *testing.T) {
	f := Filter{Include: []string{"shop.item*", "crm"}, Exclude: []string{"shop.items_old", "crm.tmp?"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		db, name string
		want     bool
	}{
		{"shop", "items", true}, {"shop", "items_old", false}, {"shop", "orders", false},
		{"crm", "leads", true}, {"crm", "tmp1", false}, {"crm", "tmp12", true}, {"other", "x", false},
		{"shop", "item.with.dots", true},
	} {
		if got := f.Match(c.db, c.name); got != c.want {
			t.Errorf("Match(%s, %s) = %v, want %v", c.db, c.name, got, c.want)
		}
	}
	if !f.MatchSchema("shop") || f.MatchSchema("other") {
		t.Error("MatchSchema")
	}
	if (Filter{Exclude: []string{"shop"}}).MatchSchema("shop") {
		t.Error("an excluded schema matched")
	}
	for _, bad := range []string{".x", "[", "db.["} {
		if (Filter{Include: []string{bad}}).Validate() == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestPathNames(t *testing.T) {
	for in, want := range map[string]string{"items": "items", "a/b": "a@2fb", "..": "@2e@2e", "": "@", "é": "@c3@a9", "x.000001": "x@2e000001"} {
		if got := pathName(in); got != want {
			t.Errorf("pathName(%q) = %q, want %q", in, got, want)
		}
	}
	n := namer{}
	if a, b := n.uniq("d/t"), n.uniq("d/t"); a == b {
		t.Errorf("uniq gave %q twice", a)
	}
	for in, want := range map[string]string{"d/t.000001.sql": "d/t", "d/t.000001-2.sql": "d/t", "d/v.view.sql": "", "users.sql": "", "d/t.schema.sql": ""} {
		if got := chunkPrefix(in); got != want {
			t.Errorf("chunkPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRowConditions(t *testing.T) {
	one := []column{{name: "id", dataType: "int"}}
	two := []column{{name: "a", dataType: "int"}, {name: "b", dataType: "varbinary"}}
	for _, c := range []struct{ got, want string }{
		{gtCond(one, [][]byte{[]byte("5")}), "`id` > 5"},
		{leCond(one, [][]byte{[]byte("5")}), "`id` <= 5"},
		{gtCond(two, [][]byte{[]byte("1"), {0xff}}), "((`a` > 1) OR (`a` = 1 AND `b` > X'ff'))"},
		{leCond(two, [][]byte{[]byte("1"), {0xff}}), "((`a` < 1) OR (`a` = 1 AND `b` < X'ff') OR (`a` = 1 AND `b` = X'ff'))"},
		{between("", "x"), "x"}, {between("x", ""), "x"}, {between("x", "y"), "x AND y"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestDeferredKeys(t *testing.T) {
	create := "CREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  `v` varchar(20) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n" +
		"  UNIQUE KEY `u` (`v`),\n  KEY `by``v` (`v`),\n  FULLTEXT KEY `ft` (`v`)\n) ENGINE=InnoDB\n PARTITION BY HASH (`id`)\nPARTITIONS 2"
	keys := deferrableKeys(create)
	if strings.Join(keys, "|") != "KEY `by``v` (`v`)|FULLTEXT KEY `ft` (`v`)" {
		t.Fatalf("deferrableKeys = %q", keys)
	}
	want := "CREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  `v` varchar(20) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n" +
		"  UNIQUE KEY `u` (`v`)\n) ENGINE=InnoDB\n PARTITION BY HASH (`id`)\nPARTITIONS 2"
	if got := withoutKeys(create, keys); got != want {
		t.Errorf("withoutKeys:\n%s\nwant\n%s", got, want)
	}
	if keyName(keys[0]) != "by`v" {
		t.Errorf("keyName(%q) = %q", keys[0], keyName(keys[0]))
	}
}

func TestObjectStatementGuards(t *testing.T) {
	for stmt, ok := range map[string]bool{"CREATE USER IF NOT EXISTS 'a'@'%'": true, "GRANT SELECT ON *.* TO 'a'@'%'": true,
		"SET DEFAULT ROLE 'r' FOR 'a'@'%'": true, "CREATE ROLE IF NOT EXISTS 'r'": true, "DROP DATABASE x": false, "SELECT 1 INTO OUTFILE '/x'": false} {
		if userStatement([]byte(stmt)) != ok {
			t.Errorf("userStatement(%q) = %v", stmt, !ok)
		}
	}
}
