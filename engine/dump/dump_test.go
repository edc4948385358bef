package dump

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

// TestBackupSide: a dump is a full .sql backup; an incremental is refused.
func TestBackupSide(t *testing.T) {
	be, err := Engine{tool: mysql.EngineMysqldump}.NewBackup(engine.BackupConfig{Tool: mysql.Tool{Engine: mysql.EngineMysqldump}})
	if err != nil {
		t.Fatal(err)
	}
	if be.Name() != "mysqldump" || be.Extension() != ".sql" {
		t.Errorf("dump engine: %s %s", be.Name(), be.Extension())
	}
	parent := &backup.Manifest{ID: "P", Engine: backup.EngineInfo{Name: "mysqldump"}}
	if _, err := be.Run(context.Background(), io.Discard, parent); err == nil || !strings.Contains(err.Error(), "incremental") {
		t.Errorf("dump incremental: %v", err)
	}
}

// TestPhysicalFlagsRefused: the physical tools' flags are usage errors,
// with the messages the cli printed before the engines moved.
func TestPhysicalFlagsRefused(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"parallel", "--parallel applies to physical engines, not mariadb-dump"},
		{"throttle", "--throttle applies to physical engines, not mariadb-dump"},
		{"use-memory", "--use-memory applies to physical engines, not mariadb-dump"},
		{"ftwrl-wait-timeout", "--ftwrl-wait-timeout applies to physical engines, not mariadb-dump"},
		{"lock-wait-timeout", "--lock-wait-timeout is xtrabackup 8.0's --backup-lock-timeout; mariadb-dump has none: use --ftwrl-wait-timeout"},
		{"name", ""},
	} {
		_, err := Engine{tool: mysql.EngineMariadbDump}.NewBackup(engine.BackupConfig{Given: func(f string) bool { return f == tc.flag }})
		var ue *engine.UsageError
		if tc.want == "" && err != nil || tc.want != "" && (!errors.As(err, &ue) || err.Error() != tc.want) {
			t.Errorf("--%s: %v, want %q", tc.flag, err, tc.want)
		}
	}
}

// TestRestoreIntoFiles: a dump is not restored into a directory; the
// error says which flags fit it, before anything is read.
func TestRestoreIntoFiles(t *testing.T) {
	m := &backup.Manifest{ID: "A", Engine: backup.EngineInfo{Name: "mysqldump"}, Type: "full"}
	want := "backup A was taken with the mysqldump engine, not a physical one: restore it with --to-mysql or --to-stdout"
	err := Engine{tool: mysql.EngineMysqldump}.Restore(context.Background(), nil, []*backup.Manifest{m},
		engine.Target{Files: &restore.PhysicalOptions{TargetDir: t.TempDir()}})
	if !errors.Is(err, engine.ErrWrongTarget) || err.Error() != want {
		t.Errorf("Restore into files: %v, want %q", err, want)
	}
	if _, err := (Engine{tool: mysql.EngineMysqldump}).DumpInto(context.Background(), engine.BackupConfig{}, engine.Target{}); err == nil {
		t.Error("DumpInto without a server: no error")
	}
}
