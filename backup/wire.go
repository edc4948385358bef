package backup

// The wire format of `mybak backup --to-stdout`: one backup's encoded
// stream (compressed, encrypted, exactly the bytes a store would hold) with
// its manifest carried in-band, so that a receiver on another host
// (`ssh primary mybak backup --to-stdout ... | mybak make-replica
// --from-stdin ...`) can check it and knows what it holds.
//
//	stream  = magic header [auth] data* (manifest | error)
//	magic   = "MYBAKWS1"                      8 bytes
//	record  = type length payload crc         type: 1 byte; length: uint32
//	                                          big-endian; crc: CRC-32 (IEEE),
//	                                          uint32 big-endian, of type and
//	                                          payload
//	'H'     header: JSON WireHeader (format version, ID, engine, type,
//	        compression, encryption, auth): what the receiver needs to start
//	        decoding; at most 64 KiB
//	'A'     auth (format 2, when the header has an auth block): the 32-byte
//	        HMAC tag of the header record
//	'D'     data: up to WireChunk bytes of the encoded stream, in order
//	'M'     manifest: the backup's manifest JSON (as manifest.json), the last
//	        record; its single object "stream" has the encoded stream's size
//	        and SHA-256, raw_size / raw_sha256 the original stream's; at most
//	        WireMaxRecord bytes
//	'E'     error: the sender failed (UTF-8 text, at most 64 KiB); the last
//	        record
//
// Authentication (format 2, with a key; see auth.go): the header's auth
// block holds the salt and iteration count of the MAC key (derived from the
// passphrase with info "mybak wire mac v1"). The 'A' record is t0 =
// HMAC(key, "H" || length || header payload); every later record's payload
// ends with its 32-byte tag ti = HMAC(key, t(i-1) || type || length ||
// payload without the tag). The chain binds every record to the header and
// to its place, so the receiver checks each record before it passes its
// bytes on (nothing unauthenticated reaches mbstream or the SQL client), a
// record cannot be dropped, repeated or moved, and a stream cut before its
// authenticated 'M' (or 'E') record is reported as truncated. Memory is
// bounded by one record.
//
// The CRC of every record catches damage in transit where it happens; the
// manifest's sizes and SHA-256 hashes, compared with what the receiver
// decoded, prove the whole stream. Nothing after the last record is
// allowed. Every field of the header is validated as it is read (the ID is
// a mybak backup ID: it names directories and log files on the receiver).

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"regexp"
	"strings"
	"unicode"
)

// WireMagic starts every wire stream.
const WireMagic = "MYBAKWS1"

// WireChunk is the largest data record payload a writer produces (without
// its tag); WireMaxRecord bounds the manifest record. Every record type has
// its bound (wireLimit), checked before anything is allocated.
const (
	WireChunk     = 1 << 20
	WireMaxRecord = 16 << 20
	wireMaxHeader = 64 << 10
	wireMaxError  = 64 << 10
	wireTagLen    = sha256.Size
)

// Wire record types.
const (
	wireHeader   = 'H'
	wireAuth     = 'A'
	wireData     = 'D'
	wireManifest = 'M'
	wireError    = 'E'
)

// wireLimit is the largest payload a record of typ may have, its tag
// (tagLen bytes in an authenticated stream) included; 0 for unknown types.
func wireLimit(typ byte, tagLen uint32) uint32 {
	switch typ {
	case wireHeader:
		return wireMaxHeader
	case wireAuth:
		return wireTagLen
	case wireData:
		return WireChunk + tagLen
	case wireManifest:
		return WireMaxRecord + tagLen
	case wireError:
		return wireMaxError + tagLen
	}
	return 0
}

