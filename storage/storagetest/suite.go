// Package storagetest is the conformance suite that every storage.Backend
// must pass. A backend's tests call Run (or RunOptions) with a constructor
// that returns a fresh, empty backend:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Backend {
//			b, err := local.New(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// The suite tests the contract written in the doc comments of
// storage.Backend: round trips of every size, reads from offsets, Stat,
// List order and prefix filtering, ErrNotFound and ErrInvalidName,
// atomic replacement, concurrent writers, cancellation, failing sources and
// Delete.
//
// Then it checks the optional capabilities the backend declares
// (storage.Features, found through decorators with storage.As): ranged
// reads (CheapRanges), the MD5s of what a part-checking store stored
// (ChecksParts), the multipart contract (Multipart: parts stored,
// checked, invisible until committed, committed again harmlessly,
// replaced, an upload deleted) and a spool uploading through it
// (storage/spool: Finish, and a spool finished by another process),
// StatParts against damaged part records (PartStatter), the sweep of
// uncommitted parts (UncommittedSweeper) and the removal of stale
// temporary files beside a Put in progress (StaleTempRemover).
// Options.Features pins the capabilities a backend must declare.
//
// Test data is generated deterministically (ChaCha8) while it is written
// and read, so nothing large is stored in the repository and memory
// stays small even for the large object.
//
// What the suite promises about readers that opened an object before a Put
// replaced it: by default such a reader must read the old content wholly
// (POSIX rename semantics). A backend that deletes the old object's pieces
// when it replaces the object (Swift segments) may set
// Options.EarlyReaderMayFail; its early readers may then fail with a read
// error, but they must never return a mix of old and new bytes without an
// error. Readers that open after Put returned always read the new content
// wholly.
package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

// Options tunes the suite for one backend. The zero value selects the
// defaults, which suit a local backend; a slow backend lowers the sizes.
type Options struct {
	// LargeSize is the size in bytes of the large round-trip object.
	// Default 32 MiB.
	LargeSize int64
	// StallAfter is how many bytes a source hands to Put before it stalls,
	// in the in-progress and cancellation checks. Default 4 MiB + 7.
	StallAfter int64
	// ReplaceSize is the size of the object that a reader holds open while
	// it is replaced, and of the object read across a cancellation.
	// Default 8 MiB.
	ReplaceSize int64
	// Writers is the number of goroutines in the concurrency checks.
	// Default 8.
	Writers int
	// WriterSize is the approximate size of each concurrent writer's
	// object. Default 256 KiB.
	WriterSize int64
	// EarlyReaderMayFail lets a reader that opened an object before a Put
	// replaced it fail with a read error instead of reading the old
	// content. It never allows a mix of old and new bytes.
	EarlyReaderMayFail bool
	// Timeout bounds every wait for a backend operation that should
	// finish or reach a given point. Default 2 minutes.
	Timeout time.Duration
	// Features are the optional capabilities the backend must declare,
	// as storage.Features names them; the suite fails when it declares
	// others or fewer (so that none disappears, say behind a wrapper,
	// with its checks). nil: not compared.
	Features []string
}

func (o Options) withDefaults() Options {
	if o.LargeSize <= 0 {
		o.LargeSize = 32 << 20
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 4<<20 + 7
	}
	if o.ReplaceSize <= 0 {
		o.ReplaceSize = 8 << 20
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.WriterSize <= 0 {
		o.WriterSize = 256 << 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	return o
}

// check is one conformance check. It gets a fresh, empty backend and must
// report failures only through t (Errorf from any goroutine, Fatalf only
// from its own goroutine).
type check struct {
	name string
	fn   func(t testing.TB, b storage.Backend, o Options)
}

// checks lists the suite in the order Run runs it.
var checks = []check{
	{"Location", checkLocation},
	{"RoundTrip", checkRoundTrip},
	{"Large", checkLarge},
	{"GetOffset", checkGetOffset},
	{"List", checkList},
	{"ListStop", checkListStop},
	{"NotFound", checkNotFound},
	{"InvalidName", checkInvalidName},
	{"Overwrite", checkOverwrite},
	{"ReplaceWhileReading", checkReplaceWhileReading},
	{"ConcurrentWriters", checkConcurrentWriters},
	{"ConcurrentPutDelete", checkConcurrentPutDelete},
	{"InProgressInvisible", checkInProgressInvisible},
	{"CancelPut", checkCancelPut},
	{"CancelledContext", checkCancelledContext},
	{"FailingSource", checkFailingSource},
	{"Delete", checkDelete},
}

// Run runs the conformance suite with default Options. newBackend must
// return a fresh, empty backend each time it is called; each check runs as
// a subtest with its own backend, which Run closes when the check ends
// (newBackend registers any further cleanup with t.Cleanup).
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	t.Helper()
	RunOptions(t, newBackend, Options{})
}

// RunOptions is Run with Options, for backends that need smaller sizes or
// the relaxed rule for early readers.
func RunOptions(t *testing.T, newBackend func(t *testing.T) storage.Backend, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	run := func(name string, fn func(testing.TB, storage.Backend, Options)) {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t)
			defer func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			fn(t, b, opts)
		})
	}
	for _, c := range checks {
		run(c.name, c.fn)
	}
	probe := newBackend(t)
	features := storage.Features(probe)
	probe.Close()
	if opts.Features != nil && fmt.Sprint(features) != fmt.Sprint(opts.Features) {
		t.Errorf("the backend declares the capabilities %q, its tests expect %q", features, opts.Features)
	}
	for _, c := range capChecks {
		if slices.Contains(features, c.feature) {
			run(c.name, c.fn)
		}
	}
}
