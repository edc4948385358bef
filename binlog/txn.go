package binlog

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Txn is one event group as replay applies it: a transaction, or one DDL
// or non-transactional statement, from its GTID event (or BEGIN) to its
// Xid, COMMIT, or the statement itself.
type Txn struct {
	// GTID is nil for anonymous transactions (MySQL without GTIDs).
	GTID *GTID
	// Start and End are the offsets of its first byte and just past its
	// last.
	Start, End int64
	// Time is its first event's timestamp; EndTime its last's.
	Time, EndTime time.Time
	// ServerID is the server_id of its first event.
	ServerID uint32
	// First is the first line of its first statement (DDL, DML, or the
	// annotation of its row events), at most 200 bytes; empty when the
	// transaction has none (row events without annotation).
	First string
	// Tables are the tables its row events change, at most 64, db.table.
	Tables []string
	// Match is the first statement that ScanOptions.Match accepted.
	Match string
	// Events counts its events.
	Events int
}

// ScanOptions configure NewScanner.
type ScanOptions struct {
	ReaderOptions
	// Match, when set, is asked about every statement (Query and
	// annotation text) of every transaction; the first it accepts is
	// Txn.Match.
	Match func(q *Query) bool
	// OnEvent, when set, sees every event, inside transactions or not,
	// before the scanner does.
	OnEvent func(ev *Event) error
}

// Scanner reads a binary log as transactions. It is not safe for
// concurrent use.
type Scanner struct {
	r    *Reader
	opts ScanOptions
	cur  *Txn
	// standalone: the group ends after its statement; begun: a BEGIN (or a
	// transactional GTID) opened it.
	standalone, begun bool
	// Outside counts events outside transactions (Format_description,
	// Rotate, Gtid_list, ...).
	lastTime time.Time
	gtidList []GTID
	previous string
	rotate   *Rotate
	format   *Format
}

// NewScanner returns a Scanner of r.
func NewScanner(r io.Reader, opts ScanOptions) *Scanner {
	return &Scanner{r: NewReader(r, opts.ReaderOptions), opts: opts}
}

// Offset is where the complete events read so far end.
func (s *Scanner) Offset() int64 { return s.r.Offset() }

// Format is the format of the log once its Format_description was read.
func (s *Scanner) Format() *Format { return s.r.Format() }

// GTIDList is the file's Gtid_list (MariaDB: the binlog state when the file
// was started), once read; Previous MySQL's Previous_gtids.
func (s *Scanner) GTIDList() []GTID { return s.gtidList }

// Previous is the file's Previous_gtids set (MySQL), once read.
func (s *Scanner) Previous() string { return s.previous }

// Rotate is the file's closing Rotate event, once read: the log ended
// there and goes on in Rotate.NextFile.
func (s *Scanner) Rotate() *Rotate { return s.rotate }

// LastTime is the timestamp of the last event read.
func (s *Scanner) LastTime() time.Time { return s.lastTime }

// InTxn reports whether the scanner stopped inside a transaction (the
// data read so far ends in its middle).
func (s *Scanner) InTxn() bool { return s.cur != nil }

// Next returns the next complete transaction. At the end of the data it
// returns io.EOF (the complete events end at Offset; InTxn says whether a
// transaction was left open), or an error of the Reader (ErrTruncated,
// ErrCorrupt).
func (s *Scanner) Next() (*Txn, error) {
	for {
		ev, err := s.r.Next()
		if err != nil {
			return nil, err
		}
		if s.opts.OnEvent != nil {
			if err := s.opts.OnEvent(ev); err != nil {
				return nil, err
			}
		}
		if ev.Header.Flags&FlagArtificial == 0 && ev.Header.Timestamp != 0 {
			s.lastTime = ev.Header.Time()
		}
		if ev.Encrypted {
			return nil, fmt.Errorf("event at %d: %w", ev.Offset, ErrEncrypted)
		}
		if t, done := s.step(ev); done {
			return t, nil
		}
	}
}

// ErrEncrypted is returned by Scanner.Next for an encrypted binary log
// (MariaDB's encrypt_binlog): its events cannot be decoded without the
// server's key.
var ErrEncrypted = errors.New("the binary log is encrypted by the server (encrypt_binlog): mybak cannot read its events; archive from a server without encrypt_binlog (mybak encrypts the archive itself)")

