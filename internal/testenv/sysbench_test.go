package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSysbenchConfig: the option names a 0600 file holding the password;
// the option itself (sysbench's argv) does not hold it.
func TestSysbenchConfig(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600)
	opt := SysbenchConfig(t, pwFile)
	path, ok := strings.CutPrefix(opt, "--config-file=")
	if !ok || strings.Contains(opt, "s3cret-pw") {
		t.Fatalf("option %q", opt)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "mysql-password=s3cret-pw\n" {
		t.Fatalf("config file: %q, %v", b, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, want 0600", fi.Mode().Perm())
	}
}