// wireTypeName names a record type in messages.
func wireTypeName(typ byte) string {
	switch typ {
	case wireHeader:
		return "header"
	case wireAuth:
		return "auth"
	case wireData:
		return "data"
	case wireManifest:
		return "manifest"
	case wireError:
		return "error"
	}
	return fmt.Sprintf("%q", typ)
}

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
	// Auth (format 2, sent with a key) holds the MAC key's salt and
	// iteration count; its MAC is empty (the 'A' record holds the tag).
	Auth *Auth `json:"auth,omitempty"`
}

// engineName is the form of an engine's name: what a header must hold
// when the reader is not told which engines it takes.
var engineName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// knowsEngine reports whether a header may name engine name: one of
// engines (WireReadOptions.Engines) or, with none given, a name of an
// engine's form.
func knowsEngine(engines func(string) bool, name string) bool {
	if engines != nil {
		return engines(name)
	}
	return engineName.MatchString(name)
}

// maxKDFIter bounds the PBKDF2 iteration count mybak accepts from a
// manifest or a stream header (a huge count would hang the reader).
const maxKDFIter = 10_000_000

// validate checks every field of a header read from a stream.
func (h *WireHeader) validate(engines func(string) bool) error {
	if h.FormatVersion < 1 || h.FormatVersion > FormatVersion {
		return fmt.Errorf("format version %d (this mybak reads 1 to %d): use the same mybak version on both ends", h.FormatVersion, FormatVersion)
	}
	if err := ValidateID(h.ID); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	if !knowsEngine(engines, h.Engine) {
		return fmt.Errorf("header: unknown engine %q", h.Engine)
	}
	if h.Type != "full" {
		return fmt.Errorf("header: backup type %q (a stream carries one full backup)", h.Type)
	}
	if err := h.Compression.validate(); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	if h.Encryption != nil {
		if err := h.Encryption.validate(); err != nil {
			return fmt.Errorf("header: %v", err)
		}
	}
	if h.Auth != nil {
		if h.FormatVersion < 2 {
			return fmt.Errorf("header: an auth block in a format version %d stream", h.FormatVersion)
		}
		if h.Auth.MAC != "" {
			return errors.New("header: the auth block carries a MAC")
		}
		if err := h.Auth.validate(); err != nil {
			return fmt.Errorf("header: %v", err)
		}
	}
	return nil
}

// validate checks a compression record.
func (c Compression) validate() error {
	max := 0
	switch c.Kind {
	case "gzip":
		max = 9
	case "zstd":
		max = 22
	case "none":
	default:
		return fmt.Errorf("unknown compression %q", c.Kind)
	}
	if c.Level < 0 || c.Level > max {
		return fmt.Errorf("%s compression level %d out of range (0..%d)", c.Kind, c.Level, max)
	}
	return nil
}

// validate checks an encryption record.
func (e *Encryption) validate() error {
	if e.Cipher != "aes-256-cbc" {
		return fmt.Errorf("unknown cipher %q", e.Cipher)
	}
	if e.KDF != nil {
		if err := e.KDF.Validate(); err != nil {
			return fmt.Errorf("encryption kdf: %v", err)
		}
		if e.KDF.Iter > maxKDFIter {
			return fmt.Errorf("encryption kdf: iteration count %d above %d", e.KDF.Iter, maxKDFIter)
		}
	}
	return nil
}

// WireSenderError is the failure a sender reported in an 'E' record.
type WireSenderError struct{ Msg string }

func (e *WireSenderError) Error() string { return "the sending mybak failed: " + e.Msg }

// printable makes text from a stream safe to print on a terminal or in a
// log: invalid UTF-8 and control characters (but newlines and tabs) are
// replaced.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\ufffd")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) && r != 0x2028 && r != 0x2029 && !unicode.Is(unicode.Bidi_Control, r) {
			return r
		}
		return '?'
	}, s)
}

// wireMAC is the tag chain of an authenticated stream.
type wireMAC struct {
	h    hash.Hash
	prev []byte
}