func (s *Scanner) begin(ev *Event) {
	s.cur = &Txn{Start: ev.Offset, Time: ev.Header.Time(), ServerID: ev.Header.ServerID}
	s.standalone, s.begun = false, false
}

// step adds ev to the current transaction and reports whether it ended.
func (s *Scanner) step(ev *Event) (*Txn, bool) {
	t := ev.Header.Type
	switch {
	case t == MariaGTIDEvent, t == MySQLGTIDEvent, t == AnonymousGTIDEvent:
		// A GTID while a group is open means the open one was cut off
		// (a server crash mid-group): it is dropped, as the server does.
		s.begin(ev)
		if ev.GTID != nil {
			g := *ev.GTID
			s.cur.GTID = &g
			if !g.MySQL {
				s.standalone = g.Flags&FlagStandalone != 0
				s.begun = !s.standalone
			}
		}
		return s.add(ev, false)
	case t == FormatDescriptionEvent:
		s.format = ev.Format
		return nil, false
	case t == RotateEvent:
		if ev.Header.Flags&FlagArtificial == 0 && ev.Header.LogPos != 0 {
			s.rotate = ev.Rotate
		}
		return nil, false
	case t == MariaGTIDListEvent:
		if ev.Header.Flags&FlagArtificial == 0 {
			s.gtidList = append([]GTID(nil), ev.GTIDList...)
		}
		return nil, false
	case t == PreviousGTIDsEvent:
		s.previous = ev.Previous
		return nil, false
	case t == StopEvent, t == HeartbeatEvent, t == HeartbeatEventV2, t == BinlogCheckpointEvent,
		t == IncidentEvent, t == StartEncryptionEvent:
		return nil, false
	}
	if s.cur == nil {
		if ev.Query == nil || ev.Query.Annotate {
			if t == IgnorableEvent || t == TransactionContextEvent || t == ViewChangeEvent {
				return nil, false
			}
		}
		s.begin(ev)
	}
	if ev.Query != nil && !ev.Query.Annotate {
		stmt := strings.TrimSpace(ev.Query.Statement)
		switch {
		case strings.EqualFold(stmt, "BEGIN"):
			s.begun = true
			return s.add(ev, false)
		case strings.EqualFold(stmt, "COMMIT"), strings.EqualFold(stmt, "ROLLBACK"),
			hasPrefixFold(stmt, "XA PREPARE"), hasPrefixFold(stmt, "XA COMMIT"), hasPrefixFold(stmt, "XA ROLLBACK"):
			return s.add(ev, true)
		}
		// A statement outside BEGIN is a group of its own (DDL).
		return s.add(ev, !s.begun)
	}
	end := t == XidEvent || t == XAPrepareEvent || t == TransactionPayloadEvent
	return s.add(ev, end)
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// add records ev in the current transaction, and returns it when end.
func (s *Scanner) add(ev *Event, end bool) (*Txn, bool) {
	c := s.cur
	c.Events++
	c.End = ev.Offset + int64(ev.Header.EventSize)
	c.EndTime = ev.Header.Time()
	if q := ev.Query; q != nil {
		stmt := strings.TrimSpace(q.Statement)
		if !strings.EqualFold(stmt, "BEGIN") {
			if c.First == "" {
				c.First = FirstLine(stmt, 200)
			}
			if c.Match == "" && s.opts.Match != nil && s.opts.Match(q) {
				c.Match = FirstLine(stmt, 200)
				if c.Match == "" {
					c.Match = "(empty)"
				}
			}
		}
	}
	if ev.Table != nil && ev.Header.Type.IsRows() && len(c.Tables) < 64 && ev.Table.Name != "" {
		name := ev.Table.String()
		dup := false
		for _, n := range c.Tables {
			if n == name {
				dup = true
				break
			}
		}
		if !dup {
			c.Tables = append(c.Tables, name)
		}
	}
	if !end {
		return nil, false
	}
	s.cur = nil
	return c, true
}

// FirstLine returns s's first non-empty line, cut to at most n bytes on a
// rune boundary.
func FirstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}
