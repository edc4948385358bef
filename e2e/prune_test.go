package e2e

// End-to-end tests of retention (prune's --keep-* policy, delete of
// several backups, show) against a local store and the Swift sandbox,
// with a backup kept running by a pipe the test feeds.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// slowBackup is a `mybak backup --engine stdin` whose standard input the
// test writes: it runs until finish closes the pipe.
type slowBackup struct {
	v  *victim
	pw *os.File
}

func startSlowBackup(t *testing.T, env []string, first []byte, args ...string) *slowBackup {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	v := startMybak(t, pr, env, append([]string{"backup"}, args...)...)
	pr.Close()
	t.Cleanup(func() { pw.Close() })
	if _, err := pw.Write(first); err != nil {
		t.Fatalf("feed the backup: %v\n%s", err, v.stderr.String())
	}
	return &slowBackup{v: v, pw: pw}
}

// finish writes rest, closes the input and returns the backup's ID; the
// backup must succeed.
func (b *slowBackup) finish(t *testing.T, rest []byte) string {
	t.Helper()
	if _, err := b.pw.Write(rest); err != nil {
		t.Fatalf("feed the backup: %v\n%s", err, b.v.stderr.String())
	}
	b.pw.Close()
	b.v.wait(t, 2*time.Minute)
	if code := b.v.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the backup that was running during prune failed: exit %d\n%s", code, b.v.stderr.String())
	}
	return strings.TrimSpace(b.v.stdout.String())
}

