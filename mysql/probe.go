package mysql

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Flavor is the server family, which decides the backup tools.
type Flavor string

// Server families.
const (
	FlavorMariaDB Flavor = "MariaDB"
	FlavorMySQL   Flavor = "MySQL"
	FlavorPercona Flavor = "Percona"
)

// ServerInfo is what Probe learns about a server.
type ServerInfo struct {
	Version        string // @@version, e.g. "10.11.19-MariaDB-0+deb12u1-log"
	VersionComment string // @@version_comment, e.g. "Debian 12", "Percona Server (GPL), Release 27"
	Flavor         Flavor
	Major, Minor   int
	Patch          int
	ServerID       uint32
	Datadir        string
	LogBin         bool
	BinlogFormat   string
	// GTIDMode: MySQL's @@gtid_mode (ON, OFF, ...); "ON" for MariaDB, whose
	// GTIDs are always on, with GTIDStrict from @@gtid_strict_mode.
	GTIDMode   string
	GTIDStrict bool
	// GTIDExecuted: MySQL @@gtid_executed; MariaDB @@gtid_binlog_pos.
	GTIDExecuted string
	// RedoCapacity is how many bytes of redo the server keeps before it
	// overwrites: innodb_redo_log_capacity (MySQL 8.0.30+), else
	// innodb_log_file_size × innodb_log_files_in_group (1 on MariaDB 10.5+).
	RedoCapacity      int64
	InnodbLogFileSize int64
	LogFilesInGroup   int64
	// LSN is the current InnoDB log sequence number at probe time.
	LSN uint64
}

// AtLeast reports whether the server version is at least major.minor.patch.
func (s *ServerInfo) AtLeast(major, minor, patch int) bool {
	if s.Major != major {
		return s.Major > major
	}
	if s.Minor != minor {
		return s.Minor > minor
	}
	return s.Patch >= patch
}

var reVersion = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// ParseVersion splits "10.11.19-MariaDB-log" into 10, 11, 19 and detects the
// flavour from the version and @@version_comment.
func ParseVersion(version, comment string) (major, minor, patch int, flavor Flavor, err error) {
	v := strings.TrimPrefix(version, "5.5.5-") // MariaDB's replication-compat prefix
	m := reVersion.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, 0, "", fmt.Errorf("unrecognised server version %q", version)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	patch, _ = strconv.Atoi(m[3])
	lv, lc := strings.ToLower(version), strings.ToLower(comment)
	switch {
	case strings.Contains(lv, "mariadb") || strings.Contains(lc, "mariadb"):
		flavor = FlavorMariaDB
	case strings.Contains(lc, "percona") || strings.Contains(lv, "percona"):
		flavor = FlavorPercona
	default:
		flavor = FlavorMySQL
	}
	return major, minor, patch, flavor, nil
}

// Probe reads version, flavour, datadir, binlog and GTID settings, the redo
// log capacity and the current LSN. It needs no privilege beyond a login
// except PROCESS for the LSN on servers without Innodb_lsn_current.
func Probe(ctx context.Context, db *sql.DB) (*ServerInfo, error) {
	vars, err := variables(ctx, db, "SHOW GLOBAL VARIABLES WHERE Variable_name IN "+
		"('version','version_comment','server_id','datadir','log_bin','binlog_format','gtid_mode',"+
		"'gtid_strict_mode','gtid_executed','gtid_binlog_pos','innodb_log_file_size',"+
		"'innodb_log_files_in_group','innodb_redo_log_capacity')")
	if err != nil {
		return nil, fmt.Errorf("probe server variables: %w", err)
	}
	s := &ServerInfo{Version: vars["version"], VersionComment: vars["version_comment"], Datadir: vars["datadir"],
		BinlogFormat: vars["binlog_format"]}
	if s.Major, s.Minor, s.Patch, s.Flavor, err = ParseVersion(s.Version, s.VersionComment); err != nil {
		return nil, err
	}
	id, _ := strconv.ParseUint(vars["server_id"], 10, 32)
	s.ServerID = uint32(id)
	s.LogBin = onOff(vars["log_bin"])
	if s.Flavor == FlavorMariaDB {
		s.GTIDMode = "ON"
		s.GTIDStrict = onOff(vars["gtid_strict_mode"])
		s.GTIDExecuted = vars["gtid_binlog_pos"]
	} else {
		s.GTIDMode = vars["gtid_mode"]
		if s.GTIDMode == "" {
			s.GTIDMode = "OFF"
		}
		s.GTIDExecuted = strings.ReplaceAll(vars["gtid_executed"], "\n", "")
	}
	s.InnodbLogFileSize, _ = strconv.ParseInt(vars["innodb_log_file_size"], 10, 64)
	s.LogFilesInGroup, _ = strconv.ParseInt(vars["innodb_log_files_in_group"], 10, 64)
	if s.LogFilesInGroup == 0 {
		s.LogFilesInGroup = 1
	}
	if c, _ := strconv.ParseInt(vars["innodb_redo_log_capacity"], 10, 64); c > 0 {
		s.RedoCapacity = c
	} else {
		s.RedoCapacity = s.InnodbLogFileSize * s.LogFilesInGroup
	}
	if s.LSN, err = CurrentLSN(ctx, db); err != nil {
		return nil, err
	}
	return s, nil
}

func onOff(v string) bool {
	v = strings.ToUpper(v)
	return v == "ON" || v == "1" || v == "YES" || v == "TRUE"
}

func variables(ctx context.Context, db *sql.DB, query string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[strings.ToLower(k)] = v.String
	}
	return out, rows.Err()
}

