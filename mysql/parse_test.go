package mysql

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "mysql", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sampleLines(t testing.TB, name string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(sample(t, name)))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestParseCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Checkpoints
	}{
		{"xtrabackup_checkpoints.full", Checkpoints{BackupType: "full-backuped", ToLSN: 18244071, LastLSN: 18244080}},
		{"xtrabackup_checkpoints.incremental", Checkpoints{BackupType: "incremental", FromLSN: 18244071, ToLSN: 18295612, LastLSN: 18295621}},
		{"xtrabackup_checkpoints.mariabackup1011", Checkpoints{BackupType: "full-backuped", ToLSN: 44404, LastLSN: 44760}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseCheckpoints(sample(t, tc.file))
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "backup_type = full-backuped\n", "backup_type = x\nfrom_lsn = a\nto_lsn = 1\n"} {
		if _, err := ParseCheckpoints(bad); err == nil {
			t.Errorf("ParseCheckpoints(%q) accepted", bad)
		}
	}
}

func TestParseBinlogInfo(t *testing.T) {
	for _, tc := range []struct {
		file string
		want BinlogPosition
	}{
		{"xtrabackup_binlog_info.multiline-gtid", BinlogPosition{"mysql-bin.000002", 1232,
			"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,8a6f2e6e-1b4c-11ee-a3c1-0242ac110002:1-10284,f2b1c7e0-1b4c-11ee-9d7b-0242ac110003:1-77"}},
		{"xtrabackup_binlog_info.no-gtid", BinlogPosition{"mysql-bin.000003", 157, ""}},
		{"mariadb_backup_binlog_info", BinlogPosition{"mariadb-bin.000007", 4711, "0-1-1203,1-2-55"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseBinlogInfo(sample(t, tc.file))
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := ParseBinlogInfo("garbage"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseInfoAndBinlogPos(t *testing.T) {
	info := ParseInfo(sample(t, "xtrabackup_info.percona80"))
	if info["tool_version"] != "8.0.35-30" || info["server_version"] != "8.0.35-27" || info["name"] != "" {
		t.Errorf("info %v", info)
	}
	p, err := ParseBinlogPosLine(info["binlog_pos"])
	if err != nil || p != (BinlogPosition{"mysql-bin.000002", 1232, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}) {
		t.Errorf("%+v %v", p, err)
	}
	mi := ParseInfo(sample(t, "xtrabackup_info.mariabackup1011"))
	p, err = ParseBinlogPosLine(mi["binlog_pos"])
	if err != nil || p != (BinlogPosition{"t1-bin.000001", 325, ""}) || mi["tool_name"] != "mariabackup" {
		t.Errorf("%+v %v", p, err)
	}
	// binlogFromFiles prefers the file, then the info, then the log.
	dir := t.TempDir()
	if got := binlogFromFiles(dir, nil, []string{"[00] x MySQL binlog position: filename 'b.1', position '9', GTID of the last change '0-1-2'"}); got != (BinlogPosition{"b.1", 9, "0-1-2"}) {
		t.Errorf("from log: %+v", got)
	}
	if got := binlogFromFiles(dir, mi, nil); got.File != "t1-bin.000001" {
		t.Errorf("from info: %+v", got)
	}
	os.WriteFile(filepath.Join(dir, "xtrabackup_binlog_info"), []byte("f.2\t3\tu:1-2\n"), 0o600)
	if got := binlogFromFiles(dir, mi, nil); got != (BinlogPosition{"f.2", 3, "u:1-2"}) {
		t.Errorf("from file: %+v", got)
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		v, c   string
		maj    int
		min    int
		flavor Flavor
	}{
		{"10.11.19-MariaDB-0+deb12u1-log", "Debian 12", 10, 11, FlavorMariaDB},
		{"5.5.5-10.3.39-MariaDB", "MariaDB Server", 10, 3, FlavorMariaDB},
		{"8.0.35-27", "Percona Server (GPL), Release 27, Revision 2f8eeab2", 8, 0, FlavorPercona},
		{"8.0.36", "MySQL Community Server - GPL", 8, 0, FlavorMySQL},
		{"5.6.51-log", "MySQL Community Server (GPL)", 5, 6, FlavorMySQL},
	} {
		maj, min, _, f, err := ParseVersion(tc.v, tc.c)
		if err != nil || maj != tc.maj || min != tc.min || f != tc.flavor {
			t.Errorf("ParseVersion(%q,%q) = %d %d %s %v", tc.v, tc.c, maj, min, f, err)
		}
	}
	if _, _, _, _, err := ParseVersion("banana", ""); err == nil {
		t.Error("banana accepted")
	}
}

func TestParseInnodbStatusLSN(t *testing.T) {
	for in, want := range map[string]uint64{
		"---\nLOG\n---\nLog sequence number          18244080\nLog buffer assigned up to    18244080\n": 18244080,
		"LOG\n---\nLog sequence number 0 1234\nLog flushed up to   0 1234\n":                            1234,
		"Log sequence number 1 0\n": 1 << 32,
	} {
		got, err := ParseInnodbStatusLSN(in)
		if err != nil || got != want {
			t.Errorf("%q: %d %v", in, got, err)
		}
	}
	if _, err := ParseInnodbStatusLSN("nothing"); err == nil {
		t.Error("accepted")
	}
}

func TestToolVersion(t *testing.T) {
	for in, want := range map[string]string{
		"mariabackup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)":                   "10.11.19-MariaDB",
		"xtrabackup version 8.0.35-30 based on MySQL server 8.0.35 Linux (x86_64) (revision id: 6beb4b49)": "8.0.35-30",
		"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)":                   "10.11.19-MariaDB",
		"-- MySQL dump 10.13  Distrib 8.0.35, for Linux (x86_64)":                                          "8.0.35",
		"innobackupex version 2.4.29 Linux (x86_64) (revision id: 2e6c0951)":                               "2.4.29",
	} {
		got, err := ParseToolVersion(in)
		if err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
}

func TestGrants(t *testing.T) {
	grants := []string{
		"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `mybak`@`localhost` IDENTIFIED BY PASSWORD '*D75C'",
		"GRANT SELECT ON `shop`.* TO `mybak`@`localhost`",
	}
	s := &ServerInfo{Flavor: FlavorMariaDB, Major: 10, Minor: 11, Patch: 19}
	if m := MissingPrivileges(grants, EngineMariabackup, s); len(m) != 0 {
		t.Errorf("mariabackup: missing %v", m)
	}
	if m := MissingPrivileges(grants, EngineMariadbDump, s); !reflect.DeepEqual(m, []string{"SELECT", "SHOW VIEW", "TRIGGER", "EVENT"}) {
		t.Errorf("dump: missing %v", m)
	}
	if m := MissingPrivileges([]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, EngineXtrabackup,
		&ServerInfo{Flavor: FlavorMySQL, Major: 8}); m != nil {
		t.Errorf("all privileges: missing %v", m)
	}
	my8 := &ServerInfo{Flavor: FlavorMySQL, Major: 8, Minor: 0, Patch: 35}
	m := MissingPrivileges([]string{"GRANT RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT ON *.* TO `b`@`%`"}, EngineXtrabackup, my8)
	if !reflect.DeepEqual(m, []string{"BACKUP_ADMIN"}) {
		t.Errorf("mysql 8: missing %v", m)
	}
}

func TestSelectTool(t *testing.T) {
	maria := &ServerInfo{Flavor: FlavorMariaDB, Major: 10, Minor: 11}
	my56 := &ServerInfo{Flavor: FlavorMySQL, Major: 5, Minor: 6}
	pxc := &ServerInfo{Flavor: FlavorPercona, Major: 8}
	if PhysicalEngineFor(maria) != EngineMariabackup || PhysicalEngineFor(my56) != EngineInnobackupex ||
		PhysicalEngineFor(pxc) != EngineXtrabackup || LogicalEngineFor(maria) != EngineMariadbDump || LogicalEngineFor(pxc) != EngineMysqldump {
		t.Error("engine choice")
	}
	t.Setenv("PATH", t.TempDir())
	_, err := SelectTool(EngineAuto, maria, false)
	if !errors.Is(err, ErrToolNotFound) || !strings.Contains(err.Error(), "mariabackup not found on PATH: install mariadb-backup") {
		t.Errorf("missing tool: %v", err)
	}
	_, err = SelectTool(EngineAuto, pxc, false)
	if !errors.Is(err, ErrToolNotFound) || !strings.Contains(err.Error(), "xtrabackup not found on PATH") {
		t.Errorf("missing tool: %v", err)
	}
	if _, err := SelectTool(EngineMariabackup, pxc, false); err == nil || errors.Is(err, ErrToolNotFound) {
		t.Errorf("mariabackup for Percona: %v", err)
	}
	if _, err := SelectTool("bogus", nil, false); err == nil {
		t.Error("bogus engine accepted")
	}
	if _, err := StreamTool(EngineXtrabackup); !errors.Is(err, ErrToolNotFound) {
		t.Errorf("xbstream: %v", err)
	}
}

func TestPhysicalArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    PhysicalOptions
		want string
		bad  bool
	}{
		{"mariabackup full", PhysicalOptions{Tool: Tool{Engine: EngineMariabackup}},
			"--backup --stream=xbstream --extra-lsndir=L --target-dir=T", false},
		{"xtrabackup incremental all options", PhysicalOptions{Tool: Tool{Engine: EngineXtrabackup}, IncrementalLSN: 18244071,
			Parallel: 4, Throttle: 40, UseMemory: "1G", FTWRLWaitTimeout: 60, LockWaitTimeout: 30, ExtraArgs: []string{"--no-server-version-check"}},
			"--backup --stream=xbstream --extra-lsndir=L --target-dir=T --incremental-lsn=18244071 --parallel=4 --throttle=40 --use-memory=1G --ftwrl-wait-timeout=60 --backup-lock-timeout=30 --no-server-version-check", false},
		{"innobackupex incremental", PhysicalOptions{Tool: Tool{Engine: EngineInnobackupex}, IncrementalLSN: 5, Parallel: 2},
			"--stream=xbstream --extra-lsndir=L --incremental --incremental-lsn=5 --parallel=2 T", false},
		{"mariabackup lock wait timeout refused", PhysicalOptions{Tool: Tool{Engine: EngineMariabackup}, LockWaitTimeout: 5}, "", true},
		{"dump engine refused", PhysicalOptions{Tool: Tool{Engine: EngineMysqldump}}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := PhysicalArgs(&tc.o, "T", "L")
			if tc.bad {
				if err == nil {
					t.Errorf("accepted: %q", a)
				}
				return
			}
			if err != nil || strings.Join(a, " ") != tc.want {
				t.Errorf("got %q, %v\nwant %q", strings.Join(a, " "), err, tc.want)
			}
		})
	}
}

func TestPrepareAndCopyBackArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    PrepareOptions
		want string
	}{
		{"xtrabackup full, incrementals follow", PrepareOptions{Tool: Tool{Engine: EngineXtrabackup}, TargetDir: "F", MoreIncrementals: true, UseMemory: "2G"},
			"--prepare --target-dir=F --apply-log-only --use-memory=2G"},
		{"xtrabackup middle incremental", PrepareOptions{Tool: Tool{Engine: EngineXtrabackup}, TargetDir: "F", IncrementalDir: "I1", MoreIncrementals: true},
			"--prepare --target-dir=F --apply-log-only --incremental-dir=I1"},
		{"xtrabackup last incremental", PrepareOptions{Tool: Tool{Engine: EngineXtrabackup}, TargetDir: "F", IncrementalDir: "I2"},
			"--prepare --target-dir=F --incremental-dir=I2"},
		{"mariabackup never --apply-log-only", PrepareOptions{Tool: Tool{Engine: EngineMariabackup}, TargetDir: "F", MoreIncrementals: true},
			"--prepare --target-dir=F"},
		{"innobackupex redo-only", PrepareOptions{Tool: Tool{Engine: EngineInnobackupex}, TargetDir: "F", IncrementalDir: "I", MoreIncrementals: true},
			"--apply-log --redo-only --incremental-dir=I F"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := PrepareArgs(&tc.o)
			if err != nil || strings.Join(a, " ") != tc.want {
				t.Errorf("got %q, %v; want %q", strings.Join(a, " "), err, tc.want)
			}
		})
	}
	a, _ := CopyBackArgs(&CopyBackOptions{Tool: Tool{Engine: EngineMariabackup}, TargetDir: "F", Datadir: "D"})
	if strings.Join(a, " ") != "--copy-back --target-dir=F --datadir=D" {
		t.Errorf("copy-back %q", a)
	}
	a, _ = CopyBackArgs(&CopyBackOptions{Tool: Tool{Engine: EngineInnobackupex}, TargetDir: "F", Datadir: "D", Move: true})
	if strings.Join(a, " ") != "--move-back --datadir=D F" {
		t.Errorf("move-back %q", a)
	}
	if _, err := CopyBackArgs(&CopyBackOptions{Tool: Tool{Engine: EngineMariabackup}, TargetDir: "F"}); err == nil {
		t.Error("copy-back without datadir accepted")
	}
}

func TestDumpArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    DumpOptions
		want string
	}{
		{"mariadb all", DumpOptions{Tool: Tool{Engine: EngineMariadbDump}, Server: &ServerInfo{Flavor: FlavorMariaDB, Major: 10, Minor: 11}},
			"--single-transaction --routines --triggers --events --hex-blob --quick --master-data=2 --gtid --all-databases"},
		{"mysql 8.0.35 gtid on", DumpOptions{Tool: Tool{Engine: EngineMysqldump}, Server: &ServerInfo{Flavor: FlavorMySQL, Major: 8, Minor: 0, Patch: 35, GTIDMode: "ON"}, Databases: []string{"a", "b"}},
			"--single-transaction --routines --triggers --events --hex-blob --quick --source-data=2 --set-gtid-purged=ON --databases a b"},
		{"mysql 5.7", DumpOptions{Tool: Tool{Engine: EngineMysqldump}, Server: &ServerInfo{Flavor: FlavorMySQL, Major: 5, Minor: 7, GTIDMode: "OFF"}},
			"--single-transaction --routines --triggers --events --hex-blob --quick --master-data=2 --set-gtid-purged=AUTO --all-databases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DumpArgs(&tc.o)
			if err != nil || strings.Join(a, " ") != tc.want {
				t.Errorf("got %q, %v\nwant %q", strings.Join(a, " "), err, tc.want)
			}
		})
	}
	if _, err := DumpArgs(&DumpOptions{Databases: []string{"--all-databases"}}); err == nil {
		t.Error("option as database name accepted")
	}
}