func newWireMAC(pass []byte, a *Auth) (*wireMAC, error) {
	k, err := a.macKey(pass, infoWire)
	if err != nil {
		return nil, err
	}
	return &wireMAC{h: hmac.New(sha256.New, k)}, nil
}

// tag returns the tag of the next record (type typ, payload p without its
// tag) and advances the chain.
func (wm *wireMAC) tag(typ byte, p []byte) []byte {
	wm.h.Reset()
	wm.h.Write(wm.prev)
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	wm.h.Write(hdr[:])
	wm.h.Write(p)
	wm.prev = wm.h.Sum(nil)
	return wm.prev
}

// wireWriter writes records; data is buffered into WireChunk records.
type wireWriter struct {
	w   io.Writer
	buf []byte
	mac *wireMAC // nil: unauthenticated
	err error
}

// newWireWriter writes the magic and the header h; with pass, h gets an
// auth block and every record a tag (see the top of wire.go).
func newWireWriter(w io.Writer, h *WireHeader, pass []byte) (*wireWriter, error) {
	ww := &wireWriter{w: w, buf: make([]byte, 0, WireChunk+wireTagLen)}
	if pass != nil {
		h.Auth = newAuth()
		h.Auth.MAC = ""
		var err error
		if ww.mac, err = newWireMAC(pass, h.Auth); err != nil {
			return nil, err
		}
	}
	if _, err := io.WriteString(w, WireMagic); err != nil {
		return nil, fmt.Errorf("write stream header: %w", err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if err := ww.frame(wireHeader, b); err != nil {
		return nil, err
	}
	if ww.mac != nil {
		if err := ww.frame(wireAuth, ww.mac.tag(wireHeader, b)); err != nil {
			return nil, err
		}
	}
	return ww, nil
}

// record writes a record after the header, with its tag when
// authenticated. p may be ww.buf.
func (ww *wireWriter) record(typ byte, p []byte) error {
	if ww.mac != nil {
		p = append(p, ww.mac.tag(typ, p)...)
	}
	return ww.frame(typ, p)
}

// frame writes one record as it is.
func (ww *wireWriter) frame(typ byte, p []byte) error {
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
	msg := err.Error()
	if len(msg) > wireMaxError {
		msg = msg[:wireMaxError]
	}
	ww.record(wireError, []byte(msg))
}

// WireReadOptions configure NewWireReader.
type WireReadOptions struct {
	// Pass is the configured passphrase (nil: none): it authenticates an
	// authenticated stream, and with it an unauthenticated stream is
	// refused (ErrUnauthenticated) unless AllowUnauthenticated.
	Pass                 []byte
	AllowUnauthenticated bool
	// Warn, when set, is told when an unauthenticated stream is accepted.
	Warn func(msg string, args ...any)
	// Engines reports whether the reader can restore a stream of the
	// engine it names (engine.Wire, what the engines declare); a header
	// naming another is refused. nil takes any name of an engine's form
	// (lower-case letters, digits, '-'): for readers that restore nothing
	// by engine.
	Engines func(name string) bool
}

// WireReader reads a wire stream: Header is known once NewWireReader
// returns, Read returns the encoded data and io.EOF after the manifest
// record, which Manifest then returns. Every record is checked (CRC, size
// bound, and in an authenticated stream its tag) before its bytes are
// returned. It is not safe for concurrent use.
type WireReader struct {
	r        *bufio.Reader
	Header   WireHeader
	mac      *wireMAC
	manifest *Manifest
	cur      []byte
	buf      []byte
	n        int64 // data bytes read
	err      error
}

// NewWireReader reads the magic and the header record of r, checks every
// field of the header and applies the authentication policy of opts: an
// authenticated stream needs the key, and its header's tag is checked
// here; an unauthenticated one is refused when a key is configured unless
// opts.AllowUnauthenticated. Errors wrap ErrWire, and ErrAuthentication or
// ErrUnauthenticated for those.
func NewWireReader(r io.Reader, opts WireReadOptions) (*WireReader, error) {
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
		return nil, fmt.Errorf("%w: first record is %s, not the header", ErrWire, wireTypeName(typ))
	}
	if err := parseWireHeader(p, &wr.Header, opts.Engines); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWire, err)
	}
	h := &wr.Header
	switch {
	case h.Auth != nil && opts.Pass == nil:
		return nil, fmt.Errorf("%w: backup %s: the stream is authenticated (and encrypted) with a key: give it with --encrypt-key-file or MYBAK_ENCRYPT_KEY",
			ErrWire, h.ID)
	case h.Auth != nil:
		if wr.mac, err = newWireMAC(opts.Pass, h.Auth); err != nil {
			return nil, err
		}
		want := wr.mac.tag(wireHeader, p)
		typ, tag, err := wr.next()
		if err != nil {
			return nil, err
		}
		if typ != wireAuth || !hmac.Equal(tag, want) {
			return nil, fmt.Errorf("%w: %w: the stream's header does not match its MAC: it was altered, or the sender used another key (check --encrypt-key-file on both ends)",
				ErrWire, ErrAuthentication)
		}
	case opts.Pass != nil && !opts.AllowUnauthenticated:
		return nil, fmt.Errorf("%w: %w: backup %s: the stream carries no MAC (sent without a key, or by a mybak that does not authenticate streams) and a key is configured: send it with the key (and an up-to-date mybak), or add --allow-unauthenticated",
			ErrWire, ErrUnauthenticated, h.ID)
	default:
		if opts.Warn != nil {
			opts.Warn("the backup stream is not authenticated: whoever can write to standard input could have altered it", "id", h.ID)
		}
	}
	return wr, nil
}

