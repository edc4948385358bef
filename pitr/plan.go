package pitr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/storage"
)

// Target says where a replay stops. Exactly one field is set.
type Target struct {
	// Until replays the transactions that started at or before it.
	Until time.Time
	// UntilGTID replays up to and including this transaction; BeforeGTID
	// up to the one before it.
	UntilGTID  *binlog.GTID
	BeforeGTID *binlog.GTID
	// UntilFile and UntilPos replay the transactions of the file (of any
	// server) that end at or before UntilPos, and everything before them.
	UntilFile string
	UntilPos  int64
	// BeforeStatement stops before the first transaction after the backup
	// with a statement (or row-event annotation) it matches.
	BeforeStatement *regexp.Regexp
}

// Validate reports whether exactly one target is set.
func (t Target) Validate() error {
	n := 0
	for _, set := range []bool{!t.Until.IsZero(), t.UntilGTID != nil, t.BeforeGTID != nil, t.UntilFile != "", t.BeforeStatement != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one recovery target (--until, --until-gtid, --until-position, --before-gtid or --before-statement), not %d", n)
	}
	if t.UntilFile != "" && t.UntilPos < 4 {
		return fmt.Errorf("--until-position %s:%d: a position is at least 4", t.UntilFile, t.UntilPos)
	}
	return nil
}

// String describes the target as the flags write it.
func (t Target) String() string {
	switch {
	case !t.Until.IsZero():
		return "--until " + t.Until.UTC().Format(time.RFC3339)
	case t.UntilGTID != nil:
		return "--until-gtid " + t.UntilGTID.String()
	case t.BeforeGTID != nil:
		return "--before-gtid " + t.BeforeGTID.String()
	case t.UntilFile != "":
		return fmt.Sprintf("--until-position %s:%d", t.UntilFile, t.UntilPos)
	case t.BeforeStatement != nil:
		return "--before-statement " + t.BeforeStatement.String()
	}
	return "(no target)"
}

// TxnRef names one transaction of the archive.
type TxnRef struct {
	GTID      string    `json:"gtid,omitempty"`
	Server    string    `json:"server"`
	File      string    `json:"file"`
	Start     int64     `json:"start"`
	End       int64     `json:"end"`
	Time      time.Time `json:"time"`
	Statement string    `json:"statement,omitempty"`
	Tables    []string  `json:"tables,omitempty"`
}

func refOf(tx *binlog.Txn, f *File) *TxnRef {
	r := &TxnRef{Server: f.Server, File: f.Name, Start: tx.Start, End: tx.End, Time: tx.Time, Statement: tx.First, Tables: tx.Tables}
	if tx.Match != "" {
		r.Statement = tx.Match
	}
	if tx.GTID != nil {
		r.GTID = tx.GTID.String()
	}
	return r
}

// Segment is a byte range of one archived file that replay applies.
type Segment struct {
	File       *File
	Start, End int64
}

// Plan is what a replay applies: ranges of archived files, in order, and
// what they hold.
type Plan struct {
	From     State
	To       State
	Target   Target
	Segments []Segment
	// Txns counts the transactions applied; First and Last are the first
	// and last of them (nil when none).
	Txns        int
	First, Last *TxnRef
	// Stop is the transaction the target stopped before (--before-*,
	// --until a time: the first one after it), nil when the target was a
	// transaction that was applied.
	Stop *TxnRef
	// FirstInDomain is the first applied transaction's GTID per MariaDB
	// domain: under gtid_strict_mode the target's binary log must be
	// below it (CheckTarget).
	FirstInDomain map[uint32]binlog.GTID `json:"-"`
}

// PlanOptions configure MakePlan.
type PlanOptions struct {
	Store storage.Backend
	Pass  []byte
	// Index is the archive (nil: LoadIndex).
	Index *Index
	// From is the GTID state of the backup replay starts from.
	From State
	// FromTime is when the backup was consistent (for messages).
	FromTime time.Time
	Target   Target
}

