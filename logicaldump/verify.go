package logicaldump

import (
	"bytes"
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
// object's against the index, no chunk missing or unknown, and that each
// chunk holds only INSERT statements into its own table. An error
// matching ErrDamaged says what is wrong.
func Verify(ctx context.Context, r io.Reader) (*VerifyResult, error) {
	fr := &fileReader{xr: xbstream.NewReader(r)}
	damaged := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, a...))
	}
	res := &VerifyResult{}
	var plan *Index
	seen := map[string]string{}
	var tables map[string]*Table
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, data, err := fr.next(maxSchemaBytes)
		if err == io.EOF {
			if plan == nil {
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
		res.Files++
		if plan == nil {
			switch {
			case name == PlanFile:
				if plan, err = ParseIndex(data); err != nil {
					return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
				}
				tables = map[string]*Table{}
				for _, t := range plan.Tables {
					if t.DataPrefix != "" {
						tables[t.DataPrefix] = t
					}
					if _, ok := seen[t.File]; !ok {
						return nil, damaged("%s (CREATE of %s) is missing", t.File, qualified(t.Schema, t.Name))
					}
				}
				for _, d := range plan.Databases {
					if _, ok := seen[d.File]; !ok {
						return nil, damaged("%s (CREATE DATABASE %s) is missing", d.File, quoteIdent(d.Name))
					}
				}
			case strings.HasSuffix(name, ".schema.sql"):
				seen[name] = ""
				res.SchemaFiles++
			default:
				return nil, damaged("unexpected file %q before plan.json", name)
			}
			continue
		}
		if name == IndexFile {
			ix, err := ParseIndex(data)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
			}
			if ix.DumpID != plan.DumpID {
				return nil, damaged("index.json is of dump %s, plan.json of %s", ix.DumpID, plan.DumpID)
			}
			listed := map[string]bool{}
			for _, t := range ix.Tables {
				for _, ch := range t.Chunks {
					listed[ch.File] = true
					got, ok := seen[ch.File]
					switch {
					case !ok:
						return nil, damaged("chunk %s of %s is missing", ch.File, qualified(t.Schema, t.Name))
					case got != ch.SHA256:
						return nil, damaged("chunk %s of %s has sha256 %s, the index says %s", ch.File, qualified(t.Schema, t.Name), got, ch.SHA256)
					}
				}
			}
			for _, o := range ix.Objects {
				listed[o.File] = true
				got, ok := seen[o.File]
				switch {
				case !ok:
					return nil, damaged("%s (%s %s) is missing", o.File, o.Kind, o.Name)
				case got != o.SHA256:
					return nil, damaged("%s (%s %s) has sha256 %s, the index says %s", o.File, o.Kind, o.Name, got, o.SHA256)
				}
			}
			for f, sum := range seen {
				if sum != "" && !listed[f] {
					return nil, damaged("%s is in the stream but not in the index", f)
				}
			}
			res.Index = ix
			return res, nil
		}
		if _, dup := seen[name]; dup {
			return nil, damaged("%s appears twice", name)
		}
		seen[name] = sha256hex(data)
		t := tables[chunkPrefix(name)]
		if t == nil {
			res.ObjectFiles++
			continue
		}
		res.Chunks++
		res.Bytes += int64(len(data))
		prefix := []byte("INSERT INTO " + qualified(t.Schema, t.Name) + " (")
		i := 0
		if err := splitStatements(data, func(stmt []byte) error {
			i++
			if !bytes.HasPrefix(stmt, prefix) {
				return damaged("statement %d of %s is not an INSERT into %s", i, name, qualified(t.Schema, t.Name))
			}
			return nil
		}); err != nil {
			if errors.Is(err, errCutChunk) {
				return nil, damaged("%s: %v", name, err)
			}
			return nil, err
		}
	}
}
