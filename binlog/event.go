package binlog

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Magic starts every binary log file.
var Magic = []byte{0xfe, 'b', 'i', 'n'}

// HeaderSize is the size of a version 4 event header.
const HeaderSize = 19

// EventType is an event's type code.
type EventType uint8

// Event types that this package knows by name (MySQL's and MariaDB's
// log_event.h).
const (
	QueryEvent              EventType = 2
	StopEvent               EventType = 3
	RotateEvent             EventType = 4
	IntvarEvent             EventType = 5
	RandEvent               EventType = 13
	UserVarEvent            EventType = 14
	FormatDescriptionEvent  EventType = 15
	XidEvent                EventType = 16
	BeginLoadQueryEvent     EventType = 17
	ExecuteLoadQueryEvent   EventType = 18
	TableMapEvent           EventType = 19
	WriteRowsEventV0        EventType = 20
	UpdateRowsEventV0       EventType = 21
	DeleteRowsEventV0       EventType = 22
	WriteRowsEventV1        EventType = 23
	UpdateRowsEventV1       EventType = 24
	DeleteRowsEventV1       EventType = 25
	IncidentEvent           EventType = 26
	HeartbeatEvent          EventType = 27
	IgnorableEvent          EventType = 28
	RowsQueryEvent          EventType = 29
	WriteRowsEventV2        EventType = 30
	UpdateRowsEventV2       EventType = 31
	DeleteRowsEventV2       EventType = 32
	MySQLGTIDEvent          EventType = 33
	AnonymousGTIDEvent      EventType = 34
	PreviousGTIDsEvent      EventType = 35
	TransactionContextEvent EventType = 36
	ViewChangeEvent         EventType = 37
	XAPrepareEvent          EventType = 38
	PartialUpdateRowsEvent  EventType = 39
	TransactionPayloadEvent EventType = 40
	HeartbeatEventV2        EventType = 41

	AnnotateRowsEvent           EventType = 160
	BinlogCheckpointEvent       EventType = 161
	MariaGTIDEvent              EventType = 162
	MariaGTIDListEvent          EventType = 163
	StartEncryptionEvent        EventType = 164
	QueryCompressedEvent        EventType = 165
	WriteRowsCompressedEventV1  EventType = 166
	UpdateRowsCompressedEventV1 EventType = 167
	DeleteRowsCompressedEventV1 EventType = 168
	WriteRowsCompressedEvent    EventType = 169
	UpdateRowsCompressedEvent   EventType = 170
	DeleteRowsCompressedEvent   EventType = 171
)

var typeNames = map[EventType]string{
	QueryEvent: "Query", StopEvent: "Stop", RotateEvent: "Rotate", IntvarEvent: "Intvar",
	RandEvent: "Rand", UserVarEvent: "User_var", FormatDescriptionEvent: "Format_desc",
	XidEvent: "Xid", BeginLoadQueryEvent: "Begin_load_query", ExecuteLoadQueryEvent: "Execute_load_query",
	TableMapEvent: "Table_map", WriteRowsEventV0: "Write_rows_v0", UpdateRowsEventV0: "Update_rows_v0",
	DeleteRowsEventV0: "Delete_rows_v0", WriteRowsEventV1: "Write_rows_v1", UpdateRowsEventV1: "Update_rows_v1",
	DeleteRowsEventV1: "Delete_rows_v1", IncidentEvent: "Incident", HeartbeatEvent: "Heartbeat",
	IgnorableEvent: "Ignorable", RowsQueryEvent: "Rows_query", WriteRowsEventV2: "Write_rows",
	UpdateRowsEventV2: "Update_rows", DeleteRowsEventV2: "Delete_rows", MySQLGTIDEvent: "Gtid",
	AnonymousGTIDEvent: "Anonymous_Gtid", PreviousGTIDsEvent: "Previous_gtids",
	TransactionContextEvent: "Transaction_context", ViewChangeEvent: "View_change",
	XAPrepareEvent: "XA_prepare", PartialUpdateRowsEvent: "Partial_update_rows",
	TransactionPayloadEvent: "Transaction_payload", HeartbeatEventV2: "Heartbeat_v2",
	AnnotateRowsEvent: "Annotate_rows", BinlogCheckpointEvent: "Binlog_checkpoint",
	MariaGTIDEvent: "Gtid", MariaGTIDListEvent: "Gtid_list", StartEncryptionEvent: "Start_encryption",
	QueryCompressedEvent: "Query_compressed", WriteRowsCompressedEventV1: "Write_rows_compressed_v1",
	UpdateRowsCompressedEventV1: "Update_rows_compressed_v1", DeleteRowsCompressedEventV1: "Delete_rows_compressed_v1",
	WriteRowsCompressedEvent: "Write_rows_compressed", UpdateRowsCompressedEvent: "Update_rows_compressed",
	DeleteRowsCompressedEvent: "Delete_rows_compressed",
}

