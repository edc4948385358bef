package logicaldump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mybak/mybak/xbstream"
)

// ErrDamaged is matched by the errors of Verify that say the container is
// damaged (as opposed to a read error or a cancelled context).
var ErrDamaged = errors.New("the logical backup is damaged")

// VerifyResult is what Verify found in a complete, undamaged container.
type VerifyResult struct {
	Index         *Index
	Files, Chunks int
	Bytes         int64 // bytes of the chunk files
	SchemaFiles   int
	ObjectFiles   int
}

// Verify reads a container written by Dump from r without a server and
// checks it whole: the xbstream framing and CRCs, plan.json before the
// data and index.json at the end, every chunk file's SHA-256 and every
// object's against the index, no chunk missing or unknown, and that every
// statement is the one Dump writes for what the plan or index says it is
// (trust.go: a chunk's INSERTs of literal values into its own table, the
// CREATE of each schema, table and object). An error matching ErrDamaged
// says what is wrong.
func Verify(ctx context.Context, r io.Reader) (*VerifyResult, error) {
	v := &verifier{res: &VerifyResult{}, seen: map[string]string{}, schema: map[string][]byte{}, objs: map[string][]byte{}}
	fr := &fileReader{xr: xbstream.NewReader(r)}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, data, err := fr.next(maxSchemaBytes)
		if err == io.EOF {
			if v.plan == nil {
				return nil, damaged("the stream ends before plan.json")
			}
			return nil, damaged("the stream ends before index.json (cut short)")
		}
		if err != nil {
			if xbstream.Damaged(err) || errors.Is(err, errFormat) {
				return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
			}
			return nil, err // reading failed: the content's state is unknown
		}
		v.res.Files++
		switch {
		case v.plan == nil:
			err = v.beforePlan(name, data)
		case name == IndexFile:
			return v.index(data)
		default:
			err = v.dataFile(name, data)
		}
		if err != nil {
			return nil, err
		}
	}
}

func damaged(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, a...))
}

// verifier is the state of one Verify.
type verifier struct {
	res    *VerifyResult
	plan   *Index
	seen   map[string]string // file -> sha256 ("" for schema files)
	tables map[string]*Table // by DataPrefix
	// schema holds the schema files until plan.json, objs the object
	// files until index.json, for their statements' checks; held counts
	// their bytes.
	schema, objs map[string][]byte
	held         int
}

// beforePlan takes a schema file, or plan.json (whose schema files must
// all have come).
func (v *verifier) beforePlan(name string, data []byte) error {
	if name != PlanFile {
		if !strings.HasSuffix(name, ".schema.sql") {
			return damaged("unexpected file %q before plan.json", name)
		}
		v.seen[name] = ""
		v.res.SchemaFiles++
		if v.held += len(data); v.held > maxSchemaBytes {
			return damaged("the schema files exceed %d bytes before plan.json", maxSchemaBytes)
		}
		v.schema[name] = data
		return nil
	}
	plan, err := ParseIndex(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if err := checkSchemaFiles(plan, v.schema); err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	v.schema, v.held = nil, 0
	v.plan, v.tables = plan, map[string]*Table{}
	for _, t := range plan.Tables {
		if t.DataPrefix != "" {
			v.tables[t.DataPrefix] = t
		}
		if _, ok := v.seen[t.File]; !ok {
			return damaged("%s (CREATE of %s) is missing", t.File, qualified(t.Schema, t.Name))
		}
	}
	for _, d := range plan.Databases {
		if _, ok := v.seen[d.File]; !ok {
			return damaged("%s (CREATE DATABASE %s) is missing", d.File, quoteIdent(d.Name))
		}
	}
	return nil
}

// dataFile takes a chunk or an object file.
func (v *verifier) dataFile(name string, data []byte) error {
	if _, dup := v.seen[name]; dup {
		return damaged("%s appears twice", name)
	}
	v.seen[name] = sha256hex(data)
	t := v.tables[chunkPrefix(name)]
	if t == nil {
		v.res.ObjectFiles++
		if v.held += len(data); v.held > maxSchemaBytes {
			return damaged("the object files exceed %d bytes", maxSchemaBytes)
		}
		v.objs[name] = data
		return nil
	}
	v.res.Chunks++
	v.res.Bytes += int64(len(data))
	prefix := []byte("INSERT INTO " + qualified(t.Schema, t.Name) + " (")
	i := 0
	err := splitStatements(data, func(stmt []byte) error {
		i++
		if _, _, err := parseInsert(stmt, prefix); err != nil {
			return damaged("statement %d of %s is not an INSERT of values into %s: %v", i, name, qualified(t.Schema, t.Name), err)
		}
		return nil
	})
	if errors.Is(err, errCutChunk) {
		return damaged("%s: %v", name, err)
	}
	return err
}

// index checks index.json against what the stream held.
func (v *verifier) index(data []byte) (*VerifyResult, error) {
	ix, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if ix.DumpID != v.plan.DumpID {
		return nil, damaged("index.json is of dump %s, plan.json of %s", ix.DumpID, v.plan.DumpID)
	}
	if err := checkIndex(v.plan, ix); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	listed := map[string]bool{}
	check := func(file, what, want string) error {
		listed[file] = true
		got, ok := v.seen[file]
		switch {
		case !ok:
			return damaged("%s (%s) is missing", file, what)
		case got != want:
			return damaged("%s (%s) has sha256 %s, the index says %s", file, what, got, want)
		}
		return nil
	}
	for _, t := range ix.Tables {
		for _, ch := range t.Chunks {
			if err := check(ch.File, "a chunk of "+qualified(t.Schema, t.Name), ch.SHA256); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range ix.Objects {
		if err := check(o.File, o.Kind+" "+o.Name, o.SHA256); err != nil {
			return nil, err
		}
		if err := checkObjectStmt(o, v.objs[o.File]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
		}
	}
	for f, sum := range v.seen {
		if sum != "" && !listed[f] {
			return nil, damaged("%s is in the stream but not in the index", f)
		}
	}
	v.res.Index = ix
	return v.res, nil
}
