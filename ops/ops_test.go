package ops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	p := LockPath(dir, "backup", "/var/backups", "nightly")
	if p != LockPath(dir, "backup", "/var/backups", "nightly") || p == LockPath(dir, "backup", "/var/backups", "weekly") {
		t.Fatal("LockPath is not a function of the job")
	}
	ctx := context.Background()
	l1, err := AcquireLock(ctx, p, "backup nightly", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = AcquireLock(ctx, p, "backup nightly", 500*time.Millisecond)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid") || !strings.Contains(err.Error(), "--lock-timeout") {
		t.Fatalf("second lock: %v", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", d)
	}
	// A waiter gets the lock once the holder lets go: let go once the
	// waiter has opened the lock file (so it found the lock held).
	type got struct {
		l   *Lock
		err error
	}
	waited := make(chan got, 1)
	go func() {
		l, err := AcquireLock(ctx, p, "backup nightly", time.Minute)
		waited <- got{l, err}
	}()
	waitOpen(t, p, 2)
	l1.Unlock()
	g := <-waited
	if g.err != nil {
		t.Fatalf("waiting lock: %v", g.err)
	}
	l2 := g.l
	l2.Unlock()
	l2.Unlock() // twice is harmless

	cctx, cancel := context.WithCancel(ctx)
	l3, _ := AcquireLock(ctx, p, "x", 0)
	defer l3.Unlock()
	cancelled := make(chan error, 1)
	go func() { _, err := AcquireLock(cctx, p, "x", time.Minute); cancelled <- err }()
	waitOpen(t, p, 2) // waiting behind l3
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	if _, err := AcquireLock(ctx, filepath.Join(dir, "no", "such", "dir", "x.lock"), "x", 0); err == nil || !strings.Contains(err.Error(), "MYBAK_LOCK_DIR") {
		t.Errorf("unwritable lock dir: %v", err)
	}
}

// waitOpen waits until this process has path open n times (a holder and
// a waiter that opened the file before trying the lock).
func waitOpen(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ents, _ := os.ReadDir("/proc/self/fd")
		open := 0
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
				open++
			}
		}
		if open >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is open %d times after 30s, want %d", path, open, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMetrics(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mybak.prom")
	t0 := time.Unix(1_800_000_000, 0)
	ok := Run{Command: "backup", Engine: "mariabackup", Storage: "/b", Success: true, Start: t0, End: t0.Add(90 * time.Second),
		Values: map[string]float64{"raw_bytes": 1000, "stored_bytes": 400}}
	if err := WriteMetrics(p, ok); err != nil {
		t.Fatal(err)
	}
	verify := Run{Command: "verify", Engine: "mariabackup", Storage: "/b", Success: true, Start: t0, End: t0.Add(time.Second)}
	if err := WriteMetrics(p, verify); err != nil {
		t.Fatal(err)
	}
	failed := ok
	failed.Success, failed.Start, failed.End, failed.Values = false, t0.Add(time.Hour), t0.Add(time.Hour+time.Second), nil
	if err := WriteMetrics(p, failed); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	s := string(b)
	for _, want := range []string{
		`mybak_last_success_timestamp_seconds{command="backup",engine="mariabackup",storage="/b",label=""} 1.80000009e+09`,
		`mybak_last_run_timestamp_seconds{command="backup",engine="mariabackup",storage="/b",label=""} 1.800003601e+09`,
		`mybak_last_run_success{command="backup",engine="mariabackup",storage="/b",label=""} 0`,
		`mybak_last_run_success{command="verify",engine="mariabackup",storage="/b",label=""} 1`,
		`mybak_last_raw_bytes{command="backup",engine="mariabackup",storage="/b",label=""} 1000`,
		"# TYPE mybak_last_run_success gauge",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("metrics file lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "mybak_last_run_success{") != 2 {
		t.Errorf("series duplicated:\n%s", s)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if err := WriteMetrics(filepath.Join(p, "sub"), ok); err == nil {
		t.Error("writing under a file succeeded")
	}
}

// TestMetricsGauges: gauges that describe the state of something rather
// than the last run (the binary log archive's newest event) keep the name
// they are given, without "last_".
func TestMetricsGauges(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mybak.prom")
	t0 := time.Unix(1_800_000_000, 0)
	r := Run{Command: "binlog-archive", Storage: "/b", Success: true, Start: t0, End: t0,
		Gauges: map[string]float64{"binlog_last_event_timestamp_seconds": 1.8e9}}
	if err := WriteMetrics(p, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := `mybak_binlog_last_event_timestamp_seconds{command="binlog-archive",engine="",storage="/b",label=""} 1.8e+09`
	if !strings.Contains(string(b), want) || strings.Contains(string(b), "mybak_last_binlog") {
		t.Errorf("metrics file:\n%s\nwant %s and no mybak_last_binlog", b, want)
	}
}
