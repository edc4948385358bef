//go:build linux

package e2e

// End-to-end tests of what a hostile host or store must not achieve: a
// run that ignores signals, a walk of a parent cycle that never ends.

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/xbstream"
)

// waitLine reads lines from r until one contains want or timeout passes;
// it returns what it read.
func waitLine(t *testing.T, r *bufio.Reader, want string, timeout time.Duration) (string, bool) {
	t.Helper()
	type line struct {
		s   string
		err error
	}
	var seen strings.Builder
	deadline := time.After(timeout)
	for {
		ch := make(chan line, 1)
		go func() { s, err := r.ReadString('\n'); ch <- line{s, err} }()
		select {
		case l := <-ch:
			seen.WriteString(l.s)
			if strings.Contains(l.s, want) {
				return seen.String(), true
			}
			if l.err != nil {
				return seen.String(), false
			}
		case <-deadline:
			return seen.String(), false
		}
	}
}

// TestSecondSignalExits runs a restore whose standard output nobody reads:
// its write blocks, so the first SIGTERM cannot end it (the command waits
// for the write). The first signal must say that a second one exits at
// once, and the second must end the process with exit 130.
func TestSecondSignalExits(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			store := t.TempDir()
			r := run(t, bytes.NewReader(corpus(16<<20)), nil, "backup", "--storage", store, "--no-encrypt", "--compress", "none")
			must(t, r, "backup")
			id := strings.TrimSpace(r.stdout)

			pr, pw, err := os.Pipe() // never read: the restore's writes block
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			cmd := exec.Command(mybakBin, "restore", id, "--storage", store, "--to-stdout")
			cmd.Env = cleanEnv()
			cmd.Stdout = pw
			se, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			done := make(chan error, 1)
			stderr := bufio.NewReader(se)
			defer func() {
				cmd.Process.Kill()
			}()
			// The log line comes after the signal handlers are set.
			if out, ok := waitLine(t, stderr, "restore started", 20*time.Second); !ok {
				t.Fatalf("no 'restore started' on stderr: %s", out)
			}
			waitPipeFull(t, pr)
			cmd.Process.Signal(sig)
			if out, ok := waitLine(t, stderr, "again", 10*time.Second); !ok {
				t.Fatalf("the first signal did not say that a second one exits at once: %q", out)
			}
			cmd.Process.Signal(sig)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				ee, ok := err.(*exec.ExitError)
				if !ok || ee.ExitCode() != 130 {
					t.Fatalf("after two signals: %v, want exit status 130", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("mybak did not exit within 10s of the second signal")
			}
		})
	}
}

// waitPipeFull waits until the pipe that r reads is full (all but the
// last, partly filled, page): its writer is then blocked.
func waitPipeFull(t *testing.T, r *os.File) {
	t.Helper()
	size, err := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if n > size-2*os.Getpagesize() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipe holds %d bytes of %d after 20s: the writer is not blocked", n, size)
		}
		time.Sleep(10 * time.Millisecond) // polling observable state
	}
}

// runFor runs mybak like run, but fails the test when it does not return
// within d (a walk that never ends).
func runFor(t *testing.T, d time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, mybakBin, args...)
	cmd.Env = cleanEnv()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mybak %s did not return within %v\nstderr: %s", strings.Join(args, " "), d, se.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

// TestParentCycleCommands: two manifests that name each other as parent.
// Every command that walks a chain returns promptly and names the cycle;
// delete --cascade removes both.
func TestParentCycleCommands(t *testing.T) {
	store := t.TempDir()
	var ids []string
	for i := 0; i < 3; i++ {
		r := run(t, bytes.NewReader(corpus(64<<10)), nil, "backup", "--storage", store, "--no-encrypt")
		must(t, r, "backup")
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	a, b, other := ids[0], ids[1], ids[2]
	editManifest(t, store, a, func(m map[string]any) { m["type"], m["parent"] = "incremental", b })
	editManifest(t, store, b, func(m map[string]any) { m["type"], m["parent"] = "incremental", a })
	cycle := "parent cycle: " + a + " -> " + b + " -> " + a
	const limit = 30 * time.Second

	r := runFor(t, limit, "list", "--storage", store)
	must(t, r, "list")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, a+" ") && !strings.Contains(line, "damaged (parent cycle: ") {
			t.Errorf("list does not show %s damaged by the cycle: %q", a, line)
		}
		if strings.HasPrefix(line, other+" ") && !strings.Contains(line, "complete") {
			t.Errorf("list: %q", line)
		}
	}

	r = runFor(t, limit, "verify", a, "--storage", store)
	if r.code != 3 || !strings.Contains(r.stdout+r.stderr, cycle) {
		t.Errorf("verify: exit %d, want 3 naming %q\nstdout: %s\nstderr: %s", r.code, cycle, r.stdout, r.stderr)
	}
	r = runFor(t, limit, "restore", a, "--storage", store, "--target-dir", filepath.Join(t.TempDir(), "restored"))
	if r.code != 1 || !strings.Contains(r.stderr, cycle) {
		t.Errorf("restore: exit %d, want 1 naming %q\nstderr: %s", r.code, cycle, r.stderr)
	}
	r = runFor(t, limit, "delete", a, "--storage", store)
	if r.code != 1 || !strings.Contains(r.stderr, b) || !strings.Contains(r.stderr, "--cascade") {
		t.Errorf("delete without --cascade: exit %d\nstderr: %s", r.code, r.stderr)
	}
	r = runFor(t, limit, "prune", "--keep", "1", "--storage", store, "--dry-run")
	must(t, r, "prune --dry-run")
	if !strings.Contains(r.stderr, "parent cycle") {
		t.Errorf("prune does not report the cycle: %s", r.stderr)
	}
	// A backup outside the cycle is deleted as usual.
	r = runFor(t, limit, "delete", other, "--storage", store)
	must(t, r, "delete outside the cycle")
	// --cascade removes the cycle.
	r = runFor(t, limit, "delete", a, "--cascade", "--storage", store)
	must(t, r, "delete --cascade")
	for _, id := range []string{a, b} {
		if _, err := os.Stat(filepath.Join(store, id)); !os.IsNotExist(err) {
			t.Errorf("%s still there after delete --cascade: %v", id, err)
		}
	}
}

