package mysql

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunDefaultsInMemory: the child's defaults file is an inherited
// in-memory file, 0600, that the child can open by its name more than once
// (mariabackup reads its option files twice) and that no directory holds.
func TestRunDefaultsInMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	script := filepath.Join(t.TempDir(), "tool")
	os.WriteFile(script, []byte(`#!/bin/sh
f="${1#--defaults-extra-file=}"
cat "$f"; cat "$f"
echo "mode=$(stat -L -c %a "$f")"
echo "target=$(readlink "$f" || readlink /proc/self/fd/3)"
`), 0o755)
	var out bytes.Buffer
	if _, err := Run(context.Background(), &Command{Path: script, Conn: &Conn{User: "bk", Password: "pw-in-memory"}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, `password="pw-in-memory"`) != 2 {
		t.Errorf("the child could not read its defaults twice:\n%s", s)
	}
	if !strings.Contains(s, "mode=600\n") {
		t.Errorf("the defaults are not mode 0600 (the tools ignore a world-writable option file):\n%s", s)
	}
	if !strings.Contains(s, "target=/memfd:mybak-defaults") && !strings.Contains(s, "target=/proc/self/fd/3") {
		t.Errorf("the defaults are not an in-memory file:\n%s", s)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 0 {
		t.Errorf("Run left files in TMPDIR: %v", ents)
	}
}

// runHelperEnv makes the test binary a mybak stand-in that runs the tool
// it names (a script that execs sleep) through Run with a password (see
// TestRunChildDiesWithParent).
const runHelperEnv = "MYBAK_TEST_RUN_HELPER"

func init() {
	tool := os.Getenv(runHelperEnv)
	if tool == "" {
		return
	}
	fmt.Println("running")
	_, err := Run(context.Background(), &Command{Path: tool, Conn: &Conn{Password: "helper-secret"}})
	fmt.Fprintln(os.Stderr, err)
	os.Exit(3)
}

// TestRunChildDiesWithParent: a child started by Run ends when its parent
// is killed with SIGKILL (which no deferred cleanup survives), and leaves
// no file with the password.
func TestRunChildDiesWithParent(t *testing.T) {
	tmp := t.TempDir()
	tool := filepath.Join(t.TempDir(), "tool")
	os.WriteFile(tool, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runHelperEnv+"="+tool, "TMPDIR="+tmp)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	defer func() { cmd.Process.Kill(); <-exited }()
	buf := make([]byte, 8)
	stdout.Read(buf) // "running": the helper is past its start-up
	go func() { cmd.Wait(); close(exited) }()
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0 && time.Now().Before(deadline); {
		child = procChild(cmd.Process.Pid, "sleep")
	}
	if child == 0 {
		t.Fatal("the helper's sleep child never appeared")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	deadline := time.Now().Add(5 * time.Second)
	for procAlive(child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling /proc: the child is not ours to wait for
	}
	if procAlive(child) {
		syscall.Kill(child, syscall.SIGKILL)
		t.Fatalf("the child (pid %d) outlived its killed parent by 5s", child)
	}
	var left []string
	filepath.Walk(tmp, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("files left in TMPDIR: %v", left)
	}
}

// procChild returns the pid of a child of ppid whose comm is name, or 0.
func procChild(ppid int, name string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		i, j := bytes.IndexByte(st, '('), bytes.LastIndexByte(st, ')')
		if err != nil || i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(st[j+1:]))
		if string(st[i+1:j]) == name && len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			return pid
		}
	}
	return 0
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	j := bytes.LastIndexByte(st, ')')
	return j < 0 || !bytes.HasPrefix(bytes.TrimSpace(st[j+1:]), []byte("Z"))
}

// TestRunStripsSecretEnv: no child inherits a secret from mybak's
// environment (the Swift key and token, the MySQL password, mybak's own
// key and replication password variables); other variables pass.
func TestRunStripsSecretEnv(t *testing.T) {
	for _, k := range []string{PasswordEnv, "ST_KEY", "OS_PASSWORD", "OS_AUTH_TOKEN", "MYBAK_ENCRYPT_KEY", "MYBAK_REPLICATION_PASSWORD"} {
		t.Setenv(k, "secret-of-"+k)
	}
	t.Setenv("MYBAK_TEST_HARMLESS", "kept")
	var out bytes.Buffer
	if _, err := Run(context.Background(), &Command{Path: "env", Stdout: &out, Env: []string{"EXTRA=1"}}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "secret-of-") || !strings.Contains(s, "MYBAK_TEST_HARMLESS=kept") || !strings.Contains(s, "EXTRA=1") {
		t.Errorf("child environment:\n%s", s)
	}
}
