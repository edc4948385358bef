package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// ErrCorrupt is wrapped by Reader.Next when the data is not a valid binary
// log: a bad magic number, an event size out of range, a checksum
// mismatch, a body shorter than its type needs.
var ErrCorrupt = errors.New("binary log is corrupt")

// ErrTruncated is wrapped by Reader.Next when the data ends inside an
// event: normal at the end of a binary log that is still being written,
// damage in a closed one. Event.Offset of the last event plus its size is
// where the complete events end.
var ErrTruncated = errors.New("binary log ends inside an event")

// DefaultMaxEventSize bounds one event (MySQL's and MariaDB's
// max_allowed_packet cannot exceed 1 GiB).
const DefaultMaxEventSize = 1<<30 + 1024

// maxTables bounds how many Table_map events Reader remembers at once; a
// transaction maps each table it changes once per statement.
const maxTables = 1 << 16

// ReaderOptions configure NewReader.
type ReaderOptions struct {
	// Offset is the file offset of the first byte read (0: the file's
	// start, where the magic number is expected).
	Offset int64
	// NoMagic, with Offset 0, reads events from the first byte (a stream
	// that starts with an event).
	NoMagic bool
	// Format describes the events when the reader starts after the
	// file's Format_description event (Offset > 0). Without it, the first
	// event must be a Format_description event.
	Format *Format
	// MaxEventSize bounds one event (0: DefaultMaxEventSize).
	MaxEventSize int64
}

// Reader reads events one after the other. It is not safe for concurrent
// use.
type Reader struct {
	r      io.Reader
	opts   ReaderOptions
	off    int64
	format *Format
	buf    bytes.Buffer
	head   [HeaderSize]byte
	tables map[uint64]Table
	magic  bool
	ev     Event
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxEventSize <= 0 {
		opts.MaxEventSize = DefaultMaxEventSize
	}
	return &Reader{r: r, opts: opts, off: opts.Offset, format: opts.Format,
		magic: opts.Offset == 0 && !opts.NoMagic, tables: map[uint64]Table{}}
}

// Offset is where the next event starts (where the complete events read so
// far end).
func (r *Reader) Offset() int64 { return r.off }

// Format is the format of the events, once known.
func (r *Reader) Format() *Format { return r.format }

// Next reads and decodes the next event. It returns io.EOF at a clean end
// (between events), an error wrapping ErrTruncated when the data ends inside
// an event, and one wrapping ErrCorrupt for invalid data; after an error the
// Reader must not be used again. The event is valid until the next call.
func (r *Reader) Next() (*Event, error) {
	if r.magic {
		var m [4]byte
		n, err := io.ReadFull(r.r, m[:])
		if err != nil {
			if n == 0 && errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("read binary log header: %w (empty file)", ErrTruncated)
			}
			return nil, fmt.Errorf("read binary log header: %w", noEOF(err))
		}
		if !bytes.Equal(m[:], Magic) {
			return nil, fmt.Errorf("%w: file does not start with the binary log magic number (fe 62 69 6e) but % x", ErrCorrupt, m[:])
		}
		r.magic = false
		r.off += 4
	}
	n, err := io.ReadFull(r.r, r.head[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read event header at %d: %w", r.off, noEOF(err))
	}
	h := parseHeader(r.head[:])
	min := int64(HeaderSize)
	if int64(h.EventSize) < min || int64(h.EventSize) > r.opts.MaxEventSize {
		return nil, fmt.Errorf("%w: event at %d (%s) has size %d, want %d..%d", ErrCorrupt, r.off, h.Type, h.EventSize, min, r.opts.MaxEventSize)
	}
	// Grow as the bytes arrive: a header that claims 1 GiB costs only what
	// follows it.
	r.buf.Reset()
	r.buf.Write(r.head[:])
	body := int64(h.EventSize) - HeaderSize
	got, err := io.CopyN(&r.buf, r.r, body)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("event at %d (%s, %d bytes): only %d bytes follow its header: %w", r.off, h.Type, h.EventSize, got, ErrTruncated)
		}
		return nil, fmt.Errorf("read event at %d: %w", r.off, err)
	}
	raw := r.buf.Bytes()
	r.ev = Event{Offset: r.off, Header: h, Raw: raw}
	ev := &r.ev
	if err := r.decode(ev); err != nil {
		return nil, fmt.Errorf("event at %d (%s): %w", r.off, h.Type, err)
	}
	r.off += int64(h.EventSize)
	return ev, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

