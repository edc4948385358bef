package replica

import (
	"strings"
	"testing"

	"github.com/mybak/mybak/mysql"
)

func server(t *testing.T, version, comment string) *mysql.ServerInfo {
	t.Helper()
	s := &mysql.ServerInfo{Version: version, VersionComment: comment}
	var err error
	if s.Major, s.Minor, s.Patch, s.Flavor, err = mysql.ParseVersion(version, comment); err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "8a94f357-aab4-11df-86ab-c80aa9429562"
)

// TestSetup: the statements of every dialect, GTID and file/position.
func TestSetup(t *testing.T) {
	src := Primary{Host: "10.0.0.1", Port: 3307, User: "repl", Password: "s3cr'et\\x"}
	gtidPos := func(g string) Position { return Position{File: "bin.000003", Pos: 1234, GTID: g} }
	filePos := Position{File: "bin.000003", Pos: 1234}
	for _, tc := range []struct {
		name, version, comment string
		pos                    Position
		want                   []string
	}{
		{"MariaDB GTID", "10.11.19-MariaDB-log", "", gtidPos("0-1-100,1-2-5"), []string{
			"SET SESSION sql_log_bin=0", "STOP SLAVE", "RESET SLAVE ALL",
			"SET GLOBAL gtid_slave_pos='0-1-100,1-2-5'",
			`CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='***', MASTER_CONNECT_RETRY=15, MASTER_USE_GTID=slave_pos`,
			"START SLAVE"}},
		{"MariaDB file/pos", "10.6.5-MariaDB", "", filePos, []string{
			"STOP SLAVE", "RESET SLAVE ALL",
			`CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='***', MASTER_CONNECT_RETRY=15, MASTER_LOG_FILE='bin.000003', MASTER_LOG_POS=1234, MASTER_USE_GTID=no`,
			"START SLAVE"}},
		{"MySQL 5.6 GTID", "5.6.51-log", "MySQL Community Server (GPL)", gtidPos(uuidA + ":1-5"), []string{
			"STOP SLAVE", "RESET SLAVE ALL", "RESET MASTER", "SET GLOBAL gtid_purged='" + uuidA + ":1-5'",
			`CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='***', MASTER_CONNECT_RETRY=15, MASTER_AUTO_POSITION=1`,
			"START SLAVE"}},
		{"MySQL 5.7 file/pos", "5.7.44", "MySQL Community Server (GPL)", filePos, []string{
			`CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='***', MASTER_CONNECT_RETRY=15, MASTER_LOG_FILE='bin.000003', MASTER_LOG_POS=1234, MASTER_AUTO_POSITION=0`}},
		{"MySQL 8.0.22 GTID", "8.0.22", "MySQL Community Server - GPL", gtidPos(uuidA + ":1-5"), []string{
			"RESET MASTER", "SET GLOBAL gtid_purged=",
			`CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='***', MASTER_CONNECT_RETRY=15, MASTER_AUTO_POSITION=1, GET_MASTER_PUBLIC_KEY=1`,
			"START SLAVE"}},
		{"MySQL 8.0.23 GTID", "8.0.23", "MySQL Community Server - GPL", gtidPos(uuidA + ":1-5"), []string{
			"STOP REPLICA", "RESET REPLICA ALL", "RESET MASTER", "SET GLOBAL gtid_purged=",
			`CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.1', SOURCE_PORT=3307, SOURCE_USER='repl', SOURCE_PASSWORD='***', SOURCE_CONNECT_RETRY=15, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1`,
			"START REPLICA"}},
		{"Percona 8.0 file/pos", "8.0.35-27", "Percona Server (GPL), Release 27", filePos, []string{
			`CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.1', SOURCE_PORT=3307, SOURCE_USER='repl', SOURCE_PASSWORD='***', SOURCE_CONNECT_RETRY=15, SOURCE_LOG_FILE='bin.000003', SOURCE_LOG_POS=1234, SOURCE_AUTO_POSITION=0, GET_SOURCE_PUBLIC_KEY=1`}},
		{"MySQL 8.4 GTID, multi-line set", "8.4.3", "MySQL Community Server - GPL", gtidPos(uuidA + ":1-5,\n" + uuidB + ":1-9:11-20\n"), []string{
			"STOP REPLICA", "RESET REPLICA ALL", "RESET BINARY LOGS AND GTIDS",
			"SET GLOBAL gtid_purged='" + uuidA + ":1-5," + uuidB + ":1-9:11-20'", "SOURCE_AUTO_POSITION=1", "START REPLICA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stmts, err := Setup(DialectFor(server(t, tc.version, tc.comment)), src, tc.pos)
			if err != nil {
				t.Fatal(err)
			}
			var logs []string
			for _, s := range stmts {
				logs = append(logs, s.Log)
				if strings.Contains(s.Log, "s3cr") {
					t.Errorf("log form holds the password: %s", s.Log)
				}
				if strings.HasPrefix(s.SQL, "CHANGE") && !strings.Contains(s.SQL, `_PASSWORD='s3cr\'et\\x'`) {
					t.Errorf("password not quoted right: %s", s.SQL)
				}
			}
			all := strings.Join(logs, "\n")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(all[at:], w)
				if i < 0 {
					t.Fatalf("want %q (in order) in:\n%s", w, all)
				}
				at += i + len(w)
			}
			if tc.version == "8.4.3" && strings.Contains(all, "RESET MASTER") {
				t.Error("8.4 has no RESET MASTER")
			}
			if strings.Contains(tc.name, "MariaDB") && strings.Contains(all, "PUBLIC_KEY") {
				t.Error("MariaDB has no GET_MASTER_PUBLIC_KEY")
			}
		})
	}
}

