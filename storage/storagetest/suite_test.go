package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

// faults make memBackend break one rule of the contract each.
type faults struct {
	inPlace          bool // Put writes into the visible object as it reads (not atomic, leaves partial data)
	ignoreCtx        bool // Put and readers never look at ctx
	unsortedList     bool // List reports names in reverse order
	ignorePrefix     bool // List reports every object
	wrapListErr      bool // List wraps the error of fn
	plainNotFound    bool // missing objects give an error that is not ErrNotFound
	noValidate       bool // invalid names are accepted
	ignoreOffset     bool // Get always reads from 0
	statSizeOff      bool // Stat reports one byte too many
	badMD5           bool // Put reports a wrong MD5
	deleteNoop       bool // Delete returns nil but keeps the object
	showTemp         bool // a Put in progress shows NAME.tmp in List
	leakTemp         bool // a failed Put leaves NAME.tmp behind
	dropConcurrent   bool // a Put that overlaps another returns nil but stores nothing
	failEarlyReaders bool // a reader of a replaced object fails (allowed with EarlyReaderMayFail)
}

// memBackend is an in-memory storage.Backend that follows the contract
// unless a fault is set.
type memBackend struct {
	f        faults
	inflight atomic.Int32
	mu       sync.Mutex
	objs     map[string]*memObj
}

type memObj struct {
	mu       sync.Mutex
	data     []byte
	modTime  time.Time
	replaced bool
}

func newMem(f faults) *memBackend { return &memBackend{f: f, objs: map[string]*memObj{}} }

func (m *memBackend) check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil && !m.f.ignoreCtx {
		return fmt.Errorf("%s %q: %w", op, name, err)
	}
	if m.f.noValidate {
		return nil
	}
	if err := storage.ValidateName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (m *memBackend) notFound(op, name string) error {
	if m.f.plainNotFound {
		return fmt.Errorf("%s %q: no such object", op, name)
	}
	return fmt.Errorf("%s %q: %w", op, name, storage.ErrNotFound)
}

func (m *memBackend) Put(ctx context.Context, name string, r io.Reader) (_ storage.ObjectInfo, err error) {
	if err := m.check(ctx, "put", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	if m.f.dropConcurrent {
		m.inflight.Add(1)
		time.Sleep(20 * time.Millisecond)
		overlapped := m.inflight.Load() > 1
		defer m.inflight.Add(-1)
		if overlapped {
			io.Copy(io.Discard, r)
			return storage.ObjectInfo{Name: name, ModTime: time.Now()}, nil
		}
	}
	var o *memObj
	if m.f.inPlace {
		m.mu.Lock()
		o = m.objs[name]
		if o == nil {
			o = &memObj{modTime: time.Now()}
			m.objs[name] = o
		}
		m.mu.Unlock()
		o.mu.Lock()
		o.data = o.data[:0]
		o.mu.Unlock()
	} else {
		o = &memObj{}
	}
	if m.f.showTemp || m.f.leakTemp {
		m.mu.Lock()
		if m.f.showTemp {
			m.objs[name+".tmp"] = &memObj{modTime: time.Now()}
		}
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.f.leakTemp && err != nil {
				m.objs[name+".tmp"] = &memObj{modTime: time.Now()}
				return
			}
			delete(m.objs, name+".tmp")
		}()
	}
	buf := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil && !m.f.ignoreCtx {
			return storage.ObjectInfo{}, fmt.Errorf("put %q: %w", name, err)
		}
		n, err := r.Read(buf)
		o.mu.Lock()
		o.data = append(o.data, buf[:n]...)
		o.mu.Unlock()
		if err == io.EOF {
			break
		}
		if err != nil {
			return storage.ObjectInfo{}, fmt.Errorf("put %q: %w", name, err)
		}
	}
	o.modTime = time.Now()
	if !m.f.inPlace {
		m.mu.Lock()
		if old := m.objs[name]; old != nil {
			old.mu.Lock()
			old.replaced = true
			old.mu.Unlock()
		}
		m.objs[name] = o
		m.mu.Unlock()
	}
	sum := md5.Sum(o.data)
	if m.f.badMD5 {
		sum[0]++
	}
	return storage.ObjectInfo{Name: name, Size: int64(len(o.data)), ModTime: o.modTime, MD5: hex.EncodeToString(sum[:])}, nil
}

