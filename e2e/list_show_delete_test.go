//go:build linux

package e2e

// list, show and delete: what a store holds, one backup's details, and
// removing backups (one, several, latest, a chain with --cascade).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListDeletePrune(t *testing.T) {
	store := t.TempDir()
	env := []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + store}
	var ids []string
	for i := 0; i < 3; i++ {
		r := run(t, strings.NewReader(strings.Repeat("row\n", 1000*(i+1))), env, "backup", "--name", fmt.Sprintf("n%d", i))
		must(t, r, "backup")
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	// A leftover of a killed run: objects, no manifest.
	leftover := "20200101T000000Z-abcdef"
	os.MkdirAll(filepath.Join(store, leftover), 0o700)
	os.WriteFile(filepath.Join(store, leftover, "data.gz.enc"), []byte("partial"), 0o600)
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(store, leftover, "data.gz.enc"), old, old)
	// A temporary file of a write killed by kill -9.
	staleTemp := filepath.Join(store, ".mybak-tmp", "put-killed")
	if err := os.WriteFile(staleTemp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(staleTemp, old, old)

	r := run(t, nil, env, "list", "--json")
	must(t, r, "list --json")
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if len(items) != 4 || items[0]["id"] != leftover || items[0]["state"] != "incomplete" {
		t.Fatalf("list --json = %v", items)
	}
	for i, it := range items[1:] {
		if it["id"] != ids[i] || it["state"] != "complete" || it["engine"] != "stdin" || it["type"] != "full" ||
			it["label"] != fmt.Sprintf("n%d", i) || it["raw_size"].(float64) != float64(4000*(i+1)) || it["encrypted"] != true {
			t.Errorf("list item %d = %v", i, it)
		}
	}
	r = run(t, nil, env, "list")
	must(t, r, "list")
	if !strings.Contains(r.stdout, "incomplete") || !strings.Contains(r.stdout, "STATE") || strings.Count(r.stdout, "complete") != 4 {
		t.Errorf("list table:\n%s", r.stdout)
	}

	must(t, run(t, nil, env, "delete", ids[1]), "delete")
	r = run(t, nil, env, "restore", ids[1], "--to-stdout")
	if r.code != 1 || !strings.Contains(r.stderr, "no backup ") {
		t.Errorf("restore of a deleted backup: %d %q", r.code, r.stderr)
	}

	// Each --name is a job of its own: --keep 1 keeps n0's and n2's newest.
	r = run(t, nil, env, "prune", "--keep", "1", "--dry-run")
	must(t, r, "prune --dry-run")
	if !strings.Contains(r.stderr, leftover) || strings.Contains(r.stderr, "id="+ids[0]) {
		t.Errorf("prune --dry-run does not name what it would remove (only the leftover): %s", r.stderr)
	}
	must(t, run(t, nil, env, "prune", "--keep", "1"), "prune")
	entries, _ := os.ReadDir(store)
	var left []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			left = append(left, e.Name())
		}
	}
	if _, err := os.Stat(staleTemp); !os.IsNotExist(err) {
		t.Errorf("prune left the stale temporary file: %v", err)
	}
	if slices.Sort(left); len(left) != 2 || !slices.Contains(left, ids[0]) || !slices.Contains(left, ids[2]) {
		t.Errorf("after prune --keep 1 the store holds %v, want [%s %s] (the newest of each --name)", left, ids[0], ids[2])
	}
	if r := run(t, nil, env, "prune"); r.code != 2 {
		t.Errorf("prune without --keep: exit %d", r.code)
	}
}

// TestDeleteSeveralAndLatest: delete takes latest and several IDs, and
// refuses the whole request when one is missing or still needed.
func TestDeleteSeveralAndLatest(t *testing.T) {
	store, env := keepEnv(t)
	ids := backupIDs(t, env, "x", 4)

	missing := "20200101T000000Z-abcdef"
	r := run(t, nil, env, "delete", ids[0], missing)
	if r.code != 1 || !strings.Contains(r.stderr, "no backup "+missing+" in "+store) || !strings.Contains(r.stderr, "mybak list") {
		t.Errorf("delete of a missing ID: exit %d\n%s", r.code, r.stderr)
	}
	if got := listIDs(t, env, "complete"); len(got) != 4 {
		t.Fatalf("a refused delete removed something: %v", got)
	}
	must(t, run(t, nil, env, "delete", "latest"), "delete latest")
	if got := listIDs(t, env, "complete"); !sameIDs(got, ids[:3]) {
		t.Errorf("after delete latest: %v, want %v", got, ids[:3])
	}
	must(t, run(t, nil, env, "delete", ids[0], ids[2]), "delete two")
	if got := listIDs(t, env, "complete"); !sameIDs(got, ids[1:2]) {
		t.Errorf("after delete of two: %v, want %v", got, ids[1:2])
	}
	r = run(t, nil, env, "restore", ids[0], "--to-stdout")
	if r.code != 1 || !strings.Contains(r.stderr, "no backup "+ids[0]+" in "+store) || !strings.Contains(r.stderr, "mybak list --storage "+store) {
		t.Errorf("restore of a deleted backup: exit %d\n%s", r.code, r.stderr)
	}
}

