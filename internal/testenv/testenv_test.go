package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorder is a testing.TB that records what a helper reports instead of
// ending the test (its other methods are not called by the helpers).
type recorder struct {
	testing.TB
	errors, fatals, skips []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { r.fatals = append(r.fatals, fmt.Sprint(a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.fatals = append(r.fatals, fmt.Sprintf(f, a...)) }
func (r *recorder) Skip(a ...any)             { r.skips = append(r.skips, fmt.Sprint(a...)) }
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) TempDir() string           { return os.TempDir() }
func (r *recorder) Cleanup(func())            {}
func (r *recorder) failed() bool              { return len(r.errors)+len(r.fatals) > 0 }
func (r *recorder) said(s string) bool {
	return strings.Contains(fmt.Sprint(r.errors, r.fatals, r.skips), s)
}
func (r *recorder) outcome() (fatal, skipped bool) {
	return len(r.fatals) > 0, len(r.skips) > 0 && len(r.fatals) == 0
}

func TestRequiredSwitch(t *testing.T) {
	for _, tc := range []struct {
		ci, require string
		want        bool
	}{
		{"", "", false}, {"true", "", true}, {"", "1", true}, {"", "0", false}, {"false", "yes", true},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv("MYBAK_REQUIRE_TOOLS", tc.require)
		if got := Required(); got != tc.want {
			t.Errorf("CI=%q MYBAK_REQUIRE_TOOLS=%q: Required() = %v", tc.ci, tc.require, got)
		}
		r := &recorder{}
		NeedTool(r, "mybak-no-such-tool", "openssl-no-such-either")
		fatal, skipped := r.outcome()
		if fatal != tc.want || skipped == tc.want || !r.said("mybak-no-such-tool or openssl-no-such-either") {
			t.Errorf("CI=%q MYBAK_REQUIRE_TOOLS=%q: NeedTool of a missing tool: fatal %v, skipped %v (%v %v)",
				tc.ci, tc.require, fatal, skipped, r.fatals, r.skips)
		}
	}
	t.Setenv("CI", "true")
	r := &recorder{}
	if p := NeedTool(r, "mybak-no-such-tool", "sh"); p == "" || r.failed() {
		t.Errorf("NeedTool with sh as the second choice: %q %v", p, r.fatals)
	}
}

func sampled(t *testing.T) { Sampled(t) }

// running starts a shell whose $0 is name, with env added, that runs
// script and then waits for its input to end; the returned stop ends it.
func running(t *testing.T, name, script string, env ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script+"; read x", name)
	cmd.Env = append(os.Environ(), env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() { in.Close(); cmd.Wait() }
}

func TestArgvWatch(t *testing.T) {
	marker := fmt.Sprintf("argv-watch-marker-%d", os.Getpid())
	secret := fmt.Sprintf("argv-watch-secret-%d", os.Getpid())

	t.Run("saw the process, no secret", func(t *testing.T) {
		r := &recorder{}
		stop := ArgvWatch(r, secret, marker)
		end := running(t, marker, "true")
		sampled(t)
		end()
		if n := stop(); n == 0 || r.failed() {
			t.Errorf("stop() = %d, reported %v", n, r.errors)
		}
	})
	t.Run("secret on an argv", func(t *testing.T) {
		r := &recorder{}
		stop := ArgvWatch(r, secret, marker)
		end := running(t, marker+" "+secret, "true")
		sampled(t)
		end()
		stop()
		if !r.said("secret visible on the argv") {
			t.Errorf("a secret on an argv was not reported: %v", r.errors)
		}
	})
	t.Run("never saw the process", func(t *testing.T) {
		r := &recorder{}
		stop := ArgvWatch(r, secret, marker+"-never-running")
		sampled(t)
		if n := stop(); n != 0 || !r.said("proved nothing") {
			t.Errorf("a watch that saw no process: stop() = %d, reported %v", n, r.errors)
		}
	})
}

func TestEnvironWatch(t *testing.T) {
	needle := fmt.Sprintf("MYBAK_TESTENV_NEEDLE_%d=x", os.Getpid())
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	parent, err := filepath.EvalSymlinks(sh) // /proc/PID/exe names the file
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the parent has it, no child", func(t *testing.T) {
		r := &recorder{}
		stop := EnvironWatch(r, needle, parent)
		end := running(t, "environ-parent", "true", needle)
		sampled(t)
		end()
		if n := stop(); n != 0 || r.failed() {
			t.Errorf("stop() = %d, reported %v", n, r.errors)
		}
	})
	t.Run("a child has it", func(t *testing.T) {
		r := &recorder{}
		stop := EnvironWatch(r, needle, parent)
		// The shell's child (another executable) inherits the environment.
		pidFile := filepath.Join(t.TempDir(), "pid")
		end := running(t, "environ-parent", sleep+" 3600 & echo $! > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile, needle)
		var pid int
		for deadline := time.Now().Add(30 * time.Second); pid == 0; time.Sleep(time.Millisecond) {
			if b, err := os.ReadFile(pidFile); err == nil {
				fmt.Sscan(string(b), &pid)
			} else if time.Now().After(deadline) {
				t.Fatal("the child's pid never appeared")
			}
		}
		sampled(t)
		syscall.Kill(pid, syscall.SIGKILL)
		end()
		if n := stop(); n == 0 || r.failed() {
			t.Errorf("a child with the needle: stop() = %d, reported %v", n, r.errors)
		}
		// The next subtest must not see this child: wait until it is gone
		// (or a zombie, whose environment is empty), not just signalled.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil || strings.Contains(string(st), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the killed child %d is still running", pid)
			}
		}
	})
	t.Run("never saw the parent", func(t *testing.T) {
		r := &recorder{}
		stop := EnvironWatch(r, needle, parent)
		sampled(t)
		if n := stop(); n != 0 || !r.said("proved nothing") {
			t.Errorf("a watch that never saw its parent: stop() = %d, reported %v", n, r.errors)
		}
	})
}
