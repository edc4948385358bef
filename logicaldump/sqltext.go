package logicaldump

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// quoteIdent quotes a MySQL identifier with backquotes.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// qualified is `db`.`name`.
func qualified(db, name string) string { return quoteIdent(db) + "." + quoteIdent(name) }

// valueClass says how a column's values are written.
type valueClass int

const (
	classString  valueClass = iota // quoted, escaped: text, dates, ENUM/SET, JSON, unknown types
	classNumeric                   // as the server prints it: integers, DECIMAL, DOUBLE, YEAR
	classFloat                     // FLOAT, read as CAST(... AS DOUBLE), which prints every digit
	classBinary                    // hex: BINARY, VARBINARY, BLOBs, BIT, spatial types
)

// classOf maps information_schema.COLUMNS.DATA_TYPE to its value class.
func classOf(dataType string) valueClass {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "double", "real", "year":
		return classNumeric
	case "float":
		return classFloat
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection", "vector":
		return classBinary
	}
	return classString
}

// appendString appends s as a single-quoted SQL string with the escapes of
// the default sql_mode (not NO_BACKSLASH_ESCAPES): NUL, newline, carriage
// return, backslash, quote and Ctrl-Z, so that a statement is one line.
func appendString(b []byte, s []byte) []byte {
	b = append(b, '\'')
	for len(s) > 0 {
		i := 0
		for i < len(s) && escapeOf[s[i]] == 0 {
			i++
		}
		b = append(b, s[:i]...)
		if i == len(s) {
			break
		}
		b = append(b, '\\', escapeOf[s[i]])
		s = s[i+1:]
	}
	return append(b, '\'')
}

// escapeOf is the letter after the backslash of a byte that appendString
// escapes, 0 for the others.
var escapeOf = [256]byte{0: '0', '\n': 'n', '\r': 'r', '\\': '\\', '\'': '\'', 0x1a: 'Z'}

// appendHex appends v as X'..'.
func appendHex(b []byte, v []byte) []byte {
	b = append(b, 'X', '\'')
	n := len(b)
	b = append(b, make([]byte, hex.EncodedLen(len(v)))...)
	hex.Encode(b[n:], v)
	return append(b, '\'')
}

// appendValue appends the SQL literal of one value of class c (nil is
// NULL). A binary value longer than hexLimit is written as an escaped
// _binary string instead of hex, which is about half as long: a row near
// max_allowed_packet still fits in one statement.
func appendValue(b []byte, c valueClass, v []byte, hexLimit int) []byte {
	if v == nil {
		return append(b, "NULL"...)
	}
	switch c {
	case classNumeric, classFloat:
		if len(v) == 0 {
			return append(b, "''"...)
		}
		return append(b, v...)
	case classBinary:
		if len(v) > hexLimit {
			b = append(b, "_binary"...)
			return appendString(b, v)
		}
		return appendHex(b, v)
	}
	return appendString(b, v)
}

// splitStatements calls fn with each statement of a chunk file: text up to
// a ';' followed by a newline, outside quotes ('...' with backslash
// escapes, `...`, "..."). The statement passed excludes the ';' and the
// newline. A trailing statement without ";\n" is an error (a cut file).
func splitStatements(data []byte, fn func(stmt []byte) error) error {
	start := 0
	var quote byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		if quote != 0 {
			switch {
			case c == '\\' && quote == '\'':
				i++
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '`', '"':
			quote = c
		case ';':
			if i+1 < len(data) && data[i+1] == '\n' {
				if err := fn(data[start:i]); err != nil {
					return err
				}
				i++
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(string(data[start:])) != "" {
		return errCutChunk
	}
	return nil
}

// sha256hex is the hex SHA-256 of b.
func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
