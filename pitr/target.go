package pitr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/mysql"
)

// ErrTargetBinlog is wrapped when the server a replay goes into cannot
// take the replayed transactions with their GTIDs: under
// gtid_strict_mode its binary log (or a load binlogged before the
// replay) is ahead of them in a domain. It is found before anything is
// written.
var ErrTargetBinlog = errors.New("the target server's binary log conflicts with the replay")

// ServerBinlog is what decides whether a server takes replayed
// transactions with their GTIDs: MariaDB's @@log_bin,
// @@gtid_strict_mode, @@gtid_binlog_pos (the last GTID binlogged per
// domain), and @@gtid_domain_id / @@server_id (the GTIDs its own
// transactions get).
type ServerBinlog struct {
	// MariaDB is false for MySQL, whose GTIDs (server UUIDs, a replayed
	// GTID the server holds is skipped) do not conflict this way.
	MariaDB    bool
	LogBin     bool
	StrictMode bool
	Pos        State
	DomainID   uint32
	ServerID   uint32
}

// ReadServerBinlog reads the server's binary log settings through conn.
// It writes nothing.
func ReadServerBinlog(ctx context.Context, conn mysql.Conn) (ServerBinlog, error) {
	var s ServerBinlog
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return s, fmt.Errorf("connect to the target server %s: %w", conn.String(), err)
	}
	defer db.Close()
	var version, comment string
	if err := db.QueryRowContext(ctx, "SELECT @@version, @@version_comment").Scan(&version, &comment); err != nil {
		return s, fmt.Errorf("read the target server's version: %w", err)
	}
	if _, _, _, flavor, err := mysql.ParseVersion(version, comment); err != nil || flavor != mysql.FlavorMariaDB {
		return s, nil
	}
	s.MariaDB = true
	var pos string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@gtid_strict_mode, @@gtid_binlog_pos, @@gtid_domain_id, @@server_id").
		Scan(&s.LogBin, &s.StrictMode, &pos, &s.DomainID, &s.ServerID); err != nil {
		return s, fmt.Errorf("read the target server's binary log settings (log_bin, gtid_strict_mode, gtid_binlog_pos): %w", err)
	}
	if s.Pos, err = ParseState(pos); err != nil {
		return s, fmt.Errorf("the target server's gtid_binlog_pos: %w", err)
	}
	return s, nil
}

// TargetOptions say what is written to the target server before and
// during the replay.
type TargetOptions struct {
	// LoadBinlogged: a logical backup is loaded into the server before
	// the replay, binlogged, as the server's own transactions (GTIDs in
	// its gtid_domain_id with its server_id; mysqldump's restore commits
	// every statement). How many is not known before the load.
	LoadBinlogged bool
	// NoBinlog: the load and the replay run with sql_log_bin=0. MariaDB
	// still checks a replayed GTID's sequence number against the binary
	// log under gtid_strict_mode (SET gtid_seq_no), so a binary log ahead
	// is refused all the same.
	NoBinlog bool
}

// CheckTarget reports whether the server s takes the plan's transactions
// with their GTIDs, as Replay applies them, after what o says is written
// before. It returns nil when the server has no binary log, is not in
// gtid_strict_mode, or is MySQL; otherwise an error wrapping
// ErrTargetBinlog that names, per domain, the server's last GTID (or the
// load) against the first replayed GTID, and the ways out.
func (p *Plan) CheckTarget(s ServerBinlog, o TargetOptions) error {
	if !s.MariaDB || !s.LogBin || !s.StrictMode || p == nil || len(p.FirstInDomain) == 0 {
		return nil
	}
	doms := make([]uint32, 0, len(p.FirstInDomain))
	for d := range p.FirstInDomain {
		doms = append(doms, d)
	}
	sort.Slice(doms, func(i, j int) bool { return doms[i] < doms[j] })
	var ahead, load []string
	for _, d := range doms {
		first := p.FirstInDomain[d]
		if cur, ok := s.Pos.maria[d]; ok && cur.Seq >= first.Seq {
			ahead = append(ahead, fmt.Sprintf("domain %d: the server's binary log is at %s (gtid_binlog_pos), the replay starts at %s", d, cur, first))
		}
		if o.LoadBinlogged && !o.NoBinlog && s.DomainID == d {
			next := uint64(1)
			if cur, ok := s.Pos.maria[d]; ok {
				next = cur.Seq + 1
			}
			load = append(load, fmt.Sprintf("domain %d: the load would be binlogged as the server's own transactions %d-%d-%d, %d-%d-%d, ... (gtid_domain_id %d), and the replay continues that domain at %s",
				d, d, s.ServerID, next, d, s.ServerID, next+1, s.DomainID, first))
		}
	}
	if len(ahead) == 0 && len(load) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("gtid_strict_mode=ON refuses a GTID whose sequence number is not above the last one binlogged in its domain, and the replayed transactions keep the source's GTIDs: ")
	b.WriteString(strings.Join(append(ahead, load...), "; "))
	b.WriteString(". Ways out: ")
	var ways []string
	if len(ahead) > 0 {
		ways = append(ways, "restore into a server whose binary log is behind the replay in those domains (a new server, the dump restored into it with restore --no-binlog; or one without replicas after RESET MASTER)",
			"or set gtid_strict_mode=OFF on it for the restore")
	}
	if len(load) > 0 {
		ways = append(ways, "--no-binlog (the load and the replay run with sql_log_bin=0: nothing is written to this server's binary log, its replicas do not get them)",
			"or SET GLOBAL gtid_domain_id to a domain the archive does not use (the load is then binlogged there; its replicas get the load and the replay)")
		if len(ahead) == 0 {
			ways = append(ways, "or set gtid_strict_mode=OFF on it for the restore")
		}
	}
	b.WriteString(strings.Join(ways, "; "))
	return fmt.Errorf("%w: %s", ErrTargetBinlog, b.String())
}

// firstInDomain records g as its domain's first replayed GTID (MariaDB).
func (p *Plan) firstInDomain(g *binlog.GTID) {
	if g == nil || g.MySQL {
		return
	}
	if p.FirstInDomain == nil {
		p.FirstInDomain = map[uint32]binlog.GTID{}
	}
	if _, ok := p.FirstInDomain[g.Domain]; !ok {
		p.FirstInDomain[g.Domain] = *g
	}
}
