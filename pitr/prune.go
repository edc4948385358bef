package pitr

import (
	"context"
	"errors"
	"fmt"

	"github.com/mybak/mybak/storage"
)

// Covers reports whether every transaction of o is in s.
func (s State) Covers(o State) bool {
	for d, g := range o.maria {
		if cur, ok := s.maria[d]; !ok || cur.Seq < g.Seq {
			return false
		}
	}
	for u, ivs := range o.mysql {
		for _, iv := range ivs {
			inside := false
			for _, have := range s.mysql[u] {
				if iv[0] >= have[0] && iv[1] <= have[1] {
					inside = true
					break
				}
			}
			if !inside {
				return false
			}
		}
	}
	return true
}

// PrunePlan returns the files that no replay from a backup holding keep
// (the oldest backup kept) can need: closed files whose every transaction
// keep holds. That is known without reading them: a later file of the
// same server starts with the server's GTID state (Gtid_list, or MySQL's
// Previous_gtids), which holds everything before it; the first later
// file whose starting state is known and not empty decides (a file after
// one with no transactions, or after a server stop, may start empty).
// Since that state only grows, a second prune right after removes
// nothing more. The newest file of a server, files whose successor is
// not archived, and files with no later known state are kept.
func PrunePlan(ix *Index, keep State) ([]*File, error) {
	files := ix.Files()
	var out []*File
	for i, f := range files {
		if !f.Closed() || i+1 >= len(files) || files[i+1].Server != f.Server {
			continue
		}
		if f.Last().Next != "" && f.Last().Next != files[i+1].Name {
			continue // the successor is missing: keep what is there
		}
		for _, later := range files[i+1:] {
			if later.Server != f.Server {
				break
			}
			first := later.Pieces[0]
			if first.Start != 0 || first.GTIDList == "" {
				continue
			}
			st, err := ParseState(first.GTIDList)
			if err != nil {
				return nil, fmt.Errorf("%s: its starting GTID state: %w", later.Key, err)
			}
			if st.Empty() {
				continue
			}
			if keep.Covers(st) {
				out = append(out, f)
			}
			break
		}
	}
	return out, nil
}

// DeleteFiles removes the files' pieces: each record first (a piece
// without a record is invisible), then its data. It stops at the first
// error other than a missing object.
func DeleteFiles(ctx context.Context, st storage.Backend, files []*File) error {
	for _, f := range files {
		for _, p := range f.Pieces {
			for _, name := range []string{p.RecordName(), p.ObjectName()} {
				if err := st.Delete(ctx, name); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("delete %s: %w", name, err)
				}
			}
		}
	}
	return nil
}