// TestEmptyInput: `failing-dump | mybak backup` without pipefail gives
// mybak an empty standard input. That is not a backup (prune --keep would
// count it): exit 1, a message that says how to allow it, no objects.
func TestEmptyInput(t *testing.T) {
	store := t.TempDir()
	r := run(t, strings.NewReader(""), nil, "backup", "--storage", store, "--no-encrypt")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "empty") || !strings.Contains(r.stderr, "--allow-empty") {
		t.Errorf("empty input: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var files []string
	filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("a refused empty backup left files: %v", files)
	}
	r = run(t, strings.NewReader(""), nil, "backup", "--storage", store, "--no-encrypt", "--allow-empty")
	must(t, r, "backup --allow-empty")
	id := strings.TrimSpace(r.stdout)
	r = run(t, nil, nil, "restore", id, "--storage", store, "--to-stdout")
	must(t, r, "restore the empty backup")
	if r.stdout != "" {
		t.Errorf("restored %d bytes of an empty backup", len(r.stdout))
	}
}

// evil is text from a manifest or a stream that would forge a line of
// output on a terminal: a newline that starts a fake "ok" line and the
// escape sequence that erases the current one.
const evil = "x\n  OK  fake\x1b[2K"

// checkEscaped fails when out holds an escape character or a line that
// starts like the forged one.
func checkEscaped(t *testing.T, what, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("%s: raw ESC or CR in the output:\n%q", what, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  OK  fake") {
			t.Errorf("%s: a forged line:\n%q", what, out)
		}
	}
}

