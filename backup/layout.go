package backup

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// Layouts: how a backup's objects are named in a store (Manifest.Layout
// records the layout's name).
//
// mybak's own layout (LayoutMybak, "") keeps every object of a backup
// under its ID: ID/started.json, ID/data.xbstream.gz.enc,
// ID/manifest.json. It is built in (OwnLayout).
//
// Other layouts register their naming (RegisterLayout) from their own
// package: OpenStack Trove's (LayoutTrove) from package trove, which puts
// the data object at the root of the container, named after the backup,
// with mybak's manifest beside it. Nothing in this package knows how a
// registered layout names its objects.
const (
	LayoutMybak = ""
	LayoutTrove = "trove"
)

// Layout is how one repository layout names a backup's objects in a
// store. Implementations are stateless and safe for concurrent use.
type Layout interface {
	// Name is the layout's name as Manifest.Layout records it
	// (LayoutMybak for mybak's own).
	Name() string
	// ValidateID reports whether id has the form of a backup ID of the
	// layout; its error says what an ID looks like.
	ValidateID(id string) error
	// ObjectPath returns the name in the store of object name (a name as
	// Manifest.Objects records it) of backup id.
	ObjectPath(id, name string) string
	// ManifestPath returns the name in the store of backup id's manifest.
	ManifestPath(id string) string
	// MarkerPath returns the name in the store of backup id's marker
	// (written while the backup runs, see Marker).
	MarkerPath(id string) string
	// Synthesized reports whether m was not written by mybak but made up
	// by the layout from another tool's objects (a backup Trove made): it
	// then records no hash of the original stream, and restores
	// unauthenticated (Legacy).
	Synthesized(m *Manifest) bool
	// ListArgs are the options of `mybak list` that select the layout
	// (" --layout trove"), for the advice that ends a "no backup" error.
	ListArgs() string
}

var (
	layoutsMu sync.RWMutex
	layouts   = map[string]Layout{LayoutMybak: ownLayout{}}
)

// RegisterLayout makes l known under l.Name(), so that manifests of that
// layout parse and name their objects. It is called from the init of the
// layout's package and panics when the name is taken.
func RegisterLayout(l Layout) {
	layoutsMu.Lock()
	defer layoutsMu.Unlock()
	if _, dup := layouts[l.Name()]; dup {
		panic(fmt.Sprintf("backup: layout %q registered twice", l.Name()))
	}
	layouts[l.Name()] = l
}

