package xbstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Magic starts every chunk.
const Magic = "XBSTCK01"

// MaxPathLen is the longest path a chunk may name (FN_REFLEN - 1 in the
// tools, which refuse longer ones).
const MaxPathLen = 511

// MaxSparseEntries bounds the sparse map of one chunk (8 bytes an entry),
// so that a damaged count cannot make the reader allocate without limit.
// Percona XtraBackup writes chunks of at most 10 MiB, whose map cannot
// exceed this.
const MaxSparseEntries = 1 << 20

// FlagIgnorable marks a chunk that readers which do not know its type may
// skip.
const FlagIgnorable = 0x01

// ChunkType is the type byte of a chunk.
type ChunkType byte

// The chunk types.
const (
	TypePayload ChunkType = 'P' // file data at an offset
	TypeSparse  ChunkType = 'S' // file data with holes, described by a sparse map
	TypeEOF     ChunkType = 'E' // the file is complete
)

func (t ChunkType) String() string {
	switch t {
	case TypePayload, TypeSparse, TypeEOF:
		return string(rune(t))
	}
	return fmt.Sprintf("0x%02x", byte(t))
}

// Errors that say the stream is damaged. They are wrapped in a
// *ChunkError that says where (see Damaged).
var (
	// ErrChecksum: a chunk's payload does not match its CRC-32. The
	// framing is intact: Next can go on to the following chunk.
	ErrChecksum = errors.New("CRC mismatch")
	// ErrTruncated: the stream ends inside a chunk, or a file has no
	// end-of-file chunk.
	ErrTruncated = errors.New("truncated")
	// ErrFormat: a chunk header is not xbstream (wrong magic, unknown
	// type, impossible length).
	ErrFormat = errors.New("not a valid xbstream chunk")
)

// errMore counts the damage Scan does not describe one by one.
var errMore = errors.New("damaged")

// Damaged reports whether err says the stream is damaged (as opposed to an
// error of the underlying reader).
func Damaged(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrFormat) ||
		errors.Is(err, ErrUnsafePath) || errors.Is(err, errMore)
}

// SparseEntry is one entry of a sparse chunk's map: skip Skip bytes of the
// file (a hole), then write Len bytes of the payload.
type SparseEntry struct {
	Skip, Len uint32
}

// Chunk is the header of one chunk.
type Chunk struct {
	// Index counts chunks from 1 in stream order.
	Index int64
	// StreamOffset is where the chunk's header starts in the stream.
	StreamOffset int64
	Flags        byte
	Type         ChunkType
	Path         string
	// Length is the payload's length (0 for an EOF chunk).
	Length int64
	// Offset is where the payload goes in the file (-1 in an EOF chunk).
	Offset int64
	// Checksum is the CRC-32 the chunk carries.
	Checksum uint32
	// Sparse is the map of a sparse chunk.
	Sparse []SparseEntry
}

// Extent is how far into the file the chunk reaches: Offset plus the
// payload and, for a sparse chunk, the holes.
func (c *Chunk) Extent() int64 {
	end := c.Offset + c.Length
	for _, e := range c.Sparse {
		end += int64(e.Skip)
	}
	return end
}

// ChunkError says which chunk is damaged, where it is in the stream and in
// which file. Err wraps ErrChecksum, ErrTruncated, ErrFormat or
// ErrUnsafePath.
type ChunkError struct {
	Index        int64
	StreamOffset int64
	// Path is empty when the header could not be read that far.
	Path string
	// FileOffset is the chunk's offset in the file (-1: unknown).
	FileOffset int64
	Err        error
}

func (e *ChunkError) Error() string {
	s := fmt.Sprintf("chunk %d at stream offset %d", e.Index, e.StreamOffset)
	switch {
	case e.Path != "" && e.FileOffset >= 0:
		s += fmt.Sprintf(" (file %q, offset %d)", e.Path, e.FileOffset)
	case e.Path != "":
		s += fmt.Sprintf(" (file %q)", e.Path)
	}
	return s + ": " + e.Err.Error()
}

