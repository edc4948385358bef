package logicaldump

import (
	"bufio"
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

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
)

// ownServer is a MariaDB of one test's own, started with
// scripts/mysql-sandbox.sh under the package's sandbox directory (same
// users and passwords as the package's server), destroyed when the test
// ends: a test that restarts its server, or needs other server options,
// disturbs no other test.
type ownServer struct {
	*server
	name, script, dir string
}

// startOwnServer starts sandbox name with the extra mariadbd options.
func startOwnServer(t *testing.T, name string, extra ...string) *ownServer {
	t.Helper()
	testServer(t) // the switch, and the package's sandbox directory
	base := os.Getenv("MYBAK_SANDBOX_DIR")
	if base == "" {
		t.Fatal("MYBAK_SANDBOX_DIR is not set")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "mysql-sandbox.sh"))
	if err != nil {
		t.Fatal(err)
	}
	o := &ownServer{name: name, script: script, dir: filepath.Join(base, name)}
	exec.Command(script, "destroy", name).Run()
	t.Cleanup(func() {
		if out, err := exec.Command(script, "destroy", name).CombinedOutput(); err != nil {
			t.Errorf("destroy sandbox %s: %v\n%s", name, err, out)
		}
	})
	if out, err := exec.Command(script, append([]string{"start", name}, extra...)...).CombinedOutput(); err != nil {
		t.Fatalf("start sandbox %s: %v\n%s", name, err, out)
	}
	out, err := exec.Command(script, "env", name).Output()
	if err != nil {
		t.Fatalf("%s env %s: %v", script, name, err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	port, _ := strconv.Atoi(env["MYBAK_TEST_MYSQL_PORT"])
	if port == 0 {
		t.Fatalf("%s env %s gave no port:\n%s", script, name, out)
	}
	o.server = &server{
		backup: mysql.Conn{Host: "127.0.0.1", Port: port, User: env["MYBAK_TEST_MYSQL_USER"], PasswordFile: env["MYBAK_TEST_MYSQL_PASSWORD_FILE"]},
		admin:  mysql.Conn{Host: "127.0.0.1", Port: port, User: env["MYBAK_TEST_MYSQL_ADMIN_USER"], PasswordFile: env["MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE"]},
	}
	return o
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

var _ = testenv.Required