// decode checks the event's checksum and decodes its body.
func (r *Reader) decode(ev *Event) error {
	raw := ev.Raw
	if ev.Header.Type == FormatDescriptionEvent {
		f, err := parseFormat(raw)
		if err != nil {
			return err
		}
		if f.Checksum == ChecksumCRC32 {
			// The server checksums the event before it sets the in-use
			// flag of the file being written, and clears the flag when it
			// closes the file: the CRC covers the header without it.
			if err := checkFormatCRC(raw); err != nil {
				return err
			}
		}
		ev.Format = f
		r.format = f
		return nil
	}
	if r.format == nil {
		return fmt.Errorf("%w: no Format_description event before it (a binary log starts with one at offset 4)", ErrCorrupt)
	}
	if r.format.Checksum == ChecksumCRC32 {
		if len(raw) < HeaderSize+4 {
			return fmt.Errorf("%w: %d bytes cannot hold a header and a checksum", ErrCorrupt, len(raw))
		}
		if err := checkCRC(raw); err != nil {
			return err
		}
		raw = raw[:len(raw)-4]
	}
	b := raw[HeaderSize:]
	short := func(what string) error {
		return fmt.Errorf("%w: body of %d bytes too short for its %s", ErrCorrupt, len(b), what)
	}
	f := r.format
	switch t := ev.Header.Type; {
	case t == RotateEvent:
		if len(b) < 8 {
			return short("position")
		}
		ev.Rotate = &Rotate{Position: binary.LittleEndian.Uint64(b), NextFile: string(b[8:])}
	case t == MariaGTIDEvent:
		if len(b) < 13 {
			return short("sequence, domain and flags")
		}
		g := GTID{Seq: binary.LittleEndian.Uint64(b), Domain: binary.LittleEndian.Uint32(b[8:]),
			ServerID: ev.Header.ServerID, Flags: b[12]}
		ev.GTID = &g
		r.clearTables()
	case t == MariaGTIDListEvent:
		if len(b) < 4 {
			return short("count")
		}
		n := int(binary.LittleEndian.Uint32(b) & 0x0fffffff)
		if n > (len(b)-4)/16 {
			return fmt.Errorf("%w: Gtid_list says %d GTIDs, its body holds %d", ErrCorrupt, n, (len(b)-4)/16)
		}
		list := make([]GTID, n)
		for i := range list {
			p := b[4+16*i:]
			list[i] = GTID{Domain: binary.LittleEndian.Uint32(p), ServerID: binary.LittleEndian.Uint32(p[4:]),
				Seq: binary.LittleEndian.Uint64(p[8:])}
		}
		ev.GTIDList = list
	case t == MySQLGTIDEvent:
		if len(b) < 25 {
			return short("flags, UUID and number")
		}
		g := GTID{MySQL: true, Seq: binary.LittleEndian.Uint64(b[17:])}
		copy(g.UUID[:], b[1:17])
		ev.GTID = &g
		r.clearTables()
	case t == AnonymousGTIDEvent:
		r.clearTables()
	case t == PreviousGTIDsEvent:
		s, err := parseGTIDSet(b)
		if err != nil {
			return err
		}
		ev.Previous = s
	case t == QueryEvent:
		q, err := parseQuery(b, f.postHeaderLen(t, 13))
		if err != nil {
			return err
		}
		ev.Query = q
	case t == AnnotateRowsEvent:
		ev.Query = &Query{Statement: string(b), Annotate: true}
	case t == RowsQueryEvent:
		if len(b) < 1 {
			return short("length")
		}
		ev.Query = &Query{Statement: string(b[1:]), Annotate: true}
	case t == XidEvent:
		if len(b) < 8 {
			return short("XID")
		}
		x := binary.LittleEndian.Uint64(b)
		ev.Xid = &x
	case t == TableMapEvent:
		tb, err := parseTableMap(b, f.postHeaderLen(t, 8))
		if err != nil {
			return err
		}
		if len(r.tables) >= maxTables {
			r.clearTables()
		}
		r.tables[tb.ID] = *tb
		ev.Table = tb
	case t.IsRows():
		idLen := 6
		if f.postHeaderLen(t, 8) == 6 {
			idLen = 4
		}
		if len(b) < idLen {
			return short("table id")
		}
		id := uintN(b[:idLen])
		if tb, ok := r.tables[id]; ok {
			ev.Table = &tb
		} else {
			ev.Table = &Table{ID: id}
		}
	case t == StartEncryptionEvent:
		ev.Encrypted = true
	}
	return nil
}

