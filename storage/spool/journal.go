package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// JournalName is the journal's file name in a spool directory.
const JournalName = "journal.jsonl"

// journalVersion is the journal format this build writes and reads.
const journalVersion = 1

// ErrDamagedJournal is returned (wrapped) by Open when the journal cannot
// be read: a damaged line that is not the last, or records that
// contradict each other.
var ErrDamagedJournal = errors.New("damaged spool journal")

// Record kinds.
const (
	opStart     = "start"
	opPart      = "part"
	opUploaded  = "uploaded"
	opEnd       = "end"
	opCommitted = "committed"
)

// record is one line of the journal.
type record struct {
	Op string `json:"op"`

	// start
	Version  int       `json:"v,omitempty"`
	ID       string    `json:"id,omitempty"`
	Object   string    `json:"object,omitempty"`
	UploadID string    `json:"upload_id,omitempty"`
	Location string    `json:"location,omitempty"`
	PartSize int64     `json:"part_size,omitempty"`
	Time     time.Time `json:"time,omitzero"`

	// part, uploaded
	N    *int   `json:"n,omitempty"`
	Size int64  `json:"size,omitempty"`
	MD5  string `json:"md5,omitempty"`
	Name string `json:"name,omitempty"` // the part's name in the store

	// end
	Parts int `json:"parts,omitempty"`
}

// state is what a journal says.
type state struct {
	start     record
	parts     []partInfo
	uploaded  []bool
	ended     bool
	size      int64 // of the whole stream (end record)
	committed bool
	// torn is set when the last line was incomplete and was ignored.
	torn bool
}

// partInfo is a segment file as the journal records it.
type partInfo struct {
	Size int64
	MD5  string
}

// parseJournal reads a journal. Every record is one write of a line that
// ends with a newline, so only the last line can lack its newline (a write
// torn by a kill or a crash): when it does not parse it is ignored and
// state.torn says so (tail is the length of the good data). Any other
// damage is an ErrDamagedJournal that names the line.
func parseJournal(data []byte) (st *state, tail int, err error) {
	st = &state{}
	lines := bytes.Split(data, []byte("\n"))
	off := 0
	for i, line := range lines {
		unterminated := i == len(lines)-1
		if unterminated && len(line) == 0 {
			break
		}
		r, perr := parseRecord(line)
		if perr != nil && unterminated {
			st.torn = true
			break
		}
		if perr != nil {
			return nil, 0, fmt.Errorf("%w: line %d: %v", ErrDamagedJournal, i+1, perr)
		}
		if err := st.apply(r); err != nil {
			return nil, 0, fmt.Errorf("%w: line %d: %v", ErrDamagedJournal, i+1, err)
		}
		off += len(line)
		if !unterminated {
			off++
		}
	}
	if st.start.Op == "" {
		return nil, 0, fmt.Errorf("%w: no start record", ErrDamagedJournal)
	}
	return st, off, nil
}

// parseRecord decodes one line, strictly.
func parseRecord(line []byte) (record, error) {
	var r record
	if len(line) == 0 {
		return r, errors.New("empty line")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	if dec.More() {
		return r, errors.New("trailing data after the record")
	}
	return r, nil
}

// apply adds one record to the state, checking it against what came before.
func (st *state) apply(r record) error {
	if r.Op != opStart && st.start.Op == "" {
		return fmt.Errorf("%q record before the start record", r.Op)
	}
	if st.committed {
		return fmt.Errorf("%q record after the committed record", r.Op)
	}
	switch r.Op {
	case opStart:
		switch {
		case st.start.Op != "":
			return errors.New("a second start record")
		case r.Version != journalVersion:
			return fmt.Errorf("journal version %d, this mybak reads version %d", r.Version, journalVersion)
		case r.ID == "" || r.Object == "" || r.UploadID == "" || r.PartSize <= 0:
			return errors.New("start record lacks the id, object, upload_id or part_size")
		}
		st.start = r
	case opPart:
		if st.ended {
			return errors.New("part record after the end record")
		}
		if r.N == nil || *r.N != len(st.parts) {
			return fmt.Errorf("part record out of order (want part %d)", len(st.parts))
		}
		if r.Size < 0 || r.Size > st.start.PartSize || len(r.MD5) != 32 {
			return fmt.Errorf("part %d: bad size %d or MD5 %q", *r.N, r.Size, r.MD5)
		}
		if n := len(st.parts); n > 0 && st.parts[n-1].Size != st.start.PartSize {
			return fmt.Errorf("part %d follows the short last part %d", *r.N, n-1)
		}
		st.parts = append(st.parts, partInfo{Size: r.Size, MD5: r.MD5})
		st.uploaded = append(st.uploaded, false)
	case opUploaded:
		if r.N == nil || *r.N < 0 || *r.N >= len(st.parts) {
			return errors.New("uploaded record of an unknown part")
		}
		st.uploaded[*r.N] = true
	case opEnd:
		if st.ended {
			return errors.New("a second end record")
		}
		var total int64
		for _, p := range st.parts {
			total += p.Size
		}
		if r.Parts != len(st.parts) || r.Size != total {
			return fmt.Errorf("end record says %d parts of %d bytes, the journal has %d of %d", r.Parts, r.Size, len(st.parts), total)
		}
		st.ended, st.size = true, total
	case opCommitted:
		if !st.ended {
			return errors.New("committed record before the end record")
		}
		st.committed = true
	default:
		return fmt.Errorf("unknown record %q", r.Op)
	}
	return nil
}

// journal appends records to the journal file, each fsynced before append
// returns. It is safe for concurrent use.
type journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

func createJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &journal{f: f, path: path}, nil
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &journal{f: f, path: path}, nil
}

// append writes r as one line (one write) and fsyncs the file.
func (j *journal) append(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("append to journal %s: closed", j.path)
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("append to journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	return nil
}

// repairTail cuts the journal at path to its good data (tail bytes, from
// parseJournal) and ends it with a newline, so that the next record starts
// on a line of its own.
func repairTail(path string, data []byte, tail int) error {
	if tail == len(data) && (tail == 0 || data[tail-1] == '\n') {
		return nil
	}
	if err := os.Truncate(path, int64(tail)); err != nil {
		return err
	}
	if tail > 0 && data[tail-1] != '\n' {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.Write([]byte("\n")); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

func intp(n int) *int { return &n }
