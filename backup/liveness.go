package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mybak/mybak/storage"
)

// Marker is the content of a backup's started.json (MarkerName), written
// when the backup starts and rewritten every HeartbeatInterval while it
// runs. It says who writes the backup, so that prune can tell a backup in
// progress from the leftover of a killed run (WriterAlive).
type Marker struct {
	ID           string    `json:"id"`
	StartTime    time.Time `json:"start_time"`
	Host         string    `json:"host"`
	PID          int       `json:"pid"`
	Engine       string    `json:"engine"`
	MybakVersion string    `json:"mybak_version,omitempty"`
	Label        string    `json:"label,omitempty"`
	// BootID is the host's /proc/sys/kernel/random/boot_id: a pid only
	// names the same process within one boot.
	BootID string `json:"boot_id,omitempty"`
	// PIDStart is the writer's start time in clock ticks after boot
	// (/proc/PID/stat field 22): a pid reused by another process has
	// another one.
	PIDStart uint64 `json:"pid_start,omitempty"`
	// PIDNamespace is the writer's pid namespace (/proc/self/ns/pid): a
	// container on the same kernel sees other pids.
	PIDNamespace string `json:"pid_namespace,omitempty"`
}

// HeartbeatInterval is how often a running backup rewrites its marker;
// HeartbeatWindow is how recent a marker must be for prune on another
// host to believe its writer alive. The window spans several intervals,
// so a slow store or a clock a little off does not make a live writer
// look dead.
var (
	HeartbeatInterval = time.Minute
	HeartbeatWindow   = 5 * time.Minute
)

// thisProcess describes the running process as a Marker does.
func thisProcess() (host, bootID, pidNS string, pidStart uint64) {
	host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		bootID = strings.TrimSpace(string(b))
	}
	pidNS, _ = os.Readlink("/proc/self/ns/pid")
	pidStart, _ = processStart(os.Getpid())
	return host, bootID, pidNS, pidStart
}

// processStart returns the start time (clock ticks after boot) of process
// pid, from /proc/PID/stat; an error when there is no such process.
func processStart(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process %d", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the comm, field 3 (state) is f[0]; field 22 (starttime) f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// newMarker describes the backup Run starts.
func newMarker(id string, start time.Time, opts Options) Marker {
	host, bootID, pidNS, pidStart := thisProcess()
	return Marker{
		ID: id, StartTime: start.UTC(), Host: host, PID: os.Getpid(), Engine: opts.Engine.Name(),
		MybakVersion: opts.Version, Label: opts.Label, BootID: bootID, PIDStart: pidStart, PIDNamespace: pidNS,
	}
}

// putMarker writes mk as its backup's marker (MarkerPath).
func putMarker(ctx context.Context, st storage.Backend, layout Layout, mk Marker) error {
	b, err := json.MarshalIndent(mk, "", "  ")
	if err != nil {
		return err
	}
	name := layout.MarkerPath(mk.ID)
	if _, err := st.Put(ctx, name, bytesReader(b)); err != nil {
		return fmt.Errorf("backup %s: write %s to %s: %w", mk.ID, name, st.Location(), err)
	}
	return nil
}

// heartbeat rewrites mk every HeartbeatInterval until the returned
// function is called; that function waits for a rewrite in flight, so
// nothing writes the marker after it returns (a failed backup then
// deletes it, a complete one keeps it). A failed rewrite is logged and
// tried again at the next beat: it only matters to a prune on another host.
func heartbeat(ctx context.Context, st storage.Backend, layout Layout, mk Marker, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := putMarker(ctx, st, layout, mk); err != nil && ctx.Err() == nil {
					log.Debug("could not refresh the backup's marker", "id", mk.ID, "err", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}

// ReadMarker reads the marker of backup id in layout; storage.ErrNotFound
// (wrapped) when it has none.
func ReadMarker(ctx context.Context, st storage.Backend, layout Layout, id string) (*Marker, error) {
	if err := layout.ValidateID(id); err != nil {
		return nil, err
	}
	name := layout.MarkerPath(id)
	rc, err := st.Get(ctx, name, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var mk Marker
	if err := json.Unmarshal(b, &mk); err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	if mk.ID != id {
		return nil, fmt.Errorf("parse %s: %w", name, errMarkerID)
	}
	return &mk, nil
}

// errMarkerID: a marker that names another backup is not this one's.
var errMarkerID = errors.New("the marker names another backup")

// WriterAlive tells whether the writer of the incomplete backup e is still
// running, and says why it believes so ("" when it is not, or when nothing
// says it is). The rules, from its marker:
//
//   - written on this host, in this boot and pid namespace: alive exactly
//     when its pid runs with the recorded start time (a pid reused by
//     another process does not count; a dead pid is dead whatever the
//     time);
//   - a marker of this host without a boot ID (written by an older
//     mybak): alive when its pid runs;
//   - written on another host (or container): alive when the marker was
//     rewritten within HeartbeatWindow of now (a running backup rewrites
//     it every HeartbeatInterval).
//
// A backup without a marker, or with one that cannot be read, is not known
// to be alive: the grace period decides. An error means the store could
// not be asked.
func WriterAlive(ctx context.Context, st storage.Backend, e Entry, now time.Time) (string, error) {
	var (
		markerTime time.Time
		layout     Layout
		found      bool
	)
	for _, oi := range e.Objects {
		for _, l := range allLayouts() {
			if oi.Name == l.MarkerPath(e.ID) {
				layout, markerTime, found = l, oi.ModTime, true
			}
		}
	}
	if !found {
		return "", nil
	}
	mk, err := ReadMarker(ctx, st, layout, e.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", nil // gone since the listing
	case err != nil && ctx.Err() != nil:
		return "", err
	case err != nil:
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, errMarkerID) {
			return "", nil // not a marker mybak wrote: the grace period decides
		}
		return "", err
	}
	return markerAlive(mk, markerTime, now), nil
}

// markerAlive applies WriterAlive's rules to a marker last written at
// written.
func markerAlive(mk *Marker, written, now time.Time) string {
	host, bootID, pidNS, _ := thisProcess()
	if mk.Host == host && mk.Host != "" {
		switch {
		case mk.BootID == "":
			if _, err := processStart(mk.PID); err == nil {
				return fmt.Sprintf("pid %d on %s is writing it", mk.PID, mk.Host)
			}
			return ""
		case mk.BootID != bootID:
			return "" // the host rebooted since
		case mk.PIDNamespace == "" || mk.PIDNamespace == pidNS:
			start, err := processStart(mk.PID)
			if err == nil && (mk.PIDStart == 0 || start == mk.PIDStart) {
				return fmt.Sprintf("pid %d on %s is writing it", mk.PID, mk.Host)
			}
			return ""
		}
	}
	if age := now.Sub(written); !written.IsZero() && age < HeartbeatWindow {
		return fmt.Sprintf("pid %d on %s is writing it: it refreshed its marker %s ago", mk.PID, mk.Host, age.Round(time.Second))
	}
	return ""
}
