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
