package mysql

import (
	"bytes"
	"strings"
	"testing"
)

// Fuzz targets for every parser: they must never panic, and what they
// accept must be self-consistent. Run one with e.g.
//   go test ./mysql -run '^$' -fuzz FuzzParseBinlogInfo -fuzztime 30s

func FuzzParseCheckpoints(f *testing.F) {
	for _, n := range []string{"xtrabackup_checkpoints.full", "xtrabackup_checkpoints.incremental", "xtrabackup_checkpoints.mariabackup1011"} {
		f.Add(sample(f, n))
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCheckpoints(s)
		if err == nil && c.BackupType == "" {
			t.Error("accepted without backup_type")
		}
	})
}

func FuzzParseBinlogInfo(f *testing.F) {
	for _, n := range []string{"xtrabackup_binlog_info.multiline-gtid", "xtrabackup_binlog_info.no-gtid", "mariadb_backup_binlog_info"} {
		f.Add(sample(f, n))
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseBinlogInfo(s)
		if err == nil && (p.File == "" || strings.ContainsAny(p.GTID, "\n\t ")) {
			t.Errorf("accepted %+v", p)
		}
	})
}

func FuzzParseBinlogPosLine(f *testing.F) {
	f.Add("binlog_pos = filename 'mysql-bin.000002', position '1232', GTID of the last change 'u:1-5'")
	f.Add("[00] MySQL binlog position: filename 't1-bin.000001', position '325', GTID of the last change ''")
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParseBinlogPosLine(s); err == nil && p.File == "" {
			t.Error("empty file accepted")
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Add(sample(f, "xtrabackup_info.percona80"))
	f.Fuzz(func(t *testing.T, s string) {
		for k := range ParseInfo(s) {
			if strings.Contains(k, "\n") {
				t.Errorf("key %q", k)
			}
		}
	})
}

func FuzzParseDumpCoordinates(f *testing.F) {
	f.Add([]byte(sample(f, "mysqldump-80-head.sql")), []byte(""))
	ma := []byte(sample(f, "mariadb-dump-1011.sql"))
	f.Add(ma[:2000], ma[len(ma)-700:])
	f.Fuzz(func(t *testing.T, head, tail []byte) {
		p, err := ParseDumpCoordinates(head, tail)
		if err == nil && p.File == "" {
			t.Error("empty file accepted")
		}
		_ = DumpComplete(tail)
	})
}

func FuzzDumpWatcher(f *testing.F) {
	f.Add([]byte(sample(f, "mariadb-dump-1011.sql")), uint16(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		c := int(chunk)%5000 + 1
		var out bytes.Buffer
		w := &dumpWatcher{w: &out}
		for i := 0; i < len(data); i += c {
			w.Write(data[i:min(i+c, len(data))])
		}
		want := data[max(0, len(data)-dumpTailSize):]
		if !bytes.Equal(w.tail, want) || !bytes.Equal(w.head, data[:min(len(data), dumpHeadSize)]) {
			t.Error("head/tail differ from the data")
		}
	})
}

func FuzzParseOptionFile(f *testing.F) {
	f.Add("[client]\nuser=a\npassword=\"x\\\"y\"\n", "p\"w#\\;x")
	f.Fuzz(func(t *testing.T, file, pw string) {
		ParseOptionFile(strings.NewReader(file), "client")
		if strings.ContainsRune(pw, 0) {
			return
		}
		// Any password survives quoteOption + ParseOptionFile.
		opts, err := ParseOptionFile(strings.NewReader("[client]\npassword="+quoteOption(pw)+"\n"), "client")
		if err != nil || opts["password"] != pw {
			t.Errorf("password %q read back as %q (%v)", pw, opts["password"], err)
		}
	})
}

func FuzzParseVersionAndStatus(f *testing.F) {
	f.Add("10.11.19-MariaDB-0+deb12u1-log", "Debian 12", "Log sequence number 18244080\n")
	f.Fuzz(func(t *testing.T, v, c, status string) {
		ParseVersion(v, c)
		ParseInnodbStatusLSN(status)
		ParseToolVersion(v)
		GlobalPrivileges([]string{v, c, status})
	})
}

func FuzzRedoMonitorLine(f *testing.F) {
	for _, n := range []string{"mariabackup-retrying.log", "xtrabackup-24-wrapped.log", "xtrabackup-80-ok.log"} {
		f.Add(sample(f, n))
	}
	f.Fuzz(func(t *testing.T, log string) {
		m := newRedoMonitor("x", 0, 5, func(*RedoWrapError) {})
		m.capacity = 1 << 20
		for _, l := range strings.Split(log, "\n") {
			m.line(l)
		}
		if e := m.tripped(); e != nil && e.Error() == "" {
			t.Error("empty message")
		}
		classify(&ExitError{Tool: "x"}, strings.Split(log, "\n"))
	})
}
