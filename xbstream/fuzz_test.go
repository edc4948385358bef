package xbstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader: no input makes the reader panic, loop or read past its
// input; what Scan accepts is consistent with what Reader returns.
func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.ChunkSize = 7
	w.WriteFile("ibdata1", strings.NewReader("some innodb pages"))
	w.WriteFile("empty", strings.NewReader(""))
	w.WriteChunk(&Chunk{Type: TypeSparse, Path: "s.ibd", Sparse: []SparseEntry{{0, 2}, {10, 3}}}, []byte("abcde"))
	w.WriteChunk(&Chunk{Type: 'Z', Flags: FlagIgnorable, Path: "x"}, []byte("?"))
	w.WriteChunk(&Chunk{Type: TypeEOF, Path: "s.ibd"}, nil)
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:40])
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Scan(context.Background(), bytes.NewReader(data))
		if s == nil {
			t.Fatal("nil summary")
		}
		if s.Bytes > int64(len(data)) {
			t.Fatalf("read %d bytes of %d", s.Bytes, len(data))
		}
		if err != nil && !Damaged(err) {
			t.Fatalf("error that is not damage from a bytes.Reader: %v", err)
		}
		if err == nil {
			if s.Bytes != int64(len(data)) || s.Damaged != 0 {
				t.Fatalf("clean scan of %d bytes read %d, %d damaged", len(data), s.Bytes, s.Damaged)
			}
			for _, f := range s.Files {
				if !f.Complete {
					t.Fatalf("clean scan with incomplete file %q", f.Path)
				}
			}
		}
		// Reader reads the same chunks, payloads of their stated length.
		r := NewReader(bytes.NewReader(data))
		var n int64
		for {
			c, err := r.Next()
			if err != nil {
				if err != io.EOF && errors.Is(err, ErrChecksum) {
					continue
				}
				break
			}
			n++
			b, rerr := io.ReadAll(r)
			if rerr == nil && int64(len(b)) != c.Length {
				t.Fatalf("chunk %d: read %d payload bytes, header says %d", c.Index, len(b), c.Length)
			}
		}
		if err == nil && n != s.Chunks {
			t.Fatalf("Reader saw %d chunks, Scan %d", n, s.Chunks)
		}
	})
}
