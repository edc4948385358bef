package logicaldump

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/mysql/mysqltest"
)

// ownServer is a MariaDB of one test's own (mysqltest.Start: beside
// the package's, same users, destroyed when the test ends), with the
// means to take it down and bring it back that a restart test needs.
type ownServer struct {
	*server
	name, script, dir string
}

// startOwnServer starts sandbox name.
func startOwnServer(t *testing.T, name string) *ownServer {
	t.Helper()
	ms := mysqltest.Start(t, name)
	script, err := mysqltest.Script()
	if err != nil {
		t.Fatal(err)
	}
	return &ownServer{server: &server{backup: ms.Backup, admin: ms.Admin}, name: name, script: script,
		dir: filepath.Join(os.Getenv("MYBAK_SANDBOX_DIR"), name)}
}

// pid is the running mariadbd's process id, checked against its command
// line (the pid file may be stale).
func (o *ownServer) pid() (int, error) {
	b, err := os.ReadFile(filepath.Join(o.dir, "mysqld.pid"))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmd, []byte("--defaults-file="+filepath.Join(o.dir, "my.cnf"))) {
		return 0, fmt.Errorf("process %d is not sandbox %s's mariadbd", pid, o.name)
	}
	return pid, nil
}

// kill9 kills mariadbd with SIGKILL (a crash: the restart recovers) and
// waits until the process is gone.
func (o *ownServer) kill9() error {
	pid, err := o.pid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd %d still runs a minute after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop stops mariadbd cleanly (the script's stop: SIGTERM, wait).
func (o *ownServer) stop() error {
	if out, err := exec.Command(o.script, "stop", o.name).CombinedOutput(); err != nil {
		return fmt.Errorf("stop sandbox %s: %v\n%s", o.name, err, out)
	}
	return nil
}

// start starts the stopped (or killed) server again on its datadir and
// waits until it answers; the port stays when it is free.
func (o *ownServer) start() error {
	if out, err := exec.Command(o.script, "start", o.name).CombinedOutput(); err != nil {
		return fmt.Errorf("restart sandbox %s: %v\n%s", o.name, err, out)
	}
	return nil
}
