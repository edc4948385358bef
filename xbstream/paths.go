package xbstream

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrUnsafePath: a chunk names a file that extracting would put outside
// the extract dir, or that cannot be created as named (see ValidPath and
// Paths). Like the other damage errors it is wrapped in a *ChunkError and
// Damaged reports true for it.
var ErrUnsafePath = errors.New("unsafe file name")

// MaxNameLen is the longest component of a path (NAME_MAX on Linux).
const MaxNameLen = 255

// ValidPath reports whether p is a name an xbstream may give a file: a
// relative, slash-separated path in canonical form (as path.Clean leaves
// it) with no ".." component, no NUL byte, no backslash and no component
// longer than MaxNameLen. The tools write nothing else: they strip "./",
// and MySQL encodes the characters of a table name that are special in a
// file name (a backslash is "@005c"). mbstream itself refuses "..", "./"
// and absolute names but only logs it and exits 0, and cuts a name at a
// NUL byte. The error wraps ErrUnsafePath and says why.
func ValidPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrUnsafePath, p, why) }
	switch {
	case p == "":
		return bad("the name is empty")
	case strings.IndexByte(p, 0) >= 0:
		return bad("it holds a NUL byte")
	case strings.HasPrefix(p, "/"):
		return bad("it is absolute")
	case strings.IndexByte(p, '\\') >= 0:
		return bad("it holds a backslash (a separator on other systems; the tools never write one)")
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return bad(`it has a ".." component`)
		}
		if c == "." {
			return bad(`it names the extract dir itself (".")`)
		}
		if len(c) > MaxNameLen {
			return bad(fmt.Sprintf("a component is longer than %d bytes", MaxNameLen))
		}
	}
	if path.Clean(p) != p {
		return bad(fmt.Sprintf("it is not in canonical form (%q)", path.Clean(p)))
	}
	return nil
}

// Paths remembers the files of one stream, to refuse a name that is a
// file and also the directory of another file (extracting both would fail
// half-way, or write through whatever the first one left). Its memory grows
// with the number of files. The zero value is not usable: use NewPaths.
type Paths struct {
	files map[string]bool
	dirs  map[string]bool
}

// NewPaths returns an empty Paths.
func NewPaths() *Paths { return &Paths{files: map[string]bool{}, dirs: map[string]bool{}} }

// Add records p, a name ValidPath accepted, as a file. A file seen before
// is fine (a file has many chunks); p is refused (ErrUnsafePath) when it
// was seen as a directory, or when one of its directories was seen as a
// file.
func (s *Paths) Add(p string) error {
	if s.files[p] {
		return nil
	}
	if s.dirs[p] {
		return fmt.Errorf("%w %q: it is a directory of an earlier file, and here a file", ErrUnsafePath, p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && s.files[p[:i]] {
			return fmt.Errorf("%w %q: %q is a file earlier in the stream, and here a directory", ErrUnsafePath, p, p[:i])
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			s.dirs[p[:i]] = true
		}
	}
	s.files[p] = true
	return nil
}

// Guard returns a reader of the xbstream r that passes a chunk on only
// once its header was read and checked: the framing (as Reader checks it),
// the name (ValidPath, Paths), the chunk type (payload, sparse or end of
// file; unknown ignorable chunks are dropped). It is what mbstream -x
// should read: a chunk that fails ends the output before its first byte,
// with a *ChunkError wrapping the damage (ErrUnsafePath, ErrFormat,
// ErrTruncated), so nothing of it reaches the extract dir and the
// extraction fails instead of skipping the rest as mbstream does.
//
// A payload's CRC-32 is compared as its last byte passes: a mismatch
// (ErrChecksum) fails the read after the payload was passed on; a reader
// of Guard's output must treat what it extracted as garbage on any error.
// Memory is bounded by one chunk header and the names of the files.
func Guard(r io.Reader) io.Reader {
	return &guard{xr: NewReader(r), paths: NewPaths()}
}

type guard struct {
	xr      *Reader
	paths   *Paths
	hdr     []byte // header of the current chunk not passed on yet
	payload bool   // the current chunk's payload is being passed on
	err     error
}

func (g *guard) Read(p []byte) (int, error) {
	for {
		if g.err != nil {
			return 0, g.err
		}
		if len(g.hdr) > 0 {
			n := copy(p, g.hdr)
			g.hdr = g.hdr[n:]
			return n, nil
		}
		if g.payload {
			n, err := g.xr.Read(p)
			if err == io.EOF {
				g.payload = false
				if n > 0 {
					return n, nil
				}
				continue
			}
			if err != nil {
				g.err = err
			}
			return n, err
		}
		c, err := g.xr.Next()
		if err != nil {
			g.err = err
			return 0, err
		}
		if c.Type != TypePayload && c.Type != TypeSparse && c.Type != TypeEOF {
			continue // unknown and ignorable (Next refuses the others): mbstream would skip it
		}
		if err := g.paths.Add(c.Path); err != nil {
			g.err = &ChunkError{Index: c.Index, StreamOffset: c.StreamOffset, Path: c.Path, FileOffset: c.Offset, Err: err}
			return 0, g.err
		}
		g.hdr = appendHeader(g.hdr[:0], c, c.Checksum)
		g.payload = c.Type != TypeEOF
	}
}
