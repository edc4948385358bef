package xbstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidPath: a name ValidPath accepts stays below any dir it is
// joined to, names no other file than itself, and can be created.
func FuzzValidPath(f *testing.F) {
	for _, p := range []string{"ibdata1", "db1/t1.ibd", "../x", "/etc/passwd", "a/../../b", "a//b", "./a", "a/", "a\x00b", `a\b`, "..", ".", "", "a/.."} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidPath(p)
		if err != nil {
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("ValidPath(%q): %v does not wrap ErrUnsafePath", p, err)
			}
			return
		}
		if !filepath.IsLocal(p) || filepath.Clean(p) != p || strings.ContainsAny(p, "\x00\\") {
			t.Fatalf("ValidPath accepted %q", p)
		}
		base := "/target/dir"
		if j := filepath.Join(base, p); !strings.HasPrefix(j, base+"/") || strings.TrimPrefix(j, base+"/") != p {
			t.Fatalf("ValidPath accepted %q, which joins to %q", p, j)
		}
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." || len(c) > MaxNameLen {
				t.Fatalf("ValidPath accepted %q with component %q", p, c)
			}
		}
	})
}

// FuzzGuard: whatever the input, what Guard passes on is a sequence of
// whole chunk headers with safe, non-conflicting names (the payloads as
// they came), a prefix of the input when it holds no ignorable chunk; and
// Guard fails on every input Scan reports an unsafe name in.
func FuzzGuard(f *testing.F) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.ChunkSize = 7
	w.WriteFile("ibdata1", strings.NewReader("some innodb pages"))
	w.WriteFile("db/t.ibd", strings.NewReader("rows"))
	w.WriteChunk(&Chunk{Type: TypeSparse, Path: "s.ibd", Sparse: []SparseEntry{{0, 2}, {10, 3}}}, []byte("abcde"))
	w.WriteChunk(&Chunk{Type: TypeEOF, Path: "s.ibd"}, nil)
	f.Add(buf.Bytes())
	for _, p := range []string{"../x", "/x", "ibdata1/x", "db", "a\x00", "./a"} {
		b := bytes.Clone(buf.Bytes())
		var u bytes.Buffer
		NewWriter(&u).WriteFile(p, strings.NewReader("x"))
		f.Add(append(b, u.Bytes()...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, gerr := io.ReadAll(Guard(bytes.NewReader(data)))
		if gerr != nil && !Damaged(gerr) {
			t.Fatalf("Guard of a bytes.Reader: %v", gerr)
		}
		if !bytes.Contains(data, []byte{FlagIgnorable}) && !bytes.HasPrefix(data, out) {
			t.Fatalf("Guard passed %d bytes that are not a prefix of its input", len(out))
		}
		// Re-read what passed: every header whole, every name safe.
		r := NewReader(bytes.NewReader(out))
		paths := NewPaths()
		for {
			c, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if errors.Is(err, ErrUnsafePath) {
					t.Fatalf("Guard passed an unsafe name: %v", err)
				}
				if errors.Is(err, ErrChecksum) {
					continue
				}
				// A cut payload is what a failed Guard leaves; a cut
				// header is not.
				if errors.Is(err, ErrTruncated) && !strings.Contains(err.Error(), "into a payload") {
					t.Fatalf("Guard passed part of a header: %v", err)
				}
				break
			}
			if err := paths.Add(c.Path); err != nil {
				t.Fatalf("Guard passed a conflicting name: %v", err)
			}
			io.Copy(io.Discard, r)
		}
		if _, err := Scan(context.Background(), bytes.NewReader(data)); errors.Is(err, ErrUnsafePath) && gerr == nil {
			t.Fatalf("Scan finds an unsafe name (%v), Guard passed the stream", err)
		}
	})
}