// String returns the type's name as mysqlbinlog prints it, or its number.
func (t EventType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type " + strconv.Itoa(int(t))
}

// IsRows reports whether t is a row event (write, update or delete rows,
// any version, MariaDB's compressed ones included).
func (t EventType) IsRows() bool {
	switch t {
	case WriteRowsEventV0, UpdateRowsEventV0, DeleteRowsEventV0,
		WriteRowsEventV1, UpdateRowsEventV1, DeleteRowsEventV1,
		WriteRowsEventV2, UpdateRowsEventV2, DeleteRowsEventV2, PartialUpdateRowsEvent,
		WriteRowsCompressedEventV1, UpdateRowsCompressedEventV1, DeleteRowsCompressedEventV1,
		WriteRowsCompressedEvent, UpdateRowsCompressedEvent, DeleteRowsCompressedEvent:
		return true
	}
	return false
}

// Header flags.
const (
	// FlagArtificial marks an event the server made up for a replica (the
	// first Rotate, a Gtid_list on connect): it is not in the file.
	FlagArtificial = 0x20
)

// Header is the common header of every event.
type Header struct {
	Timestamp uint32
	Type      EventType
	ServerID  uint32
	// EventSize is the whole event's size, header and checksum included.
	EventSize uint32
	// LogPos is where the next event starts in the file the event was
	// written to (0 for events a server made up for a replica).
	LogPos uint32
	Flags  uint16
}

// Time is the event's timestamp.
func (h Header) Time() time.Time { return time.Unix(int64(h.Timestamp), 0).UTC() }

func parseHeader(b []byte) Header {
	return Header{
		Timestamp: binary.LittleEndian.Uint32(b[0:]),
		Type:      EventType(b[4]),
		ServerID:  binary.LittleEndian.Uint32(b[5:]),
		EventSize: binary.LittleEndian.Uint32(b[9:]),
		LogPos:    binary.LittleEndian.Uint32(b[13:]),
		Flags:     binary.LittleEndian.Uint16(b[17:]),
	}
}

// Checksum algorithms of a Format_description event.
const (
	ChecksumOff   = 0
	ChecksumCRC32 = 1
	// ChecksumUndefined is what servers before checksums wrote (no byte).
	ChecksumUndefined = 255
)

// Format is what a Format_description event says about the events that
// follow it.
type Format struct {
	BinlogVersion uint16
	ServerVersion string
	Created       uint32
	HeaderLength  uint8
	// PostHeaderLengths[t-1] is the post-header length of event type t.
	PostHeaderLengths []byte
	// Checksum is ChecksumOff, ChecksumCRC32 or ChecksumUndefined.
	Checksum uint8
}

// MariaDB reports whether the server that wrote the log is MariaDB.
func (f *Format) MariaDB() bool { return strings.Contains(f.ServerVersion, "MariaDB") }

// postHeaderLen returns the post-header length of t, or def when the
// format does not say.
func (f *Format) postHeaderLen(t EventType, def int) int {
	if f != nil && t > 0 && int(t) <= len(f.PostHeaderLengths) {
		return int(f.PostHeaderLengths[t-1])
	}
	return def
}

