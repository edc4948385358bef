package logicaldump

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A chunk is written as INSERT statements (portable: any client loads
// them, and mbstream -x shows plain SQL), but the server parses a tab-
// separated file for LOAD DATA about twice as fast (measured: 250k
// sysbench rows, 11.2 s of INSERTs, 5.5 s of LOAD DATA). So Load turns a
// chunk back into rows here and, where the server allows LOCAL INFILE,
// streams them as such; binary values travel as hex and are UNHEXed by
// the server. The INSERTs are parsed strictly: anything but the values
// Dump writes is an error.

// tsvChunk is a chunk as LOAD DATA takes it.
type tsvChunk struct {
	columns   []string // the INSERT's column names
	binary    []bool   // columns sent as hex (UNHEX in SET)
	data      []byte
	rows      int64
	longest   int // the longest INSERT statement parsed
	longestAt int // its number in the chunk (from 1)
}

// loadDataSQL is the LOAD DATA statement of c into table, reading the
// registered reader name.
func (c *tsvChunk) loadDataSQL(table, name string) string {
	var cols, sets []string
	for i, col := range c.columns {
		if c.binary[i] {
			v := fmt.Sprintf("@c%d", i)
			cols = append(cols, v)
			sets = append(sets, quoteIdent(col)+" = UNHEX("+v+")")
		} else {
			cols = append(cols, quoteIdent(col))
		}
	}
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE " + table +
		" CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + strings.Join(cols, ", ") + ")"
	if len(sets) > 0 {
		q += " SET " + strings.Join(sets, ", ")
	}
	return q
}

// literalKind is the form of one value in a chunk's INSERT.
type literalKind int

const (
	litNull literalKind = iota
	litNumber
	litString
	litHex
	litBinaryString
)

// sqlValue is one value of a chunk's INSERT: its form and its body
// (digits, the quoted bytes still escaped, the hex digits).
type sqlValue struct {
	kind literalKind
	raw  []byte
}

// toTSV parses the INSERT statements of a chunk into table (prefix is
// "INSERT INTO `db`.`t` (") and returns them as LOAD DATA rows.
func toTSV(data []byte, prefix []byte) (*tsvChunk, error) {
	c := &tsvChunk{}
	var rows [][]sqlValue
	n := 0
	err := splitStatements(data, func(stmt []byte) error {
		n++
		if len(stmt) > c.longest {
			c.longest, c.longestAt = len(stmt), n
		}
		cols, r, err := parseInsert(stmt, prefix)
		if err != nil {
			return fmt.Errorf("statement %d: %w", n, err)
		}
		if c.columns == nil {
			c.columns = cols
		} else if strings.Join(cols, "\x00") != strings.Join(c.columns, "\x00") {
			return fmt.Errorf("statement %d names other columns than the first", n)
		}
		for _, row := range r {
			if len(row) != len(c.columns) {
				return fmt.Errorf("statement %d: a row of %d values for %d columns", n, len(row), len(c.columns))
			}
		}
		rows = append(rows, r...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.binary = make([]bool, len(c.columns))
	for _, row := range rows {
		for i, v := range row {
			if v.kind == litHex || v.kind == litBinaryString {
				c.binary[i] = true
			}
		}
	}
	for _, row := range rows {
		for i, v := range row {
			if c.binary[i] && (v.kind == litString || v.kind == litNumber) {
				return nil, fmt.Errorf("column %s mixes binary and text values", quoteIdent(c.columns[i]))
			}
		}
	}
	c.data, c.rows = writeTSV(rows), int64(len(rows))
	return c, nil
}

// parseInsert parses one INSERT statement of a chunk: its columns and rows.
func parseInsert(stmt, prefix []byte) ([]string, [][]sqlValue, error) {
	rest, ok := bytes.CutPrefix(stmt, prefix)
	if !ok {
		return nil, nil, errors.New("not an INSERT into the chunk's table")
	}
	end := bytes.Index(rest, []byte(") VALUES "))
	if end < 0 {
		return nil, nil, errors.New("no VALUES")
	}
	cols, err := parseIdentList(rest[:end])
	if err != nil {
		return nil, nil, err
	}
	var rows [][]sqlValue
	p := rest[end+len(") VALUES "):]
	for len(p) > 0 {
		if p[0] != '(' {
			return nil, nil, errors.New("a row does not start with '('")
		}
		p = p[1:]
		var row []sqlValue
		for {
			var v sqlValue
			if v, p, err = scanValue(p); err != nil {
				return nil, nil, err
			}
			row = append(row, v)
			if len(p) == 0 {
				return nil, nil, errors.New("a row is cut")
			}
			if p[0] == ')' {
				p = p[1:]
				break
			}
			if p[0] != ',' {
				return nil, nil, fmt.Errorf("unexpected %.20q after a value", p)
			}
			p = p[1:]
		}
		rows = append(rows, row)
		if len(p) > 0 {
			if p[0] != ',' {
				return nil, nil, fmt.Errorf("unexpected %.20q after a row", p)
			}
			p = p[1:]
		}
	}
	return cols, rows, nil
}

// scanValue reads the value p starts with: NULL, a number, '...', X'...'
// or _binary'...', the forms appendValue writes.
func scanValue(p []byte) (sqlValue, []byte, error) {
	switch {
	case bytes.HasPrefix(p, []byte("NULL")):
		return sqlValue{kind: litNull}, p[4:], nil
	case len(p) > 0 && p[0] == '\'':
		body, rest, err := scanQuoted(p)
		return sqlValue{kind: litString, raw: body}, rest, err
	case bytes.HasPrefix(p, []byte("X'")):
		i := bytes.IndexByte(p[2:], '\'')
		if i < 0 {
			return sqlValue{}, nil, errors.New("unterminated hex literal")
		}
		return sqlValue{kind: litHex, raw: p[2 : 2+i]}, p[3+i:], nil
	case bytes.HasPrefix(p, []byte("_binary'")):
		body, rest, err := scanQuoted(p[7:])
		return sqlValue{kind: litBinaryString, raw: body}, rest, err
	}
	i := 0
	for i < len(p) && (p[i] >= '0' && p[i] <= '9' || p[i] == '-' || p[i] == '+' || p[i] == '.' || p[i] == 'e' || p[i] == 'E') {
		i++
	}
	if i == 0 {
		return sqlValue{}, nil, fmt.Errorf("unexpected %.20q", p)
	}
	return sqlValue{kind: litNumber, raw: p[:i]}, p[i:], nil
}

// writeTSV writes rows as LOAD DATA reads them: tab-separated, \N for
// NULL, strings unescaped from SQL and escaped for LOAD DATA, binary
// values as hex.
func writeTSV(rows [][]sqlValue) []byte {
	size := 0
	for _, row := range rows {
		for _, v := range row {
			size += len(v.raw) + 1
		}
	}
	out := make([]byte, 0, size+size/16)
	var tmp []byte
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				out = append(out, '\t')
			}
			switch v.kind {
			case litNull:
				out = append(out, '\\', 'N')
			case litNumber, litHex:
				out = append(out, v.raw...)
			case litString:
				tmp = unescapeSQL(tmp[:0], v.raw)
				out = appendTSV(out, tmp)
			case litBinaryString:
				tmp = unescapeSQL(tmp[:0], v.raw)
				out = hex.AppendEncode(out, tmp)
			}
		}
		out = append(out, '\n')
	}
	return out
}