// TestEscapedOutput: labels, engine names, errors and file paths that
// come from a manifest or a backup's stream are printed escaped by list,
// verify (text and --list) and the logs.
func TestEscapedOutput(t *testing.T) {
	store := t.TempDir()
	var xb bytes.Buffer
	w := xbstream.NewWriter(&xb)
	for _, name := range []string{"ibdata1", "db/" + evil + ".ibd"} {
		if _, err := w.WriteFile(name, bytes.NewReader(corpus(10<<10))); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, bytes.NewReader(xb.Bytes()), nil, "backup", "--storage", store, "--no-encrypt", "--name", evil)
	must(t, r, "backup of an xbstream")
	withPaths := strings.TrimSpace(r.stdout)
	checkEscaped(t, "backup's log", r.stderr)
	r = run(t, bytes.NewReader(corpus(10<<10)), nil, "backup", "--storage", store, "--no-encrypt")
	must(t, r, "backup")
	evilEngine := strings.TrimSpace(r.stdout)
	editManifest(t, store, evilEngine, func(m map[string]any) {
		m["label"] = evil
		m["engine"].(map[string]any)["name"] = evil
	})

	r = run(t, nil, nil, "list", "--storage", store)
	must(t, r, "list")
	checkEscaped(t, "list", r.stdout)
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Errorf("list printed %d lines for 2 backups:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, `"x\n  OK  fake\x1b[2K"`) {
		t.Errorf("list does not show the label quoted:\n%s", r.stdout)
	}

	r = run(t, nil, nil, "verify", withPaths, "--storage", store, "--deep", "--list")
	must(t, r, "verify --deep --list")
	checkEscaped(t, "verify --list", r.stdout+r.stderr)
	if !strings.Contains(r.stdout, `"db/x\n  OK  fake\x1b[2K.ibd"`) {
		t.Errorf("verify --list does not show the path quoted:\n%s", r.stdout)
	}

	for _, args := range [][]string{
		{"verify", evilEngine, "--storage", store, "--deep"},
		{"restore", evilEngine, "--storage", store, "--target-dir", filepath.Join(t.TempDir(), "r")},
	} {
		r = run(t, nil, nil, args...)
		checkEscaped(t, args[0]+" of a backup with a forged engine name", r.stdout+r.stderr)
	}
}

// TestFlagValues: a value a flag cannot mean is a usage error (exit 2,
// naming the flag) before anything runs, whatever the store; a local
// store applies --limit-rate as Swift does.
func TestFlagValues(t *testing.T) {
	store := t.TempDir()
	for _, args := range [][]string{
		{"--limit-rate", "abc"},
		{"--limit-rate", "-1"},
		{"--limit-rate", "10MB/s"},
		{"--limit-rate", "1.5M"},
		{"--segment-size", "abc"},
		{"--segment-size", "0"},
		{"--lock-timeout", "-5s"},
		{"--upload-parallel", "0"},
		{"--upload-parallel", "-3"},
		{"--max-retries", "-2"},
		{"--port", "-1"},
		{"--port", "70000"},
		{"--parallel", "-1"},
		{"--swift-auth-version", "7"},
	} {
		r := run(t, strings.NewReader("data"), nil, append([]string{"backup", "--storage", store, "--no-encrypt"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, args[0]) || r.stdout != "" {
			t.Errorf("backup %s: exit %d, want 2 naming the flag\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	r := run(t, nil, nil, "prune", "--storage", store, "--keep", "1", "--grace", "-1h")
	if r.code != 2 || !strings.Contains(r.stderr, "--grace") {
		t.Errorf("prune --grace -1h: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(store); len(entries) != 0 {
		t.Errorf("refused runs stored %d backups", len(entries))
	}
	for _, ok := range []string{"512K", "10M", "1G", "1048576", "64KiB", "0"} {
		r := run(t, strings.NewReader("data"), nil, "backup", "--storage", store, "--no-encrypt", "--limit-rate", ok)
		must(t, r, "backup --limit-rate "+ok)
	}

	// 256 KiB at 64 KiB/s: the first 64 KiB pass at once, the rest take
	// three seconds.
	start := time.Now()
	r = run(t, bytes.NewReader(corpus(256<<10)), nil, "backup", "--storage", store, "--no-encrypt", "--compress", "none", "--limit-rate", "64K")
	must(t, r, "backup --limit-rate 64K")
	if d := time.Since(start); d < 2500*time.Millisecond {
		t.Errorf("256 KiB at --limit-rate 64K took %v to a local store: the cap is not applied", d)
	}
}

// TestManifestWithoutEncryption: the data is encrypted but the manifest
// lost its encryption block. Giving the key must not be answered with
// "a passphrase is needed": the message says what is wrong. With the key,
// the manifest's MAC fails first (damage, exit 3).
func TestManifestWithoutEncryption(t *testing.T) {
	store := t.TempDir()
	key := keyFile(t, "correct horse battery staple")
	r := run(t, bytes.NewReader(corpus(64<<10)), nil, "backup", "--storage", store, "--encrypt-key-file", key)
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)
	editManifest(t, store, id, func(m map[string]any) {
		if m["encryption"] == nil {
			t.Fatal("precondition: the manifest has no encryption block")
		}
		delete(m, "encryption")
	})
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"restore", id, "--to-stdout"}, 1},
		{[]string{"verify", id, "--deep"}, 3},
	} {
		for _, withKey := range []bool{true, false} {
			args := append(tc.args, "--storage", store)
			if withKey {
				args = append(args, "--encrypt-key-file", key)
			}
			r := run(t, nil, nil, args...)
			code, want := tc.code, "records no encryption"
			if withKey {
				code, want = 3, "does not match its MAC"
			}
			if r.code != code || strings.Contains(r.stderr, "passphrase is needed") ||
				!strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "older backup") {
				t.Errorf("%s: exit %d, want %d and a message about the manifest\nstderr: %s", strings.Join(args, " "), r.code, code, r.stderr)
			}
		}
	}
}

// TestSwiftLimitRate: --limit-rate is read by the same parser and means
// the same with a Swift store as with a local one.
func TestSwiftLimitRate(t *testing.T) {
	testenv.NeedSwift(t)
	container := uniqueName("hostsafe-rate")
	env := append(swiftEnv(), "MYBAK_STORAGE=swift://"+container)
	t.Cleanup(func() {
		for _, c := range []string{container, container + "_segments"} {
			exec.Command("swift", "--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY"),
				"delete", c).Run()
		}
	})
	for _, bad := range []string{"abc", "-1", "10MB/s", "1.5M"} {
		r := run(t, strings.NewReader("data"), env, "backup", "--no-encrypt", "--limit-rate", bad)
		if r.code != 2 || !strings.Contains(r.stderr, "--limit-rate") {
			t.Errorf("--limit-rate %s with Swift: exit %d\nstderr: %s", bad, r.code, r.stderr)
		}
	}
	start := time.Now()
	r := run(t, bytes.NewReader(corpus(256<<10)), env, "backup", "--no-encrypt", "--compress", "none", "--limit-rate", "64K")
	must(t, r, "backup --limit-rate 64K to Swift")
	if d := time.Since(start); d < 2500*time.Millisecond {
		t.Errorf("256 KiB at --limit-rate 64K took %v to Swift", d)
	}
}
