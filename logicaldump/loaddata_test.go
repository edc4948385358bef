package logicaldump

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// readTSV splits LOAD DATA rows back into values as the server reads them
// with ESCAPED BY '\\' (nil for \N).
func readTSV(t testing.TB, data []byte) [][][]byte {
	t.Helper()
	var rows [][][]byte
	var row [][]byte
	var cur []byte
	null := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\\':
			i++
			switch data[i] {
			case 'N':
				null = true
			case '0':
				cur = append(cur, 0)
			case 't':
				cur = append(cur, '\t')
			case 'n':
				cur = append(cur, '\n')
			case 'r':
				cur = append(cur, '\r')
			default:
				cur = append(cur, data[i])
			}
		case '\t', '\n':
			if null {
				row = append(row, nil)
			} else {
				row = append(row, append([]byte{}, cur...))
			}
			cur, null = cur[:0], false
			if c == '\n' {
				rows = append(rows, row)
				row = nil
			}
		default:
			cur = append(cur, c)
		}
	}
	return rows
}

// FuzzTSVRoundTrip: rows written as a chunk by Dump's writer and turned
// into LOAD DATA rows by Load give back the values (binary ones as hex).
func FuzzTSVRoundTrip(f *testing.F) {
	f.Add([]byte("a'b\\c\n\t\r;\x00\x1a\\N"), []byte{0, 1, '\t', 255}, int64(-5), true)
	f.Add([]byte(""), []byte(nil), int64(0), false)
	f.Add([]byte("x"), bytes.Repeat([]byte{'\''}, 40), int64(1), true)
	f.Fuzz(func(t *testing.T, text, bin []byte, num int64, textNull bool) {
		ti := &tableInfo{t: &Table{Schema: "d", Name: "t"},
			insert: []column{{name: "s`x", dataType: "text"}, {name: "b", dataType: "blob"}, {name: "n", dataType: "bigint"}}}
		ti.prepare()
		d := &dumper{o: Options{ChunkBytes: 1 << 20}, stmtMax: 80, hexLimit: 8, ix: &Index{}}
		cw := &chunkWriter{d: d, ti: ti, stmt: -1}
		tv := text
		if textNull {
			tv = nil
		}
		for i := 0; i < 3; i++ {
			row := append([]byte("("), appendValue(nil, classString, tv, d.hexLimit)...)
			row = append(row, ',')
			row = append(appendValue(row, classBinary, bin, d.hexLimit), ',')
			row = append(appendValue(row, classNumeric, []byte(itoa(num)), d.hexLimit), ')')
			if err := cw.addRow(row); err != nil {
				t.Fatal(err)
			}
		}
		cw.closeStmt()
		c, err := toTSV(cw.buf, []byte("INSERT INTO `d`.`t` ("))
		if err != nil {
			t.Fatalf("toTSV(%q): %v", cw.buf, err)
		}
		if strings.Join(c.columns, "|") != "s`x|b|n" || c.rows != 3 || c.binary[0] || c.binary[2] || (bin != nil && !c.binary[1]) {
			t.Fatalf("columns %q binary %v rows %d", c.columns, c.binary, c.rows)
		}
		rows := readTSV(t, c.data)
		if len(rows) != 3 {
			t.Fatalf("%d rows back", len(rows))
		}
		for _, r := range rows {
			if len(r) != 3 {
				t.Fatalf("row of %d values: %q", len(r), r)
			}
			if (tv == nil) != (r[0] == nil) || !bytes.Equal(r[0], tv) {
				t.Fatalf("text %q, want %q", r[0], tv)
			}
			if bin == nil {
				if r[1] != nil {
					t.Fatalf("binary %q, want NULL", r[1])
				}
			} else if got, err := hex.DecodeString(string(r[1])); err != nil || !bytes.Equal(got, bin) {
				t.Fatalf("binary %q (%v), want %x", r[1], err, bin)
			}
			if string(r[2]) != itoa(num) {
				t.Fatalf("number %q, want %d", r[2], num)
			}
		}
		q := c.loadDataSQL("`d`.`t`", "x")
		if !strings.Contains(q, "(`s``x`, @c1, `n`) SET `b` = UNHEX(@c1)") && bin != nil {
			t.Fatalf("LOAD DATA statement %s", q)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestToTSVRefuses(t *testing.T) {
	prefix := []byte("INSERT INTO `d`.`t` (")
	for _, bad := range []string{
		"DELETE FROM `d`.`t`;\n",
		"INSERT INTO `d`.`t` (`a`) VALUES (1),(SELECT 1);\n",
		"INSERT INTO `d`.`t` (`a`) VALUES (1,2);\n",
		"INSERT INTO `d`.`t` (`a`) VALUES ('open);\n",
		"INSERT INTO `d`.`t` (`a`) VALUES (1);\nINSERT INTO `d`.`t` (`b`) VALUES (1);\n",
		"INSERT INTO `d`.`t` (`a`) VALUES (X'00'),('text');\n",
	} {
		if _, err := toTSV([]byte(bad), prefix); err == nil {
			t.Errorf("toTSV accepted %q", bad)
		}
	}
}
