package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SysbenchConfig writes a sysbench --config-file (0600, in the test's
// temporary directory) holding mysql-password from passwordFile, and
// returns its "--config-file=PATH" option: the password never goes on
// sysbench's argv, where ArgvWatch, which watches every process while a
// test of another package runs, would see it (a fresh CI run failed
// TestBinlogArchiveKill9 on the mysql package's sysbench load).
func SysbenchConfig(t testing.TB, passwordFile string) string {
	t.Helper()
	pw, err := os.ReadFile(passwordFile)
	if err != nil {
		t.Fatalf("read the sysbench user's password: %v", err)
	}
	p := filepath.Join(t.TempDir(), "sysbench.cfg")
	if err := os.WriteFile(p, []byte("mysql-password="+strings.TrimSpace(string(pw))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "--config-file=" + p
}