// GTID is one global transaction ID: MariaDB's domain-server-sequence, or
// MySQL's uuid:number (UUID set).
type GTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
	// UUID is set for MySQL GTIDs (then Domain and ServerID are 0).
	UUID  [16]byte
	MySQL bool
	// Flags are MariaDB's GTID event flags (FlagStandalone, ...).
	Flags uint8
}

// MariaDB GTID event flags.
const (
	// FlagStandalone marks an event group without a terminating Xid or
	// COMMIT (DDL, non-transactional statements).
	FlagStandalone   = 0x01
	flagGroupCommit  = 0x02
	flagPreparedXA   = 0x40
	flagCompletedXA  = 0x80
	maxXIDDataLength = 128
)

// String formats g as the server does: 0-1-42 or 3E11FA47-...:42.
func (g GTID) String() string {
	if g.MySQL {
		return UUIDString(g.UUID) + ":" + strconv.FormatUint(g.Seq, 10)
	}
	return fmt.Sprintf("%d-%d-%d", g.Domain, g.ServerID, g.Seq)
}

// UUIDString formats a UUID in its canonical lower-case form.
func UUIDString(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ParseGTID parses one GTID in MariaDB's (D-S-N) or MySQL's (UUID:N) form.
func ParseGTID(s string) (GTID, error) {
	s = strings.TrimSpace(s)
	if u, n, ok := strings.Cut(s, ":"); ok {
		var g GTID
		raw, err := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
		if err != nil || len(raw) != 16 {
			return GTID{}, fmt.Errorf("GTID %q: bad server UUID (want e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:23)", s)
		}
		copy(g.UUID[:], raw)
		if g.Seq, err = strconv.ParseUint(n, 10, 64); err != nil || g.Seq == 0 {
			return GTID{}, fmt.Errorf("GTID %q: bad transaction number", s)
		}
		g.MySQL = true
		return g, nil
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return GTID{}, fmt.Errorf("GTID %q: want DOMAIN-SERVER-SEQUENCE (MariaDB, e.g. 0-1-42) or UUID:N (MySQL)", s)
	}
	var v [3]uint64
	for i, p := range parts {
		bits := 32
		if i == 2 {
			bits = 64
		}
		n, err := strconv.ParseUint(p, 10, bits)
		if err != nil {
			return GTID{}, fmt.Errorf("GTID %q: %q is not a number", s, p)
		}
		v[i] = n
	}
	return GTID{Domain: uint32(v[0]), ServerID: uint32(v[1]), Seq: v[2]}, nil
}

// Query is the body of a Query event (or, with Annotate set, the statement
// of MariaDB's Annotate_rows or MySQL's Rows_query event).
type Query struct {
	DB        string
	Statement string
	// Annotate is set when the statement only annotates the row events
	// that follow (it is not executed by replay).
	Annotate bool
}

// Table is a table a Table_map event names (and the row events that
// follow it use).
type Table struct {
	ID   uint64
	DB   string
	Name string
}

// String returns db.table.
func (t Table) String() string { return t.DB + "." + t.Name }

// Event is one decoded event. Raw and the slices in it are valid until the
// next call of Reader.Next.
type Event struct {
	// Offset is where the event starts, counted as ReaderOptions.Offset
	// says (the file's offset when the reader starts at the file's start).
	Offset int64
	Header Header
	// Raw is the whole event, header and checksum included.
	Raw []byte

	// Set by type (nil or zero otherwise):
	Format    *Format // Format_description
	Rotate    *Rotate // Rotate
	GTID      *GTID   // MariaDB or MySQL GTID (anonymous GTIDs: nil)
	GTIDList  []GTID  // MariaDB Gtid_list: the binlog state before this file
	Previous  string  // MySQL Previous_gtids as a GTID set, e.g. "uuid:1-5"
	Query     *Query  // Query, Annotate_rows, Rows_query
	Xid       *uint64 // Xid
	Table     *Table  // Table_map, and row events (the table they change)
	Encrypted bool    // Start_encryption: what follows cannot be decoded
}

// Rotate is the body of a Rotate event.
type Rotate struct {
	NextFile string
	Position uint64
}
