package pitr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/storage"
)

// FindOptions configure Find. Statement or Table is set.
type FindOptions struct {
	Pass []byte
	// Statement matches statements (DDL, statement-based DML, and the
	// annotation MariaDB writes before row events).
	Statement *regexp.Regexp
	// Table is db.table: transactions whose row events change it, or whose
	// statements name it.
	Table string
	// Since and Until bound the transactions' times (zero: unbounded).
	Since, Until time.Time
	// Limit stops after this many matches (0: 1000).
	Limit int
}

// ErrFindLimit is returned with the matches found when Limit was reached.
var ErrFindLimit = errors.New("more transactions match than the limit")

// Find returns the archived transactions that match, in archive order
// (servers merged in time order, each transaction once).
func Find(ctx context.Context, st storage.Backend, ix *Index, opts FindOptions) ([]*TxnRef, error) {
	if (opts.Statement == nil) == (opts.Table == "") {
		return nil, errors.New("find needs --statement REGEX or --table DB.TABLE (one of them)")
	}
	if opts.Limit <= 0 {
		opts.Limit = 1000
	}
	var qualified, bare *regexp.Regexp
	var tableDB string
	if opts.Table != "" {
		db, tb, ok := strings.Cut(opts.Table, ".")
		if !ok || db == "" || tb == "" {
			return nil, fmt.Errorf("--table %q: want DB.TABLE", opts.Table)
		}
		tableDB = db
		// `db`.`t` or db.t anywhere; t alone only in a statement run with
		// db as the default database.
		q := func(s string) string { return "`?" + regexp.QuoteMeta(s) + "`?" }
		qualified = regexp.MustCompile(`(?i)(^|[^\w$.])` + q(db) + `\s*\.\s*` + q(tb) + `($|[^\w$])`)
		bare = regexp.MustCompile(`(?i)(^|[^\w$.])` + q(tb) + `($|[^\w$.])`)
	}
	match := func(q *binlog.Query) bool {
		if opts.Statement != nil {
			return opts.Statement.MatchString(q.Statement)
		}
		if qualified.MatchString(q.Statement) {
			return true
		}
		return !q.Annotate && strings.EqualFold(q.DB, tableDB) && bare.MatchString(q.Statement)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := openStreams(ctx, st, ix, opts.Pass, match)
	var seen State
	var out []*TxnRef
	for {
		var pick *txnStream
		for _, s := range streams {
			if s.head == nil && !s.done {
				s.next()
			}
			if s.head != nil && (pick == nil || s.head.tx.Time.Before(pick.head.tx.Time)) {
				pick = s
			}
		}
		if pick == nil {
			break
		}
		it := pick.head
		pick.head = nil
		tx := it.tx
		if g := tx.GTID; g != nil {
			if seen.Contains(*g) {
				continue
			}
			seen.Add(*g)
		}
		if !opts.Since.IsZero() && tx.Time.Before(opts.Since) || !opts.Until.IsZero() && tx.Time.After(opts.Until) {
			continue
		}
		hit := tx.Match != ""
		if opts.Table != "" {
			for _, t := range tx.Tables {
				if strings.EqualFold(t, opts.Table) {
					hit = true
				}
			}
		}
		if !hit {
			continue
		}
		out = append(out, refOf(tx, it.file))
		if len(out) >= opts.Limit {
			return out, ErrFindLimit
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, s := range streams {
		if s.err != nil {
			return out, fmt.Errorf("the archive of %s could not be read to its end: %w", s.server, s.err)
		}
	}
	return out, nil
}