// CurrentLSN returns the server's current InnoDB log sequence number, from
// the status variable Innodb_lsn_current (MariaDB, Percona) or else from
// SHOW ENGINE INNODB STATUS (needs PROCESS).
func CurrentLSN(ctx context.Context, db *sql.DB) (uint64, error) {
	st, err := variables(ctx, db, "SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'")
	if err == nil {
		if v, ok := st["innodb_lsn_current"]; ok {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				return n, nil
			}
		}
	}
	var typ, name, status string
	if err := db.QueryRowContext(ctx, "SHOW ENGINE INNODB STATUS").Scan(&typ, &name, &status); err != nil {
		return 0, fmt.Errorf("read InnoDB LSN with SHOW ENGINE INNODB STATUS (needs the PROCESS privilege): %w", err)
	}
	return ParseInnodbStatusLSN(status)
}

var reLSN = regexp.MustCompile(`(?m)^Log sequence number\s+(\d+)(?:\s+(\d+))?`)

// ParseInnodbStatusLSN extracts "Log sequence number N" from the text of
// SHOW ENGINE INNODB STATUS. (MySQL 5.5 printed it as two 32-bit halves
// "Log sequence number 0 12345", which are combined.)
func ParseInnodbStatusLSN(status string) (uint64, error) {
	m := reLSN.FindStringSubmatch(status)
	if m == nil {
		return 0, errors.New("no \"Log sequence number\" in SHOW ENGINE INNODB STATUS")
	}
	a, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse log sequence number: %w", err)
	}
	if m[2] != "" {
		b, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil || a > 0xffffffff || b > 0xffffffff {
			return 0, fmt.Errorf("parse log sequence number %q %q", m[1], m[2])
		}
		return a<<32 | b, nil
	}
	return a, nil
}

// Grants returns the output of SHOW GRANTS for the connected user, one GRANT
// statement a line.
func Grants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("show grants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("show grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

var reGrant = regexp.MustCompile("(?is)^GRANT\\s+(.+?)\\s+ON\\s+(\\S+)\\s+TO\\s")

// GlobalPrivileges returns the privileges granted ON *.* by the given GRANT
// statements, upper-cased ("ALL PRIVILEGES" when granted). Roles and
// database-level grants are ignored.
func GlobalPrivileges(grants []string) map[string]bool {
	out := map[string]bool{}
	for _, g := range grants {
		m := reGrant.FindStringSubmatch(strings.TrimSpace(g))
		if m == nil || strings.ReplaceAll(m[2], "`", "") != "*.*" {
			continue
		}
		for _, p := range strings.Split(m[1], ",") {
			p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
			if p == "ALL" {
				p = "ALL PRIVILEGES"
			}
			if p != "" {
				out[p] = true
			}
		}
	}
	return out
}

// RequiredPrivileges lists the global privileges each engine needs on the
// given server. Alternatives are written "A|B" (any one suffices).
func RequiredPrivileges(e Engine, s *ServerInfo) []string {
	binlogMon := "REPLICATION CLIENT"
	if s != nil && s.Flavor == FlavorMariaDB && s.AtLeast(10, 5, 2) {
		binlogMon = "BINLOG MONITOR|REPLICATION CLIENT|SUPER"
	}
	switch e {
	case EngineMariabackup, EngineXtrabackup, EngineInnobackupex:
		p := []string{"RELOAD", "PROCESS", "LOCK TABLES", binlogMon}
		if e != EngineMariabackup && s != nil && s.Flavor != FlavorMariaDB && s.AtLeast(8, 0, 0) {
			p = append(p, "BACKUP_ADMIN")
		}
		return p
	case EngineMysqldump, EngineMariadbDump:
		return []string{"SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "LOCK TABLES", "RELOAD", binlogMon}
	}
	return nil
}

// MissingPrivileges compares SHOW GRANTS output with RequiredPrivileges and
// returns what is missing (empty when all is granted).
func MissingPrivileges(grants []string, e Engine, s *ServerInfo) []string {
	have := GlobalPrivileges(grants)
	if have["ALL PRIVILEGES"] {
		return nil
	}
	var missing []string
	for _, need := range RequiredPrivileges(e, s) {
		ok := false
		for _, alt := range strings.Split(need, "|") {
			if have[alt] {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, strings.Split(need, "|")[0])
		}
	}
	return missing
}

// Process is one row of the processlist.
type Process struct {
	ID      int64
	User    string
	Host    string
	DB      string
	Command string
	Time    time.Duration
	State   string
	Info    string // the statement, cut at 200 bytes
}

// LongQueries lists statements (Command "Query") running for at least
// minAge, longest first: the ones that block FLUSH TABLES WITH READ LOCK /
// BACKUP STAGE. The user needs PROCESS to see other users' threads.
func LongQueries(ctx context.Context, db *sql.DB, minAge time.Duration) ([]Process, error) {
	rows, err := db.QueryContext(ctx, "SELECT ID, USER, HOST, IFNULL(DB,''), COMMAND, TIME, IFNULL(STATE,''), "+
		"LEFT(IFNULL(INFO,''),200) FROM information_schema.PROCESSLIST WHERE COMMAND='Query' AND TIME >= ? "+
		"AND ID <> CONNECTION_ID() ORDER BY TIME DESC", int64(minAge/time.Second))
	if err != nil {
		return nil, fmt.Errorf("read processlist: %w", err)
	}
	defer rows.Close()
	var out []Process
	for rows.Next() {
		var p Process
		var secs int64
		if err := rows.Scan(&p.ID, &p.User, &p.Host, &p.DB, &p.Command, &secs, &p.State, &p.Info); err != nil {
			return nil, fmt.Errorf("read processlist: %w", err)
		}
		p.Time = time.Duration(secs) * time.Second
		out = append(out, p)
	}
	return out, rows.Err()
}

// parseKV parses "key = value" lines (xtrabackup_checkpoints, xtrabackup_info).
func parseKV(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}
