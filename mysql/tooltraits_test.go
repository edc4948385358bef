package mysql

import (
	"errors"
	"strings"
	"testing"
)

// TestToolTraits: what the tool table says of each program: which server
// families a physical tool refuses, whose backups fail when the redo log
// wraps, which chain needs a last --apply-log.
func TestToolTraits(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	maria := &ServerInfo{Flavor: FlavorMariaDB, Version: "10.11.6-MariaDB", Major: 10, Minor: 11}
	mysql8 := &ServerInfo{Flavor: FlavorMySQL, Version: "8.0.35", Major: 8}
	for _, tc := range []struct {
		e       Engine
		s       *ServerInfo
		refused string // "" when only the missing program fails it
	}{
		{EngineXtrabackup, maria, "xtrabackup cannot back up MariaDB 10.11.6-MariaDB: use mariabackup"},
		{EngineInnobackupex, maria, "innobackupex cannot back up MariaDB"},
		{EngineMariabackup, mysql8, "mariabackup cannot back up MySQL 8.0.35: use xtrabackup"},
		{EngineMariabackup, maria, ""},
		{EngineMysqldump, maria, ""},
		{EngineMariadbDump, mysql8, ""},
	} {
		_, err := SelectTool(tc.e, tc.s, false)
		if tc.refused == "" && !errors.Is(err, ErrToolNotFound) || tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)) {
			t.Errorf("SelectTool(%s, %s): %v, want %q", tc.e, tc.s.Flavor, err, tc.refused)
		}
	}
	for e, want := range map[Engine]bool{EngineMariabackup: true, EngineXtrabackup: true, EngineInnobackupex: true, EngineMysqldump: false, EngineMariadbDump: false, "stdin": false} {
		if FollowsRedo(e) != want {
			t.Errorf("FollowsRedo(%s) = %v", e, !want)
		}
		if (Tool{Engine: e}).FinalApply() != (e == EngineInnobackupex) {
			t.Errorf("FinalApply(%s) wrong", e)
		}
	}
}

// TestToolCommandLines: what the table says of each program's command
// lines where the server does not decide: a dump tool cannot prepare or
// copy back; without a server probe, the dump tool's own family picks
// MariaDB's --gtid.
func TestToolCommandLines(t *testing.T) {
	if _, err := PrepareArgs(&PrepareOptions{Tool: Tool{Engine: EngineMysqldump}, TargetDir: "F"}); err == nil || !strings.Contains(err.Error(), `"mysqldump" cannot prepare`) {
		t.Errorf("prepare with mysqldump: %v", err)
	}
	if _, err := CopyBackArgs(&CopyBackOptions{Tool: Tool{Engine: EngineMariadbDump}, TargetDir: "F", Datadir: "D"}); err == nil || !strings.Contains(err.Error(), "cannot copy back") {
		t.Errorf("copy-back with mariadb-dump: %v", err)
	}
	a, _ := CopyBackArgs(&CopyBackOptions{Tool: Tool{Engine: EngineXtrabackup}, TargetDir: "F", Datadir: "D", Move: true})
	if strings.Join(a, " ") != "--move-back --target-dir=F --datadir=D" {
		t.Errorf("xtrabackup move-back %q", a)
	}
	for e, gtid := range map[Engine]bool{EngineMariadbDump: true, EngineMysqldump: false} {
		a, err := DumpArgs(&DumpOptions{Tool: Tool{Engine: e}})
		if err != nil || strings.Contains(strings.Join(a, " "), " --gtid") != gtid {
			t.Errorf("%s without a probe: %q, %v", e, a, err)
		}
	}
}
