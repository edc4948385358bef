package pitr

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mybak/mybak/binlog"
)

// State is a set of executed transactions as a server keeps it: MariaDB's
// gtid_binlog_pos (the last sequence number per domain) or MySQL's
// gtid_executed (intervals per server UUID). The zero State is empty.
type State struct {
	maria map[uint32]binlog.GTID
	mysql map[[16]byte][][2]uint64 // sorted, disjoint, inclusive intervals
}

// ParseState parses a gtid_binlog_pos ("0-1-42,7-3-5") or a gtid_executed
// ("uuid:1-42:50,uuid2:1-3"); "" is the empty state.
func ParseState(s string) (State, error) {
	var st State
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return st, nil
	}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		if u, rest, ok := strings.Cut(part, ":"); ok {
			g, err := binlog.ParseGTID(u + ":1")
			if err != nil {
				return State{}, fmt.Errorf("GTID set %q: %w", s, err)
			}
			for _, iv := range strings.Split(rest, ":") {
				a, b, isRange := strings.Cut(iv, "-")
				lo, err1 := strconv.ParseUint(a, 10, 64)
				hi := lo
				var err2 error
				if isRange {
					hi, err2 = strconv.ParseUint(b, 10, 64)
				}
				if err1 != nil || err2 != nil || lo == 0 || hi < lo {
					return State{}, fmt.Errorf("GTID set %q: bad interval %q", s, iv)
				}
				st.addRange(g.UUID, lo, hi)
			}
			continue
		}
		g, err := binlog.ParseGTID(part)
		if err != nil {
			return State{}, fmt.Errorf("GTID position %q: %w", s, err)
		}
		if st.maria == nil {
			st.maria = map[uint32]binlog.GTID{}
		}
		if cur, ok := st.maria[g.Domain]; ok && cur.Seq >= g.Seq {
			continue
		}
		st.maria[g.Domain] = g
	}
	return st, nil
}

// Clone returns an independent copy of s.
func (s State) Clone() State {
	var c State
	for d, g := range s.maria {
		if c.maria == nil {
			c.maria = map[uint32]binlog.GTID{}
		}
		c.maria[d] = g
	}
	for u, ivs := range s.mysql {
		if c.mysql == nil {
			c.mysql = map[[16]byte][][2]uint64{}
		}
		c.mysql[u] = append([][2]uint64(nil), ivs...)
	}
	return c
}

// Contains reports whether g was executed. For MariaDB that is a sequence
// number at or below its domain's (gtid_strict_mode's rule).
func (s State) Contains(g binlog.GTID) bool {
	if g.MySQL {
		for _, iv := range s.mysql[g.UUID] {
			if g.Seq >= iv[0] && g.Seq <= iv[1] {
				return true
			}
		}
		return false
	}
	cur, ok := s.maria[g.Domain]
	return ok && g.Seq <= cur.Seq
}

// Missing returns the transactions that must come before g for it to
// follow s without a gap ("" when none): for MariaDB the sequence numbers
// between its domain's last and g's, for MySQL those between the UUID's
// last interval and g. A domain or UUID that s does not know has no gap.
func (s State) Missing(g binlog.GTID) string {
	if g.MySQL {
		ivs := s.mysql[g.UUID]
		if len(ivs) == 0 {
			return ""
		}
		last := ivs[len(ivs)-1][1]
		if g.Seq == last+2 {
			return fmt.Sprintf("%s:%d", binlog.UUIDString(g.UUID), last+1)
		}
		if g.Seq > last+2 {
			return fmt.Sprintf("%s:%d-%d", binlog.UUIDString(g.UUID), last+1, g.Seq-1)
		}
		return ""
	}
	cur, ok := s.maria[g.Domain]
	if !ok || g.Seq <= cur.Seq+1 {
		return ""
	}
	if g.Seq == cur.Seq+2 {
		return fmt.Sprintf("%d-?-%d", g.Domain, cur.Seq+1)
	}
	return fmt.Sprintf("%d-?-%d..%d", g.Domain, cur.Seq+1, g.Seq-1)
}

// Add records g as executed.
func (s *State) Add(g binlog.GTID) {
	if g.MySQL {
		s.addRange(g.UUID, g.Seq, g.Seq)
		return
	}
	if s.maria == nil {
		s.maria = map[uint32]binlog.GTID{}
	}
	if cur, ok := s.maria[g.Domain]; !ok || g.Seq > cur.Seq {
		s.maria[g.Domain] = binlog.GTID{Domain: g.Domain, ServerID: g.ServerID, Seq: g.Seq}
	}
}

func (s *State) addRange(u [16]byte, lo, hi uint64) {
	if s.mysql == nil {
		s.mysql = map[[16]byte][][2]uint64{}
	}
	ivs := append(s.mysql[u], [2]uint64{lo, hi})
	sort.Slice(ivs, func(i, j int) bool { return ivs[i][0] < ivs[j][0] })
	out := ivs[:1]
	for _, iv := range ivs[1:] {
		last := &out[len(out)-1]
		if iv[0] <= last[1]+1 {
			if iv[1] > last[1] {
				last[1] = iv[1]
			}
			continue
		}
		out = append(out, iv)
	}
	s.mysql[u] = out
}

// Empty reports whether s holds no transaction.
func (s State) Empty() bool { return len(s.maria) == 0 && len(s.mysql) == 0 }

// String formats s as the server would (domains and UUIDs sorted).
func (s State) String() string {
	var parts []string
	doms := make([]uint32, 0, len(s.maria))
	for d := range s.maria {
		doms = append(doms, d)
	}
	sort.Slice(doms, func(i, j int) bool { return doms[i] < doms[j] })
	for _, d := range doms {
		parts = append(parts, s.maria[d].String())
	}
	var uuids []string
	byName := map[string][][2]uint64{}
	for u, ivs := range s.mysql {
		n := binlog.UUIDString(u)
		uuids = append(uuids, n)
		byName[n] = ivs
	}
	sort.Strings(uuids)
	for _, n := range uuids {
		var b strings.Builder
		b.WriteString(n)
		for _, iv := range byName[n] {
			if iv[0] == iv[1] {
				fmt.Fprintf(&b, ":%d", iv[0])
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv[0], iv[1])
			}
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}

// Merge adds every transaction of o to s.
func (s *State) Merge(o State) {
	for _, g := range o.maria {
		s.Add(g)
	}
	for u, ivs := range o.mysql {
		for _, iv := range ivs {
			s.addRange(u, iv[0], iv[1])
		}
	}
}
