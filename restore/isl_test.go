package restore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNoISL(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "db"), 0o755)
	os.WriteFile(filepath.Join(dir, "db", "t.ibd"), []byte("pages"), 0o644)
	os.WriteFile(filepath.Join(dir, "db", "t.frm"), []byte("frm"), 0o644)
	if err := checkNoISL(dir); err != nil {
		t.Fatalf("a backup without .isl files: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "db", "t.isl"), []byte("/etc/cron.d/evil\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "db", "u#P#p0.isl"), []byte("/data/remote/db/u#P#p0.ibd"), 0o644)
	err := checkNoISL(dir)
	if !errors.Is(err, ErrUnsafeName) || !strings.Contains(err.Error(), `db/t.isl -> "/etc/cron.d/evil"`) ||
		!strings.Contains(err.Error(), "2 table(s) with DATA DIRECTORY") || !strings.Contains(err.Error(), "--target-dir") {
		t.Errorf("checkNoISL: %v", err)
	}
}