// parseIdentList parses the INSERT's column list: backquoted names, comma-separated, a backquote inside one doubled.
func parseIdentList(p []byte) ([]string, error) {
	var out []string
	for len(p) > 0 {
		if p[0] != '`' {
			return nil, fmt.Errorf("bad column list near %.20q", p)
		}
		var b []byte
		i := 1
		for ; i < len(p); i++ {
			if p[i] == '`' {
				if i+1 < len(p) && p[i+1] == '`' {
					b = append(b, '`')
					i++
					continue
				}
				break
			}
			b = append(b, p[i])
		}
		if i >= len(p) {
			return nil, fmt.Errorf("unterminated column name")
		}
		out = append(out, string(b))
		p = p[i+1:]
		if len(p) > 0 {
			if p[0] != ',' {
				return nil, fmt.Errorf("bad column list near %.20q", p)
			}
			p = p[1:]
		}
	}
	return out, nil
}

// scanQuoted returns the body of the '...' literal p starts with (escapes
// kept) and what follows it.
func scanQuoted(p []byte) (body, rest []byte, err error) {
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '\'':
			return p[1:i], p[i+1:], nil
		}
	}
	return nil, nil, fmt.Errorf("unterminated string")
}

// unescapeSQL appends the bytes a string literal's body stands for (the
// escapes appendString writes; any other "\x" is x, as the server reads it).
func unescapeSQL(dst, body []byte) []byte {
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			dst = append(dst, c)
			continue
		}
		i++
		switch body[i] {
		case '0':
			dst = append(dst, 0)
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 'Z':
			dst = append(dst, 0x1a)
		default:
			dst = append(dst, body[i])
		}
	}
	return dst
}

// appendTSV appends v escaped for LOAD DATA's default ESCAPED BY '\\':
// backslash, tab, newline, carriage return and NUL.
func appendTSV(dst, v []byte) []byte {
	for len(v) > 0 {
		i := 0
		for i < len(v) && tsvEscape[v[i]] == 0 {
			i++
		}
		dst = append(dst, v[:i]...)
		if i == len(v) {
			break
		}
		dst = append(dst, '\\', tsvEscape[v[i]])
		v = v[i+1:]
	}
	return dst
}

var tsvEscape = [256]byte{0: '0', '\t': 't', '\n': 'n', '\r': 'r', '\\': '\\'}
