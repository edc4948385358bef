package replica

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mybak/mybak/mysql"
)

// Dialect is the replication SQL a replica server speaks.
type Dialect struct {
	// MariaDB: SET GLOBAL gtid_slave_pos, MASTER_USE_GTID=slave_pos.
	MariaDB bool
	// Source: CHANGE REPLICATION SOURCE TO / START REPLICA / SHOW REPLICA
	// STATUS (MySQL 8.0.23+).
	Source bool
	// ResetBinaryLogs: RESET BINARY LOGS AND GTIDS (MySQL 8.4+) instead of
	// RESET MASTER.
	ResetBinaryLogs bool
	// PublicKey: GET_MASTER_PUBLIC_KEY / GET_SOURCE_PUBLIC_KEY=1, so a
	// caching_sha2_password replication user works without TLS (MySQL 8.0+).
	PublicKey bool
	// SourcePosWait: SOURCE_POS_WAIT (8.0.26+) instead of MASTER_POS_WAIT.
	SourcePosWait bool
	// BinlogStatus: SHOW BINARY LOG STATUS (8.2+) instead of SHOW MASTER STATUS.
	BinlogStatus bool
	// GTIDWait: WAIT_FOR_EXECUTED_GTID_SET exists (MySQL 5.7.5+).
	GTIDWait bool
}

// DialectFor returns the dialect of a probed server.
func DialectFor(s *mysql.ServerInfo) Dialect {
	if s.Flavor == mysql.FlavorMariaDB {
		return Dialect{MariaDB: true}
	}
	return Dialect{
		Source:          s.AtLeast(8, 0, 23),
		ResetBinaryLogs: s.AtLeast(8, 4, 0),
		PublicKey:       s.AtLeast(8, 0, 4),
		SourcePosWait:   s.AtLeast(8, 0, 26),
		BinlogStatus:    s.AtLeast(8, 2, 0),
		GTIDWait:        s.AtLeast(5, 7, 5),
	}
}

// Position is where replication starts: the backup's binlog coordinates.
type Position struct {
	File string // binlog file on the primary at the backup's consistent point
	Pos  uint64
	// GTID is the GTID set (MySQL) or gtid_binlog_pos (MariaDB) the backup
	// contains; "" when the primary had none.
	GTID string
}

// UseGTID reports whether replication is positioned by GTID.
func (p Position) UseGTID() bool { return p.GTID != "" }

// Primary says how the replica reaches its primary. Password is sent to
// the replica inside CHANGE MASTER only.
type Primary struct {
	Host         string
	Port         int
	User         string
	Password     string
	ConnectRetry int // seconds between connection attempts (0: 15)
}

const pwMark = "\x00password\x00"

// Stmt is one SQL statement and the form logs may show (the password
// replaced by '***').
type Stmt struct {
	SQL, Log string
}

// ErrNoPosition is returned when a backup records neither a GTID set nor a
// binlog file and position.
var ErrNoPosition = errors.New("the backup records no replication position (no GTID set, no binlog file and position): was the primary's binary log on?")

// Quote returns s as an SQL string literal ('...' with \, ', NUL, newlines
// and Ctrl-Z escaped), valid under any sql_mode but NO_BACKSLASH_ESCAPES,
// which Setup switches off for its session.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

