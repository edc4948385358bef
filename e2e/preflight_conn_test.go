//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

// Connections like the mysql client (issue 12.3): the option files and
// the socket, and root through unix_socket authentication as `sudo
// mariadb` logs in. The sandbox creates root@localhost IDENTIFIED VIA
// unix_socket; these tests run as OS root (CI).

// homeWith returns a HOME whose .my.cnf is content ("" for none).
func homeWith(t *testing.T, content string) string {
	t.Helper()
	home := t.TempDir()
	if content != "" {
		if err := os.WriteFile(filepath.Join(home, ".my.cnf"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func preflightOK(t *testing.T, r result) {
	t.Helper()
	var rep struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("exit %d: preflight --json: %v\nstdout: %s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	if r.code != 0 || !rep.OK {
		t.Fatalf("exit %d, report %+v\nstderr: %s", r.code, rep, r.stderr)
	}
}

func TestMySQLConnLikeTheClient(t *testing.T) {
	p := primary(t)
	testenv.Need(t, os.Geteuid() == 0, "unix_socket authentication as root needs the tests to run as root")
	pre := []string{"preflight", "--json", "--sample", "1s", "--engine", "mariabackup", "--work-dir", t.TempDir()}
	// USER is not root, as after `sudo -E`: the clients send root for
	// the effective uid 0 whatever USER says.
	env := func(home string) []string { return []string{"HOME=" + home, "USER=nobody", "LOGNAME=nobody"} }

	t.Run("root through --socket, no user, no password", func(t *testing.T) {
		r := run(t, nil, env(homeWith(t, "")), append(pre, "--socket", p.socket)...)
		preflightOK(t, r)
	})
	t.Run("no connection flags: ~/.my.cnf [client]", func(t *testing.T) {
		r := run(t, nil, env(homeWith(t, "[client]\nsocket="+p.socket+"\nuser=root\n")), pre...)
		preflightOK(t, r)
	})
	t.Run("the error names what was used and where it came from", func(t *testing.T) {
		home := homeWith(t, "[client]\nsocket = "+p.socket+"\n[mybak]\nuser = nosuchuser\n")
		r := run(t, nil, env(home), pre...)
		want := "socket " + p.socket + " (from " + home + "/.my.cnf line 2), user nosuchuser (from " + home + "/.my.cnf line 4), no password"
		if r.code == 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "access denied") {
			t.Errorf("exit %d, stderr:\n%s\nwant it to contain %q", r.code, r.stderr, want)
		}
	})
	t.Run("a socket that does not exist is named with its origin", func(t *testing.T) {
		home := homeWith(t, "[client]\nsocket=/nonexistent/mysqld.sock\nuser=root\n")
		r := run(t, nil, env(home), pre...)
		want := "socket /nonexistent/mysqld.sock (from " + home + "/.my.cnf line 2)"
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant it to contain %q", r.code, r.stderr, want)
		}
	})
	t.Run("a broken option file is an error, not ignored", func(t *testing.T) {
		home := homeWith(t, "[client]\n!include /nonexistent/extra.cnf\n")
		r := run(t, nil, env(home), pre...)
		if r.code != 2 || !strings.Contains(r.stderr, home+"/.my.cnf line 2: !include") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("--defaults-extra-file adds a file, --defaults-file replaces them", func(t *testing.T) {
		extra := filepath.Join(homeWith(t, "[client]\nsocket="+p.socket+"\nuser=root\n"), ".my.cnf")
		r := run(t, nil, env(homeWith(t, "")), append(pre, "--defaults-extra-file", extra)...)
		preflightOK(t, r)
		// ~/.my.cnf is read after the extra file and wins; --defaults-file reads only its own.
		home := homeWith(t, "[client]\nuser=nosuchuser\n")
		if r := run(t, nil, env(home), append(pre, "--defaults-extra-file", extra)...); r.code == 0 || !strings.Contains(r.stderr, "user nosuchuser (from "+home) {
			t.Errorf("~/.my.cnf after --defaults-extra-file: exit %d\n%s", r.code, r.stderr)
		}
		preflightOK(t, run(t, nil, env(home), append(pre, "--defaults-file", extra)...))
		if r := run(t, nil, env(home), append(pre, "--defaults-file", extra, "--defaults-extra-file", extra)...); r.code != 2 {
			t.Errorf("--defaults-file with --defaults-extra-file: exit %d\n%s", r.code, r.stderr)
		}
		open := filepath.Join(t.TempDir(), "open.cnf")
		if err := os.WriteFile(open, []byte("[client]\nuser=root\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(open, 0o666)
		if r := run(t, nil, env(home), append(pre, "--defaults-extra-file", open)...); r.code != 2 || !strings.Contains(r.stderr, "--defaults-extra-file: insecure permissions") {
			t.Errorf("a --defaults-extra-file others can write: exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("backup: mariabackup gets what [mybak] said (the tools do not read [mybak])", func(t *testing.T) {
		home := homeWith(t, "[mybak]\nsocket="+p.socket+"\nuser=root\n")
		store := t.TempDir()
		r := run(t, nil, env(home), "backup", "--engine", "mariabackup", "--storage", store, "--no-encrypt", "--row-counts", "off")
		must(t, r, "backup with ~/.my.cnf [mybak]")
		if !strings.Contains(r.stderr, "engine=mariabackup") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
	})
}