func TestParseDumpCoordinates(t *testing.T) {
	my := []byte(sample(t, "mysqldump-80-head.sql"))
	p, err := ParseDumpCoordinates(my, nil)
	want := BinlogPosition{"binlog.000002", 157, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,8a6f2e6e-1b4c-11ee-a3c1-0242ac110002:1-10284"}
	if err != nil || p != want {
		t.Errorf("mysqldump: %+v %v", p, err)
	}
	ma := []byte(sample(t, "mariadb-dump-1011.sql"))
	head, tail := ma[:2000], ma[len(ma)-700:]
	p, err = ParseDumpCoordinates(head, tail)
	if err != nil || p != (BinlogPosition{"t1-bin.000001", 814, "0-1128293174-3"}) {
		t.Errorf("mariadb-dump: %+v %v", p, err)
	}
	if !DumpComplete(tail) || DumpComplete(ma[:len(ma)-200]) || DumpComplete(nil) {
		t.Error("DumpComplete")
	}
	if _, err := ParseDumpCoordinates([]byte("-- no binlog\n"), nil); err == nil {
		t.Error("accepted a dump without coordinates")
	}
}

// TestDumpWatcher: head and tail are kept whatever the write sizes.
func TestDumpWatcher(t *testing.T) {
	dump := []byte(sample(t, "mariadb-dump-1011.sql"))
	for _, chunk := range []int{1, 7, 100, 5000} {
		var out bytes.Buffer
		w := &dumpWatcher{w: &out}
		for i := 0; i < len(dump); i += chunk {
			w.Write(dump[i:min(i+chunk, len(dump))])
		}
		if !bytes.Equal(out.Bytes(), dump) || !DumpComplete(w.tail) || w.n != int64(len(dump)) {
			t.Errorf("chunk %d: tail %q", chunk, w.tail)
		}
		if p, err := ParseDumpCoordinates(w.head, w.tail); err != nil || p.GTID != "0-1128293174-3" {
			t.Errorf("chunk %d: %+v %v", chunk, p, err)
		}
	}
}

func TestClassify(t *testing.T) {
	ee := &ExitError{Tool: "x", ExitCode: 1}
	if err := classify(ee, sampleLines(t, "mariabackup-access-denied.log")); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("access denied: %v", err)
	}
	err := classify(ee, sampleLines(t, "mariabackup-missing-privileges.log"))
	var mp *MissingPrivilegesError
	if !errors.As(err, &mp) || !reflect.DeepEqual(mp.Privileges, []string{"RELOAD on *.*", "LOCK TABLES on *.*", "BINLOG MONITOR on *.*"}) ||
		!strings.Contains(err.Error(), "GRANT RELOAD, LOCK TABLES, BINLOG MONITOR ON *.*") {
		t.Errorf("missing privileges: %v", err)
	}
	err = classify(ee, sampleLines(t, "xtrabackup-24-ftwrl.log"))
	var lt *LockTimeoutError
	if !errors.As(err, &lt) || !errors.Is(err, ErrLockTimeout) || !strings.Contains(err.Error(), "SELECT * FROM big JOIN bigger") ||
		!strings.Contains(err.Error(), "--ftwrl-wait-timeout") {
		t.Errorf("ftwrl: %v", err)
	}
	// mariadb-dump 10.11's lines when DDL changed a table it had not read.
	for _, c := range []struct{ line, table string }{
		{"mariadb-dump: Couldn't execute 'show create table `b`': Table 'zz.b' doesn't exist (1146)", "zz.b"},
		{"mariadb-dump: Error 1412: Table definition has changed, please retry transaction when dumping table `b` at row: 0", "b"},
	} {
		err := classify(ee, []string{"Error: Couldn't read status information for table b ()", c.line})
		var tc *TableChangedError
		if !errors.As(err, &tc) || !errors.Is(err, ErrTableChanged) || tc.Table != c.table || !errors.Is(err, ee) ||
			!strings.Contains(err.Error(), "run the backup again") {
			t.Errorf("%s: %v", c.line, err)
		}
	}
	if err := classify(ee, []string{"something else"}); err != ee {
		t.Errorf("unknown failure changed: %v", err)
	}
	if !errors.Is(err, ee) {
		t.Error("typed error does not unwrap to the ExitError")
	}
}