func TestSetupErrors(t *testing.T) {
	d := Dialect{MariaDB: true}
	src := Primary{Host: "h", User: "u"}
	if _, err := Setup(d, src, Position{}); err != ErrNoPosition {
		t.Errorf("no position: %v", err)
	}
	if _, err := Setup(d, src, Position{GTID: uuidA + ":1-5"}); err == nil {
		t.Error("a MySQL GTID set on MariaDB was accepted")
	}
	if _, err := Setup(Dialect{}, src, Position{GTID: "0-1-5"}); err == nil {
		t.Error("a MariaDB GTID on MySQL was accepted")
	}
	if _, err := Setup(d, Primary{Host: "h"}, Position{GTID: "0-1-5"}); err == nil {
		t.Error("no user accepted")
	}
	// A host with a printf verb or the mark's look-alike stays intact.
	st, err := Setup(d, Primary{Host: "h%s", User: "u", Password: "p"}, Position{GTID: "0-1-5"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if strings.HasPrefix(s.SQL, "CHANGE") && !strings.Contains(s.SQL, "MASTER_HOST='h%s'") {
			t.Errorf("host mangled: %s", s.SQL)
		}
	}
}

func TestParseGTIDSet(t *testing.T) {
	for _, tc := range []struct {
		mariadb bool
		in, out string
		bad     bool
	}{
		{true, "", "", false},
		{true, "0-1-5", "0-1-5", false},
		{true, " 0-1-5,\n1-2-7 ", "0-1-5,1-2-7", false},
		{true, "0-1", "", true},
		{true, "0-1-5'; DROP", "", true},
		{false, uuidA + ":1-5", uuidA + ":1-5", false},
		{false, uuidA + ":1-5,\n" + uuidB + ":1-3:7\n", uuidA + ":1-5," + uuidB + ":1-3:7", false},
		{false, uuidA + ":tag_1:1-5", uuidA + ":tag_1:1-5", false}, // MySQL 8.3+ tagged GTIDs
		{false, uuidA, "", true},
		{false, "0-1-5", "", true},
	} {
		got, err := ParseGTIDSet(tc.mariadb, tc.in)
		if (err != nil) != tc.bad || got != tc.out {
			t.Errorf("ParseGTIDSet(%v, %q) = %q, %v", tc.mariadb, tc.in, got, err)
		}
	}
}

func FuzzParseGTIDSet(f *testing.F) {
	f.Add(true, "0-1-5,1-2-7")
	f.Add(false, uuidA+":1-5,\n"+uuidB+":1-3")
	f.Fuzz(func(t *testing.T, mariadb bool, s string) {
		out, err := ParseGTIDSet(mariadb, s)
		if err != nil {
			return
		}
		if strings.ContainsAny(out, "' \n\\") {
			t.Fatalf("unsafe GTID set accepted: %q", out)
		}
		if again, err := ParseGTIDSet(mariadb, out); err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q, %v", out, again, err)
		}
	})
}