// parseWireHeader decodes a header strictly (no unknown field, nothing
// after the object) and validates it.
func parseWireHeader(p []byte, h *WireHeader, engines func(string) bool) error {
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(p, &probe); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	if probe.FormatVersion > FormatVersion || probe.FormatVersion < 1 {
		return fmt.Errorf("format version %d (this mybak reads 1 to %d): use the same mybak version on both ends", probe.FormatVersion, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(h); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	if dec.More() {
		return errors.New("header: data after the JSON object")
	}
	return h.validate(engines)
}

// next reads one record, bounds its size by its type before allocating,
// and checks its CRC.
func (wr *WireReader) next() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(wr.r, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("%w: truncated after %d bytes of data: the sender stopped before the end (killed, or the connection dropped)", ErrWire, wr.n)
		}
		return 0, nil, fmt.Errorf("read stream: %w", err)
	}
	typ, size := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	var tagLen uint32
	if wr.mac != nil {
		tagLen = wireTagLen
	}
	limit := wireLimit(typ, tagLen)
	if limit == 0 {
		return 0, nil, fmt.Errorf("%w: unknown record type %s after %d bytes of data", ErrWire, wireTypeName(typ), wr.n)
	}
	if size > limit {
		return 0, nil, fmt.Errorf("%w: %s record of %d bytes after %d bytes of data (at most %d: damaged)", ErrWire, wireTypeName(typ), size, wr.n, limit)
	}
	// Grow the buffer with what arrives, not with what the length claims.
	if cap(wr.buf) < int(size)+4 && size > WireChunk+wireTagLen {
		var b bytes.Buffer
		if _, err := io.CopyN(&b, wr.r, int64(size)+4); err != nil {
			return 0, nil, wr.cut(err)
		}
		wr.buf = b.Bytes()
	} else {
		if cap(wr.buf) < int(size)+4 {
			wr.buf = make([]byte, int(size)+4, max(int(size)+4, WireChunk+wireTagLen+4))
		}
		if _, err := io.ReadFull(wr.r, wr.buf[:int(size)+4]); err != nil {
			return 0, nil, wr.cut(err)
		}
	}
	b := wr.buf[:int(size)+4]
	p := b[:size]
	crc := crc32.NewIEEE()
	crc.Write(hdr[:1])
	crc.Write(p)
	if crc.Sum32() != binary.BigEndian.Uint32(b[size:]) {
		return 0, nil, fmt.Errorf("%w: CRC mismatch in a %s record after %d bytes of data (damaged in transit)", ErrWire, wireTypeName(typ), wr.n)
	}
	return typ, p, nil
}

