package backup

// The wire format of `mybak backup --to-stdout`: one backup's encoded
// stream (compressed, encrypted, exactly the bytes a store would hold) with
// its manifest carried in-band, so that a receiver on another host
// (`ssh primary mybak backup --to-stdout ... | mybak make-replica
// --from-stdin ...`) can check it and knows what it holds.
//
//	stream  = magic header data* (manifest | error)
//	magic   = "MYBAKWS1"                      8 bytes
//	record  = type length payload crc         type: 1 byte; length: uint32
//	                                          big-endian; crc: CRC-32 (IEEE),
//	                                          uint32 big-endian, of type and
//	                                          payload
//	'H'     header: JSON WireHeader (format version, ID, engine, compression,
//	        encryption): what the receiver needs to start decoding
//	'D'     data: up to WireChunk bytes of the encoded stream, in order
//	'M'     manifest: the backup's manifest JSON (as manifest.json), the last
//	        record; its single object "stream" has the encoded stream's size
//	        and SHA-256, raw_size / raw_sha256 the original stream's
//	'E'     error: the sender failed (UTF-8 text); the last record
//
// The CRC of every record catches damage in transit where it happens; the
// manifest's sizes and SHA-256 hashes, compared with what the receiver
// decoded, prove the whole stream. A stream that ends before its 'M' or 'E'
// record is truncated (the sender was killed, ssh dropped). Nothing after
// the last record is allowed.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// WireMagic starts every wire stream.
const WireMagic = "MYBAKWS1"

// WireChunk is the largest data record payload a writer produces; readers
// accept up to WireMaxRecord bytes per record.
const (
	WireChunk     = 1 << 20
	WireMaxRecord = 16 << 20
)

// Wire record types.
const (
	wireHeader   = 'H'
	wireData     = 'D'
	wireManifest = 'M'
	wireError    = 'E'
)

// ErrWire is wrapped by every error of a damaged, truncated or foreign wire
// stream.
var ErrWire = errors.New("bad backup stream")

// WireHeader is the first record of a wire stream.
type WireHeader struct {
	FormatVersion int         `json:"format_version"`
	ID            string      `json:"id"`
	Engine        string      `json:"engine"`
	Type          string      `json:"type"`
	Compression   Compression `json:"compression"`
	Encryption    *Encryption `json:"encryption,omitempty"`
}

// WireSenderError is the failure a sender reported in an 'E' record.
type WireSenderError struct{ Msg string }

func (e *WireSenderError) Error() string { return "the sending mybak failed: " + e.Msg }

