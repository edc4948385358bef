package testenv

// The watchers sample the host's processes during a test, as `ps` would,
// to prove that no secret reaches a command line or an environment.

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// watch calls look for every process (pid, /proc/PID) every 10 ms until
// the returned stop is called; stop returns how many matches look counted.
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
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() int { close(done); wg.Wait(); return seen }
}

// ArgvWatch samples every process's argv until stop is called and fails
// the test if secret shows up in one. stop returns how many samples saw
// marker, to prove that the sampling saw the process of interest.
func ArgvWatch(t testing.TB, secret, marker string) (stop func() int) {
	return watch(func(pid string) int {
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
}

// EnvironWatch samples the environment of every process except those
// running the executable skip until stop is called; stop returns how many
// samples contained needle (each is logged with its command line).
func EnvironWatch(t testing.TB, needle, skip string) (stop func() int) {
	return watch(func(pid string) int {
		if exe, _ := os.Readlink("/proc/" + pid + "/exe"); skip != "" && exe == skip {
			return 0
		}
		b, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil || !bytes.Contains(b, []byte(needle)) {
			return 0
		}
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		t.Logf("pid %s has it: %q", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		return 1
	})
}