func (r *Reader) clearTables() {
	if len(r.tables) > 0 {
		clear(r.tables)
	}
}

func uintN(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func checkCRC(raw []byte) error {
	n := len(raw) - 4
	want := binary.LittleEndian.Uint32(raw[n:])
	if got := crc32.ChecksumIEEE(raw[:n]); got != want {
		return fmt.Errorf("%w: CRC32 %08x, the event says %08x", ErrCorrupt, got, want)
	}
	return nil
}

// flagInUse is set in the Format_description event of the file a
// server is writing (LOG_EVENT_BINLOG_IN_USE_F).
const flagInUse = 0x01

// checkFormatCRC checks a Format_description event's CRC, which the
// server computed without the in-use flag.
func checkFormatCRC(raw []byte) error {
	if binary.LittleEndian.Uint16(raw[17:])&flagInUse == 0 {
		return checkCRC(raw)
	}
	n := len(raw) - 4
	want := binary.LittleEndian.Uint32(raw[n:])
	var head [HeaderSize]byte
	copy(head[:], raw)
	head[17] &^= flagInUse
	crc := crc32.Update(crc32.ChecksumIEEE(head[:]), crc32.IEEETable, raw[HeaderSize:n])
	if crc != want {
		return fmt.Errorf("%w: CRC32 %08x, the event says %08x", ErrCorrupt, crc, want)
	}
	return nil
}

// parseFormat decodes a Format_description event (raw: the whole event).
func parseFormat(raw []byte) (*Format, error) {
	const fixed = 2 + 50 + 4 + 1
	b := raw[HeaderSize:]
	if len(b) < fixed {
		return nil, fmt.Errorf("%w: Format_description body of %d bytes, want at least %d", ErrCorrupt, len(b), fixed)
	}
	f := &Format{BinlogVersion: binary.LittleEndian.Uint16(b)}
	if f.BinlogVersion != 4 {
		return nil, fmt.Errorf("%w: binary log version %d (only version 4, MySQL 5.0 and later, is read)", ErrCorrupt, f.BinlogVersion)
	}
	f.ServerVersion = string(bytes.TrimRight(b[2:52], "\x00"))
	f.Created = binary.LittleEndian.Uint32(b[52:])
	f.HeaderLength = b[56]
	if f.HeaderLength != HeaderSize {
		return nil, fmt.Errorf("%w: event header length %d, want %d", ErrCorrupt, f.HeaderLength, HeaderSize)
	}
	rest := b[fixed:]
	f.Checksum = ChecksumUndefined
	if checksumCapable(f.ServerVersion) {
		if len(rest) < 5 {
			return nil, fmt.Errorf("%w: Format_description of %s has no room for its checksum", ErrCorrupt, f.ServerVersion)
		}
		f.Checksum = rest[len(rest)-5]
		rest = rest[:len(rest)-5]
		if f.Checksum != ChecksumOff && f.Checksum != ChecksumCRC32 {
			return nil, fmt.Errorf("%w: unknown checksum algorithm %d", ErrCorrupt, f.Checksum)
		}
	}
	f.PostHeaderLengths = append([]byte(nil), rest...)
	return f, nil
}

// checksumCapable reports whether a server of version v writes the
// checksum algorithm into its Format_description event: MySQL 5.6.1 and
// later, MariaDB 5.3 and later.
func checksumCapable(v string) bool {
	nums := strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3)
	var n [3]int
	for i := range nums {
		d := nums[i]
		j := 0
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
		n[i], _ = strconv.Atoi(d[:j])
	}
	ver := n[0]*10000 + n[1]*100 + n[2]
	if strings.Contains(v, "MariaDB") {
		return ver >= 50300
	}
	return ver >= 50601
}

