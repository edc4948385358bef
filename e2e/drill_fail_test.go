//go:build linux

package e2e

// End-to-end tests of verify --drill when the backup cannot be brought up
// or the drill cannot run: every such drill ends with its report (text and
// --json), never a panic, and exits 3 for damage, 1 when it could not run.
// The server is the real mariadbd; where a test needs it to fail, a
// wrapper in front of it adds one start-up option (fault injection in
// front of the real server, never a fake one).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mariadbdPath finds the real server binary.
func mariadbdPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mariadbd"); err == nil {
		return "/usr/sbin/mariadbd"
	}
	t.Fatal("mariadbd is not installed (apt-get install mariadb-server)")
	return ""
}

// serverWrapper writes a script that runs the real mariadbd with extra
// options after the drill's own (the later option wins); --version passes
// through untouched, so the drill's version check sees the real server.
func serverWrapper(t *testing.T, extra ...string) string {
	t.Helper()
	// Outside t.TempDir (0700): the server's user must reach the script.
	dir, err := os.MkdirTemp("", "mybak-wrapper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "mariadbd-wrapper")
	script := "#!/bin/sh\ncase \"$1\" in --version|-V) exec " + mariadbdPath(t) + " \"$@\";; esac\nexec " +
		mariadbdPath(t) + " \"$@\" " + strings.Join(extra, " ") + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// smallTmpfs mounts a tmpfs of size at a new directory the server's user
// can enter, unmounted when the test ends.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	d := scratchParent(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0711", "tmpfs", d).CombinedOutput(); err != nil {
		t.Fatalf("mount a %s tmpfs (the test runs as root, as CI does): %v: %s", size, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", d).Run() })
	return d
}

func TestDrillFailuresEndWithReport(t *testing.T) {
	mysqlTests(t)
	src := startSandbox(t, "drill-fail-src", "")
	db := src.db(t)
	seed(t, db, "drillfail_db")
	store := t.TempDir()
	key := keyFile(t, "drill failure key")
	r := run(t, nil, nil, append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--encrypt-key-file", key},
		src.conn(false)...)...)
	must(t, r, "physical backup")
	id := strings.TrimSpace(r.stdout)
	r = run(t, nil, nil, append([]string{"backup", "--engine", "mariadb-dump", "--storage", store, "--encrypt-key-file", key},
		src.conn(false)...)...)
	must(t, r, "dump")
	dump := strings.TrimSpace(r.stdout)

	drill := func(scratch string, extra ...string) (result, drillReport, result) {
		t.Helper()
		args := append([]string{"verify", "--drill", "--storage", store, "--encrypt-key-file", key, "--scratch-dir", scratch}, extra...)
		rj := run(t, nil, nil, append(append([]string{}, args[:2]...), append([]string{"--json"}, args[2:]...)...)...)
		rt := run(t, nil, nil, args...)
		for _, r := range []result{rj, rt} {
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("the drill panicked:\n%s", r.stderr)
			}
		}
		return rj, parseDrill(t, rj), rt
	}

	t.Run("server does not start on the restored files", func(t *testing.T) {
		// A page size other than the restored tablespaces' one: the real
		// server refuses the datadir, as it would a damaged one.
		scratch := scratchParent(t)
		rj, rep, rt := drill(scratch, "--mysqld", serverWrapper(t, "--innodb-page-size=32k"), id)
		if rj.code != 3 || rep.OK || !strings.HasPrefix(rep.step("start server"), "failed") {
			t.Errorf("exit %d, start step %q, want 3 and failed\n%s", rj.code, rep.step("start server"), rj.stderr)
		}
		if !strings.Contains(rep.step("start server"), "page size") {
			t.Errorf("the start step does not show the server's own complaint: %q", rep.step("start server"))
		}
		if rep.step("restore") == "(not run)" || !strings.HasPrefix(rep.step("restore"), "ok") {
			t.Errorf("restore step %q", rep.step("restore"))
		}
		if rep.step("check tables") != "(not run)" {
			t.Errorf("the drill went past a server that did not start: check tables %q", rep.step("check tables"))
		}
		if rt.code != 3 || !strings.Contains(rt.stdout, "start server") || !strings.Contains(rt.stdout, "FAILED") {
			t.Errorf("text report: exit %d\n%s\n%s", rt.code, rt.stdout, rt.stderr)
		}
		assertEmpty(t, scratch)
		if p := serversUnder(scratch); len(p) > 0 {
			t.Errorf("scratch servers still running: %v", p)
		}
	})

	t.Run("scratch dir too small", func(t *testing.T) {
		scratch := smallTmpfs(t, "64m")
		for _, ref := range []string{id, dump} {
			rj, rep, rt := drill(scratch, ref)
			st := rep.step("scratch space")
			if rj.code != 1 || rep.OK || !strings.HasPrefix(st, "failed") || !strings.Contains(st, "needs about") ||
				!strings.Contains(st, "MiB") {
				t.Errorf("%s: exit %d, space step %q, want 1 and a failed step naming the room needed\n%s", ref, rj.code, st, rj.stderr)
			}
			if rt.code != 1 || !strings.Contains(rt.stdout, "scratch space") {
				t.Errorf("%s: text report: exit %d\n%s\n%s", ref, rt.code, rt.stdout, rt.stderr)
			}
		}
		assertEmpty(t, scratch)
	})

	t.Run("server runs out of space at start", func(t *testing.T) {
		// The restore fits, the server's 1 GiB redo log does not: the
		// drill could not run (exit 1), the backup is not called damaged.
		scratch := smallTmpfs(t, "400m")
		rj, rep, _ := drill(scratch, "--mysqld", serverWrapper(t, "--innodb-log-file-size=1G"), id)
		st := rep.step("start server")
		if rj.code != 1 || rep.OK || !strings.HasPrefix(st, "failed") || !strings.Contains(st, "ran out of space") {
			t.Errorf("exit %d, start step %q, want 1 and ran out of space\n%s", rj.code, st, rj.stderr)
		}
		assertEmpty(t, scratch)
		if p := serversUnder(scratch); len(p) > 0 {
			t.Errorf("scratch servers still running: %v", p)
		}
	})

	t.Run("server binary the server's user cannot run", func(t *testing.T) {
		// Root runs --version; the server runs as mysql, which cannot
		// enter the 0700 dir: the drill could not run (1), no damage.
		w := serverWrapper(t)
		os.Chmod(filepath.Dir(w), 0o700)
		scratch := scratchParent(t)
		rj, rep, _ := drill(scratch, "--mysqld", w, id)
		if rj.code != 1 || rep.OK || !strings.HasPrefix(rep.step("start server"), "failed") {
			t.Errorf("exit %d, start step %q, want 1\n%s", rj.code, rep.step("start server"), rj.stderr)
		}
		assertEmpty(t, scratch)
	})

	t.Run("missing server binary", func(t *testing.T) {
		scratch := scratchParent(t)
		rj, rep, _ := drill(scratch, "--mysqld", filepath.Join(t.TempDir(), "no-such-mariadbd"), id)
		if rj.code != 1 || rep.OK || !strings.HasPrefix(rep.step("server binary"), "failed") {
			t.Errorf("exit %d, server step %q, want 1\n%s", rj.code, rep.step("server binary"), rj.stderr)
		}
	})
}