func (wr *WireReader) cut(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated inside a record after %d bytes of data: the sender stopped before the end", ErrWire, wr.n)
	}
	return fmt.Errorf("read stream: %w", err)
}

// authenticated reads the next record after the header and, in an
// authenticated stream, checks and strips its tag.
func (wr *WireReader) authenticated() (byte, []byte, error) {
	typ, p, err := wr.next()
	if err != nil || wr.mac == nil {
		return typ, p, err
	}
	if typ == wireHeader || typ == wireAuth || len(p) < wireTagLen {
		return 0, nil, fmt.Errorf("%w: %w: unexpected %s record after %d bytes of data", ErrWire, ErrAuthentication, wireTypeName(typ), wr.n)
	}
	body, tag := p[:len(p)-wireTagLen], p[len(p)-wireTagLen:]
	if !hmac.Equal(wr.mac.tag(typ, body), tag) {
		return 0, nil, fmt.Errorf("%w: %w: a %s record after %d bytes of data does not match its MAC: the stream was altered, or records were dropped, repeated or reordered",
			ErrWire, ErrAuthentication, wireTypeName(typ), wr.n)
	}
	return typ, body, nil
}

// Read returns the encoded data of the data records; io.EOF once the
// manifest record was read and nothing follows it.
func (wr *WireReader) Read(p []byte) (int, error) {
	for len(wr.cur) == 0 {
		if wr.err != nil {
			return 0, wr.err
		}
		typ, b, err := wr.authenticated()
		if err != nil {
			wr.err = err
			return 0, err
		}
		switch typ {
		case wireData:
			wr.cur = b
		case wireError:
			wr.err = &WireSenderError{Msg: printable(b)}
		case wireManifest:
			m, err := wr.parseManifest(b)
			if err != nil {
				wr.err = err
				break
			}
			if _, err := wr.r.ReadByte(); err != io.EOF {
				wr.err = fmt.Errorf("%w: data after the manifest record", ErrWire)
				break
			}
			wr.manifest, wr.err = m, io.EOF
		default:
			wr.err = fmt.Errorf("%w: unknown record type %s", ErrWire, wireTypeName(typ))
		}
	}
	n := copy(p, wr.cur)
	wr.cur = wr.cur[n:]
	wr.n += int64(n)
	return n, nil
}

// parseManifest parses the manifest record and checks that it describes
// the backup the header announced.
func (wr *WireReader) parseManifest(b []byte) (*Manifest, error) {
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWire, err)
	}
	h := &wr.Header
	same := m.ID == h.ID && m.Engine.Name == h.Engine && m.Type == h.Type && m.inOwnLayout() &&
		m.Compression.Kind == h.Compression.Kind && (m.Encryption == nil) == (h.Encryption == nil)
	if !same {
		return nil, fmt.Errorf("%w: the manifest (%s, %s, %s) does not belong to the header (%s, %s, %s)",
			ErrWire, m.ID, m.Engine.Name, m.Compression.Kind, h.ID, h.Engine, h.Compression.Kind)
	}
	// The stream's tags authenticated the record that holds it.
	m.authOK = wr.mac != nil
	return m, nil
}

// Manifest returns the manifest once Read has returned io.EOF, else nil.
func (wr *WireReader) Manifest() *Manifest { return wr.manifest }

// Authenticated reports whether the stream carries MACs (checked on every
// record as it is read).
func (wr *WireReader) Authenticated() bool { return wr.mac != nil }
