package backup

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/mysql"
)

func TestParentLSN(t *testing.T) {
	m := &Manifest{ID: "P", Engine: EngineInfo{Name: "mariabackup"}, Meta: map[string]string{MetaToLSN: "12345"}}
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
			m := &Manifest{ID: "P", Engine: EngineInfo{Name: tc.engine}, Meta: map[string]string{MetaToLSN: tc.lsn}}
			_, err := ParentLSN(m, "mariabackup")
			if !errors.Is(err, ErrBadParent) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParentLSN: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMySQLEnginesRefuse(t *testing.T) {
	parent := &Manifest{ID: "P", Engine: EngineInfo{Name: "mysqldump"}}
	l := &LogicalEngine{Options: mysql.DumpOptions{Tool: mysql.Tool{Engine: mysql.EngineMysqldump}}}
	if l.Name() != "mysqldump" || l.Extension() != ".sql" {
		t.Errorf("logical engine: %s %s", l.Name(), l.Extension())
	}
	if _, err := l.Run(context.Background(), io.Discard, parent); err == nil || !strings.Contains(err.Error(), "incremental") {
		t.Errorf("logical incremental: %v", err)
	}
	p := &PhysicalEngine{Options: mysql.PhysicalOptions{Tool: mysql.Tool{Engine: mysql.EngineMariabackup}}}
	if p.Name() != "mariabackup" || p.Extension() != ".xbstream" {
		t.Errorf("physical engine: %s %s", p.Name(), p.Extension())
	}
	if _, err := p.Run(context.Background(), io.Discard, parent); !errors.Is(err, ErrBadParent) {
		t.Errorf("physical incremental of a dump: %v", err)
	}
}

func TestFreeSpace(t *testing.T) {
	dir := t.TempDir()
	n, err := freeSpace(filepath.Join(dir, "not", "yet", "there"))
	if err != nil || n <= 0 {
		t.Errorf("freeSpace of a missing path: %d, %v", n, err)
	}
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	if n, err := freeSpace("relative/missing"); err != nil || n <= 0 {
		t.Errorf("freeSpace of a relative path: %d, %v", n, err)
	}
}
