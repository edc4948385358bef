package physical

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
)

func man(id, eng, typ, parent, from, to string) *backup.Manifest {
	return &backup.Manifest{ID: id, Engine: backup.EngineInfo{Name: eng}, Type: typ, Parent: parent,
		Meta: map[string]string{backup.MetaFromLSN: from, backup.MetaToLSN: to}}
}

func TestCheckChain(t *testing.T) {
	full := man("A", "mariabackup", "full", "", "0", "100")
	inc1 := man("B", "mariabackup", "incremental", "A", "100", "200")
	inc2 := man("C", "mariabackup", "incremental", "B", "200", "300")
	for _, tc := range []struct {
		name  string
		chain []*backup.Manifest
		err   string
	}{
		{"full", []*backup.Manifest{full}, ""},
		{"chain", []*backup.Manifest{full, inc1, inc2}, ""},
		{"empty", nil, "empty"},
		{"starts with incremental", []*backup.Manifest{inc1}, "full backup is missing"},
		{"gap", []*backup.Manifest{full, inc2}, "chain broken"},
		{"lsn mismatch", []*backup.Manifest{full, man("B", "mariabackup", "incremental", "A", "90", "200")}, "LSN"},
		{"engine change", []*backup.Manifest{full, man("B", "xtrabackup", "incremental", "A", "100", "200")}, "chain broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Engine{tool: mysql.EngineMariabackup}.CheckChain(tc.chain)
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("CheckChain: %v, want %q", err, tc.err)
			}
		})
	}
}

func TestParentLSN(t *testing.T) {
	m := &backup.Manifest{ID: "P", Engine: backup.EngineInfo{Name: "mariabackup"}, Meta: map[string]string{backup.MetaToLSN: "12345"}}
	if lsn, err := ParentLSN(m, "mariabackup"); err != nil || lsn != 12345 {
		t.Errorf("ParentLSN = %d, %v", lsn, err)
	}
	for _, tc := range []struct {
		name, engine, lsn, want string
	}{
		{"other engine", "mysqldump", "12345", "taken with mysqldump"},
		{"no lsn", "mariabackup", "", "no to_lsn"},
		{"zero lsn", "mariabackup", "0", "no to_lsn"},
		{"garbage", "mariabackup", "12x", "no to_lsn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &backup.Manifest{ID: "P", Engine: backup.EngineInfo{Name: tc.engine}, Meta: map[string]string{backup.MetaToLSN: tc.lsn}}
			_, err := ParentLSN(m, "mariabackup")
			if !errors.Is(err, backup.ErrBadParent) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParentLSN: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestBackupSide: the backup side names its tool, writes an xbstream and
// refuses a parent that is not a physical backup of its tool.
func TestBackupSide(t *testing.T) {
	be, err := Engine{tool: mysql.EngineMariabackup}.NewBackup(engine.BackupConfig{Tool: mysql.Tool{Engine: mysql.EngineMariabackup}})
	if err != nil {
		t.Fatal(err)
	}
	if be.Name() != "mariabackup" || be.Extension() != ".xbstream" {
		t.Errorf("physical engine: %s %s", be.Name(), be.Extension())
	}
	parent := &backup.Manifest{ID: "P", Engine: backup.EngineInfo{Name: "mysqldump"}}
	if _, err := be.Run(context.Background(), io.Discard, parent); !errors.Is(err, backup.ErrBadParent) {
		t.Errorf("physical incremental of a dump: %v", err)
	}
}

// TestLockWaitTimeout: --lock-wait-timeout is xtrabackup's only.
func TestLockWaitTimeout(t *testing.T) {
	given := func(f string) bool { return f == "lock-wait-timeout" }
	for _, tc := range []struct {
		tool mysql.Engine
		want string
	}{
		{mysql.EngineXtrabackup, ""},
		{mysql.EngineMariabackup, "--lock-wait-timeout is xtrabackup 8.0's --backup-lock-timeout; mariabackup has none: use --ftwrl-wait-timeout"},
		{mysql.EngineInnobackupex, "innobackupex has none"},
	} {
		_, err := Engine{tool: tc.tool}.NewBackup(engine.BackupConfig{Given: given})
		var ue *engine.UsageError
		if tc.want == "" && err != nil || tc.want != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s --lock-wait-timeout: %v, want %q", tc.tool, err, tc.want)
		}
	}
}

// TestRestoreIntoServer: a physical backup is not applied into a server;
// the error says which flags fit it, before anything is read.
func TestRestoreIntoServer(t *testing.T) {
	full := man("A", "xtrabackup", "full", "", "0", "100")
	err := Engine{tool: mysql.EngineXtrabackup}.Restore(context.Background(), nil, []*backup.Manifest{full},
		engine.Target{Server: &restore.LogicalOptions{}})
	want := "backup A is a physical xtrabackup backup: restore it with --target-dir DIR (and --copy-back --datadir)"
	if !errors.Is(err, engine.ErrWrongTarget) || err.Error() != want {
		t.Errorf("Restore into a server: %v, want %q", err, want)
	}
	if (Engine{}).Into() != engine.IntoFiles {
		t.Error("a physical engine restores into files")
	}
}
