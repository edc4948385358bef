package pitr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/storage"
)

// Problem kinds of a Report.
const (
	ProblemGap     = "gap"     // something is missing: the archive is not continuous there
	ProblemDamaged = "damaged" // an object or record is unreadable or fails its hash
)

// Problem is one thing Verify or Summarize found wrong.
type Problem struct {
	Kind   string `json:"kind"`
	Server string `json:"server,omitempty"`
	File   string `json:"file,omitempty"`
	Detail string `json:"detail"`
}

// ServerSummary is one server's archive.
type ServerSummary struct {
	Server   string    `json:"server"`
	Files    int       `json:"files"`
	Pieces   int       `json:"pieces"`
	Bytes    int64     `json:"raw_bytes"`
	Stored   int64     `json:"stored_bytes"`
	First    time.Time `json:"first_event"`
	Last     time.Time `json:"last_event"`
	FirstLog string    `json:"first_file"`
	LastLog  string    `json:"last_file"`
	LastGTID string    `json:"last_gtid,omitempty"`
	// Archived is when its newest piece was stored.
	Archived time.Time `json:"archived"`
}

// Report is what Summarize (from the records alone) or Verify (reading
// the data too) found. Its checks are check.Results (Results, Err): every
// problem, a gap as much as a damaged piece, is damage of the archive.
type Report struct {
	Servers  []ServerSummary `json:"servers"`
	Problems []Problem       `json:"problems"`
	// Checked counts the pieces whose data was read (Verify).
	Checked int `json:"checked_pieces"`
	// Txns counts the transactions decoded (Verify with Deep).
	Txns int `json:"transactions,omitempty"`
	// OK, Checks and Seconds are the fields every check report has
	// (verify's, drill's): no problem, the problems as check results, and
	// how long Verify took. Summarize and Verify set them last.
	OK       bool                `json:"ok"`
	Checks   check.VerifyResults `json:"checks"`
	Duration time.Duration       `json:"-"`
	Seconds  float64             `json:"duration_seconds"`
}

// ProblemResults returns problems as check results, in order: one failed
// result per problem, named by its kind ("gap", "damaged"), its detail
// naming the server and the file where the problem has them. Every one is
// damage of the archive (exit 3).
func ProblemResults(problems []Problem) []check.Result {
	out := make([]check.Result, 0, len(problems))
	for _, p := range problems {
		detail := p.Detail
		if where := strings.TrimSpace(p.Server + " " + p.File); where != "" {
			detail = where + ": " + detail
		}
		out = append(out, check.Result{Name: p.Kind, Status: check.Failed, Detail: detail, Damage: true})
	}
	return out
}

// finish sets the fields of the check model from the problems.
func (r *Report) finish(start time.Time) {
	if r.Servers == nil {
		r.Servers = []ServerSummary{}
	}
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	r.Checks = ProblemResults(r.Problems)
	r.OK = len(r.Problems) == 0
	r.Duration = time.Since(start)
	r.Seconds = r.Duration.Seconds()
}

// Err is the report's error: nil without a problem; else one wrapping
// check.ErrDamaged that counts and names every problem.
func (r *Report) Err() error {
	return check.Err(ProblemResults(r.Problems), fmt.Sprintf("the binlog archive has %d problem(s)", len(r.Problems)))
}

// Gaps returns the report's problems of kind gap.
func (r *Report) Gaps() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Kind == ProblemGap {
			out = append(out, p)
		}
	}
	return out
}