// LookupLayout returns the layout registered under name (LayoutMybak is
// always there); an error naming the known layouts otherwise.
func LookupLayout(name string) (Layout, error) {
	layoutsMu.RLock()
	defer layoutsMu.RUnlock()
	if l, ok := layouts[name]; ok {
		return l, nil
	}
	var names []string
	for n := range layouts {
		names = append(names, cmp.Or(n, "mybak")) // mybak's own is ""
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown layout %q (want %s)", name, orList(names))
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// allLayouts returns every registered layout.
func allLayouts() []Layout {
	layoutsMu.RLock()
	defer layoutsMu.RUnlock()
	out := make([]Layout, 0, len(layouts))
	for _, l := range layouts {
		out = append(out, l)
	}
	return out
}

// OwnLayout returns mybak's own layout.
func OwnLayout() Layout { return ownLayout{} }

// ValidateLayoutID reports whether id has the form of a backup ID of the
// layout registered as layout (see Layout.ValidateID).
func ValidateLayoutID(layout, id string) error {
	l, err := LookupLayout(layout)
	if err != nil {
		return err
	}
	return l.ValidateID(id)
}

// ValidateAnyID reports whether id has the form of a backup ID in some
// registered layout: a name that is safe as a file name. The error is
// mybak's layout's.
func ValidateAnyID(id string) error {
	for _, l := range allLayouts() {
		if l.ValidateID(id) == nil {
			return nil
		}
	}
	return ValidateID(id)
}

// layout returns m's layout; mybak's own when it names none registered
// (Validate refuses such a manifest).
func (m *Manifest) layout() Layout {
	if l, err := LookupLayout(m.Layout); err == nil {
		return l
	}
	return ownLayout{}
}

// ObjectPath returns the name in the store of m's object name (a name as
// Manifest.Objects records it), as m's layout names it: ID/name in mybak's
// layout, name itself in Trove's, whose objects lie at the root of the
// container.
func (m *Manifest) ObjectPath(name string) string {
	return m.layout().ObjectPath(m.ID, name)
}

// Synthesized reports whether m was made up by its layout from another
// tool's objects rather than written by mybak (see Layout.Synthesized).
func (m *Manifest) Synthesized() bool { return m.layout().Synthesized(m) }

// inOwnLayout reports whether m is in mybak's own layout.
func (m *Manifest) inOwnLayout() bool {
	_, own := m.layout().(ownLayout)
	return own
}

// ManifestPath returns the name in the store of the manifest of backup id
// in layout: ID/manifest.json in mybak's.
func ManifestPath(layout, id string) string {
	l, err := LookupLayout(layout)
	if err != nil {
		l = ownLayout{}
	}
	return l.ManifestPath(id)
}

// MarkerPath returns the name in the store of the marker of backup id in
// layout: ID/started.json in mybak's.
func MarkerPath(layout, id string) string {
	l, err := LookupLayout(layout)
	if err != nil {
		l = ownLayout{}
	}
	return l.MarkerPath(id)
}

// ownLayout is mybak's own layout: every object under the backup's ID.
type ownLayout struct{}

func (ownLayout) Name() string                      { return LayoutMybak }
func (ownLayout) ValidateID(id string) error        { return ValidateID(id) }
func (ownLayout) ObjectPath(id, name string) string { return id + "/" + name }
func (ownLayout) ManifestPath(id string) string     { return id + "/" + ManifestName }
func (ownLayout) MarkerPath(id string) string       { return id + "/" + MarkerName }
func (ownLayout) Synthesized(*Manifest) bool        { return false }
func (ownLayout) ListArgs() string                  { return "" }

// Writer is how Run stores a backup in a repository's layout. Options.Writer
// nil is mybak's own layout in Options.Store (OwnWriter); package repo
// hands out the writer of the layout --layout chooses (trove.Writer for
// Trove's). Run calls its methods from one goroutine, in this order:
// NewID, DataName, PutData (concurrently with the engine), BeforeManifest,
// then Committed after the manifest is written, or RemoveFailed when the
// backup failed.
type Writer interface {
	// Layout is the layout the backup is written in; Run records its
	// name in the manifest and writes the marker and the manifest where
	// it says.
	Layout() Layout
	// NewID returns the ID of a backup started at start.
	NewID(start time.Time) string
	// DataName returns the name the manifest records for the data object
	// (Layout().ObjectPath gives its name in the store), from the engine's
	// stream extension (".xbstream", ...) and the encoding; an error when
	// the layout cannot hold such a stream.
	DataName(id, engineExt string, enc stream.EncodeOptions) (string, error)
	// PutData stores the data object under its store name, as
	// storage.Backend.Put does. ChecksParts reports whether the store
	// checks every part it stores by its MD5 (storage.ChecksParts), so
	// that the stream need not hash what it stores.
	PutData(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error)
	ChecksParts() bool
	// BeforeManifest is called with the complete manifest just before it
	// is sealed and written; its error fails the backup.
	BeforeManifest(ctx context.Context, m *Manifest) error
	// Committed is called once the manifest is written; what fails there
	// is logged, the backup is complete.
	Committed(ctx context.Context, m *Manifest, log *slog.Logger)
	// RemoveFailed deletes what a failed backup id left in the store
	// (dataName is the data object's store name).
	RemoveFailed(ctx context.Context, id, dataName string) error
}

// OwnWriter returns the Writer of mybak's own layout into st: data objects
// "data.EXT.gz[.enc]" under the ID, stored with st.Put.
func OwnWriter(st storage.Backend) Writer { return ownWriter{st: st} }

// ownWriter is OwnWriter's.
type ownWriter struct{ st storage.Backend }

func (ownWriter) Layout() Layout                                     { return ownLayout{} }
func (ownWriter) NewID(start time.Time) string                       { return NewID(start) }
func (ownWriter) BeforeManifest(context.Context, *Manifest) error    { return nil }
func (ownWriter) Committed(context.Context, *Manifest, *slog.Logger) {}

// ChecksParts reports whether the store (or one it wraps) checks every
// part by its MD5 (storage.ChecksParts).
func (w ownWriter) ChecksParts() bool {
	_, ok := storage.As[storage.ChecksParts](w.st)
	return ok
}

func (ownWriter) DataName(_, engineExt string, enc stream.EncodeOptions) (string, error) {
	return ownDataName(engineExt, enc), nil
}

func (w ownWriter) PutData(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	return w.st.Put(ctx, name, r)
}

// RemoveFailed removes every object under the ID.
func (w ownWriter) RemoveFailed(ctx context.Context, id, _ string) error {
	return deleteObjects(ctx, w.st, id)
}

// ownDataName is the data object's name in mybak's layout:
// "data" + the engine's extension + the compression's + ".enc" when
// encrypted.
func ownDataName(engineExt string, enc stream.EncodeOptions) string {
	name := "data" + engineExt + compressionExt(enc.Compression.Kind)
	if enc.Pass != nil {
		name += ".enc"
	}
	return name
}