// parseQuery decodes a Query event's body b (checksum removed).
func parseQuery(b []byte, phl int) (*Query, error) {
	if phl < 13 || len(b) < phl {
		return nil, fmt.Errorf("%w: Query body of %d bytes, post-header %d", ErrCorrupt, len(b), phl)
	}
	dbLen := int(b[8])
	statusLen := int(binary.LittleEndian.Uint16(b[11:]))
	p := phl + statusLen
	if p+dbLen+1 > len(b) {
		return nil, fmt.Errorf("%w: Query status (%d bytes) and database name (%d) overrun its body (%d)", ErrCorrupt, statusLen, dbLen, len(b))
	}
	return &Query{DB: string(b[p : p+dbLen]), Statement: string(b[p+dbLen+1:])}, nil
}

// parseTableMap decodes the table a Table_map event's body b names.
func parseTableMap(b []byte, phl int) (*Table, error) {
	idLen := 6
	if phl == 6 {
		idLen = 4
	}
	if phl < idLen || len(b) < phl+1 {
		return nil, fmt.Errorf("%w: Table_map body of %d bytes", ErrCorrupt, len(b))
	}
	t := &Table{ID: uintN(b[:idLen])}
	p := phl
	dbLen := int(b[p])
	p++
	if p+dbLen+2 > len(b) {
		return nil, fmt.Errorf("%w: Table_map database name overruns its body", ErrCorrupt)
	}
	t.DB = string(b[p : p+dbLen])
	p += dbLen + 1
	tl := int(b[p])
	p++
	if p+tl > len(b) {
		return nil, fmt.Errorf("%w: Table_map table name overruns its body", ErrCorrupt)
	}
	t.Name = string(b[p : p+tl])
	return t, nil
}

// parseGTIDSet decodes MySQL's Previous_gtids body into the text form of a
// GTID set (uuid:1-5:7-9,uuid2:1-3).
func parseGTIDSet(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("%w: Previous_gtids body of %d bytes", ErrCorrupt, len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	p := 8
	var sb strings.Builder
	for i := uint64(0); i < n; i++ {
		if len(b)-p < 24 {
			return "", fmt.Errorf("%w: Previous_gtids says %d UUIDs, its body ends after %d", ErrCorrupt, n, i)
		}
		var u [16]byte
		copy(u[:], b[p:])
		k := binary.LittleEndian.Uint64(b[p+16:])
		p += 24
		if k > uint64(len(b)-p)/16 {
			return "", fmt.Errorf("%w: Previous_gtids says %d intervals, its body holds fewer", ErrCorrupt, k)
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(UUIDString(u))
		for j := uint64(0); j < k; j++ {
			start := int64(binary.LittleEndian.Uint64(b[p:]))
			end := int64(binary.LittleEndian.Uint64(b[p+8:])) // exclusive
			p += 16
			if end-1 > start {
				fmt.Fprintf(&sb, ":%d-%d", start, end-1)
			} else {
				fmt.Fprintf(&sb, ":%d", start)
			}
		}
	}
	return sb.String(), nil
}