// Summarize describes the archive from its records: per server its files,
// pieces, bytes and time window, and the gaps the records show (pieces of
// a file that do not follow each other, a file whose successor is missing
// though a later one was archived, unreadable records).
func Summarize(ix *Index) *Report {
	start := time.Now()
	r := &Report{}
	defer r.finish(start)
	for name, err := range ix.Damaged {
		r.Problems = append(r.Problems, Problem{Kind: ProblemDamaged, Detail: fmt.Sprintf("%s: %v", name, err)})
	}
	files := ix.Files()
	var cur *ServerSummary
	for i, f := range files {
		if cur == nil || cur.Server != f.Server {
			r.Servers = append(r.Servers, ServerSummary{Server: f.Server, FirstLog: f.Name})
			cur = &r.Servers[len(r.Servers)-1]
		}
		cur.Files++
		cur.LastLog = f.Name
		for _, p := range f.Pieces {
			cur.Pieces++
			cur.Bytes += p.End - p.Start
			cur.Stored += p.StoredSize
			if cur.First.IsZero() || p.FirstTime.Before(cur.First) {
				cur.First = p.FirstTime
			}
			if p.LastTime.After(cur.Last) {
				cur.Last = p.LastTime
			}
			if p.LastGTID != "" {
				cur.LastGTID = p.LastGTID
			}
			if p.Archived.After(cur.Archived) {
				cur.Archived = p.Archived
			}
		}
		if _, gap := f.End(); gap >= 0 {
			r.Problems = append(r.Problems, Problem{Kind: ProblemGap, Server: f.Server, File: f.Name,
				Detail: fmt.Sprintf("bytes from %d are missing (the next piece starts elsewhere)", gap)})
		}
		if i+1 < len(files) && files[i+1].Server == f.Server {
			nxt := files[i+1]
			switch {
			case !f.Closed() || f.Last().Next == "":
				// A file a server stopped writing without a Rotate (a
				// Stop at a restart, or a crash): the next file follows.
			case f.Last().Next != nxt.Name:
				r.Problems = append(r.Problems, Problem{Kind: ProblemGap, Server: f.Server, File: f.Last().Next,
					Detail: fmt.Sprintf("not archived: %s rotated to it, the archive goes on with %s", f.Name, nxt.Name)})
			}
		}
	}
	return r
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Pass []byte
	// Deep decodes every event (CRC32 of each, transaction boundaries) and
	// checks that every server's GTIDs follow each other without a gap.
	Deep bool
	// From is the GTID state the archive must continue (the oldest
	// backup's): GTIDs it holds are not checked for gaps. Empty: the
	// archive's first transaction starts the check.
	From State
}

// Verify checks the archive: everything Summarize checks, then every
// piece's data is read and checked against its record's sizes and hashes;
// with Deep every event is decoded and the GTIDs of every domain must
// follow each other from the archive's start to its end (across servers,
// transactions both hold count once). Problems are in the report; the
// error is only for what stopped the check (ctx, the store unlistable).
func Verify(ctx context.Context, st storage.Backend, ix *Index, opts VerifyOptions) (rep *Report, err error) {
	start := time.Now()
	r := Summarize(ix)
	defer func() {
		if rep != nil {
			rep.finish(start)
		}
	}()
	for _, f := range ix.Files() {
		for i, p := range f.Pieces {
			if err := readPiece(ctx, st, p, io.Discard, ReadOptions{Pass: opts.Pass}); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				r.Problems = append(r.Problems, Problem{Kind: ProblemDamaged, Server: f.Server, File: f.Name,
					Detail: fmt.Sprintf("piece %d (%d-%d): %v", i, p.Start, p.End, err)})
				continue
			}
			r.Checked++
		}
	}
	if !opts.Deep {
		return r, nil
	}
	// Deep: every file decodes, and the GTIDs continue, servers merged in
	// time order as replay merges them.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := openStreams(ctx, st, ix, opts.Pass, nil)
	seen := opts.From.Clone()
	started := !seen.Empty()
	for {
		// The earliest head that continues what was seen; when none does,
		// the earliest (and its gap is reported).
		var pick, any *txnStream
		for _, s := range streams {
			if s.head == nil && !s.done {
				s.next()
			}
			if s.head == nil {
				continue
			}
			if any == nil || s.head.tx.Time.Before(any.head.tx.Time) {
				any = s
			}
			if g := s.head.tx.GTID; g != nil && !seen.Contains(*g) && seen.Missing(*g) != "" {
				continue
			}
			if pick == nil || s.head.tx.Time.Before(pick.head.tx.Time) {
				pick = s
			}
		}
		if pick == nil {
			pick = any
		}
		if pick == nil {
			break
		}
		it := pick.head
		pick.head = nil
		r.Txns++
		g := it.tx.GTID
		if g == nil || seen.Contains(*g) {
			continue
		}
		if miss := seen.Missing(*g); started && miss != "" {
			r.Problems = append(r.Problems, Problem{Kind: ProblemGap, Server: it.file.Server, File: it.file.Name,
				Detail: fmt.Sprintf("GTIDs %s are in no archived file (before %s at %d)", miss, g, it.tx.Start)})
		}
		seen.Add(*g)
		started = true
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, s := range streams {
		if s.err != nil {
			kind := ProblemDamaged
			if errors.Is(s.err, ErrGap) {
				kind = ProblemGap
			}
			r.Problems = append(r.Problems, Problem{Kind: kind, Server: s.server, Detail: s.err.Error()})
		}
	}
	return r, nil
}