func (m *memBackend) get(name string) *memObj {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[name]
}

func (m *memBackend) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	if err := m.check(ctx, "get", name); err != nil {
		return nil, err
	}
	o := m.get(name)
	if o == nil {
		return nil, m.notFound("get", name)
	}
	if m.f.ignoreOffset {
		off = 0
	}
	return &memReader{m: m, ctx: ctx, o: o, pos: off}, nil
}

type memReader struct {
	m   *memBackend
	ctx context.Context
	o   *memObj
	pos int64
}

func (r *memReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil && !r.m.f.ignoreCtx {
		return 0, err
	}
	r.o.mu.Lock()
	defer r.o.mu.Unlock()
	if r.o.replaced && r.m.f.failEarlyReaders {
		return 0, errors.New("object was replaced")
	}
	if r.pos >= int64(len(r.o.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.o.data[r.pos:])
	r.pos += int64(n)
	return n, nil
}

func (r *memReader) Close() error { return nil }

func (m *memBackend) Stat(ctx context.Context, name string) (storage.ObjectInfo, error) {
	if err := m.check(ctx, "stat", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	o := m.get(name)
	if o == nil {
		return storage.ObjectInfo{}, m.notFound("stat", name)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	size := int64(len(o.data))
	if m.f.statSizeOff {
		size++
	}
	return storage.ObjectInfo{Name: name, Size: size, ModTime: o.modTime}, nil
}

func (m *memBackend) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	m.mu.Lock()
	var infos []storage.ObjectInfo
	for name, o := range m.objs {
		if strings.HasPrefix(name, prefix) || m.f.ignorePrefix {
			o.mu.Lock()
			infos = append(infos, storage.ObjectInfo{Name: name, Size: int64(len(o.data)), ModTime: o.modTime})
			o.mu.Unlock()
		}
	}
	m.mu.Unlock()
	slices.SortFunc(infos, func(a, b storage.ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
	if m.f.unsortedList {
		slices.Reverse(infos)
	}
	for _, oi := range infos {
		if err := ctx.Err(); err != nil && !m.f.ignoreCtx {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(oi); err != nil {
			if m.f.wrapListErr {
				return fmt.Errorf("list %q: %w", prefix, err)
			}
			return err
		}
	}
	return nil
}

func (m *memBackend) Delete(ctx context.Context, name string) error {
	if err := m.check(ctx, "delete", name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objs[name] == nil {
		return m.notFound("delete", name)
	}
	if !m.f.deleteNoop {
		delete(m.objs, name)
	}
	return nil
}

func (m *memBackend) Location() string { return "mem:" }
func (m *memBackend) Close() error     { return nil }

var _ storage.Backend = (*memBackend)(nil)

// recorder is a testing.TB that records failures instead of failing the
// real test, so that the suite's checks can be run against broken
// backends. Fatal and FailNow end the check's goroutine like testing.T's.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fail()                             { r.Errorf("Fail") }
func (r *recorder) FailNow()                          { r.Fail(); runtime.Goexit() }
func (r *recorder) Logf(string, ...any)               {}
func (r *recorder) Log(...any)                        {}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// runCheck runs one check against b and returns what it reported.
func runCheck(t *testing.T, c check, b storage.Backend, o Options) (failed bool, msgs []string) {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.fn(rec, b, o)
	}()
	<-done
	return rec.Failed(), rec.msgs
}

// smallOptions keep the meta tests fast.
var smallOptions = Options{
	LargeSize:   2<<20 + 1,
	StallAfter:  256<<10 + 1,
	ReplaceSize: 1 << 20,
	Writers:     4,
	WriterSize:  16 << 10,
	Timeout:     20 * time.Second,
}

// TestSuitePassesCorrectBackend runs every check against the correct
// in-memory backend: the checks must not fail a backend that keeps the
// contract.
func TestSuitePassesCorrectBackend(t *testing.T) {
	RunOptions(t, func(*testing.T) storage.Backend { return newMem(faults{}) }, smallOptions)
}

// TestSuiteCatchesBrokenBackends runs the checks against backends that
// each break one rule and asserts that the checks for that rule fail.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       faults
		relaxed bool     // run with EarlyReaderMayFail
		caught  []string // checks that must fail
		passes  []string // checks that must pass
	}{
		{"non-atomic Put", faults{inPlace: true}, false,
			[]string{"InProgressInvisible", "CancelPut", "FailingSource", "ReplaceWhileReading"}, []string{"RoundTrip"}},
		{"non-atomic Put, relaxed readers", faults{inPlace: true}, true,
			[]string{"ReplaceWhileReading"}, nil},
		{"ignores ctx", faults{ignoreCtx: true}, false,
			[]string{"CancelPut", "CancelledContext"}, []string{"RoundTrip", "FailingSource"}},
		{"unsorted List", faults{unsortedList: true}, false, []string{"List"}, []string{"RoundTrip"}},
		{"List ignores prefix", faults{ignorePrefix: true}, false, []string{"List"}, nil},
		{"List wraps fn error", faults{wrapListErr: true}, false, []string{"ListStop"}, []string{"List"}},
		{"plain not-found error", faults{plainNotFound: true}, false, []string{"NotFound", "Delete", "FailingSource"}, []string{"RoundTrip"}},
		{"no name validation", faults{noValidate: true}, false, []string{"InvalidName"}, []string{"RoundTrip"}},
		{"Get ignores offset", faults{ignoreOffset: true}, false, []string{"GetOffset", "Large"}, []string{"RoundTrip"}},
		{"Stat size wrong", faults{statSizeOff: true}, false, []string{"RoundTrip", "Overwrite"}, nil},
		{"Put MD5 wrong", faults{badMD5: true}, false, []string{"RoundTrip", "Large"}, nil},
		{"Delete keeps object", faults{deleteNoop: true}, false, []string{"Delete", "ConcurrentPutDelete"}, []string{"RoundTrip"}},
		{"temporary object listed", faults{showTemp: true}, false, []string{"InProgressInvisible"}, []string{"RoundTrip", "CancelPut"}},
		{"temporary object left after failure", faults{leakTemp: true}, false, []string{"CancelPut", "FailingSource"}, []string{"RoundTrip", "InProgressInvisible"}},
		{"concurrent Puts lost", faults{dropConcurrent: true}, false, []string{"ConcurrentWriters", "ConcurrentPutDelete"}, []string{"RoundTrip"}},
		{"early readers fail", faults{failEarlyReaders: true}, false, []string{"ReplaceWhileReading"}, []string{"RoundTrip"}},
		{"early readers fail, relaxed", faults{failEarlyReaders: true}, true, nil, []string{"ReplaceWhileReading", "ConcurrentWriters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOptions
			o.EarlyReaderMayFail = tc.relaxed
			o = o.withDefaults()
			for _, c := range checks {
				must := slices.Contains(tc.caught, c.name)
				mustPass := slices.Contains(tc.passes, c.name)
				if !must && !mustPass {
					continue
				}
				failed, msgs := runCheck(t, c, newMem(tc.f), o)
				switch {
				case must && !failed:
					t.Errorf("check %s did not catch %s", c.name, tc.name)
				case mustPass && failed:
					t.Errorf("check %s failed a backend that only has fault %q:\n%s", c.name, tc.name, strings.Join(msgs, "\n"))
				case must:
					t.Logf("%s caught it: %s", c.name, msgs[0])
				}
			}
		})
	}
}

// TestCompareStreams tests the helper that the large checks rely on.
func TestCompareStreams(t *testing.T) {
	want := content(1, 200<<10)
	for _, tc := range []struct {
		name string
		got  []byte
		ok   bool
	}{
		{"equal", want, true},
		{"short", want[:len(want)-1], false},
		{"long", append(slices.Clone(want), 0), false},
		{"flipped", func() []byte { b := slices.Clone(want); b[100<<10] ^= 1; return b }(), false},
		{"empty", nil, false},
	} {
		_, diff, err := compareStreams(bytes.NewReader(tc.got), bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		if (diff == "") != tc.ok {
			t.Errorf("%s: diff %q", tc.name, diff)
		}
	}
	if _, diff, _ := compareStreams(bytes.NewReader(nil), bytes.NewReader(nil)); diff != "" {
		t.Errorf("empty vs empty: %q", diff)
	}
}
