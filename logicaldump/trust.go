package logicaldump

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// A backup is input: Load runs its statements on the target with the
// restore's (usually all) privileges, so each is checked first to be
// the statement Dump writes for what the plan or the index says it is:
//
//   - no schema of the server's own (mysql, sys, ...) or mybak_progress;
//   - a schema file is CREATE DATABASE of its schema, a table's file
//     CREATE TABLE (or SEQUENCE) of its table, without a query (CREATE
//     TABLE ... SELECT, ... VALUES (LOAD_FILE(...)) would copy the
//     server's data or files);
//   - a chunk holds INSERTs of literal values into its own table
//     (parseInsert), not expressions such as LOAD_FILE() or SLEEP();
//   - an object's session values (sql_mode, time_zone, collation) are
//     words, not quotes that a sql_mode could turn into SQL;
//   - an object's file is CREATE of its kind and name: a function is a
//     stored one (a parameter list after the name), not a UDF loaded
//     from a shared library (SONAME); users.sql holds only CREATE USER,
//     CREATE ROLE, GRANT and SET DEFAULT ROLE.
//
// The bodies of views, routines, triggers and events are SQL by nature
// and run as their DEFINER: restore only backups whose origin the
// encryption's MAC vouches for.

// checkSchemaName refuses a schema of the server's own.
func checkSchemaName(schema, what string) error {
	if schema == "" || ExcludedSchemas[strings.ToLower(schema)] {
		return fmt.Errorf("%w: %s is in schema %q, which mybak never dumps: refusing it", errFormat, what, schema)
	}
	return nil
}