// incompleteIDs returns the IDs that `list --json` shows incomplete.
func incompleteIDs(t *testing.T, env []string) []string {
	t.Helper()
	r := run(t, nil, env, "list", "--json")
	must(t, r, "list --json")
	var items []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	var ids []string
	for _, it := range items {
		if it.State == "incomplete" {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// TestPruneLeavesRunningBackup runs prune --grace 0s while a backup is
// being written, in a local store and in Swift: prune must not touch it
// (nor its temporary file, nor its segments), verify and show must say it
// is in progress, and the backup must then complete and restore.
func TestPruneLeavesRunningBackup(t *testing.T) {
	for _, kind := range []string{"local", "swift", "trove"} {
		t.Run(kind, func(t *testing.T) {
			var store string
			env := []string{"MYBAK_ENCRYPT_KEY=k"}
			// Written before the wait: a segment, or the temporary file,
			// with bytes in it.
			first := randomData(3 << 20)
			stored := func() bool { return false }
			switch kind {
			case "local":
				store = t.TempDir()
				stored = func() bool {
					m, _ := filepath.Glob(filepath.Join(store, ".mybak-tmp", "*"))
					for _, f := range m {
						if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
							return true
						}
					}
					return false
				}
			case "swift":
				container := testContainer(t)
				store = "swift://" + container
				env = append(env, swiftEnv()...)
				env = append(env, "MYBAK_SEGMENT_SIZE=1M")
				stored = func() bool { return len(segments(t, container, "/")) > 0 }
			case "trove":
				container := testContainer(t)
				store = "swift://" + container
				env = append(env, swiftEnv()...)
				env = append(env, "MYBAK_SEGMENT_SIZE=1M", "MYBAK_LAYOUT=trove")
				stored = func() bool {
					names, _ := swiftConn(t).ObjectNamesAll(context.Background(), container, nil)
					for _, n := range names {
						if strings.Contains(n, "_00000000") {
							return true
						}
					}
					return false
				}
			}
			env = append(env, "MYBAK_STORAGE="+store)
			must(t, run(t, bytes.NewReader([]byte("older")), env, "backup", "--name", "job"), "backup")
			b := startSlowBackup(t, env, first, "--name", "job")
			var running []string
			if !waitFor(func() bool { running = incompleteIDs(t, env); return len(running) == 1 && stored() }) {
				t.Fatalf("the running backup never showed up as incomplete with data stored (%v)\n%s", running, b.v.stderr.String())
			}
			id := running[0]

			if kind != "trove" { // Trove's layout: verify and show see an interrupted upload
				r := run(t, nil, env, "verify", id)
				if r.code != 1 || !strings.Contains(r.stderr, "in progress") ||
					!strings.Contains(r.stderr, fmt.Sprintf("pid %d", b.v.cmd.Process.Pid)) || strings.Contains(r.stdout, "FAILED") {
					t.Errorf("verify of the running backup: exit %d, want 1 saying it is in progress (pid %d)\nstdout: %s\nstderr: %s",
						r.code, b.v.cmd.Process.Pid, r.stdout, r.stderr)
				}
				r = run(t, nil, env, "show", id)
				if r.code != 0 || !strings.Contains(r.stdout, "in progress") || !strings.Contains(r.stdout, fmt.Sprintf("pid %d", b.v.cmd.Process.Pid)) {
					t.Errorf("show of the running backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
				}
			}

			r := run(t, nil, env, "delete", id)
			if r.code != 1 || !strings.Contains(r.stderr, "being written") || !strings.Contains(r.stderr, "nothing deleted") {
				t.Errorf("delete of the running backup: exit %d\n%s", r.code, r.stderr)
			}

			r = run(t, nil, env, "prune", "--keep", "1", "--grace", "0s")
			must(t, r, "prune --grace 0s")
			t.Logf("prune:\n%s%s", r.stdout, r.stderr)
			if !strings.Contains(r.stdout+r.stderr, id) || !strings.Contains(r.stdout+r.stderr, "being written") {
				t.Errorf("prune does not say it left %s alone because it is being written:\n%s%s", id, r.stdout, r.stderr)
			}
			if got := incompleteIDs(t, env); len(got) != 1 || got[0] != id {
				t.Fatalf("after prune the running backup is gone: incomplete %v", got)
			}

			rest := randomData(1 << 20)
			if got := b.finish(t, rest); got != id {
				t.Fatalf("backup printed %q, want %s", got, id)
			}
			r = run(t, nil, env, "restore", id, "--to-stdout")
			must(t, r, "restore")
			if !bytes.Equal([]byte(r.stdout), append(first, rest...)) {
				t.Fatalf("restored %d bytes that differ from the %d backed up", len(r.stdout), len(first)+len(rest))
			}
		})
	}
}

// keepEnv returns the environment of a local store with a key.
func keepEnv(t *testing.T) (string, []string) {
	store := t.TempDir()
	return store, []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + store}
}

// backupIDs takes n backups of label name and returns their IDs.
func backupIDs(t *testing.T, env []string, name string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		r := run(t, strings.NewReader(fmt.Sprintf("%s %d", name, i)), env, "backup", "--name", name)
		must(t, r, "backup")
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	return ids
}

// completeIDs returns the IDs of the complete backups in the store.
func completeIDs(t *testing.T, env []string) []string {
	t.Helper()
	r := run(t, nil, env, "list", "--json")
	must(t, r, "list --json")
	var items []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		if it.State == "complete" {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

func sameIDs(a, b []string) bool {
	return strings.Join(a, " ") == strings.Join(b, " ")
}

// TestPruneGroupsAndSummary: the policy counts each --name on its own, a
// --name filter touches one job only, --dry-run prints the plan prune then
// carries out, and --json reports it with sizes as numbers.
func TestPruneGroupsAndSummary(t *testing.T) {
	_, env := keepEnv(t)
	a := backupIDs(t, env, "a", 3)
	b := backupIDs(t, env, "b", 2)

	// --name b: only b's backups are looked at.
	r := run(t, nil, env, "prune", "--keep-last", "1", "--name", "b", "--dry-run")
	must(t, r, "prune --name b --dry-run")
	if !strings.Contains(r.stdout, "would remove") || !strings.Contains(r.stdout, b[0]) || strings.Contains(r.stdout, a[0]) {
		t.Errorf("prune --name b --dry-run:\n%s", r.stdout)
	}
	if got := completeIDs(t, env); len(got) != 5 {
		t.Fatalf("--dry-run removed something: %v", got)
	}
	dry := run(t, nil, env, "prune", "--keep-last", "2", "--dry-run", "--json")
	must(t, dry, "prune --dry-run --json")
	var plan struct {
		DryRun  bool `json:"dry_run"`
		Summary struct {
			Kept         int   `json:"kept"`
			KeptBytes    int64 `json:"kept_size"`
			Removed      int   `json:"removed"`
			RemovedBytes int64 `json:"freed_size"`
		} `json:"summary"`
		Backups []struct {
			ID          string   `json:"id"`
			Action      string   `json:"action"`
			Label       string   `json:"label"`
			StoredBytes int64    `json:"stored_size"`
			Reasons     []string `json:"reasons"`
		} `json:"backups"`
	}
	if err := json.Unmarshal([]byte(dry.stdout), &plan); err != nil {
		t.Fatalf("prune --json: %v\n%s", err, dry.stdout)
	}
	if !plan.DryRun || plan.Summary.Kept != 4 || plan.Summary.Removed != 1 || plan.Summary.RemovedBytes <= 0 || len(plan.Backups) != 5 {
		t.Errorf("prune --keep-last 2 --dry-run --json = %+v", plan)
	}
	for _, it := range plan.Backups {
		want := "keep"
		if it.ID == a[0] {
			want = "remove"
		}
		if it.Action != want || it.StoredBytes <= 0 || (want == "keep" && len(it.Reasons) == 0) {
			t.Errorf("backup %s: %+v, want %s", it.ID, it, want)
		}
	}

	// Every backup started within 30 days of its job's newest: all of them.
	r = run(t, nil, env, "prune", "--keep-within", "30d", "--dry-run", "--json")
	must(t, r, "prune --keep-within 30d")
	var within struct {
		Policy  map[string]any `json:"policy"`
		Summary struct {
			Kept    int `json:"kept"`
			Removed int `json:"removed"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &within); err != nil || within.Policy["keep_within_seconds"] != float64(30*24*3600) ||
		within.Summary.Kept != 5 || within.Summary.Removed != 0 {
		t.Errorf("prune --keep-within 30d --json: %v %+v\n%s", err, within, r.stdout)
	}

	r = run(t, nil, env, "prune", "--keep-last", "2")
	must(t, r, "prune --keep-last 2")
	if !strings.Contains(r.stdout, fmt.Sprintf("removed 1 backup")) || !strings.Contains(r.stdout, "freed") {
		t.Errorf("prune summary:\n%s", r.stdout)
	}
	if got, want := completeIDs(t, env), []string{a[1], a[2], b[0], b[1]}; !sameIDs(got, want) {
		t.Errorf("after prune --keep-last 2: %v, want %v", got, want)
	}
	// --keep stays an alias of --keep-last, per group.
	must(t, run(t, nil, env, "prune", "--keep", "1"), "prune --keep 1")
	if got, want := completeIDs(t, env), []string{a[2], b[1]}; !sameIDs(got, want) {
		t.Errorf("after prune --keep 1: %v, want %v", got, want)
	}
}

// TestPruneUsage: a policy is required, counts are not negative, and the
// old --keep and the new --keep-last are one option.
func TestPruneUsage(t *testing.T) {
	_, env := keepEnv(t)
	for _, args := range [][]string{
		{"prune"},
		{"prune", "--keep", "0"},
		{"prune", "--keep-daily", "-1"},
		{"prune", "--keep-within", "-1h"},
		{"prune", "--keep-within", "30 days"},
		{"prune", "--keep", "1", "--keep-last", "2"},
		{"prune", "--keep-last", "1", "extra"},
	} {
		r := run(t, nil, env, args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", args, r.code, r.stderr)
		}
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
	if got := completeIDs(t, env); len(got) != 4 {
		t.Fatalf("a refused delete removed something: %v", got)
	}
	must(t, run(t, nil, env, "delete", "latest"), "delete latest")
	if got := completeIDs(t, env); !sameIDs(got, ids[:3]) {
		t.Errorf("after delete latest: %v, want %v", got, ids[:3])
	}
	must(t, run(t, nil, env, "delete", ids[0], ids[2]), "delete two")
	if got := completeIDs(t, env); !sameIDs(got, ids[1:2]) {
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
