package logicaldump

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// errFormat: the stream is not laid out as Dump writes it.
var errFormat = errors.New("not a mybak logical backup")

// errCutChunk: a chunk file does not end with a complete statement.
var errCutChunk = errors.New("the chunk file ends inside a statement (cut short)")

// ExcludedSchemas are never dumped: the server's own schemas and the
// progress schema of Load.
var ExcludedSchemas = map[string]bool{"mysql": true, "information_schema": true,
	"performance_schema": true, "sys": true, ProgressSchema: true}

// Filter selects tables (and views, routines, events) by "db.name"
// patterns. A pattern is "db" (every object of the schema) or "db.name";
// '*' and '?' are wildcards as in path.Match, and a '.' inside a name is
// matched literally by the rest of the pattern after the first dot. An
// empty Include means everything; Exclude wins over Include.
type Filter struct {
	Include []string
	Exclude []string
}

// Validate checks the patterns' syntax.
func (f Filter) Validate() error {
	for _, p := range append(append([]string{}, f.Include...), f.Exclude...) {
		db, name, _ := strings.Cut(p, ".")
		if db == "" {
			return fmt.Errorf("pattern %q: give db or db.table (wildcards * and ? allowed)", p)
		}
		if _, err := path.Match(db, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
		if _, err := path.Match(name, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return nil
}

func matchOne(p, db, name string) bool {
	pdb, pname, hasName := strings.Cut(p, ".")
	if ok, _ := path.Match(pdb, db); !ok {
		return false
	}
	if !hasName {
		return true
	}
	ok, _ := path.Match(pname, name)
	return ok
}

// Match reports whether object name of schema db is selected.
func (f Filter) Match(db, name string) bool {
	for _, p := range f.Exclude {
		if matchOne(p, db, name) {
			return false
		}
	}
	if len(f.Include) == 0 {
		return true
	}
	for _, p := range f.Include {
		if matchOne(p, db, name) {
			return true
		}
	}
	return false
}

// MatchSchema reports whether any object of schema db can be selected
// (for CREATE DATABASE): the schema is not excluded as a whole and some
// include pattern names it.
func (f Filter) MatchSchema(db string) bool {
	for _, p := range f.Exclude {
		if !strings.Contains(p, ".") && matchOne(p, db, "") {
			return false
		}
	}
	if len(f.Include) == 0 {
		return true
	}
	for _, p := range f.Include {
		pdb, _, _ := strings.Cut(p, ".")
		if ok, _ := path.Match(pdb, db); ok {
			return true
		}
	}
	return false
}

// pathName encodes a schema or object name as one safe file-name
// component: ASCII letters, digits and '_' stay, every other byte is
// "@xx" (hex), like MySQL's own encoding of table file names; names longer
// than 200 bytes once encoded are cut and given a numeric suffix by the
// caller (uniq).
func pathName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "@%02x", c)
	}
	out := b.String()
	if out == "" {
		out = "@"
	}
	if len(out) > 200 {
		out = out[:200]
	}
	return out
}

// namer hands out unique paths: two names that encode to the same
// (cut) component get distinct suffixes.
type namer map[string]bool

func (n namer) uniq(p string) string {
	q := p
	for i := 2; n[q]; i++ {
		q = fmt.Sprintf("%s~%d", p, i)
	}
	n[q] = true
	return q
}
