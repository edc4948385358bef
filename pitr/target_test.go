package pitr

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckTarget: which servers take the replayed transactions with
// their GTIDs under gtid_strict_mode, and what the refusal names.
func TestCheckTarget(t *testing.T) {
	plan := &Plan{}
	plan.firstInDomain(mustGTID(t, "0-1-15"))
	plan.firstInDomain(mustGTID(t, "0-1-16")) // not the first: ignored
	plan.firstInDomain(mustGTID(t, "3-1-7"))
	strict := func(pos string, domain uint32) ServerBinlog {
		st, err := ParseState(pos)
		if err != nil {
			t.Fatal(err)
		}
		return ServerBinlog{MariaDB: true, LogBin: true, StrictMode: true, Pos: st, DomainID: domain, ServerID: 77}
	}
	for _, c := range []struct {
		name   string
		server ServerBinlog
		opts   TargetOptions
		want   []string // nil: no conflict
	}{
		{"empty binary log, replay only", strict("", 0), TargetOptions{}, nil},
		{"behind in both domains", strict("0-77-14,3-9-6", 0), TargetOptions{}, nil},
		{"at the first replayed", strict("0-77-15", 0), TargetOptions{},
			[]string{"domain 0: the server's binary log is at 0-77-15", "the replay starts at 0-1-15", "gtid_strict_mode=OFF", "a new server"}},
		{"ahead in domain 3", strict("0-77-2,3-5-100", 0), TargetOptions{NoBinlog: true},
			[]string{"domain 3: the server's binary log is at 3-5-100", "the replay starts at 3-1-7"}},
		{"the load binlogged in a replayed domain", strict("", 3), TargetOptions{LoadBinlogged: true},
			[]string{"domain 3: the load would be binlogged as the server's own transactions 3-77-1, 3-77-2", "--no-binlog", "SET GLOBAL gtid_domain_id", "gtid_strict_mode=OFF"}},
		{"the load not binlogged", strict("", 0), TargetOptions{LoadBinlogged: true, NoBinlog: true}, nil},
		{"the load binlogged in another domain", strict("0-77-3", 9), TargetOptions{LoadBinlogged: true}, nil},
		{"not strict", ServerBinlog{MariaDB: true, LogBin: true, Pos: strict("0-77-99", 0).Pos}, TargetOptions{LoadBinlogged: true}, nil},
		{"no binary log", ServerBinlog{MariaDB: true, StrictMode: true, Pos: strict("0-77-99", 0).Pos}, TargetOptions{LoadBinlogged: true}, nil},
		{"MySQL", ServerBinlog{}, TargetOptions{LoadBinlogged: true}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := plan.CheckTarget(c.server, c.opts)
			if c.want == nil {
				if err != nil {
					t.Fatalf("want no conflict, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTargetBinlog) {
				t.Fatalf("want ErrTargetBinlog, got %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
	if err := (&Plan{}).CheckTarget(strict("0-77-99", 0), TargetOptions{LoadBinlogged: true}); err != nil {
		t.Errorf("a plan without MariaDB GTIDs: %v", err)
	}
}
