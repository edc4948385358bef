package xbstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// DefaultChunkSize is the payload size WriteFile cuts files into (the
// tools' XB_STREAM_MIN_CHUNK_SIZE).
const DefaultChunkSize = 10 << 20

// Writer writes an xbstream that mbstream -x and xbstream -x extract. It
// is not safe for concurrent use; it does not close the underlying writer.
type Writer struct {
	w io.Writer
	// ChunkSize is the largest payload WriteFile puts in one chunk
	// (0: DefaultChunkSize).
	ChunkSize int
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteChunk writes one chunk: c's Flags, Type, Path, Offset and, for a
// sparse chunk, Sparse, with payload. It computes the length and checksum
// (c.Length and c.Checksum are ignored). An EOF chunk takes no payload.
// It checks only the path's length, not that the name is safe (ValidPath):
// readers refuse unsafe names, and tests write them.
func (w *Writer) WriteChunk(c *Chunk, payload []byte) error {
	if len(c.Path) > MaxPathLen {
		return fmt.Errorf("xbstream: path %q is longer than %d bytes", c.Path, MaxPathLen)
	}
	if c.Type == TypeEOF && len(payload) > 0 {
		return errors.New("xbstream: an EOF chunk has no payload")
	}
	var crc uint32
	if c.Type != TypeEOF {
		var m []byte
		if c.Type == TypeSparse {
			m = sparseMap(nil, c.Sparse)
		}
		crc = crc32.Update(crc32.Update(0, crc32.IEEETable, m), crc32.IEEETable, payload)
	}
	hc := *c
	hc.Length = int64(len(payload))
	h := appendHeader(make([]byte, 0, 14+len(c.Path)+24+8*len(c.Sparse)), &hc, crc)
	if _, err := w.w.Write(h); err != nil {
		return fmt.Errorf("xbstream: write chunk header of %q: %w", c.Path, err)
	}
	if len(payload) > 0 {
		if _, err := w.w.Write(payload); err != nil {
			return fmt.Errorf("xbstream: write payload of %q: %w", c.Path, err)
		}
	}
	return nil
}

// WriteFile writes the bytes of r as file path: payload chunks of at most
// ChunkSize bytes, then the EOF chunk. It returns the file's size. An
// empty file is one EOF chunk, as the tools write it.
func (w *Writer) WriteFile(path string, r io.Reader) (int64, error) {
	size := w.ChunkSize
	if size <= 0 {
		size = DefaultChunkSize
	}
	buf := make([]byte, size)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if werr := w.WriteChunk(&Chunk{Type: TypePayload, Path: path, Offset: off}, buf[:n]); werr != nil {
				return off, werr
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return off, fmt.Errorf("xbstream: read %q: %w", path, err)
		}
	}
	return off, w.WriteChunk(&Chunk{Type: TypeEOF, Path: path}, nil)
}

// appendHeader appends the header of chunk c to h, with checksum crc:
// everything up to its payload (an EOF chunk has nothing after its path).
func appendHeader(h []byte, c *Chunk, crc uint32) []byte {
	h = append(h, Magic...)
	h = append(h, c.Flags, byte(c.Type))
	h = binary.LittleEndian.AppendUint32(h, uint32(len(c.Path)))
	h = append(h, c.Path...)
	if c.Type == TypeEOF {
		return h
	}
	if c.Type == TypeSparse {
		h = binary.LittleEndian.AppendUint32(h, uint32(len(c.Sparse)))
	}
	h = binary.LittleEndian.AppendUint64(h, uint64(c.Length))
	h = binary.LittleEndian.AppendUint64(h, uint64(c.Offset))
	h = binary.LittleEndian.AppendUint32(h, crc)
	if c.Type == TypeSparse {
		h = sparseMap(h, c.Sparse)
	}
	return h
}

// sparseMap appends the sparse map of entries to m.
func sparseMap(m []byte, entries []SparseEntry) []byte {
	for _, e := range entries {
		m = binary.LittleEndian.AppendUint32(m, e.Skip)
		m = binary.LittleEndian.AppendUint32(m, e.Len)
	}
	return m
}
