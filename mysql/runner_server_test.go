package mysql

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRunServerOptions: what a drill's scratch server needs of Run: the
// child's pid once it runs, an environment of its own, another user.
func TestRunServerOptions(t *testing.T) {
	var out bytes.Buffer
	pid := 0
	_, err := Run(context.Background(), &Command{Path: "/bin/sh", Args: []string{"-c", `echo "$$ $(id -u) [$ONLY] [$HOME]"`},
		Stdout: &out, Env: []string{"ONLY=this", "PATH=/usr/bin:/bin"}, ExactEnv: true,
		Started: func(p int) { pid = p }})
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(pid) + " " + strconv.Itoa(os.Getuid()) + " [this] []"
	if got := strings.TrimSpace(out.String()); pid == 0 || got != want {
		t.Errorf("got %q, want %q (Started's pid, our uid, only the given environment)", got, want)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: Credential not tested")
		return
	}
	out.Reset()
	_, err = Run(context.Background(), &Command{Path: "/bin/sh", Args: []string{"-c", "id -u"}, Stdout: &out,
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534}})
	if err != nil || strings.TrimSpace(out.String()) != "65534" {
		t.Errorf("Credential: %v, uid %q, want 65534", err, out.String())
	}
	// A program the user cannot run fails at start: Started is not called.
	started := false
	_, err = Run(context.Background(), &Command{Path: "/bin/sh", Args: []string{"-c", "true"}, Started: func(int) { started = true },
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}, Dir: "/root/no-such-dir"})
	if err == nil || started {
		t.Errorf("a child that cannot start: err %v, started %v", err, started)
	}
}
