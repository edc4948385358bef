package pitr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/stream"
)

// nextSecond waits until the clock is in a later second than t (binary
// log event times have a resolution of one second).
func nextSecond(t *testing.T, after time.Time) {
	testenv.WaitFor(t, 3*time.Second, "the next second", func() bool { return time.Now().Unix() > after.Unix() })
}

func mustGTID(t *testing.T, s string) *binlog.GTID {
	g, err := binlog.ParseGTID(s)
	if err != nil {
		t.Fatal(err)
	}
	return &g
}

// TestPlanAndReplay: writes in phases, an accidental DROP TABLE, a write
// after it; the plan for each kind of target holds exactly the phases
// before it, and replaying --before-statement 'DROP TABLE' onto a copy of
// the starting point gives exactly the rows before the DROP.
func TestPlanAndReplay(t *testing.T) {
	s := needServer(t)
	target := needTarget(t)
	ctx := context.Background()
	st := newStore(t)
	db := "pitr_" + randHex(3)
	ddl := "CREATE TABLE " + db + ".t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB"
	s.exec(t, "CREATE DATABASE "+db)
	t.Cleanup(func() { s.db.Exec("DROP DATABASE IF EXISTS " + db) })
	s.exec(t, ddl)
	// The "backup": the state here, and on the target the same schema.
	from, err := ParseState(s.str(t, "SELECT @@gtid_binlog_pos"))
	if err != nil {
		t.Fatal(err)
	}
	target.write(t, "SET sql_log_bin=0", "CREATE DATABASE "+db, ddl)
	t.Cleanup(func() { target.write(t, "SET sql_log_bin=0", "DROP DATABASE IF EXISTS "+db) })
	fromTime := time.Now()

	nextSecond(t, fromTime)
	var phase1 []string
	for i := 1; i <= 3; i++ {
		phase1 = append(phase1, s.write(t, fmt.Sprintf("INSERT INTO %s.t VALUES (%d, 'phase 1')", db, i)))
	}
	t1 := time.Now()
	s.exec(t, "FLUSH BINARY LOGS") // phase 2 in the next file
	nextSecond(t, t1)
	// Phase 2 in two GTID domains.
	s.write(t, "SET gtid_domain_id=7", fmt.Sprintf("INSERT INTO %s.t VALUES (4, 'phase 2, domain 7')", db), "SET gtid_domain_id=0")
	s.write(t, fmt.Sprintf("UPDATE %s.t SET v='phase 2' WHERE id=1", db))
	drop := s.write(t, "DROP TABLE "+db+".t")
	s.write(t, fmt.Sprintf("CREATE TABLE %s.after (id INT PRIMARY KEY)", db))

	if err := Archive(ctx, ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}}); err != nil {
		t.Fatal(err)
	}
	ix, err := LoadIndex(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := func(tg Target) (*Plan, error) {
		return MakePlan(ctx, PlanOptions{Store: st, Index: ix, From: from, FromTime: fromTime, Target: tg})
	}
	cases := []struct {
		name   string
		target Target
		txns   int
		last   string
		stop   string
	}{
		{"before-statement", Target{BeforeStatement: regexp.MustCompile(`(?i)^DROP TABLE`)}, 5, "", drop},
		{"before-gtid", Target{BeforeGTID: mustGTID(t, drop)}, 5, "", drop},
		{"until-gtid", Target{UntilGTID: mustGTID(t, phase1[2])}, 3, phase1[2], ""},
		{"until time", Target{Until: t1}, 3, phase1[2], ""},
	}
	var before *Plan
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := plan(c.target)
			if err != nil {
				t.Fatal(err)
			}
			if p.Txns != c.txns || (c.last != "" && p.Last.GTID != c.last) || (c.stop != "" && (p.Stop == nil || p.Stop.GTID != c.stop)) {
				t.Fatalf("plan: %d txns, last %+v, stop %+v; want %d, last %s, stop %s", p.Txns, p.Last, p.Stop, c.txns, c.last, c.stop)
			}
			if p.First.GTID != phase1[0] {
				t.Errorf("first %s, want %s", p.First.GTID, phase1[0])
			}
			if c.name == "before-statement" {
				before = p
				if !strings.HasPrefix(p.Stop.Statement, "DROP TABLE") {
					t.Errorf("stop statement %q", p.Stop.Statement)
				}
			}
		})
	}
	if before == nil {
		t.FailNow()
	}
	t.Run("until-position", func(t *testing.T) {
		p3, err := plan(Target{UntilGTID: mustGTID(t, phase1[2])})
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan(Target{UntilFile: p3.Last.File, UntilPos: p3.Last.End})
		if err != nil || p.Txns != 3 || p.Last.GTID != phase1[2] {
			t.Fatalf("plan %+v, %v; want 3 transactions to %s", p, err, phase1[2])
		}
	})
	t.Run("gap", func(t *testing.T) {
		// Without the file that holds phase 1, phase 2 cannot follow the
		// backup: the missing transactions are named.
		p3, _ := plan(Target{UntilGTID: mustGTID(t, phase1[2])})
		holed := &Index{}
		for _, pc := range ix.Pieces {
			if pc.File != p3.Last.File {
				holed.Pieces = append(holed.Pieces, pc)
			}
		}
		pp, err := MakePlan(ctx, PlanOptions{Store: st, Index: holed, From: from, Target: Target{BeforeStatement: regexp.MustCompile("^DROP TABLE")}})
		if pp != nil {
			t.Logf("plan: %d txns, stop %+v", pp.Txns, pp.Stop)
		}
		g := mustGTID(t, phase1[0])
		want := fmt.Sprintf("0-?-%d..%d", g.Seq, g.Seq+2)
		if !errors.Is(err, ErrGap) || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want ErrGap naming %s", err, want)
		}
	})
	// Bad targets: clear errors naming the window.
	for _, c := range []struct {
		name   string
		target Target
		want   error
		says   string
	}{
		{"gtid in the backup", Target{UntilGTID: mustGTID(t, strings.Split(from.String(), ",")[0])}, ErrTarget, "already holds it"},
		{"time before the backup", Target{Until: fromTime.Add(-time.Hour)}, ErrTarget, "before the backup"},
		{"time after the archive", Target{Until: time.Now().Add(time.Hour)}, ErrTarget, "recoverable window from this backup ends at"},
		{"statement never run", Target{BeforeStatement: regexp.MustCompile("TRUNCATE nothing_" + db)}, ErrTarget, "past the archive's end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := plan(c.target)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}

	t.Run("find", func(t *testing.T) {
		hits, err := Find(ctx, st, ix, FindOptions{Statement: regexp.MustCompile(`(?i)^DROP TABLE .*` + db)})
		if err != nil || len(hits) != 1 || hits[0].GTID != drop || !strings.HasPrefix(hits[0].Statement, "DROP TABLE") {
			t.Fatalf("find --statement: %+v, %v; want the DROP (%s)", hits, err, drop)
		}
		hits, err = Find(ctx, st, ix, FindOptions{Table: db + ".t"})
		var got []string
		for _, h := range hits {
			got = append(got, h.GTID)
		}
		// The CREATE TABLE, the three inserts, the insert in domain 7, the
		// update, the DROP.
		if err != nil || len(hits) != 7 || hits[1].GTID != phase1[0] || hits[6].GTID != drop {
			t.Fatalf("find --table: %v, %v", got, err)
		}
		hits, err = Find(ctx, st, ix, FindOptions{Table: db + ".t", Since: time.Unix(t1.Unix()+1, 0)})
		if err != nil || len(hits) != 3 {
			t.Fatalf("find --table --since: %d hits, %v; want phase 2 and the DROP", len(hits), err)
		}
	})

	if err := Replay(ctx, ReplayOptions{Store: st, Plan: before, Target: target.admin}); err != nil {
		t.Fatal(err)
	}
	got := target.str(t, "SELECT GROUP_CONCAT(id, ':', v ORDER BY id SEPARATOR ',') FROM "+db+".t")
	if want := "1:phase 2,2:phase 1,3:phase 1,4:phase 2, domain 7"; got != want {
		t.Fatalf("after replay: %q, want %q", got, want)
	}
	if n := target.str(t, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='"+db+"' AND table_name='after'"); n != "0" {
		t.Fatal("the transaction after the target was replayed")
	}
}
