package storagetest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

// capFaults make capMem break one rule of a capability's contract each.
type capFaults struct {
	rangeOff       bool // Get from an offset of 64 KiB or more reads one byte late
	noMD5          bool // Put reports no MD5 (allowed, except for a store that checks its parts)
	partsVisible   bool // PutPart makes the object visible before CommitParts
	noMD5Check     bool // PutPart takes a part whose bytes do not match its MD5
	recommitFails  bool // CommitParts of parts already committed fails
	deleteAllParts bool // DeleteUpload deletes the parts of every upload of the object
	statPartsLax   bool // StatParts checks only that each part exists
	sweepCommitted bool // SweepUncommitted deletes the parts of committed objects too
	sweepNothing   bool // SweepUncommitted deletes nothing
	staleObjects   bool // RemoveStaleTemp removes objects older than the age given
}

// capMem is memBackend with every optional capability, following their
// contracts unless a fault is set. Parts are kept by their Part.Name.
type capMem struct {
	*memBackend
	cf        capFaults
	pmu       sync.Mutex
	parts     map[string][]byte
	committed map[string]committedObj
}

type committedObj struct {
	obj   *memObj
	parts []storage.Part
}

const memPartSize = 64 << 10

func newCapMem(cf capFaults) *capMem {
	return &capMem{memBackend: newMem(faults{}), cf: cf, parts: map[string][]byte{}, committed: map[string]committedObj{}}
}

var (
	_ storage.CheapRanges        = (*capMem)(nil)
	_ storage.ChecksParts        = (*capMem)(nil)
	_ storage.Multipart          = (*capMem)(nil)
	_ storage.PartStatter        = (*capMem)(nil)
	_ storage.UncommittedSweeper = (*capMem)(nil)
	_ storage.StaleTempRemover   = (*capMem)(nil)
)

func (m *capMem) CheapRanges() {}
func (m *capMem) ChecksParts() {}

func (m *capMem) Put(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	info, err := m.memBackend.Put(ctx, name, r)
	if m.cf.noMD5 {
		info.MD5 = ""
	}
	return info, err
}

func (m *capMem) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	if m.cf.rangeOff && off >= 64<<10 {
		off++
	}
	return m.memBackend.Get(ctx, name, off)
}

func (m *capMem) PartSize() int64     { return memPartSize }
func (m *capMem) MaxParts() int       { return 1000 }
func (m *capMem) UploadParallel() int { return 2 }

func partName(name, uploadID string, n int) string {
	return fmt.Sprintf("segments/%s/%s/%08d", name, uploadID, n)
}

func (m *capMem) PutPart(ctx context.Context, name, uploadID string, n int, r io.ReadSeeker, size int64, md5hex string) (storage.Part, error) {
	if err := m.check(ctx, "put part", name); err != nil {
		return storage.Part{}, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return storage.Part{}, err
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return storage.Part{}, fmt.Errorf("put part %d of %q: %w", n, name, err)
	}
	sum := md5.Sum(data)
	if hex.EncodeToString(sum[:]) != md5hex && !m.cf.noMD5Check {
		return storage.Part{}, fmt.Errorf("put part %d of %q: MD5 %x, want %s", n, name, sum, md5hex)
	}
	p := storage.Part{Name: partName(name, uploadID, n), Size: size, MD5: md5hex}
	m.pmu.Lock()
	m.parts[p.Name] = data
	m.pmu.Unlock()
	if m.cf.partsVisible {
		m.mu.Lock()
		m.objs[name] = &memObj{data: data, modTime: time.Now()}
		m.mu.Unlock()
	}
	return p, nil
}

func (m *capMem) StatPart(ctx context.Context, name, uploadID string, n int) (storage.Part, error) {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	p := partName(name, uploadID, n)
	data, ok := m.parts[p]
	if !ok {
		return storage.Part{}, fmt.Errorf("stat part %d of %q: %w", n, name, storage.ErrNotFound)
	}
	sum := md5.Sum(data)
	return storage.Part{Name: p, Size: int64(len(data)), MD5: hex.EncodeToString(sum[:])}, nil
}

func (m *capMem) CommitParts(ctx context.Context, name string, parts []storage.Part) (storage.ObjectInfo, error) {
	if err := m.check(ctx, "commit", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	m.pmu.Lock()
	defer m.pmu.Unlock()
	if c, ok := m.committed[name]; ok && m.cf.recommitFails && slices.Equal(c.parts, parts) {
		return storage.ObjectInfo{}, fmt.Errorf("commit %q: already committed", name)
	}
	var data []byte
	for i, p := range parts {
		d, ok := m.parts[p.Name]
		if !ok || int64(len(d)) != p.Size {
			return storage.ObjectInfo{}, fmt.Errorf("commit %q: part %d (%s) missing or of another size", name, i, p.Name)
		}
		data = append(data, d...)
	}
	o := &memObj{data: data, modTime: time.Now()}
	m.mu.Lock()
	m.objs[name] = o
	m.mu.Unlock()
	m.committed[name] = committedObj{obj: o, parts: slices.Clone(parts)}
	return storage.ObjectInfo{Name: name, Size: int64(len(data)), ModTime: o.modTime, Parts: slices.Clone(parts)}, nil
}

func (m *capMem) Parts(ctx context.Context, name string) ([]storage.Part, error) {
	o := m.get(name)
	m.pmu.Lock()
	defer m.pmu.Unlock()
	c, ok := m.committed[name]
	if o == nil || !ok || c.obj != o {
		return nil, fmt.Errorf("parts of %q: %w", name, storage.ErrNotFound)
	}
	return slices.Clone(c.parts), nil
}

func (m *capMem) DeleteUpload(ctx context.Context, name, uploadID string) error {
	prefix := partName(name, uploadID, 0)
	prefix = prefix[:len(prefix)-8]
	if m.cf.deleteAllParts {
		prefix = "segments/" + name + "/"
	}
	m.pmu.Lock()
	defer m.pmu.Unlock()
	for p := range m.parts {
		if strings.HasPrefix(p, prefix) {
			delete(m.parts, p)
		}
	}
	return nil
}

func (m *capMem) StatParts(ctx context.Context, parts []storage.Part) error {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	var errs []error
	for i, p := range parts {
		d, ok := m.parts[p.Name]
		sum := md5.Sum(d)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("part %d: missing", i))
		case m.cf.statPartsLax:
		case int64(len(d)) != p.Size || hex.EncodeToString(sum[:]) != p.MD5:
			errs = append(errs, fmt.Errorf("part %d: differs", i))
		}
	}
	return errors.Join(errs...)
}