func TestCreateUser(t *testing.T) {
	st := CreateUser(Dialect{MariaDB: true}, "repl", "10.%", "pw'1")
	all := ""
	for _, s := range st {
		all += s.Log + "\n"
		if strings.Contains(s.Log, "pw") {
			t.Errorf("log holds the password: %s", s.Log)
		}
	}
	for _, w := range []string{"CREATE USER IF NOT EXISTS 'repl'@'10.%' IDENTIFIED BY '***'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'10.%'"} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
	if !strings.Contains(st[1].SQL, `'pw\'1'`) {
		t.Errorf("password literal: %s", st[1].SQL)
	}
}

func TestQueries(t *testing.T) {
	maria, my57, my80, my84 := Dialect{MariaDB: true}, DialectFor(server(t, "5.7.44", "MySQL")),
		DialectFor(server(t, "8.0.30", "MySQL")), DialectFor(server(t, "8.4.0", "MySQL"))
	my56 := DialectFor(server(t, "5.6.51", "MySQL"))
	g := Position{GTID: "0-1-5"}
	f := Position{File: "b.000001", Pos: 4}
	for _, tc := range []struct {
		got, want string
	}{
		{StatusQuery(maria), "SHOW SLAVE STATUS"},
		{StatusQuery(my57), "SHOW SLAVE STATUS"},
		{StatusQuery(my80), "SHOW REPLICA STATUS"},
		{PrimaryPositionQuery(maria, true), "SELECT @@GLOBAL.gtid_binlog_pos"},
		{PrimaryPositionQuery(my80, true), "SELECT @@GLOBAL.gtid_executed"},
		{PrimaryPositionQuery(my80, false), "SHOW MASTER STATUS"},
		{PrimaryPositionQuery(my84, false), "SHOW BINARY LOG STATUS"},
		{first(WaitQuery(maria, g, 1)), "SELECT MASTER_GTID_WAIT(?, ?)"},
		{first(WaitQuery(my57, Position{GTID: uuidA + ":1"}, 1)), "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)"},
		{first(WaitQuery(my56, Position{GTID: uuidA + ":1"}, 1)), ""},
		{first(WaitQuery(my57, f, 1)), "SELECT MASTER_POS_WAIT(?, ?, ?)"},
		{first(WaitQuery(my80, f, 1)), "SELECT SOURCE_POS_WAIT(?, ?, ?)"},
		{first(WaitQuery(maria, f, 1)), "SELECT MASTER_POS_WAIT(?, ?, ?)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func first(q string, _ []any) string { return q }

// TestParseStatus: MariaDB's and MySQL 8's column names, NULL lag,
// multi-line GTID sets, errors.
func TestParseStatus(t *testing.T) {
	m := ParseStatus(map[string]string{
		"Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes", "Master_Host": "127.0.0.1", "Master_Port": "3306",
		"Last_IO_Errno": "1045", "Last_IO_Error": "error connecting to master: Access denied", "Using_Gtid": "Slave_Pos",
		"Gtid_IO_Pos": "0-1-5", "Master_Log_File": "b.1", "Read_Master_Log_Pos": "10",
	})
	if m.Running() || !m.Failed() || m.SecondsBehind != nil || m.UsingGTID != "Slave_Pos" || m.GTIDReceived != "0-1-5" || m.PrimaryPort != 3306 {
		t.Errorf("MariaDB: %+v", m)
	}
	if e := (&ReplicationError{Status: m, Reason: "x"}).Error(); !strings.Contains(e, "Last_IO_Error 1045: error connecting") {
		t.Errorf("error text: %s", e)
	}
	s := ParseStatus(map[string]string{
		"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Seconds_Behind_Source": "0", "Source_Log_File": "b.2",
		"Read_Source_Log_Pos": "99", "Relay_Source_Log_File": "b.2", "Exec_Source_Log_Pos": "99", "Auto_Position": "1",
		"Retrieved_Gtid_Set": uuidA + ":1-5,\n" + uuidB + ":1", "Executed_Gtid_Set": uuidA + ":1-5,\n" + uuidB + ":1",
		"Last_IO_Errno": "0", "Last_SQL_Errno": "0",
	})
	if !s.Running() || s.Failed() || s.SecondsBehind == nil || *s.SecondsBehind != 0 || s.ReadFile != "b.2" || s.ExecPos != 99 ||
		s.UsingGTID != "Auto_Position" || s.GTIDExecuted != uuidA+":1-5,"+uuidB+":1" {
		t.Errorf("MySQL 8: %+v", s)
	}
	if ParseStatus(map[string]string{}).Configured {
		t.Error("an empty status is configured")
	}
}