// TestRedoMonitorLines replays recorded logs through the monitor.
func TestRedoMonitorLines(t *testing.T) {
	for _, tc := range []struct {
		file     string
		tripped  bool
		evidence string
	}{
		{"xtrabackup-80-ok.log", false, ""},
		{"mariabackup-1011-ok.log", false, ""},
		{"xtrabackup-24-wrapped.log", true, "log block numbers mismatch"},
		{"mariabackup-retrying.log", true, "Was only able to copy log from 61391204 to 63996018"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			aborted := make(chan *RedoWrapError, 1)
			m := newRedoMonitor("tool", 0, 5, func(e *RedoWrapError) { aborted <- e })
			for _, l := range sampleLines(t, tc.file) {
				m.line(l)
			}
			e := m.tripped()
			if (e != nil) != tc.tripped {
				t.Fatalf("tripped = %v", e)
			}
			if e != nil {
				if !strings.Contains(e.Evidence, tc.evidence) {
					t.Errorf("evidence %q", e.Evidence)
				}
				select {
				case <-aborted:
				case <-time.After(time.Second):
					t.Error("abort not called")
				}
			}
		})
	}
}

// TestRedoMonitorRetriesAndLag: repeated retries at one LSN trip it, and so
// does a server LSN more than the capacity ahead of the copied one twice.
func TestRedoMonitorRetriesAndLag(t *testing.T) {
	m := newRedoMonitor("mariabackup", 1, 3, func(*RedoWrapError) {})
	for i := 0; i < 2; i++ {
		m.line("[00] 2026-11-21 16:29:14 Retrying read of log at LSN=1000")
	}
	m.line("[00] 2026-11-21 16:29:14 Retrying read of log at LSN=2000") // progress resets the count
	m.line("[00] 2026-11-21 16:29:14 Retrying read of log at LSN=2000")
	if m.tripped() != nil {
		t.Fatal("tripped too early")
	}
	m.line("[00] 2026-11-21 16:29:14 Retrying read of log at LSN=2000")
	m.line("[00] 2026-11-21 16:29:14 Retrying read of log at LSN=2000")
	if m.tripped() == nil {
		t.Fatal("not tripped after 3 retries at one LSN")
	}

	m = newRedoMonitor("xtrabackup", 0, 5, func(*RedoWrapError) {})
	m.capacity = 4 << 20
	t0 := time.Now()
	m.observe(t0, 10<<20) // no copied LSN yet: nothing to conclude
	m.line("2023 [Xtrabackup] >> log scanned up to (10485760)")
	m.observe(t0.Add(time.Second), 13<<20)
	m.observe(t0.Add(2*time.Second), 15<<20) // 5 MiB ahead: first strike
	if m.tripped() != nil {
		t.Fatal("tripped on one sample")
	}
	m.observe(t0.Add(3*time.Second), 17<<20)
	e := m.tripped()
	if e == nil {
		t.Fatal("not tripped")
	}
	if e.Rate < 2.3*(1<<20) || e.Rate > 2.4*(1<<20) || e.Capacity != 4<<20 {
		t.Errorf("rate %f capacity %d", e.Rate, e.Capacity)
	}
	msg := e.Error()
	for _, want := range []string{"redo capacity 4.0 MiB", "2.3 MiB/s", "innodb_log_file_size", "innodb_redo_log_capacity", "do not use --throttle", "local disk"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if !errors.Is(e, ErrRedoWrapped) {
		t.Error("not ErrRedoWrapped")
	}
}

func TestOptionFileRoundTrip(t *testing.T) {
	for _, pw := range []string{"simple", `with "quotes" and \ backslash`, "hash # and ; semicolon", " spaces ", "tab\tnew\nline", "'single'"} {
		c := &Conn{User: "u", Password: pw, Host: "127.0.0.1", Port: 3307}
		content, err := defaultsContent(c, []string{"client", "mysqldump"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := ParseOptionFile(bytes.NewReader(content), "mysqldump")
		if err != nil || opts["password"] != pw || opts["user"] != "u" || opts["port"] != "3307" || opts["protocol"] != "tcp" {
			t.Errorf("%q: %v %v", pw, opts, err)
		}
	}
}

func TestConnPasswordSources(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pw")
	os.WriteFile(pf, []byte("from-file\n"), 0o600)
	t.Setenv(PasswordEnv, "from-env")
	if pw, ok, _ := (Conn{Password: "lit", PasswordFile: pf}).ResolvePassword(); pw != "lit" || !ok {
		t.Error("literal")
	}
	if pw, _, _ := (Conn{PasswordFile: pf}).ResolvePassword(); pw != "from-file" {
		t.Error("file")
	}
	if pw, _, _ := (Conn{}).ResolvePassword(); pw != "from-env" {
		t.Error("env")
	}
	cnf := filepath.Join(dir, "my.cnf")
	os.WriteFile(cnf, []byte("[client]\nuser=dfuser\nsocket=/s.sock\n[mysqld]\nuser=mysql\n"), 0o600)
	c, err := (Conn{DefaultsFile: cnf}).effective()
	if err != nil || c.User != "dfuser" || c.Socket != "/s.sock" {
		t.Errorf("%+v %v", c, err)
	}
	if s := (Conn{User: "u", Password: "secret", Host: "h", Port: 1}).String(); strings.Contains(s, "secret") {
		t.Error("String shows the password")
	}
}
