//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDrillDumpRunsOnlySQL: a restore drill of a dump (the README's root
// cron job) runs its SQL on a scratch server and nothing else: not the SQL
// client's shell command, and not the server writing or reading host files
// (SELECT ... INTO OUTFILE, LOAD_FILE) outside the scratch directory. The
// dumps are crafted: stored with the stdin engine and relabelled as
// mariadb-dump in their manifest, as a tampered store would hold them.
func TestDrillDumpRunsOnlySQL(t *testing.T) {
	mysqlTests(t)
	if _, err := exec.LookPath("mariadbd"); err != nil {
		if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
			t.Fatal("mariadbd is not installed (apt-get install mariadb-server)")
		}
	}
	// Writable by the scratch server's user (mysql when mybak runs as root).
	open, err := os.MkdirTemp("", "mybak-drill-outfile-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	t.Cleanup(func() { os.RemoveAll(open) })
	hostFile := filepath.Join(open, "host-file")
	os.WriteFile(hostFile, []byte("host file content\n"), 0o644)

	store, scratch := t.TempDir(), scratchParent(t)
	for _, tc := range []struct {
		name, sql string
		effect    string // a file that must not exist afterwards, if any
	}{
		{"shell command", "\\! touch " + filepath.Join(open, "shell") + "\n", filepath.Join(open, "shell")},
		{"outfile", "SELECT 'written by the dump' INTO OUTFILE '" + filepath.Join(open, "outfile") + "';\n", filepath.Join(open, "outfile")},
		// LOAD_FILE gives NULL for a file it may not read: the NOT NULL
		// column turns that into an error the drill reports.
		{"load_file", "CREATE TABLE t (s TEXT NOT NULL);\nINSERT INTO t SELECT LOAD_FILE('" + hostFile + "');\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dump := "-- MariaDB dump 10.19  Distrib 10.11.0-MariaDB\n" +
				"CREATE DATABASE evil_" + strings.ReplaceAll(tc.name, " ", "_") + ";\nUSE evil_" + strings.ReplaceAll(tc.name, " ", "_") + ";\n" +
				tc.sql + "-- Dump completed on 2026-01-01  0:00:00\n"
			r := run(t, strings.NewReader(dump), nil, "backup", "--engine", "stdin", "--storage", store, "--no-encrypt")
			must(t, r, "stdin backup")
			id := strings.TrimSpace(r.stdout)
			editManifest(t, store, id, func(m map[string]any) {
				m["engine"] = map[string]any{"name": "mariadb-dump", "server_version": "10.11.0-MariaDB"}
			})
			r = run(t, nil, nil, "verify", "--drill", "--storage", store, "--scratch-dir", scratch, id)
			t.Logf("drill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			if _, err := os.Stat(tc.effect); tc.effect != "" && err == nil {
				t.Errorf("the drill of a dump with %s wrote %s on the host", tc.name, tc.effect)
			}
			if r.code == 0 {
				t.Errorf("the drill passed a dump that holds %s", tc.name)
			}
			assertEmpty(t, scratch)
		})
	}
}
