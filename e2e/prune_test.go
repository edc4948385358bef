//go:build linux

package e2e

// End-to-end tests of retention (prune's --keep-* policy, its groups and
// summary, its usage errors) against a local store and the Swift sandbox,
// with a backup kept running by a pipe the test feeds.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
			if !waitFor(func() bool { running = listIDs(t, env, "incomplete"); return len(running) == 1 && stored() }) {
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
			if got := listIDs(t, env, "incomplete"); len(got) != 1 || got[0] != id {
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
	if got := listIDs(t, env, "complete"); len(got) != 5 {
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
	if got, want := listIDs(t, env, "complete"), []string{a[1], a[2], b[0], b[1]}; !sameIDs(got, want) {
		t.Errorf("after prune --keep-last 2: %v, want %v", got, want)
	}
	// --keep stays an alias of --keep-last, per group.
	must(t, run(t, nil, env, "prune", "--keep", "1"), "prune --keep 1")
	if got, want := listIDs(t, env, "complete"), []string{a[2], b[1]}; !sameIDs(got, want) {
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