var (
	reMySQLGTID   = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}(:[A-Za-z0-9_]{1,32})?(:\d+(-\d+)?)+$`)
	reMariaDBGTID = regexp.MustCompile(`^\d+-\d+-\d+$`)
)

// ParseGTIDSet normalises a GTID set as backups record it: whitespace and
// newlines are removed (Percona's xtrabackup_binlog_info spreads long sets
// over several lines), and every element is checked: uuid[:tag]:interval...
// for MySQL, domain-server-seq for MariaDB. The empty set is "".
func ParseGTIDSet(mariadb bool, s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	s = strings.Trim(s, ",")
	if s == "" {
		return "", nil
	}
	for _, el := range strings.Split(s, ",") {
		ok := reMySQLGTID.MatchString(el)
		if mariadb {
			ok = reMariaDBGTID.MatchString(el)
		}
		if !ok {
			kind := "MySQL (uuid:1-5)"
			if mariadb {
				kind = "MariaDB (domain-server-seq)"
			}
			return "", fmt.Errorf("GTID set %q: element %q is not a %s GTID", s, el, kind)
		}
	}
	return s, nil
}

// Setup returns the statements that point a stopped or fresh replica at
// src, starting at pos, in dialect d, and start replication:
//
//	MariaDB:   SET GLOBAL gtid_slave_pos=...; CHANGE MASTER TO ..., MASTER_USE_GTID=slave_pos
//	           (without GTID: MASTER_LOG_FILE, MASTER_LOG_POS, MASTER_USE_GTID=no)
//	MySQL:     RESET MASTER; SET GLOBAL gtid_purged=...; CHANGE MASTER TO ..., MASTER_AUTO_POSITION=1
//	8.0.23+:   CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1; START REPLICA
//	8.4:       RESET BINARY LOGS AND GTIDS
//
// Everything runs with sql_log_bin=0 in its session: nothing the set-up
// does may become a local transaction with a GTID of the replica's own,
// which would conflict with the primary's ("Specified GTID ... conflicts
// with the binary log"). Any earlier replication configuration is removed
// (RESET SLAVE ALL).
func Setup(d Dialect, src Primary, pos Position) ([]Stmt, error) {
	if pos.GTID == "" && pos.File == "" {
		return nil, ErrNoPosition
	}
	gtid, err := ParseGTIDSet(d.MariaDB, pos.GTID)
	if err != nil {
		return nil, err
	}
	if src.Host == "" || src.User == "" {
		return nil, errors.New("replication source needs a host and a user")
	}
	port := src.Port
	if port == 0 {
		port = 3306
	}
	retry := src.ConnectRetry
	if retry <= 0 {
		retry = 15
	}
	kw := "MASTER"
	if d.Source {
		kw = "SOURCE"
	}
	var out []Stmt
	add := func(sql string) { out = append(out, Stmt{SQL: sql, Log: sql}) }
	add("SET SESSION sql_mode=REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
	add("SET SESSION sql_log_bin=0")
	if d.Source {
		add("STOP REPLICA")
		add("RESET REPLICA ALL")
	} else {
		add("STOP SLAVE")
		add("RESET SLAVE ALL")
	}
	opts := []string{
		fmt.Sprintf("%s_HOST=%s", kw, Quote(src.Host)),
		fmt.Sprintf("%s_PORT=%d", kw, port),
		fmt.Sprintf("%s_USER=%s", kw, Quote(src.User)),
		kw + "_PASSWORD=" + pwMark,
		fmt.Sprintf("%s_CONNECT_RETRY=%d", kw, retry),
	}
	switch {
	case d.MariaDB && gtid != "":
		add("SET GLOBAL gtid_slave_pos=" + Quote(gtid))
		opts = append(opts, "MASTER_USE_GTID=slave_pos")
	case d.MariaDB:
		opts = append(opts, "MASTER_LOG_FILE="+Quote(pos.File), "MASTER_LOG_POS="+strconv.FormatUint(pos.Pos, 10), "MASTER_USE_GTID=no")
	case gtid != "":
		if d.ResetBinaryLogs {
			add("RESET BINARY LOGS AND GTIDS")
		} else {
			add("RESET MASTER")
		}
		add("SET GLOBAL gtid_purged=" + Quote(gtid))
		opts = append(opts, kw+"_AUTO_POSITION=1")
	default:
		opts = append(opts, kw+"_LOG_FILE="+Quote(pos.File), kw+"_LOG_POS="+strconv.FormatUint(pos.Pos, 10), kw+"_AUTO_POSITION=0")
	}
	if !d.MariaDB && d.PublicKey {
		opts = append(opts, "GET_"+kw+"_PUBLIC_KEY=1")
	}
	change := "CHANGE MASTER TO "
	if d.Source {
		change = "CHANGE REPLICATION SOURCE TO "
	}
	change += strings.Join(opts, ", ")
	// The password goes in last, at a mark no quoted value can contain
	// (Quote escapes NUL).
	out = append(out, Stmt{
		SQL: strings.Replace(change, pwMark, Quote(src.Password), 1),
		Log: strings.Replace(change, pwMark, "'***'", 1),
	})
	if d.Source {
		add("START REPLICA")
	} else {
		add("START SLAVE")
	}
	return out, nil
}

// CreateUser returns the statements that create the replication user on
// the primary with REPLICATION SLAVE only. They are binlogged (replicas
// then get the user too; IF NOT EXISTS keeps that idempotent); an existing
// user keeps its password.
func CreateUser(d Dialect, user, host, password string) []Stmt {
	account := Quote(user) + "@" + Quote(host)
	create := "CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY "
	return []Stmt{
		{SQL: "SET SESSION sql_mode=REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')",
			Log: "SET SESSION sql_mode=REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')"},
		{SQL: create + Quote(password), Log: create + "'***'"},
		{SQL: "GRANT REPLICATION SLAVE ON *.* TO " + account, Log: "GRANT REPLICATION SLAVE ON *.* TO " + account},
	}
}

// StatusQuery is the statement that shows the replica's state.
func StatusQuery(d Dialect) string {
	if d.Source {
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

// PrimaryPositionQuery returns the query, run on the primary, that reads
// the position a replica has caught up to when it reaches it: a GTID
// variable (readable by any user, so the replication user will do), or
// for file/position replication SHOW MASTER STATUS (needs BINLOG MONITOR /
// REPLICATION CLIENT).
func PrimaryPositionQuery(d Dialect, gtid bool) string {
	switch {
	case gtid && d.MariaDB:
		return "SELECT @@GLOBAL.gtid_binlog_pos"
	case gtid:
		return "SELECT @@GLOBAL.gtid_executed"
	case d.BinlogStatus:
		return "SHOW BINARY LOG STATUS"
	}
	return "SHOW MASTER STATUS"
}

// WaitQuery returns a query (and its arguments) that blocks on the replica
// for at most seconds until it has applied target, returning 0 when it
// has, or "" when the dialect has no such function (MySQL 5.6 with GTID);
// the caller then compares SHOW SLAVE STATUS positions.
func WaitQuery(d Dialect, target Position, seconds int) (string, []any) {
	switch {
	case target.GTID != "" && d.MariaDB:
		return "SELECT MASTER_GTID_WAIT(?, ?)", []any{target.GTID, seconds}
	case target.GTID != "" && d.GTIDWait:
		return "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", []any{target.GTID, seconds}
	case target.GTID != "":
		return "", nil
	case target.File == "":
		return "", nil
	case d.SourcePosWait:
		return "SELECT SOURCE_POS_WAIT(?, ?, ?)", []any{target.File, target.Pos, seconds}
	}
	return "SELECT MASTER_POS_WAIT(?, ?, ?)", []any{target.File, target.Pos, seconds}
}
