package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// TestRunDrainsStderr: a child writing far more than a pipe buffer to
// stderr while also writing stdout does not block; the log keeps it all,
// the tail the end, OnLine sees every line.
func TestRunDrainsStderr(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	var out bytes.Buffer
	n := 0
	_, err := Run(context.Background(), &Command{Path: "sh", Args: []string{"-c",
		`i=0; while [ $i -lt 20000 ]; do echo "line $i of noise noise noise" >&2; i=$((i+1)); done; echo stdout-data; echo last >&2`},
		Stdout: &out, LogPath: log, TailLines: 3, OnLine: func(string) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "stdout-data\n" || n != 20001 {
		t.Errorf("stdout %q, lines %d", out.String(), n)
	}
	b, _ := os.ReadFile(log)
	if bytes.Count(b, []byte("\n")) != 20001 {
		t.Errorf("log has %d lines", bytes.Count(b, []byte("\n")))
	}
}

func TestRunExitErrorTail(t *testing.T) {
	_, err := Run(context.Background(), &Command{Path: "sh", Args: []string{"-c", "echo one >&2; echo two >&2; exit 3"}, TailLines: 1})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || len(ee.Tail) != 1 || ee.Tail[0] != "two" {
		t.Fatalf("%#v", err)
	}
	if !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), "two") {
		t.Error(err)
	}
}

// TestRunCancelKillsGroup: cancelling kills the child and its children.
func TestRunCancelKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { // once the grandchild runs (its pid is written)
		for {
			if b, _ := os.ReadFile(pidFile); strings.HasSuffix(string(b), "\n") {
				cancel(errors.New("stop now"))
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	start := time.Now()
	_, err := Run(ctx, &Command{Path: "sh", Args: []string{"-c", "sleep 30 & echo $! > " + pidFile + "; wait"}})
	if err == nil || !strings.Contains(err.Error(), "stop now") || time.Since(start) > 5*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
	b, _ := os.ReadFile(pidFile)
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	if pid <= 0 {
		t.Fatalf("no grandchild pid in %s: %q", pidFile, b)
	}
	// The group was sent the signal; the grandchild is gone (or a zombie)
	// once the kernel delivered it.
	testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("grandchild %d to die", pid), func() bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || strings.Contains(string(st), ") Z ")
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("sink is full") }

// TestRunStdoutWriteError: a failing sink stops the child and is reported.
func TestRunStdoutWriteError(t *testing.T) {
	start := time.Now()
	_, err := Run(context.Background(), &Command{Path: "sh", Args: []string{"-c", "yes"}, Stdout: failWriter{}})
	if err == nil || !strings.Contains(err.Error(), "sink is full") || time.Since(start) > 5*time.Second {
		t.Fatalf("%v", err)
	}
}

// TestRunEarlyExitNoBrokenPipe: a child that stops reading and fails gets
// its own error reported, not EPIPE.
func TestRunEarlyExitNoBrokenPipe(t *testing.T) {
	in := io.MultiReader(strings.NewReader("first\n"), bytes.NewReader(make([]byte, 8<<20)))
	_, err := Run(context.Background(), &Command{Path: "sh", Args: []string{"-c", "read x; echo 'ERROR 1064 at line 1' >&2; exit 1"}, Stdin: in})
	var ee *ExitError
	if !errors.As(err, &ee) || strings.Contains(err.Error(), "broken pipe") || !strings.Contains(err.Error(), "ERROR 1064") {
		t.Fatalf("%v", err)
	}
	// Exit 0 before reading everything is an error too.
	_, err = Run(context.Background(), &Command{Path: "sh", Args: []string{"-c", "read x"}, Stdin: strings.NewReader(strings.Repeat("line\n", 2<<20))})
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("early exit 0: %v", err)
	}
	// Reading everything and exiting 0 is fine.
	var out bytes.Buffer
	if _, err := Run(context.Background(), &Command{Path: "cat", Stdin: strings.NewReader("abc"), Stdout: &out}); err != nil || out.String() != "abc" {
		t.Fatalf("cat: %q %v", out.String(), err)
	}
}

// TestRunSecretsNotOnArgv: the password reaches the child only through the
// defaults-extra-file, which is the first argument; MYSQL_PWD is not
// inherited.
func TestRunSecretsNotOnArgv(t *testing.T) {
	t.Setenv(PasswordEnv, "env-secret")
	var out bytes.Buffer
	// A script standing in for a tool prints its argv and the file.
	script := filepath.Join(t.TempDir(), "tool")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\"\ncat \"${1#--defaults-extra-file=}\"\necho \"pwd=$MYSQL_PWD\"\necho \"args=$*\"\n"), 0o755)
	out.Reset()
	if _, err := Run(context.Background(), &Command{Path: script, Args: []string{"--backup"},
		Conn: &Conn{User: "bk", Password: "s3cr\"et"}, Groups: []string{"client", "mariabackup"}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	first := strings.SplitN(s, "\n", 2)[0]
	if !strings.HasPrefix(first, "--defaults-extra-file=") || !strings.Contains(s, "[mariabackup]") ||
		!strings.Contains(s, `password="s3cr\"et"`) || strings.Contains(s, "env-secret") {
		t.Errorf("child saw:\n%s", s)
	}
	if first != "--defaults-extra-file=/dev/fd/3" {
		t.Errorf("the defaults file is not the inherited descriptor: %s", first)
	}
}

func TestRunToolNotFound(t *testing.T) {
	_, err := Run(context.Background(), &Command{Path: "no-such-tool-mybak"})
	if !errors.Is(err, ErrToolNotFound) {
		t.Fatal(err)
	}
}

func TestReadLineCutsLongLines(t *testing.T) {
	long := strings.Repeat("y", 100000)
	var out []string
	_, err := Run(context.Background(), &Command{Path: "sh", Args: []string{"-c", "printf '%s\\nshort\\n' " + long + " >&2"},
		OnLine: func(l string) { out = append(out, l) }})
	if err != nil || len(out) != 2 || len(out[0]) != MaxLineLen || out[1] != "short" {
		t.Fatalf("%d lines, %v", len(out), err)
	}
}