// TestShow: show prints the manifest, the chain, the engine's metadata
// typed, sizes and the cheap checks, in text and JSON.
func TestShow(t *testing.T) {
	store, env := keepEnv(t)
	ids := backupIDs(t, env, "db", 2)
	full, incr := ids[0], ids[1]
	// The engines' metadata and an incremental, as a MySQL engine records them.
	editManifest(t, store, incr, func(m map[string]any) {
		m["type"], m["parent"] = "incremental", full
		m["engine"] = map[string]any{"name": "mariabackup", "version": "10.11.6", "server_version": "10.11.6-MariaDB"}
		m["meta"] = map[string]any{
			"binlog_file": "mysql-bin.000042", "binlog_pos": "1234", "gtid": "0-1-77",
			"from_lsn": "1000", "to_lsn": "9007199254740993", "last_lsn": "9007199254740993",
			"row_counts": `{"mode":"auto","exact":true,"why":"same position","tables":[{"schema":"s","table":"t","rows":5},{"schema":"s","table":"u","rows":7}],"seconds":0.1}`,
			"tool":       "mariabackup",
		}
	})

	r := run(t, nil, env, "show", "latest", "--json")
	must(t, r, "show --json")
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("show --json: %v\n%s", err, r.stdout)
	}
	timeRE := regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$`)
	meta, _ := v["meta"].(map[string]any)
	rc, _ := meta["row_counts"].(map[string]any)
	chain, _ := v["chain"].([]any)
	ver, _ := v["verification"].(map[string]any)
	for what, ok := range map[string]bool{
		"id":                         v["id"] == incr,
		"state":                      v["state"] == "complete",
		"label":                      v["label"] == "db",
		"start_time fixed width UTC": timeRE.MatchString(fmt.Sprint(v["start_time"])),
		"end_time fixed width UTC":   timeRE.MatchString(fmt.Sprint(v["end_time"])),
		"duration_seconds a number":  isNumber(v["duration_seconds"]),
		"raw_size a number":          isNumber(v["raw_size"]),
		"stored_size a number":       isNumber(v["stored_size"]),
		"binlog_pos a number":        meta["binlog_pos"] == json.Number("1234"),
		"to_lsn exact":               meta["to_lsn"] == json.Number("9007199254740993"),
		"gtid a string":              meta["gtid"] == "0-1-77",
		"row_counts an object":       rc != nil && rc["exact"] == true,
		"chain full then incremental": len(chain) == 2 && chain[0].(map[string]any)["id"] == full &&
			chain[1].(map[string]any)["id"] == incr,
		"verification ok":                 ver["ok"] == true,
		"engine.server_version":           v["engine"].(map[string]any)["server_version"] == "10.11.6-MariaDB",
		"no unknown value given as false": !strings.Contains(r.stdout, "false"),
	} {
		if !ok {
			t.Errorf("show --json: %s is wrong\n%s", what, r.stdout)
		}
	}

	r = run(t, nil, env, "show", incr)
	must(t, r, "show")
	for _, want := range []string{"incremental of " + full, "mysql-bin.000042:1234", "0-1-77", "from 1000 to 9007199254740993",
		"2 tables, 12 rows (exact", full + " (full) -> " + incr + " (incremental)", "10.11.6-MariaDB", "verification     ok ("} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show does not say %q:\n%s", want, r.stdout)
		}
	}

	// The parent's data object gone: the cheap check sees it.
	os.Remove(filepath.Join(store, full, "data.gz.enc"))
	r = run(t, nil, env, "show", incr)
	must(t, r, "show of a broken chain")
	if !strings.Contains(r.stdout, "FAILED: object "+full+"/data.gz.enc: missing") {
		t.Errorf("show does not report the missing object:\n%s", r.stdout)
	}
	// A label is input from outside: a terminal escape or a newline in it
	// is printed escaped, never as a line of its own.
	editManifest(t, store, incr, func(m map[string]any) { m["label"] = "db\x1b[2K\nverification  ok" })
	for _, args := range [][]string{{"show", incr}, {"prune", "--keep-last", "5", "--dry-run"}} {
		r = run(t, nil, env, args...)
		must(t, r, strings.Join(args, " "))
		if strings.Contains(r.stdout, "\x1b") || strings.Contains(r.stdout, "\nverification  ok") || !strings.Contains(r.stdout, `\x1b[2K`) {
			t.Errorf("%v prints the label raw:\n%q", args, r.stdout)
		}
	}
	missing := "20200101T000000Z-abcdef"
	r = run(t, nil, env, "show", missing)
	if r.code != 1 || !strings.Contains(r.stderr, "no backup "+missing+" in "+store+"; `mybak list --storage "+store+"` shows what there is") {
		t.Errorf("show of a missing backup: exit %d\n%s", r.code, r.stderr)
	}
}

func isNumber(v any) bool {
	_, ok := v.(json.Number)
	return ok
}
