//go:build linux

package e2e

// preflight against a real MariaDB server: what it checks and reports
// before a backup runs.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestMySQLPreflight: the report's checks and flags: free space of a local
// store, restore target and datadir; --min-redo-window fails the redo check
// while the server writes; --json.
func TestMySQLPreflight(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	execSQL(t, db, "DROP DATABASE IF EXISTS e2e_pre", "CREATE DATABASE e2e_pre", "CREATE TABLE e2e_pre.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100))")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				db.Exec("INSERT INTO e2e_pre.t (v) SELECT REPEAT('x', 100) FROM e2e_pre.seq_1_to_200")
			}
		}
	}()
	dir := t.TempDir()
	r := run(t, nil, nil, append([]string{"preflight", "--json", "--sample", "2s", "--min-redo-window", "100000h",
		"--storage", filepath.Join(dir, "store"), "--target-dir", filepath.Join(dir, "t"), "--datadir", filepath.Join(dir, "d"),
		"--work-dir", dir, "--engine", "mariabackup"}, p.conn(false)...)...)
	close(stop)
	<-done
	var rep struct {
		OK          bool    `json:"ok"`
		Engine      string  `json:"engine"`
		RedoRate    float64 `json:"redo_bytes_per_second"`
		RedoWindow  float64 `json:"redo_seconds_to_wrap"`
		Checks      []struct{ Name, Status, Detail string }
		DataBytes   int64  `json:"data_bytes"`
		ToolVersion string `json:"tool_version"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("preflight --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != 1 || rep.OK || rep.Engine != "mariabackup" || rep.RedoRate <= 0 || rep.RedoWindow <= 0 || rep.DataBytes <= 0 || rep.ToolVersion == "" {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
	want := map[string]bool{"temp state/spool " + dir: false, "local store": false, "restore target": false, "restore datadir": false}
	for _, c := range rep.Checks {
		if c.Name == "redo" && c.Status != "fail" {
			t.Errorf("redo check with --min-redo-window 100000h: %+v", c)
		}
		for k := range want {
			if c.Name == "free space" && strings.Contains(c.Detail, k) {
				want[k] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no free space line for %q: %+v", k, rep.Checks)
		}
	}
}