// wireWriter writes records; data is buffered into WireChunk records.
type wireWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func newWireWriter(w io.Writer, h *WireHeader) (*wireWriter, error) {
	ww := &wireWriter{w: w, buf: make([]byte, 0, WireChunk)}
	if _, err := io.WriteString(w, WireMagic); err != nil {
		return nil, fmt.Errorf("write stream header: %w", err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if err := ww.record(wireHeader, b); err != nil {
		return nil, err
	}
	return ww, nil
}

func (ww *wireWriter) record(typ byte, p []byte) error {
	if ww.err != nil {
		return ww.err
	}
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	crc := crc32.NewIEEE()
	crc.Write(hdr[:1])
	crc.Write(p)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc.Sum32())
	for _, b := range [][]byte{hdr[:], p, tail[:]} {
		if _, err := ww.w.Write(b); err != nil {
			ww.err = fmt.Errorf("write stream: %w", err)
			return ww.err
		}
	}
	return nil
}

// Write buffers encoded bytes into data records.
func (ww *wireWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), WireChunk-len(ww.buf))
		ww.buf = append(ww.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(ww.buf) == WireChunk {
			if err := ww.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (ww *wireWriter) flush() error {
	if len(ww.buf) == 0 {
		return ww.err
	}
	err := ww.record(wireData, ww.buf)
	ww.buf = ww.buf[:0]
	return err
}

// finish writes the buffered data and the manifest record.
func (ww *wireWriter) finish(m *Manifest) error {
	if err := ww.flush(); err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return ww.record(wireManifest, b)
}

// fail writes an error record (best effort: the pipe may be gone).
func (ww *wireWriter) fail(err error) {
	ww.buf = ww.buf[:0]
	ww.record(wireError, []byte(err.Error()))
}

// WireReader reads a wire stream: Header is known once NewWireReader
// returns, Read returns the encoded data and io.EOF after the manifest
// record, which Manifest then returns. It is not safe for concurrent use.
type WireReader struct {
	r        *bufio.Reader
	Header   WireHeader
	manifest *Manifest
	cur      []byte
	buf      []byte
	n        int64 // data bytes read
	err      error
}

// NewWireReader reads the magic and the header record of r.
func NewWireReader(r io.Reader) (*WireReader, error) {
	wr := &WireReader{r: bufio.NewReaderSize(r, 256<<10)}
	var magic [len(WireMagic)]byte
	if n, err := io.ReadFull(wr.r, magic[:]); err != nil {
		if n == 0 {
			return nil, fmt.Errorf("%w: standard input is empty (did the sending `mybak backup --to-stdout` fail? see its messages)", ErrWire)
		}
		return nil, fmt.Errorf("%w: %d bytes, too short for a stream header", ErrWire, n)
	}
	if string(magic[:]) != WireMagic {
		return nil, fmt.Errorf("%w: it does not start with %q: feed the output of `mybak backup --to-stdout`", ErrWire, WireMagic)
	}
	typ, p, err := wr.next()
	if err != nil {
		return nil, err
	}
	if typ != wireHeader {
		return nil, fmt.Errorf("%w: first record is %q, not the header", ErrWire, typ)
	}
	if err := json.Unmarshal(p, &wr.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrWire, err)
	}
	if wr.Header.FormatVersion > FormatVersion || wr.Header.FormatVersion < 1 {
		return nil, fmt.Errorf("%w: format version %d (this mybak reads up to %d): use the same mybak version on both ends",
			ErrWire, wr.Header.FormatVersion, FormatVersion)
	}
	return wr, nil
}

// next reads one record and checks its CRC.
func (wr *WireReader) next() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(wr.r, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("%w: truncated after %d bytes of data: the sender stopped before the end (killed, or the connection dropped)", ErrWire, wr.n)
		}
		return 0, nil, fmt.Errorf("read stream: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[1:])
	if size > WireMaxRecord {
		return 0, nil, fmt.Errorf("%w: record of %d bytes after %d bytes of data (damaged)", ErrWire, size, wr.n)
	}
	if cap(wr.buf) < int(size)+4 {
		wr.buf = make([]byte, int(size)+4)
	}
	b := wr.buf[:int(size)+4]
	if _, err := io.ReadFull(wr.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("%w: truncated inside a record after %d bytes of data: the sender stopped before the end", ErrWire, wr.n)
		}
		return 0, nil, fmt.Errorf("read stream: %w", err)
	}
	p := b[:size]
	crc := crc32.NewIEEE()
	crc.Write(hdr[:1])
	crc.Write(p)
	if crc.Sum32() != binary.BigEndian.Uint32(b[size:]) {
		return 0, nil, fmt.Errorf("%w: CRC mismatch in a %q record after %d bytes of data (damaged in transit)", ErrWire, hdr[0], wr.n)
	}
	return hdr[0], p, nil
}

// Read returns the encoded data of the data records; io.EOF once the
// manifest record was read and nothing follows it.
func (wr *WireReader) Read(p []byte) (int, error) {
	for len(wr.cur) == 0 {
		if wr.err != nil {
			return 0, wr.err
		}
		typ, b, err := wr.next()
		if err != nil {
			wr.err = err
			return 0, err
		}
		switch typ {
		case wireData:
			wr.cur = b
		case wireError:
			wr.err = &WireSenderError{Msg: string(b)}
		case wireManifest:
			m, err := ParseManifest(b)
			if err != nil {
				wr.err = fmt.Errorf("%w: %w", ErrWire, err)
				break
			}
			if _, err := wr.r.ReadByte(); err != io.EOF {
				wr.err = fmt.Errorf("%w: data after the manifest record", ErrWire)
				break
			}
			wr.manifest, wr.err = m, io.EOF
		default:
			wr.err = fmt.Errorf("%w: unknown record type %q", ErrWire, typ)
		}
	}
	n := copy(p, wr.cur)
	wr.cur = wr.cur[n:]
	wr.n += int64(n)
	return n, nil
}

// Manifest returns the manifest once Read has returned io.EOF, else nil.
func (wr *WireReader) Manifest() *Manifest { return wr.manifest }
