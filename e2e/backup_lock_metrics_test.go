//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// TestJobLock runs two backups of the same job at once: the second must
// exit 4 naming the holder, or wait with --lock-timeout.
func TestJobLock(t *testing.T) {
	store, lockDir := t.TempDir(), t.TempDir()
	env := append(cleanEnv(), "MYBAK_LOCK_DIR="+lockDir, "MYBAK_STORAGE="+store, "MYBAK_BACKUP_NO_ENCRYPT=true", "MYBAK_BACKUP_NAME=nightly")
	first := exec.Command(mybakBin, "backup")
	first.Env = env
	in, _ := first.StdinPipe()
	var firstOut bytes.Buffer
	first.Stdout = &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("first backup, still running\n"))
	// The holder writes its pid into the lock file once it holds the lock.
	var lockFile string
	testenv.WaitFor(t, 30*time.Second, "the first backup to take the lock", func() bool {
		m, _ := filepath.Glob(filepath.Join(lockDir, "mybak-*.lock"))
		for _, f := range m {
			if b, _ := os.ReadFile(f); strings.HasPrefix(string(b), fmt.Sprintf("pid %d ", first.Process.Pid)) {
				lockFile = f
				return true
			}
		}
		return false
	})

	second := exec.Command(mybakBin, "backup")
	second.Env = env
	second.Stdin = strings.NewReader("second")
	var se bytes.Buffer
	second.Stderr = &se
	err := second.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 || !strings.Contains(se.String(), "pid") {
		t.Fatalf("second backup of the same job: %v, stderr %q; want exit 4 naming the holder", err, se.String())
	}
	// Another job (another --name) is not blocked.
	r := run(t, strings.NewReader("other job"), append(env[len(cleanEnv()):], "MYBAK_BACKUP_NAME=weekly"), "backup")
	must(t, r, "backup of another job")

	// With --lock-timeout the second run waits for the first to finish.
	waiter := exec.Command(mybakBin, "backup", "--lock-timeout", "30s")
	waiter.Env = env
	waiter.Stdin = strings.NewReader("waited")
	var wout bytes.Buffer
	waiter.Stdout = &wout
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	// The waiter has opened the lock file while the first still holds the
	// lock: it cannot have taken it, so it waits.
	testenv.WaitFor(t, 30*time.Second, "the waiting backup to open the lock file", func() bool {
		return hasOpen(waiter.Process.Pid, lockFile)
	})
	in.Close() // the first backup's input ends: it completes
	if err := first.Wait(); err != nil {
		t.Fatalf("first backup: %v", err)
	}
	if err := waiter.Wait(); err != nil || !idRE.MatchString(wout.String()) {
		t.Fatalf("waiting backup: %v, stdout %q", err, wout.String())
	}
}

func TestMetricsFile(t *testing.T) {
	store := t.TempDir()
	prom := filepath.Join(t.TempDir(), "mybak.prom")
	env := []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + store, "MYBAK_METRICS_FILE=" + prom}
	r := run(t, bytes.NewReader(corpus(300000)), env, "backup", "--name", "nightly")
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)
	must(t, run(t, nil, env, "verify", "--deep", id), "verify")
	// A failing backup: the store cannot be created.
	bad := append(env[:2:2], "MYBAK_STORAGE=/proc/mybak-cannot-exist", "MYBAK_METRICS_FILE="+prom)
	if r := run(t, strings.NewReader("x"), bad, "backup", "--name", "nightly"); r.code != 1 {
		t.Fatalf("backup to an impossible store: exit %d %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`mybak_last_run_success{command="backup",engine="stdin",storage="` + store + `",label="nightly"} 1`,
		`mybak_last_run_success{command="verify-deep",engine="",storage="` + store + `",label=""} 1`,
		`mybak_last_run_success{command="backup",engine="",storage="/proc/mybak-cannot-exist",label="nightly"} 0`,
		`mybak_last_raw_bytes{command="backup",engine="stdin",storage="` + store + `",label="nightly"} 300000`,
		`mybak_last_success_timestamp_seconds{command="backup",engine="stdin"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("metrics file lacks %q:\n%s", want, s)
		}
	}
}

// hasOpen reports whether process pid has path open (one of its
// /proc/PID/fd links points at it).
func hasOpen(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}
