package pitr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/stream"
)

// TestPrunePlan: with the oldest kept backup taken at the start of the
// third of three fresh files, the first two go, the rest stays, and a
// replay from that backup still plans.
func TestPrunePlan(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	st := newStore(t)
	db := "pitr_" + randHex(3)
	s.exec(t, "CREATE DATABASE "+db)
	t.Cleanup(func() { s.db.Exec("DROP DATABASE IF EXISTS " + db) })
	s.exec(t, "CREATE TABLE "+db+".t (id INT PRIMARY KEY)")
	s.exec(t, "FLUSH BINARY LOGS")
	first := s.currentLog(t)
	s.write(t, "INSERT INTO "+db+".t VALUES (1)")
	s.exec(t, "FLUSH BINARY LOGS")
	second := s.currentLog(t)
	s.write(t, "INSERT INTO "+db+".t VALUES (2)")
	s.exec(t, "FLUSH BINARY LOGS")
	keep, _ := ParseState(s.str(t, "SELECT @@gtid_binlog_pos"))
	third := s.currentLog(t)
	g3 := s.write(t, "INSERT INTO "+db+".t VALUES (3)")
	if err := Archive(ctx, ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}}); err != nil {
		t.Fatal(err)
	}
	ix, _ := LoadIndex(ctx, st, nil)
	plan, err := PrunePlan(ix, keep)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, f := range plan {
		gone[f.Name] = true
	}
	if !gone[first] || !gone[second] || gone[third] {
		t.Fatalf("prune plan %v: want %s and %s, not %s", gone, first, second, third)
	}
	// Nothing that replay from keep needs is in the plan.
	if err := DeleteFiles(ctx, st, plan); err != nil {
		t.Fatal(err)
	}
	ix, _ = LoadIndex(ctx, st, nil)
	for _, f := range ix.Files() {
		if gone[f.Name] {
			t.Fatalf("%s still indexed", f.Name)
		}
	}
	target := mustGTID(t, g3)
	p, err := MakePlan(ctx, PlanOptions{Store: st, Index: ix, From: keep, Target: Target{UntilGTID: target}})
	if err != nil || p.Txns != 1 {
		t.Fatalf("plan after prune: %+v, %v", p, err)
	}
	// An older backup's replay now meets the gap prune made.
	older := keep.Clone()
	g0 := older.maria[0]
	g0.Seq -= 2
	older.maria[0] = g0
	if _, err := MakePlan(ctx, PlanOptions{Store: st, Index: ix, From: older, Target: Target{UntilGTID: target}}); err == nil {
		t.Fatal("a replay from before the pruned files planned without a gap")
	}
}

// TestPrunePlanFixpoint: a file whose successor starts with an empty (or
// unknown) GTID state is decided by the first later file whose state is
// known (the state is cumulative), so a prune leaves nothing that a second
// one would remove; and nothing goes that the kept backup does not hold.
func TestPrunePlanFixpoint(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := func(n int, list string, closed bool, next string) *Piece {
		return &Piece{Server: "s", File: fmt.Sprintf("bin.%06d", n), Created: t0.Add(time.Duration(n) * time.Minute),
			End: 100, GTIDList: list, Closed: closed, Next: next}
	}
	ix := &Index{Pieces: []*Piece{
		file(1, "", true, ""), // closed by a server stop: no Rotate, no Next
		file(2, "", true, "bin.000003"),
		file(3, "0-1-10", true, "bin.000004"),
		file(4, "0-1-20", false, ""),
	}}
	names := func(fs []*File) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.Name)
		}
		return strings.Join(s, " ")
	}
	for keep, want := range map[string]string{
		"0-1-20": "bin.000001 bin.000002 bin.000003",
		"0-1-10": "bin.000001 bin.000002",
		"0-1-5":  "",
	} {
		st, err := ParseState(keep)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := PrunePlan(ix, st)
		if err != nil || names(plan) != want {
			t.Errorf("keep %s: prune %q (%v), want %q", keep, names(plan), err, want)
		}
		gone := map[*Piece]bool{}
		for _, f := range plan {
			gone[f.Pieces[0]] = true
		}
		rest := &Index{}
		for _, p := range ix.Pieces {
			if !gone[p] {
				rest.Pieces = append(rest.Pieces, p)
			}
		}
		if again, err := PrunePlan(rest, st); err != nil || len(again) != 0 {
			t.Errorf("keep %s: a second prune would remove %q (%v)", keep, names(again), err)
		}
	}
}
