package xbstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// MaxReported is how many damaged chunks Scan describes one by one; the
// rest are counted.
const MaxReported = 20

// File is one file of a stream, as Scan saw it.
type File struct {
	Path string `json:"path"`
	// Size is the file's size once extracted: the furthest extent of its
	// chunks.
	Size int64 `json:"size"`
	// Chunks counts its payload and sparse chunks.
	Chunks int `json:"chunks"`
	// Sparse is set when the file has sparse chunks (holes).
	Sparse bool `json:"sparse,omitempty"`
	// Damaged counts its chunks that failed their checksum or are out of
	// place.
	Damaged int `json:"damaged_chunks,omitempty"`
	// Complete is set when its end-of-file chunk was seen.
	Complete bool `json:"complete"`

	next int64 // expected offset of its next payload chunk (-1: unknown)
}

// Summary describes a scanned stream.
type Summary struct {
	// Files in the order their first chunk appeared.
	Files []File `json:"files"`
	// Chunks counts all chunks, EOF chunks included.
	Chunks int64 `json:"chunks"`
	// Bytes is the stream's length as far as it was read.
	Bytes int64 `json:"bytes"`
	// Payload is the sum of the payload lengths.
	Payload int64 `json:"payload_bytes"`
	// Damaged counts the damaged chunks, including those not described
	// in Scan's error.
	Damaged int `json:"damaged_chunks,omitempty"`
}

// DamagedFiles returns the paths of the files with damaged chunks, sorted.
func (s *Summary) DamagedFiles() []string {
	var out []string
	for _, f := range s.Files {
		if f.Damaged > 0 {
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return out
}

// Scan reads the whole stream from r and checks every chunk: the framing,
// the CRC-32 of every payload, that each file's payload chunks follow one
// another without a gap, and that every file ends with its end-of-file
// chunk. Nothing is extracted; memory grows with the number of files, not
// with their size.
//
// A checksum mismatch does not stop the scan (the framing is intact): Scan
// goes on and reports every damaged chunk. Damage to the framing
// (truncation, a wrong magic) stops it. The summary covers what was read in
// every case. The error joins one *ChunkError per damaged chunk (the first
// MaxReported of them) and matches ErrChecksum, ErrTruncated, ErrFormat or
// ErrUnsafePath, for which Damaged is true; any other error comes from r
// or ctx.
//
// A name that extracting would put outside the extract dir, or that is not
// one the tools write (see ValidPath), stops the scan; a name that is a
// file and also another file's directory (see Paths) is reported and the
// scan goes on.
func Scan(ctx context.Context, r io.Reader) (*Summary, error) {
	xr := NewReader(r)
	paths := NewPaths()
	s := &Summary{}
	index := map[string]int{}
	var damage []error
	report := func(f *File, err error) {
		s.Damaged++
		if f != nil {
			f.Damaged++
		}
		if len(damage) < MaxReported {
			damage = append(damage, err)
		}
	}
	file := func(path string) *File {
		i, ok := index[path]
		if !ok {
			i = len(s.Files)
			index[path] = i
			s.Files = append(s.Files, File{Path: path})
		}
		return &s.Files[i]
	}
	var final error
	for {
		if err := ctx.Err(); err != nil {
			final = err
			break
		}
		c, err := xr.Next()
		if err != nil {
			var ce *ChunkError
			if errors.As(err, &ce) && errors.Is(err, ErrChecksum) {
				// The previous chunk's payload, skipped by Next.
				report(file(ce.Path), err)
				continue
			}
			if err != io.EOF {
				if Damaged(err) {
					var f *File
					if errors.As(err, &ce) && ce.Path != "" && !errors.Is(err, ErrUnsafePath) {
						f = file(ce.Path)
					}
					report(f, err)
				} else {
					final = err
				}
			}
			break
		}
		s.Chunks++
		if c.Type != TypePayload && c.Type != TypeSparse && c.Type != TypeEOF {
			continue // an unknown, ignorable chunk
		}
		if err := paths.Add(c.Path); err != nil {
			// The framing is intact: report it and go on, without
			// counting the chunk in any file.
			report(nil, &ChunkError{Index: c.Index, StreamOffset: c.StreamOffset, Path: c.Path, FileOffset: c.Offset, Err: err})
			continue
		}
		cur := file(c.Path)
		if c.Type == TypeEOF {
			cur.Complete = true
			continue
		}
		if cur.Complete && c.Offset == 0 {
			// Written again from the start after its EOF chunk.
			cur.Complete, cur.next = false, 0
		}
		cur.Chunks++
		s.Payload += c.Length
		cur.Size = max(cur.Size, c.Extent())
		if c.Type == TypeSparse {
			cur.Sparse, cur.next = true, -1
		} else if cur.next >= 0 {
			if c.Offset != cur.next {
				report(cur, &ChunkError{Index: c.Index, StreamOffset: c.StreamOffset, Path: c.Path, FileOffset: c.Offset,
					Err: fmt.Errorf("%w: the file's previous chunk ends at offset %d (a chunk is missing or out of order)", ErrFormat, cur.next)})
			}
			cur.next = c.Offset + c.Length
		}
	}
	s.Bytes = xr.Offset()
	if final == nil {
		for i := range s.Files {
			if f := &s.Files[i]; !f.Complete {
				report(f, fmt.Errorf("file %q: %w: its end-of-file chunk is missing (%d bytes, %d chunks seen)", f.Path, ErrTruncated, f.Size, f.Chunks))
			}
		}
	}
	if s.Damaged > len(damage) {
		damage = append(damage, fmt.Errorf("%w: and %d more damaged chunks", errMore, s.Damaged-len(damage)))
	}
	if final != nil {
		damage = append([]error{fmt.Errorf("scan xbstream at offset %d: %w", s.Bytes, final)}, damage...)
	}
	return s, errors.Join(damage...)
}
