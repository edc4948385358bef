package logicaldump

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mybak/mybak/xbstream"
)

// container writes a small container by hand, as Dump lays it out, with
// mutate applied to the files (name -> content) before the index.
func container(t *testing.T, mutate func(files map[string][]byte, ix *Index)) []byte {
	return containerIn(t, "d", mutate)
}

// containerIn is container with the data in schema z (the file names
// stay d/...).
func containerIn(t *testing.T, z string, mutate func(files map[string][]byte, ix *Index)) []byte {
	t.Helper()
	chunk := []byte("INSERT INTO " + qualified(z, "t") + " (`a`) VALUES (1),(2);\nINSERT INTO " + qualified(z, "t") + " (`a`) VALUES (3);\n")
	view := []byte("CREATE VIEW v AS SELECT 1")
	files := map[string][]byte{"d.schema.sql": []byte("CREATE DATABASE " + quoteIdent(z)), "d/t.schema.sql": []byte("CREATE TABLE `t` (`a` INT)"),
		"d/t.000001.sql": chunk, "d/v.view.sql": view}
	ix := Index{Format: Format, DumpID: "x-" + z, Databases: []Database{{Name: z, File: "d.schema.sql"}}}
	ix.Tables = []*Table{{Schema: z, Name: "t", Kind: "table", File: "d/t.schema.sql", DataPrefix: "d/t",
		Chunks: []Chunk{{File: "d/t.000001.sql", Rows: 3, SHA256: sha256hex(chunk)}}}}
	ix.Objects = []Object{{Kind: KindView, Schema: z, Name: "v", File: "d/v.view.sql", SHA256: sha256hex(view)}}
	id := ix.DumpID
	if mutate != nil {
		mutate(files, &ix)
	}
	// plan.json: the index's databases and tables (as mutated), without
	// chunks or objects.
	plan := &Index{Format: Format, DumpID: id, Databases: ix.Databases}
	for _, t := range ix.Tables {
		if t == nil {
			plan.Tables = append(plan.Tables, nil)
			continue
		}
		pt := *t
		pt.Chunks = nil
		plan.Tables = append(plan.Tables, &pt)
	}
	var buf bytes.Buffer
	w := xbstream.NewWriter(&buf)
	put := func(name string, b []byte) {
		if b == nil {
			return
		}
		if _, err := w.WriteFile(name, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	js := func(v any) []byte {
		b, err := jsonMarshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put("d.schema.sql", files["d.schema.sql"])
	put("d/t.schema.sql", files["d/t.schema.sql"])
	put(PlanFile, js(plan))
	put("d/t.000001.sql", files["d/t.000001.sql"])
	put("d/v.view.sql", files["d/v.view.sql"])
	if extra, ok := files["extra"]; ok {
		put("d/t.000002.sql", extra)
	}
	if _, cut := files["cut"]; !cut {
		put(IndexFile, js(&ix))
	}
	return buf.Bytes()
}

func TestVerify(t *testing.T) {
	res, err := Verify(t.Context(), bytes.NewReader(container(t, nil)))
	if err != nil || res.Chunks != 1 || res.ObjectFiles != 1 || res.SchemaFiles != 2 {
		t.Fatalf("a good container: %+v, %v", res, err)
	}
	for name, c := range map[string]struct {
		mutate func(map[string][]byte, *Index)
		want   string
	}{
		"changed chunk": {func(f map[string][]byte, _ *Index) {
			f["d/t.000001.sql"] = bytes.Replace(f["d/t.000001.sql"], []byte("(3)"), []byte("(4)"), 1)
		}, "sha256"},
		"missing chunk":    {func(f map[string][]byte, _ *Index) { f["d/t.000001.sql"] = nil }, "is missing"},
		"unlisted chunk":   {func(f map[string][]byte, _ *Index) { f["extra"] = []byte("") }, "not in the index"},
		"cut stream":       {func(f map[string][]byte, _ *Index) { f["cut"] = nil }, "before index.json"},
		"missing schema":   {func(f map[string][]byte, _ *Index) { f["d/t.schema.sql"] = nil }, "d/t.schema.sql"},
		"changed view":     {func(f map[string][]byte, _ *Index) { f["d/v.view.sql"] = []byte("DROP DATABASE d") }, "sha256"},
		"other dump index": {func(_ map[string][]byte, ix *Index) { ix.DumpID = "y" }, "dump y"},
		"foreign statement": {func(f map[string][]byte, ix *Index) {
			b := []byte("INSERT INTO `d`.`t` (`a`) VALUES (1);\nDROP TABLE `d`.`t`;\n")
			f["d/t.000001.sql"] = b
			ix.Tables[0].Chunks[0].SHA256 = sha256hex(b)
		}, "statement 2"},
	} {
		_, err := Verify(t.Context(), bytes.NewReader(container(t, c.mutate)))
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want damage saying %q", name, err, c.want)
		}
	}
}