// checkPlan checks the names of a plan.json or index.json.
func checkPlan(ix *Index) error {
	for _, d := range ix.Databases {
		if err := checkSchemaName(d.Name, "a database"); err != nil {
			return err
		}
	}
	for _, t := range ix.Tables {
		if err := checkSchemaName(t.Schema, "table "+quoteIdent(t.Name)); err != nil {
			return err
		}
		if t.Name == "" {
			return fmt.Errorf("%w: a table of schema %s has no name", errFormat, quoteIdent(t.Schema))
		}
	}
	for _, o := range ix.Objects {
		// The session values Load sets before creating the object.
		for _, v := range [][2]string{{"sql_mode", o.SQLMode}, {"time_zone", o.TimeZone},
			{"collation", o.Collation}, {"charset", o.CharsetClient}} {
			if strings.Trim(v[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_,+-:/.") != "" {
				return fmt.Errorf("%w: %s %s has %s %.60q, which is not a setting's value: refusing it", errFormat, o.Kind, quoteIdent(o.Name), v[0], v[1])
			}
		}
		if o.Kind == KindUsers {
			continue
		}
		if err := checkSchemaName(o.Schema, o.Kind+" "+quoteIdent(o.Name)); err != nil {
			return err
		}
	}
	return nil
}

// checkSchemaFiles checks plan's names and the statements of its schema
// files (name -> content; a missing one is an error later).
func checkSchemaFiles(plan *Index, schema map[string][]byte) error {
	if err := checkPlan(plan); err != nil {
		return err
	}
	for _, d := range plan.Databases {
		if stmt, ok := schema[d.File]; ok {
			if err := checkDatabaseStmt(d.Name, stmt); err != nil {
				return err
			}
		}
	}
	for _, t := range plan.Tables {
		if stmt, ok := schema[t.File]; ok {
			if err := checkTableStmt(t, stmt); err != nil {
				return err
			}
			// A deferred index is added by ALTER TABLE ... ADD <it>: it
			// must be a line of the table's CREATE TABLE.
			lines := map[string]bool{}
			for _, l := range strings.Split(string(stmt), "\n") {
				lines[strings.TrimSuffix(strings.TrimSpace(l), ",")] = true
			}
			for _, k := range t.Deferrable {
				if !lines[k] {
					return fmt.Errorf("%w: the deferred index %.100q of %s is not a line of its CREATE TABLE: refusing it", errFormat, k, qualified(t.Schema, t.Name))
				}
			}
		}
	}
	return nil
}

// checkIndex checks index.json's names, and that its tables are the
// plan's, with the same deferred indexes (those Load adds are the
// index's).
func checkIndex(plan, ix *Index) error {
	if err := checkPlan(ix); err != nil {
		return err
	}
	byName := map[[2]string]*Table{}
	for _, t := range plan.Tables {
		byName[[2]string{t.Schema, t.Name}] = t
	}
	for _, t := range ix.Tables {
		p := byName[[2]string{t.Schema, t.Name}]
		if p == nil {
			return fmt.Errorf("%w: index.json lists table %s, which plan.json does not", errFormat, qualified(t.Schema, t.Name))
		}
		if !slices.Equal(p.Deferrable, t.Deferrable) || p.File != t.File || p.DataPrefix != t.DataPrefix {
			return fmt.Errorf("%w: index.json describes table %s otherwise than plan.json: refusing it", errFormat, qualified(t.Schema, t.Name))
		}
	}
	return nil
}

// checkDatabaseStmt checks the CREATE DATABASE of schema db.
func checkDatabaseStmt(db string, stmt []byte) error {
	want := "CREATE DATABASE " + quoteIdent(db)
	if rest, ok := bytes.CutPrefix(stmt, []byte(want)); !ok || len(rest) > 0 && rest[0] != ' ' || hasQuery(rest) {
		return fmt.Errorf("%w: the schema file of %s is not %s: refusing to run %.100q", errFormat, quoteIdent(db), want, stmt)
	}
	return nil
}

// checkTableStmt checks the CREATE statement of table t.
func checkTableStmt(t *Table, stmt []byte) error {
	want := "CREATE TABLE " + quoteIdent(t.Name) + " ("
	if t.Kind == "sequence" {
		want = "CREATE SEQUENCE " + quoteIdent(t.Name) + " "
	}
	if !bytes.HasPrefix(stmt, []byte(want)) || hasQuery(stmt[len(want):]) {
		return fmt.Errorf("%w: %s is not %s...: refusing to run %.100q", errFormat, t.File, want, stmt)
	}
	return nil
}

// hasQuery reports whether stmt, the part of a CREATE statement after
// its name, holds a query: a word SELECT, TABLE (MySQL's TABLE t) or
// VALUES other than a partition's VALUES LESS THAN / VALUES IN (CREATE
// TABLE t (a TEXT) VALUES (LOAD_FILE(...)) reads a server file on
// MariaDB). Quoted strings, identifiers and comments are skipped as the
// server does (a quote inside a comment must not hide what follows it);
// the content of an executable comment (/*! ... */, /*M! ... */) is code.
func hasQuery(stmt []byte) bool {
	var quote byte
	wordStart := 0 // where a word may begin whatever precedes it
	for i := 0; i < len(stmt); i++ {
		c := stmt[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '#' || c == '-' && i+2 < len(stmt) && stmt[i+1] == '-' && (stmt[i+2] <= ' ' || stmt[i+2] == 0x7f):
			// To the end of the line ("--" needs a space or control
			// character after it to start a comment).
			end := bytes.IndexByte(stmt[i:], '\n')
			if end < 0 {
				return false
			}
			i += end
		case c == '/' && i+1 < len(stmt) && stmt[i+1] == '*':
			if rest := stmt[i+2:]; bytes.HasPrefix(rest, []byte("!")) || bytes.HasPrefix(rest, []byte("M!")) {
				// Executable: its content is code, from after the
				// version ("/*!50100SELECT" runs SELECT).
				i += 2 + bytes.IndexByte(rest, '!') + 1
				for i < len(stmt) && stmt[i] >= '0' && stmt[i] <= '9' {
					i++
				}
				wordStart = i
				i--
				continue
			}
			end := bytes.Index(stmt[i+2:], []byte("*/"))
			if end < 0 {
				return false // unterminated: the server refuses it
			}
			i += 2 + end + 1
		case identByte(c) && (i == wordStart || !identByte(stmt[i-1])):
			j := i
			for j < len(stmt) && identByte(stmt[j]) {
				j++
			}
			switch w := strings.ToUpper(string(stmt[i:j])); w {
			case "SELECT", "TABLE":
				return true
			case "VALUES":
				next := (&headLexer{s: stmt[j:]})
				if !next.word("LESS") && !next.word("IN") {
					return true
				}
			}
			i = j - 1
		}
	}
	return false
}

func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// objectKeyword is the word after CREATE (and its options) for a kind.
var objectKeyword = map[string]string{KindView: "VIEW", KindProcedure: "PROCEDURE", KindFunction: "FUNCTION",
	KindTrigger: "TRIGGER", KindEvent: "EVENT"}

// checkObjectStmt checks that body is the statement Dump writes for o.
func checkObjectStmt(o Object, body []byte) error {
	refuse := func(why string) error {
		return fmt.Errorf("%w: %s (%s %s) %s: refusing to run %.100q", errFormat, o.File, o.Kind, qualified(o.Schema, o.Name), why, body)
	}
	switch o.Kind {
	case KindUsers:
		return splitStatements(body, func(stmt []byte) error {
			if !userStatement(stmt) {
				return refuse(fmt.Sprintf("holds %.60q, which is not CREATE USER, CREATE ROLE, GRANT or SET DEFAULT ROLE", stmt))
			}
			return nil
		})
	case KindSequence:
		want := "SELECT SETVAL(" + qualified(o.Schema, o.Name) + ", "
		rest, ok := bytes.CutPrefix(body, []byte(want))
		num, ok2 := bytes.CutSuffix(rest, []byte(", 0)"))
		if !ok || !ok2 || len(num) == 0 || len(bytes.Trim(num, "-0123456789")) > 0 {
			return refuse("is not " + want + "N, 0)")
		}
		return nil
	}
	kw, ok := objectKeyword[o.Kind]
	if !ok {
		return refuse("is of a kind this mybak does not know")
	}
	p := &headLexer{s: body}
	if !p.word("CREATE") {
		return refuse("does not start with CREATE")
	}
	if p.word("OR") && !p.word("REPLACE") {
		return refuse("has OR without REPLACE")
	}
	// The options SHOW CREATE prints before the keyword.
	for done := false; !done; {
		switch {
		case p.option("ALGORITHM"):
			if p.ident() == "" {
				return refuse("has an ALGORITHM without a value")
			}
		case p.option("DEFINER"):
			if p.ident() == "" || p.byte('@') && p.ident() == "" {
				return refuse("has a DEFINER that is not user@host or a role")
			}
		case p.word("SQL"):
			if !p.word("SECURITY") || !p.word("DEFINER") && !p.word("INVOKER") {
				return refuse("has an SQL option other than SQL SECURITY")
			}
		case p.word("AGGREGATE"):
			if o.Kind != KindFunction {
				return refuse("has AGGREGATE")
			}
		default:
			done = true
		}
	}
	if !p.word(kw) {
		return refuse("is not CREATE " + kw)
	}
	if p.word("IF") && !(p.word("NOT") && p.word("EXISTS")) {
		return refuse("has IF without NOT EXISTS")
	}
	name := p.ident()
	if p.byte('.') {
		if !strings.EqualFold(name, o.Schema) {
			return refuse(fmt.Sprintf("creates it in schema %q", name))
		}
		name = p.ident()
	}
	if !strings.EqualFold(name, o.Name) {
		return refuse(fmt.Sprintf("creates %q", name))
	}
	if (o.Kind == KindProcedure || o.Kind == KindFunction) && !p.byte('(') {
		// CREATE FUNCTION f RETURNS ... SONAME 'lib.so' loads a shared
		// library into the server.
		return refuse("has no parameter list after the name (a UDF from a shared library?)")
	}
	return nil
}

// headLexer reads the head of a CREATE statement: words, identifiers
// (bare, `quoted` or 'string'), and single bytes, with spaces between.
type headLexer struct{ s []byte }

func (p *headLexer) space() {
	p.s = bytes.TrimLeft(p.s, " \t\r\n")
}

// word consumes the keyword w (any case) when it comes next.
func (p *headLexer) word(w string) bool {
	p.space()
	if len(p.s) < len(w) || !strings.EqualFold(string(p.s[:len(w)]), w) || len(p.s) > len(w) && identByte(p.s[len(w)]) {
		return false
	}
	p.s = p.s[len(w):]
	return true
}

// option consumes "NAME=" (spaces allowed around '=').
func (p *headLexer) option(name string) bool {
	save := p.s
	if p.word(name) && p.byte('=') {
		return true
	}
	p.s = save
	return false
}

// byte consumes c when it comes next.
func (p *headLexer) byte(c byte) bool {
	p.space()
	if len(p.s) == 0 || p.s[0] != c {
		return false
	}
	p.s = p.s[1:]
	return true
}

// ident consumes an identifier, quoted with ` ' or ", or bare; "" when
// none comes next.
func (p *headLexer) ident() string {
	p.space()
	if len(p.s) == 0 {
		return ""
	}
	if q := p.s[0]; q == '`' || q == '\'' || q == '"' {
		var out []byte
		for i := 1; i < len(p.s); i++ {
			c := p.s[i]
			switch {
			case c == '\\' && q != '`' && i+1 < len(p.s):
				i++
				out = append(out, p.s[i])
			case c == q && i+1 < len(p.s) && p.s[i+1] == q:
				i++
				out = append(out, q)
			case c == q:
				p.s = p.s[i+1:]
				if len(out) == 0 {
					return "\x00" // an empty name: not "", which means none
				}
				return string(out)
			default:
				out = append(out, c)
			}
		}
		return ""
	}
	i := 0
	for i < len(p.s) && identByte(p.s[i]) {
		i++
	}
	id := string(p.s[:i])
	p.s = p.s[i:]
	return id
}
