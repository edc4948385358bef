//go:build linux

package e2e

// What a killed mybak leaves behind: its children must end with it, and
// the MySQL password it gave them must not stay on disk.

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// childOf returns the pid of a process whose parent is ppid and whose
// command name (comm) is one of names, or 0.
func childOf(ppid int, names ...string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		open, close := bytes.IndexByte(st, '('), bytes.LastIndexByte(st, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(st[close+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		for _, n := range names {
			if string(st[open+1:close]) == n {
				return pid
			}
		}
	}
	return 0
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(st, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(st[i+1:]), []byte("Z"))
}

// filesHolding lists the regular files below dir that contain needle.
func filesHolding(dir, needle string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestKill9LeavesNoSecret: mybak killed with SIGKILL while its backup tool
// runs. The tool must end within seconds (not run on with its connection
// open), and no file under TMPDIR may hold the MySQL password: the tool got
// it without a file that outlives mybak.
func TestKill9LeavesNoSecret(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	seed(t, db, "e2e_kill9")
	pw := p.password(t)
	for _, tc := range []struct {
		name  string
		tools []string
		args  []string
		hold  func(t *testing.T) // keeps the tool busy until the test ends
	}{
		{"mariabackup", []string{"mariabackup", "mariadb-backup"}, []string{"--engine", "mariabackup", "--throttle", "1"}, nil},
		{"mariadb-dump", []string{"mariadb-dump", "mysqldump"}, []string{"--engine", "mariadb-dump"}, func(t *testing.T) {
			// A write lock held by another session: the dump waits on it.
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecContext(context.Background(), "LOCK TABLES e2e_kill9.items WRITE"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				c.ExecContext(context.Background(), "UNLOCK TABLES")
				c.Close()
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			if tc.hold != nil {
				tc.hold(t)
			}
			args := append(append([]string{"backup", "--storage", t.TempDir(), "--no-encrypt", "--row-counts", "off"}, tc.args...), p.conn(false)...)
			// The password on no process's argv (the watcher fails the test).
			stopWatch := testenv.ArgvWatch(t, pw, "--defaults-file=/dev/fd/3")
			cmd := exec.Command(mybakBin, args...)
			cmd.Env = append(cleanEnv(), "TMPDIR="+tmp)
			var se bytes.Buffer
			cmd.Stderr = &se
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			defer func() { cmd.Process.Kill(); <-exited }()

			var child int
			for deadline := time.Now().Add(30 * time.Second); child == 0; {
				select {
				case <-exited:
					t.Fatalf("mybak exited before its tool was seen: %s", se.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s child of mybak within 30s: %s", tc.name, se.String())
				}
				child = childOf(cmd.Process.Pid, tc.tools...)
				// The tool at work, not a short-lived probe of it (mybak
				// runs `TOOL --version` first): its command line names
				// the inherited settings.
				if c, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/cmdline"); child != 0 && !bytes.Contains(c, []byte("/dev/fd/3")) {
					child = 0
					time.Sleep(time.Millisecond)
				}
			}
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/cmdline")
			t.Logf("%s (pid %d): %s", tc.name, child, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))

			testenv.Sampled(t) // the watch saw the child before it goes
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			stopWatch()
			if !bytes.Contains(cmdline, []byte("--defaults-file=/dev/fd/3\x00")) {
				t.Errorf("%s does not read its settings from the inherited descriptor", tc.name)
			}
			deadline := time.Now().Add(10 * time.Second)
			for alive(child) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // polling /proc: the child is not ours to wait for
			}
			if alive(child) {
				syscall.Kill(child, syscall.SIGKILL)
				t.Errorf("%s (pid %d) still ran 10s after mybak was killed", tc.name, child)
			}
			if left := filesHolding(tmp, pw); len(left) > 0 {
				t.Errorf("the MySQL password is left on disk after kill -9: %v", left)
			}
		})
	}
}
