package backup

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestMarkerAlive(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	host, bootID, pidNS, pidStart := thisProcess()
	if host == "" || bootID == "" || pidNS == "" || pidStart == 0 {
		t.Fatalf("cannot describe this process: host %q boot %q ns %q start %d", host, bootID, pidNS, pidStart)
	}
	self := Marker{Host: host, PID: os.Getpid(), BootID: bootID, PIDStart: pidStart, PIDNamespace: pidNS}
	with := func(f func(*Marker)) *Marker { m := self; f(&m); return &m }
	dead := deadPID(t)
	for _, tc := range []struct {
		name    string
		mk      *Marker
		written time.Time
		alive   bool
	}{
		{"this process", &self, now.Add(-time.Hour), true},
		{"this host, a dead pid, even with a fresh marker", with(func(m *Marker) { m.PID = dead }), now, false},
		{"this host, the pid reused by another process", with(func(m *Marker) { m.PIDStart++ }), now, false},
		{"this host, another boot", with(func(m *Marker) { m.BootID = "another" }), now.Add(-time.Hour), false},
		{"an older marker without boot ID, live pid", with(func(m *Marker) { m.BootID, m.PIDStart, m.PIDNamespace = "", 0, "" }), now.Add(-time.Hour), true},
		{"an older marker without boot ID, dead pid", with(func(m *Marker) { m.BootID, m.PIDStart, m.PIDNamespace, m.PID = "", 0, "", dead }), now, false},
		{"another pid namespace, fresh marker", with(func(m *Marker) { m.PIDNamespace = "pid:[1]" }), now.Add(-time.Minute), true},
		{"another host, fresh marker", with(func(m *Marker) { m.Host = "elsewhere" }), now.Add(-HeartbeatWindow + time.Second), true},
		{"another host, stale marker", with(func(m *Marker) { m.Host = "elsewhere" }), now.Add(-HeartbeatWindow), false},
		{"another host, no time", with(func(m *Marker) { m.Host = "elsewhere" }), time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why := markerAlive(tc.mk, tc.written, now)
			if (why != "") != tc.alive {
				t.Fatalf("markerAlive = %q, want alive %v", why, tc.alive)
			}
			if tc.alive && !strings.Contains(why, "pid ") {
				t.Errorf("the reason %q does not name the pid", why)
			}
		})
	}
}

func TestWriterAlive(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	live := NewID(time.Now())
	opts := Options{Engine: stdinLike{}, Label: "nightly"}
	if err := putMarker(ctx, st, ownLayout{}, newMarker(live, time.Now(), opts)); err != nil {
		t.Fatal(err)
	}
	killed := NewID(time.Now())
	mk := newMarker(killed, time.Now(), opts)
	mk.PID = deadPID(t)
	if err := putMarker(ctx, st, ownLayout{}, mk); err != nil {
		t.Fatal(err)
	}
	noMarker := NewID(time.Now())
	st.Put(ctx, noMarker+"/data.gz", strings.NewReader("x"))
	garbled := NewID(time.Now())
	st.Put(ctx, garbled+"/"+MarkerName, strings.NewReader("{not json"))

	entries, err := Catalogue(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		why, err := WriterAlive(ctx, st, e, time.Now())
		if err != nil {
			t.Fatalf("WriterAlive(%s): %v", e.ID, err)
		}
		got[e.ID] = why
	}
	if got[live] == "" || got[killed] != "" || got[noMarker] != "" || got[garbled] != "" {
		t.Errorf("WriterAlive: %q", got)
	}
	if why, err := InProgress(ctx, st, live); err != nil || !strings.Contains(why, "is writing it") {
		t.Errorf("InProgress(live) = %q, %v", why, err)
	}
	if why, err := InProgress(ctx, st, killed); err != nil || why != "" {
		t.Errorf("InProgress(killed) = %q, %v", why, err)
	}
	// A registered layout whose marker lies beside the data (as Trove's,
	// <id>.mybak.started.json; trove/marker_swift_test.go tests that one).
	tid := "beside-1"
	if err := putMarker(ctx, st, besideLayout{}, newMarker(tid, time.Now(), opts)); err != nil {
		t.Fatal(err)
	}
	oi, err := st.Stat(ctx, besideLayout{}.MarkerPath(tid))
	if err != nil {
		t.Fatal(err)
	}
	oi.Name = besideLayout{}.MarkerPath(tid)
	if why, err := WriterAlive(ctx, st, Entry{ID: tid, State: StateIncomplete, Objects: []storage.ObjectInfo{oi}}, time.Now()); err != nil || why == "" {
		t.Errorf("WriterAlive of a backup being written in another layout = %q, %v", why, err)
	}
	rm, err := ReadMarker(ctx, st, ownLayout{}, live)
	if err != nil || rm.Label != "nightly" || rm.PID != os.Getpid() || rm.BootID == "" || rm.PIDStart == 0 {
		t.Errorf("ReadMarker = %+v, %v", rm, err)
	}
}

type stdinLike struct{}

func (stdinLike) Name() string      { return "stdin" }
func (stdinLike) Extension() string { return "" }
func (stdinLike) Run(ctx context.Context, w io.Writer, _ *Manifest) (EngineResult, error) {
	return EngineResult{}, nil
}

// countingStore counts the Puts of the marker.
type countingStore struct {
	storage.Backend
	puts atomic.Int64
}

func (c *countingStore) Put(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	if strings.HasSuffix(name, "/"+MarkerName) {
		c.puts.Add(1)
	}
	return c.Backend.Put(ctx, name, r)
}

func TestHeartbeat(t *testing.T) {
	old := HeartbeatInterval
	HeartbeatInterval = 5 * time.Millisecond
	t.Cleanup(func() { HeartbeatInterval = old })
	st := &countingStore{Backend: newStore(t)}
	mk := newMarker(NewID(time.Now()), time.Now(), Options{Engine: stdinLike{}})
	stop := heartbeat(context.Background(), st, ownLayout{}, mk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	deadline := time.Now().Add(10 * time.Second)
	for st.puts.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	n := st.puts.Load()
	if n < 3 {
		t.Fatalf("the marker was rewritten %d times in 10s", n)
	}
	stop() // twice is fine
	// After stop returns nothing writes the marker any more (a failed
	// backup deletes it next): wait several beats to see none.
	time.Sleep(10 * HeartbeatInterval)
	if m := st.puts.Load(); m != n {
		t.Errorf("the marker was written %d times after stop", m-n)
	}
	if _, err := ReadMarker(context.Background(), st, ownLayout{}, mk.ID); err != nil {
		t.Errorf("the rewritten marker: %v", err)
	}
}

// besideLayout is a registered layout that keeps a backup's objects beside
// each other at the root of the store, as Trove's does (package trove
// cannot be imported here).
type besideLayout struct{}

func (besideLayout) Name() string                  { return "test-beside" }
func (besideLayout) ValidateID(id string) error    { return nil }
func (besideLayout) ObjectPath(_, n string) string { return n }
func (besideLayout) ManifestPath(id string) string { return id + ".test.json" }
func (besideLayout) MarkerPath(id string) string   { return id + ".test-started.json" }
func (besideLayout) Synthesized(m *Manifest) bool  { return m.RawSHA256 == "" }
func (besideLayout) ListArgs() string              { return " --layout test-beside" }

func init() { RegisterLayout(besideLayout{}) }