func (e *ChunkError) Unwrap() error { return e.Err }

// Reader reads an xbstream chunk by chunk, like archive/tar: Next returns
// the next chunk's header and Read its payload. A payload not read is
// skipped (and checked) by Next. Reader is not safe for concurrent use.
//
// The checksum of a payload is compared when its last byte has been read:
// Read then returns a *ChunkError wrapping ErrChecksum instead of io.EOF
// (or Next returns it, when the payload was skipped). That error is not
// final: the framing is intact and Next continues with the following
// chunk. Every other error is final and returned again by later calls;
// errors of the underlying reader are returned wrapped, and Damaged says
// false for them.
type Reader struct {
	r       *bufio.Reader
	off     int64 // bytes consumed from r
	index   int64 // chunks read
	cur     *Chunk
	remain  int64 // payload bytes of cur not read yet
	crc     uint32
	checked bool // cur's checksum compared (or cur has none)
	err     error
	scratch []byte
}

// NewReader returns a Reader of r. It buffers at most 64 KiB of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), checked: true}
}

// Offset returns how many bytes of the stream have been consumed.
func (r *Reader) Offset() int64 { return r.off }

// Next skips the rest of the current chunk's payload and reads the next
// chunk's header. At the end of the stream (between chunks) it returns
// io.EOF. A chunk of unknown type marked FlagIgnorable is returned like a
// payload chunk (its layout is assumed to be one); an unknown type without
// the flag is ErrFormat. A chunk whose path ValidPath refuses is a final
// ErrUnsafePath: the stream is not read further.
func (r *Reader) Next() (*Chunk, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.checked {
		if err := r.skip(); err != nil {
			return nil, err
		}
	}
	r.cur = nil
	c := &Chunk{Index: r.index + 1, StreamOffset: r.off, Offset: -1}
	var fixed [14]byte
	n, err := io.ReadFull(r.r, fixed[:])
	r.off += int64(n)
	if n == 0 && err == io.EOF {
		r.err = io.EOF
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.fail(c, err, "the stream ends %d bytes into a chunk header", n)
	}
	r.index++
	if string(fixed[:8]) != Magic {
		return nil, r.fatal(c, fmt.Errorf("%w: magic %q, want %q", ErrFormat, fixed[:8], Magic))
	}
	c.Flags, c.Type = fixed[8], ChunkType(fixed[9])
	known := c.Type == TypePayload || c.Type == TypeSparse || c.Type == TypeEOF
	if !known && c.Flags&FlagIgnorable == 0 {
		return nil, r.fatal(c, fmt.Errorf("%w: unknown chunk type %s", ErrFormat, c.Type))
	}
	plen := binary.LittleEndian.Uint32(fixed[10:])
	if plen > MaxPathLen {
		return nil, r.fatal(c, fmt.Errorf("%w: path length %d (at most %d)", ErrFormat, plen, MaxPathLen))
	}
	path := make([]byte, plen)
	n, err = io.ReadFull(r.r, path)
	r.off += int64(n)
	if err != nil {
		return nil, r.fail(c, err, "the stream ends inside the chunk's path")
	}
	c.Path = string(path)
	if err := ValidPath(c.Path); err != nil {
		return nil, r.fatal(c, err)
	}
	if c.Type == TypeEOF {
		r.cur, r.checked = c, true
		return c, nil
	}
	var entries uint32
	if c.Type == TypeSparse {
		var b [4]byte
		n, err = io.ReadFull(r.r, b[:])
		r.off += int64(n)
		if err != nil {
			return nil, r.fail(c, err, "the stream ends inside the chunk header")
		}
		entries = binary.LittleEndian.Uint32(b[:])
		if entries > MaxSparseEntries {
			return nil, r.fatal(c, fmt.Errorf("%w: sparse map of %d entries (at most %d)", ErrFormat, entries, MaxSparseEntries))
		}
	}
	var rest [20]byte
	n, err = io.ReadFull(r.r, rest[:])
	r.off += int64(n)
	if err != nil {
		return nil, r.fail(c, err, "the stream ends inside the chunk header")
	}
	length, offset := binary.LittleEndian.Uint64(rest[:]), binary.LittleEndian.Uint64(rest[8:])
	c.Checksum = binary.LittleEndian.Uint32(rest[16:])
	if length > math.MaxInt64/2 || offset > math.MaxInt64/2 {
		return nil, r.fatal(c, fmt.Errorf("%w: payload length %d at file offset %d", ErrFormat, length, offset))
	}
	c.Length, c.Offset = int64(length), int64(offset)
	r.crc = 0
	if entries > 0 {
		m := make([]byte, 8*int(entries))
		n, err = io.ReadFull(r.r, m)
		r.off += int64(n)
		if err != nil {
			return nil, r.fail(c, err, "the stream ends inside the sparse map")
		}
		r.crc = crc32.Update(0, crc32.IEEETable, m)
		c.Sparse = make([]SparseEntry, entries)
		var sum int64
		for i := range c.Sparse {
			c.Sparse[i] = SparseEntry{Skip: binary.LittleEndian.Uint32(m[8*i:]), Len: binary.LittleEndian.Uint32(m[8*i+4:])}
			sum += int64(c.Sparse[i].Len)
		}
		if sum > c.Length {
			return nil, r.fatal(c, fmt.Errorf("%w: the sparse map writes %d bytes, the payload has %d", ErrFormat, sum, c.Length))
		}
	}
	r.cur, r.remain, r.checked = c, c.Length, false
	return c, nil
}

