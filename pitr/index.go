package pitr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// Prefix is where the archive lives in a store.
const Prefix = "binlog/"

// PieceFormat is the version of the piece record this build writes.
const PieceFormat = 1

// maxRecordSize bounds how much of a piece record is read.
const maxRecordSize = 1 << 20

// ErrInvalidPiece is wrapped when a piece record cannot be parsed or
// contradicts its name.
var ErrInvalidPiece = errors.New("invalid binlog piece record")

// Piece is the index record of one stored piece of a binary log file.
type Piece struct {
	Format int `json:"format"`
	// Server is the archive's name of the server (see ServerKey).
	Server        string `json:"server"`
	ServerID      uint32 `json:"server_id"`
	ServerUUID    string `json:"server_uuid,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
	// File is the binary log file's name on the server; Created the time
	// of its Format_description event.
	File    string    `json:"file"`
	Created time.Time `json:"created"`
	// Start and End are the byte range of the file the piece holds.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Closed is set on the file's last piece, which holds its Rotate (or
	// Stop) event; Next is the file that follows.
	Closed bool   `json:"closed,omitempty"`
	Next   string `json:"next,omitempty"`
	// GTIDList is the file's Gtid_list (MariaDB) or Previous_gtids (MySQL),
	// on the piece that holds it.
	GTIDList string `json:"gtid_list,omitempty"`
	// FirstGTID and LastGTID are the first and last GTID events in the
	// piece; FirstTime and LastTime its first and last event times.
	FirstGTID string    `json:"first_gtid,omitempty"`
	LastGTID  string    `json:"last_gtid,omitempty"`
	FirstTime time.Time `json:"first_time"`
	LastTime  time.Time `json:"last_time"`
	// GTIDs counts the GTID events in the piece.
	GTIDs int `json:"gtids"`
	// Object is the data object's name (relative to the record's folder).
	Object      string             `json:"object"`
	Compression stream.Compression `json:"compression"`
	Encrypted   bool               `json:"encrypted,omitempty"`
	stream.Expect
	// Archived is when the piece was stored.
	Archived time.Time `json:"archived"`

	// name is the record's object name in the store.
	name string
}

// Dir is the folder of the file's pieces: binlog/<server>/<file>@<created>/.
func (p *Piece) Dir() string {
	return Prefix + p.Server + "/" + p.File + "@" + p.Created.UTC().Format(createdLayout) + "/"
}

// FileKey identifies the file across the archive: server, file, created.
func (p *Piece) FileKey() string { return p.Dir() }

// ObjectName is the data object's full name in the store.
func (p *Piece) ObjectName() string { return p.Dir() + p.Object }

// RecordName is the record's full name in the store.
func (p *Piece) RecordName() string {
	if p.name != "" {
		return p.name
	}
	return p.Dir() + rangeName(p.Start, p.End) + ".json"
}

const createdLayout = "20060102T150405Z"

func rangeName(start, end int64) string { return fmt.Sprintf("%012d-%012d", start, end) }

var (
	serverRe = regexp.MustCompile(`^(mariadb-[0-9]{1,10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	fileRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}$`)
	recordRe = regexp.MustCompile(`^binlog/([^/]+)/([^/@]+)@([0-9]{8}T[0-9]{6}Z)/([0-9]{12})-([0-9]{12})(-r[0-9a-f]{6})?\.json$`)
)

// Validate checks what a record says against its own name and bounds.
func (p *Piece) Validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidPiece, p.RecordName(), fmt.Sprintf(f, a...))
	}
	switch {
	case p.Format < 1 || p.Format > PieceFormat:
		return bad("format %d (this mybak reads up to %d: upgrade it)", p.Format, PieceFormat)
	case !serverRe.MatchString(p.Server):
		return bad("server %q", p.Server)
	case !fileRe.MatchString(p.File) || p.File == "." || p.File == "..":
		return bad("file %q", p.File)
	case p.Start < 0 || p.End <= p.Start:
		return bad("range %d-%d", p.Start, p.End)
	case p.Object == "" || strings.ContainsAny(p.Object, "/\\") || !strings.HasPrefix(p.Object, rangeName(p.Start, p.End)):
		return bad("object %q", p.Object)
	case p.StoredSize <= 0 || p.RawSize != p.End-p.Start:
		return bad("sizes: raw %d for range %d-%d, stored %d", p.RawSize, p.Start, p.End, p.StoredSize)
	}
	if p.name != "" {
		m := recordRe.FindStringSubmatch(p.name)
		if m == nil || m[1] != p.Server || m[2] != p.File || m[3] != p.Created.UTC().Format(createdLayout) ||
			m[4] != fmt.Sprintf("%012d", p.Start) || m[5] != fmt.Sprintf("%012d", p.End) {
			return bad("its content names another piece")
		}
	}
	return nil
}

// ServerKey is the archive's name of a server: its server_uuid (MySQL) or
// mariadb-<server_id>.
func ServerKey(serverID uint32, uuid string) string {
	if uuid != "" {
		return strings.ToLower(uuid)
	}
	return fmt.Sprintf("mariadb-%d", serverID)
}

// Index is every piece of the archive, by server and file.
type Index struct {
	// Pieces are ordered by server, file creation time, file name, start.
	Pieces []*Piece
	// Damaged are records that could not be read or parsed, with why.
	Damaged map[string]error
}

// LoadIndex reads every piece record under Prefix. With pass (the
// archive's key) every record must carry a MAC that matches (see
// auth.go). Unreadable, unauthenticated and altered records are listed in
// Index.Damaged, never used, and not returned as an error; an error is
// returned only when the store cannot be listed or ctx ends.
func LoadIndex(ctx context.Context, st storage.Backend, pass []byte) (*Index, error) {
	var names []string
	err := st.List(ctx, Prefix, func(oi storage.ObjectInfo) error {
		if strings.HasSuffix(oi.Name, ".json") {
			names = append(names, oi.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the binlog archive in %s: %w", st.Location(), err)
	}
	// Records are small and many (one per flush interval): read them 8 at
	// a time, as a store with a round trip per object (Swift) needs.
	ix := &Index{Damaged: map[string]error{}}
	pieces := make([]*Piece, len(names))
	errs := make([]error, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, n := range names {
		g.Go(func() error {
			pieces[i], errs[i] = loadPiece(gctx, st, n, pass)
			return nil
		})
	}
	g.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for i, n := range names {
		if errs[i] != nil {
			ix.Damaged[n] = errs[i]
			continue
		}
		ix.Pieces = append(ix.Pieces, pieces[i])
	}
	ix.sort()
	return ix, nil
}

func (ix *Index) sort() {
	sort.SliceStable(ix.Pieces, func(i, j int) bool {
		a, b := ix.Pieces[i], ix.Pieces[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Start < b.Start
	})
}

func loadPiece(ctx context.Context, st storage.Backend, name string, pass []byte) (*Piece, error) {
	rc, err := st.Get(ctx, name, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("%w %s: larger than %d bytes", ErrInvalidPiece, name, maxRecordSize)
	}
	if b, err = openRecord(b, pass); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var p Piece
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrInvalidPiece, name, err)
	}
	p.name = name
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Files groups the index's pieces by file, in the index's order.
func (ix *Index) Files() []*File {
	var out []*File
	var cur *File
	for _, p := range ix.Pieces {
		if cur == nil || cur.Key != p.FileKey() {
			cur = &File{Key: p.FileKey(), Server: p.Server, Name: p.File, Created: p.Created}
			out = append(out, cur)
		}
		cur.Pieces = append(cur.Pieces, p)
	}
	return out
}

// File is one archived binary log file: its pieces, in order.
type File struct {
	Key     string
	Server  string
	Name    string
	Created time.Time
	Pieces  []*Piece
}

// End is where the contiguous pieces from 0 end, and Gap the first
// discontinuity (-1: none). Pieces that overlap are a gap too.
func (f *File) End() (end int64, gapAt int64) {
	end, gapAt = 0, -1
	for _, p := range f.Pieces {
		if p.Start != end {
			return end, end
		}
		end = p.End
	}
	return end, -1
}

// Closed reports whether the file's last piece holds its Rotate or Stop.
func (f *File) Closed() bool { return len(f.Pieces) > 0 && f.Pieces[len(f.Pieces)-1].Closed }

// Last is the file's last piece.
func (f *File) Last() *Piece { return f.Pieces[len(f.Pieces)-1] }

// ErrGap is wrapped when the archive is not continuous where it must be:
// pieces of a file that do not follow each other, a file missing between
// two, GTIDs missing between a backup and a target.
var ErrGap = errors.New("the binlog archive has a gap")