func (m *capMem) SweepUncommitted(ctx context.Context, prefix string) error {
	if m.cf.sweepNothing {
		return nil
	}
	m.pmu.Lock()
	defer m.pmu.Unlock()
	keep := map[string]bool{}
	for name, c := range m.committed {
		if strings.HasPrefix(name, prefix) && !m.cf.sweepCommitted {
			for _, p := range c.parts {
				keep[p.Name] = true
			}
		}
	}
	for p := range m.parts {
		if strings.HasPrefix(p, "segments/"+prefix) && !keep[p] {
			delete(m.parts, p)
		}
	}
	return nil
}

func (m *capMem) RemoveStaleTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	if !m.cf.staleObjects {
		return 0, nil // Put keeps its temporary state out of objs
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name, o := range m.objs {
		if time.Since(o.modTime) >= olderThan {
			delete(m.objs, name)
			n++
		}
	}
	return n, nil
}

var allFeatures = []string{"CheapRanges", "ChecksParts", "Multipart", "PartStatter", "UncommittedSweeper", "StaleTempRemover"}

// TestCapabilityChecksPassCorrectBackend: the capability checks do not
// fail a backend that keeps their contracts, itself or behind a
// decorator.
func TestCapabilityChecksPassCorrectBackend(t *testing.T) {
	o := smallOptions
	o.Features = allFeatures
	RunOptions(t, func(*testing.T) storage.Backend { return newCapMem(capFaults{}) }, o)
	t.Run("decorated", func(t *testing.T) {
		RunOptions(t, func(*testing.T) storage.Backend { return unwrapper{newCapMem(capFaults{})} }, o)
	})
}

// unwrapper is a decorator that declares what it wraps.
type unwrapper struct{ storage.Backend }

func (u unwrapper) Unwrap() storage.Backend { return u.Backend }

// TestCapabilityChecksCatchBrokenBackends: every capability check fails
// a backend that breaks its rule.
func TestCapabilityChecksCatchBrokenBackends(t *testing.T) {
	type brokenCase struct {
		name   string
		f      capFaults
		caught []string // checks that must fail
		passes []string // checks that must pass
	}
	cases := []brokenCase{
		{"ranges read late", capFaults{rangeOff: true}, []string{"CheapRanges"}, []string{"Multipart"}},
		{"no MD5 from a part-checking store", capFaults{noMD5: true}, []string{"ChecksParts"}, []string{"CheapRanges"}},
		{"parts visible before the commit", capFaults{partsVisible: true}, []string{"MultipartInvisible", "Spool", "SpoolResume"}, []string{"MultipartDeleteUpload"}},
		{"part MD5 not checked", capFaults{noMD5Check: true}, []string{"Multipart"}, []string{"Spool"}},
		{"commit again fails", capFaults{recommitFails: true}, []string{"Multipart"}, []string{"Spool", "SpoolResume"}},
		{"DeleteUpload deletes other uploads", capFaults{deleteAllParts: true}, []string{"MultipartDeleteUpload"}, []string{"Multipart"}},
		{"StatParts checks presence only", capFaults{statPartsLax: true}, []string{"StatParts"}, []string{"Multipart"}},
		{"sweep deletes committed parts", capFaults{sweepCommitted: true}, []string{"SweepUncommitted"}, []string{"Multipart"}},
		{"sweep deletes nothing", capFaults{sweepNothing: true}, []string{"SweepUncommitted"}, []string{"Multipart"}},
		{"stale temp removal removes objects", capFaults{staleObjects: true}, []string{"RemoveStaleTemp"}, []string{"Multipart"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOptions.withDefaults()
			for _, c := range capChecks {
				must := slices.Contains(tc.caught, c.name)
				mustPass := slices.Contains(tc.passes, c.name)
				if !must && !mustPass {
					continue
				}
				failed, msgs := runCheck(t, check{c.name, c.fn}, newCapMem(tc.f), o)
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
	// Every capability check is shown failing by some fault.
	for _, c := range capChecks {
		if !slices.ContainsFunc(cases, func(bc brokenCase) bool { return slices.Contains(bc.caught, c.name) }) {
			t.Errorf("no broken backend shows that check %s can fail", c.name)
		}
	}
}