// ErrTarget is wrapped when the target cannot be reached from the backup
// with the archive (older than the backup, past the archive's end, not
// found).
var ErrTarget = errors.New("recovery target not reachable")

// MakePlan reads the archive from the backup's state to the target and
// returns what replay will apply. It writes nothing; an error means
// nothing should be restored: a gap (the missing GTIDs named, ErrGap), a
// target the archive cannot reach (ErrTarget, the window named), damage.
func MakePlan(ctx context.Context, opts PlanOptions) (*Plan, error) {
	if err := opts.Target.Validate(); err != nil {
		return nil, err
	}
	t := opts.Target
	if t.UntilGTID != nil && opts.From.Contains(*t.UntilGTID) || t.BeforeGTID != nil && opts.From.Contains(*t.BeforeGTID) {
		return nil, fmt.Errorf("%w: %s: the backup (GTID position %s) already holds it; choose an older backup", ErrTarget, t, opts.From)
	}
	if !t.Until.IsZero() && !opts.FromTime.IsZero() && t.Until.Before(opts.FromTime) {
		return nil, fmt.Errorf("%w: %s is before the backup (consistent at %s); choose an older backup",
			ErrTarget, t, opts.FromTime.UTC().Format(time.RFC3339))
	}
	ix := opts.Index
	if ix == nil {
		var err error
		if ix, err = LoadIndex(ctx, opts.Store, opts.Pass); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var match func(*binlog.Query) bool
	if t.BeforeStatement != nil {
		match = func(q *binlog.Query) bool { return t.BeforeStatement.MatchString(q.Statement) }
	}
	streams := openStreams(ctx, opts.Store, ix, opts.Pass, match)
	p := &Plan{From: opts.From, To: opts.From.Clone(), Target: t}
	var lastSeen time.Time
	for {
		// Refill, skip what the state holds.
		live := 0
		for _, s := range streams {
			// A head read earlier may have been applied since from another
			// server's copy (a switchover: both hold it): checked again.
			for (s.head == nil && !s.done) || (s.head != nil && s.head.tx.GTID != nil && p.To.Contains(*s.head.tx.GTID)) {
				s.head = nil
				s.next()
			}
			if s.head != nil {
				live++
				if s.head.tx.Time.After(lastSeen) {
					lastSeen = s.head.tx.Time
				}
			}
		}
		if live == 0 {
			break
		}
		var pick *txnStream
		var gaps []string
		for _, s := range streams {
			if s.head == nil {
				continue
			}
			if g := s.head.tx.GTID; g != nil {
				if miss := p.To.Missing(*g); miss != "" {
					gaps = append(gaps, fmt.Sprintf("%s (before %s in %s %s at %d)", miss, g, s.head.file.Server, s.head.file.Name, s.head.tx.Start))
					continue
				}
			}
			if pick == nil || s.head.tx.Time.Before(pick.head.tx.Time) {
				pick = s
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("%w: from the backup (GTID position %s), replay reached %s; the archive does not hold %s: %s",
				ErrGap, opts.From, p.To, strings.Join(gaps, "; "), windowHint(p))
		}
		it := pick.head
		pick.head = nil
		tx := it.tx
		ref := refOf(tx, it.file)
		stop := false
		switch {
		case t.BeforeGTID != nil && tx.GTID != nil && *gtidKey(tx.GTID) == *gtidKey(t.BeforeGTID):
			stop = true
		case t.BeforeStatement != nil && tx.Match != "":
			stop = true
		case !t.Until.IsZero() && tx.Time.After(t.Until):
			stop = true
		case t.UntilFile != "" && it.file.Name == t.UntilFile && tx.End > t.UntilPos:
			stop = true
		}
		if stop {
			p.Stop = ref
			return p, nil
		}
		p.apply(it, ref)
		if t.UntilGTID != nil && tx.GTID != nil && *gtidKey(tx.GTID) == *gtidKey(t.UntilGTID) {
			return p, nil
		}
		if t.UntilFile != "" && it.file.Name == t.UntilFile && tx.End == t.UntilPos {
			return p, nil
		}
	}
	for _, s := range streams {
		if s.err != nil {
			return nil, fmt.Errorf("%w: the archive of %s could not be read past %s: %v", ErrGap, s.server, windowHint(p), s.err)
		}
	}
	return nil, fmt.Errorf("%w: %s is past the archive's end: %s", ErrTarget, t, windowHint(p))
}

// gtidKey drops the flags, which are not part of a GTID's identity.
func gtidKey(g *binlog.GTID) *binlog.GTID {
	k := *g
	k.Flags = 0
	if !k.MySQL {
		k.ServerID = 0 // MariaDB: domain and sequence identify it under gtid_strict_mode
	}
	return &k
}

func windowHint(p *Plan) string {
	if p.Last == nil {
		return fmt.Sprintf("the archive holds no transaction after the backup (GTID position %s)", p.From)
	}
	return fmt.Sprintf("the recoverable window from this backup ends at %s (GTID %s, %s %s:%d)",
		p.Last.Time.UTC().Format(time.RFC3339), p.Last.GTID, p.Last.Server, p.Last.File, p.Last.End)
}

func (p *Plan) apply(it *txnItem, ref *TxnRef) {
	tx := it.tx
	if n := len(p.Segments); n > 0 && p.Segments[n-1].File == it.file && p.Segments[n-1].End == tx.Start {
		p.Segments[n-1].End = tx.End
	} else {
		p.Segments = append(p.Segments, Segment{File: it.file, Start: tx.Start, End: tx.End})
	}
	if tx.GTID != nil {
		p.To.Add(*tx.GTID)
		p.firstInDomain(tx.GTID)
	}
	p.Txns++
	if p.First == nil {
		p.First = ref
	}
	p.Last = ref
}

// txnItem is one transaction read from the archive.
type txnItem struct {
	tx   *binlog.Txn
	file *File
}

// txnStream reads the transactions of one server's archive in order.
type txnStream struct {
	server string
	ch     <-chan txnItem
	errp   *error
	head   *txnItem
	done   bool
	err    error
}

func (s *txnStream) next() {
	it, ok := <-s.ch
	if !ok {
		s.done, s.err = true, *s.errp
		return
	}
	s.head = &it
}

// openStreams starts one reader per server of the archive.
func openStreams(ctx context.Context, st storage.Backend, ix *Index, pass []byte, match func(*binlog.Query) bool) []*txnStream {
	byServer := map[string][]*File{}
	var servers []string
	for _, f := range ix.Files() {
		if byServer[f.Server] == nil {
			servers = append(servers, f.Server)
		}
		byServer[f.Server] = append(byServer[f.Server], f)
	}
	sort.Strings(servers)
	var out []*txnStream
	for _, srv := range servers {
		ch := make(chan txnItem, 64)
		errp := new(error)
		out = append(out, &txnStream{server: srv, ch: ch, errp: errp})
		go func(files []*File) {
			defer close(ch)
			for _, f := range files {
				if err := scanFile(ctx, st, f, pass, match, func(tx *binlog.Txn) error {
					select {
					case ch <- txnItem{tx: tx, file: f}:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}); err != nil {
					*errp = err
					return
				}
			}
		}(byServer[srv])
	}
	return out
}

// scanFile calls fn for every complete transaction of the archived file.
func scanFile(ctx context.Context, st storage.Backend, f *File, pass []byte, match func(*binlog.Query) bool, fn func(*binlog.Txn) error) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := ReadFile(ctx, st, f, pw, -1, ReadOptions{Pass: pass})
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	sc := binlog.NewScanner(pr, binlog.ScanOptions{Match: match})
	for {
		tx, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return nil // a transaction still open at the end is not complete yet
		}
		if err != nil {
			return fmt.Errorf("%s%s: %w", f.Key, "", err)
		}
		if err := fn(tx); err != nil {
			return err
		}
	}
}
