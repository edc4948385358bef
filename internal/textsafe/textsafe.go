// Package textsafe makes text from outside safe to print on a terminal.
//
// Text from a manifest, a Trove header, a backup's stream or a server
// (labels, engine names, file paths, error details) is input from outside:
// a newline in it could start a forged line ("ok ..."), an escape sequence
// could erase or rewrite what the terminal shows. Every text printer passes
// such values through Value (a value) or Text (a sentence). JSON output is
// escaped by encoding/json, and log/slog's handlers quote values with
// control characters themselves.
package textsafe

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Value returns s unchanged when every character of it is printable
// (letters, marks, digits, punctuation, symbols and the ASCII space);
// otherwise s quoted as a Go string ("x\n\x1b[2K"), so that the reader
// sees that the value is odd and what it holds.
func Value(s string) string {
	if isPrintable(s) {
		return s
	}
	return strconv.Quote(s)
}

// Text returns s on one line: runs of white space (newlines and tabs
// included) become one space, and any other character that is not
// printable is written escaped (\x1b, \u202e).
func Text(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

func isPrintable(s string) bool {
	for i, r := range s {
		if !unicode.IsPrint(r) || (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) {
			return false
		}
	}
	return true
}
