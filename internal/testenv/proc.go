package testenv

// The watchers sample the host's processes during a test, as `ps` would,
// to prove that no secret reaches a command line or an environment. Each
// has a positive control: a watch that never saw the process it was
// watching proves nothing, and fails the test.

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rounds counts the passes over /proc of every watch.
var rounds atomic.Int64

// Sampled waits until the running watches made two more passes over /proc
// (up to 30 s): a process that ran all that time was seen by each. A test
// that ends the process it watches (kill -9) calls it first, so that the
// watch's positive control is not left to chance.
func Sampled(t testing.TB) {
	t.Helper()
	n := rounds.Load() + 2
	deadline := time.Now().Add(30 * time.Second)
	for rounds.Load() < n {
		if time.Now().After(deadline) {
			t.Fatal("no watch made a pass over /proc in 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// watch calls look for every process (pid, /proc/PID) every 10 ms until
// the returned stop is called, which returns the sum of what look returned.
func watch(look func(pid string) int) (stop func() int) {
	done := make(chan struct{})
	var seen int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if _, err := strconv.Atoi(e.Name()); err == nil {
					seen += look(e.Name())
				}
			}
			rounds.Add(1)
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	return func() int { once.Do(func() { close(done); wg.Wait() }); return seen }
}

// ArgvWatch samples every process's argv until stop is called and fails
// the test if secret shows up in one. marker is the positive control: an
// argument of the process whose command line must not hold the secret
// (e.g. "--stream=xbstream" for mariabackup). stop fails the test when no
// sample saw marker (the watch proved nothing), and returns how many did.
func ArgvWatch(t testing.TB, secret, marker string) (stop func() int) {
	t.Helper()
	if secret == "" || marker == "" {
		t.Fatal("ArgvWatch needs a secret and a marker")
	}
	s := watch(func(pid string) int {
		b, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil || len(b) == 0 {
			return 0
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("secret visible on the argv of pid %s: %q", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
		if bytes.Contains(b, []byte(marker)) {
			return 1
		}
		return 0
	})
	return func() int {
		n := s()
		if n == 0 {
			t.Errorf("the argv watch never saw a process with %q: it proved nothing about the secret", marker)
		}
		return n
	}
}

// EnvironWatch samples the environment of every process until stop is
// called. Processes running the executable parent (mybak, which is given
// needle) are the positive control: stop fails the test when no sample of
// one showed needle, since then the watch could not see what it looks
// for. Every other process whose environment holds needle is logged with
// its command line and counted: stop returns that count (want 0). The
// environment of a descendant of parent that cannot be read fails the test
// rather than counting as clean.
func EnvironWatch(t testing.TB, needle, parent string) (stop func() int) {
	t.Helper()
	if needle == "" || parent == "" {
		t.Fatal("EnvironWatch needs a needle and the parent's executable")
	}
	var mu sync.Mutex
	control := 0
	s := watch(func(pid string) int {
		exe, _ := os.Readlink("/proc/" + pid + "/exe")
		b, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil {
			gone := errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
			if !gone && descends(pid, parent) {
				t.Errorf("cannot read the environment of pid %s (%s), a child of %s: %v", pid, exe, parent, err)
			}
			return 0
		}
		if !bytes.Contains(b, []byte(needle)) {
			return 0
		}
		if exe == parent {
			mu.Lock()
			control++
			mu.Unlock()
			return 0
		}
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		t.Logf("pid %s has it: %q", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		return 1
	})
	return func() int {
		n := s()
		mu.Lock()
		defer mu.Unlock()
		if control == 0 {
			t.Errorf("the environment watch never saw %s with %q: it proved nothing about its children", parent, needle)
		}
		return n
	}
}

// descends reports whether process pid has an ancestor running the
// executable exe (its parent, grandparent, ...).
func descends(pid, exe string) bool {
	for range 64 {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return false
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] == "0" || f[1] == "1" {
			return false
		}
		pid = f[1]
		if p, _ := os.Readlink("/proc/" + pid + "/exe"); p == exe {
			return true
		}
	}
	return false
}