// Read reads the current chunk's payload. After its last byte it returns
// io.EOF, or a *ChunkError wrapping ErrChecksum when the payload does not
// match the chunk's checksum.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil || r.checked {
		return 0, io.EOF
	}
	if r.remain == 0 {
		return 0, r.check()
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.crc = crc32.Update(r.crc, crc32.IEEETable, p[:n])
	r.remain -= int64(n)
	r.off += int64(n)
	if r.remain == 0 {
		if cerr := r.check(); cerr != nil {
			return n, cerr
		}
		return n, nil
	}
	if err == io.EOF {
		return n, r.fatal(r.cur, fmt.Errorf("%w: the stream ends %d bytes into a payload of %d", ErrTruncated, r.cur.Length-r.remain, r.cur.Length))
	}
	if err != nil {
		r.err = fmt.Errorf("read payload of chunk %d (file %q): %w", r.cur.Index, r.cur.Path, err)
		return n, r.err
	}
	return n, nil
}

// skip reads the rest of the current payload, checking it.
func (r *Reader) skip() error {
	if r.scratch == nil {
		r.scratch = make([]byte, 32<<10)
	}
	for {
		_, err := r.Read(r.scratch)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// check compares the current chunk's checksum, once.
func (r *Reader) check() error {
	if r.checked {
		return io.EOF
	}
	r.checked = true
	if r.crc != r.cur.Checksum {
		return &ChunkError{Index: r.cur.Index, StreamOffset: r.cur.StreamOffset, Path: r.cur.Path, FileOffset: r.cur.Offset,
			Err: fmt.Errorf("%w: the chunk says %08x, its %d payload bytes give %08x", ErrChecksum, r.cur.Checksum, r.cur.Length, r.crc)}
	}
	return io.EOF
}

// fatal records a final damage error for chunk c.
func (r *Reader) fatal(c *Chunk, err error) error {
	r.err = &ChunkError{Index: c.Index, StreamOffset: c.StreamOffset, Path: c.Path, FileOffset: c.Offset, Err: err}
	return r.err
}

// fail records a final error of a read inside a chunk header: a short read
// is truncation, anything else the underlying reader's error.
func (r *Reader) fail(c *Chunk, err error, format string, a ...any) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if c.Index > r.index {
			r.index = c.Index
		}
		return r.fatal(c, fmt.Errorf("%w: %s", ErrTruncated, fmt.Sprintf(format, a...)))
	}
	r.err = fmt.Errorf("read header of chunk %d at stream offset %d: %w", c.Index, c.StreamOffset, err)
	return r.err
}
