package trove

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/swift"
	"github.com/mybak/mybak/stream"
)

// Writer makes backup.Run write Trove's layout into a Swift store: it is
// the backup.Writer of the Trove repository (backup.Options.Writer).
// IDs are UUIDs, the data object <id>.xbstream.gz[.enc] or <id>.gz[.enc]
// (gzip only), the marker <id>.mybak.started.json while the backup runs
// (removed once it is complete), and mybak's manifest goes beside the data
// as <id>.mybak.json. The data object is then what
// Trove's restore reads (`swift download` | `openssl enc -d` | `gzip -d`):
// segments <id>_%08d beside it in the same container, joined by a Static
// Large Object manifest when there is more than one, and Trove's metadata
// headers.
type Writer struct {
	sw Swift
	// parent is the backup an incremental applies onto (nil for a full one).
	parent *backup.Manifest
}

// NewWriter returns a Writer into sw; parent is the parent of an
// incremental backup (a Trove backup in the same store), or nil.
func NewWriter(sw Swift, parent *backup.Manifest) *Writer {
	return &Writer{sw: sw, parent: parent}
}

var _ backup.Writer = (*Writer)(nil)

// Layout implements backup.Writer: Trove's.
func (w *Writer) Layout() backup.Layout { return troveLayout{} }

// NewID implements backup.Writer: a UUID (NewID).
func (w *Writer) NewID(time.Time) string { return NewID() }

// DataName implements backup.Writer: "<id>.xbstream.gz[.enc]" for an
// xbstream, "<id>.gz[.enc]" for anything else (Trove gives dumps no
// extension of their own). Trove only knows gzip.
func (w *Writer) DataName(id, engineExt string, enc stream.EncodeOptions) (string, error) {
	if enc.Compression.Kind != stream.Gzip {
		return "", fmt.Errorf("the trove layout needs gzip compression (Trove's restore runs gzip -d), not %q", enc.Compression.Kind)
	}
	return Name{ID: id, Physical: engineExt == ".xbstream", Encrypted: enc.Pass != nil}.Object(), nil
}

// ChecksParts implements backup.Writer: PutData names the segments its
// own way, without the store's part checks.
func (w *Writer) ChecksParts() bool { return false }

// Committed implements backup.Writer: it removes the marker, so that
// Trove's container holds only what Trove knows, and the manifest.
func (w *Writer) Committed(ctx context.Context, m *backup.Manifest, log *slog.Logger) {
	if err := w.sw.Delete(ctx, troveLayout{}.MarkerPath(m.ID)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		log.Warn("could not remove the backup's marker; `mybak prune` removes it with the backup", "id", m.ID, "err", err)
	}
}

// RemoveFailed implements backup.Writer: it removes the data object, the
// manifest and the marker of a failed backup (a failed upload removes its
// own segments).
func (w *Writer) RemoveFailed(ctx context.Context, id, dataName string) error {
	l := troveLayout{}
	for _, n := range []string{l.ManifestPath(id), dataName, l.MarkerPath(id)} {
		if err := w.sw.Delete(ctx, n); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete backup %s: %w", id, err)
		}
	}
	return nil
}

// PutData stores the data object name (<id>.xbstream.gz[.enc] or
// <id>.gz[.enc]) with Trove's segment names.
func (w *Writer) PutData(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	n, ok := ParseObjectName(name)
	if !ok {
		return storage.ObjectInfo{}, fmt.Errorf("put %q: not a Trove object name", name)
	}
	return w.sw.PutSegmented(ctx, name, r, swift.SegmentedPut{
		SegmentName: func(i int) string { return SegmentName(n.ID, i) },
	})
}

// BeforeManifest implements backup.Writer: it sets the data object's metadata as Trove does: Lsn (the
// engine's to_lsn), Parent-Location (the parent's URL) and
// Parent-Checksum (its ETag) for an incremental, Datastore and
// Datastore-Version when the engine knows them. For an incremental it also
// records the parent's location and checksum in m.Meta
// (ManifestMetaParentLocation, ManifestMetaParentChecksum), so the
// manifest written after it holds them.
func (w *Writer) BeforeManifest(ctx context.Context, m *backup.Manifest) error {
	meta := Metadata(m)
	if m.Parent != "" {
		if w.parent == nil || w.parent.ID != m.Parent {
			return fmt.Errorf("incremental of %s: the Writer was given no such parent", m.Parent)
		}
		pname := w.parent.ObjectPath(w.parent.Objects[0].Name)
		loc, err := w.sw.ObjectURL(ctx, pname)
		if err != nil {
			return err
		}
		meta["Parent-Location"] = loc
		ro, err := w.sw.HeadRaw(ctx, pname)
		if err != nil {
			return fmt.Errorf("parent of %s: %w", m.ID, err)
		}
		meta["Parent-Checksum"] = ro.ETag
		// mybak's manifest records them too, so that Catalogue.Chain
		// checks the parent's checksum as it does for Trove's own
		// incrementals (the parent replaced after the child was taken).
		if m.Meta == nil {
			m.Meta = map[string]string{}
		}
		m.Meta[ManifestMetaParentLocation], m.Meta[ManifestMetaParentChecksum] = loc, ro.ETag
	}
	if len(meta) == 0 {
		return nil
	}
	name := m.ObjectPath(m.Objects[0].Name)
	if err := w.sw.SetMetadata(ctx, name, meta); err != nil {
		return fmt.Errorf("write Trove metadata: %w", err)
	}
	return nil
}

// Metadata returns the X-Object-Meta-* headers (without the prefix) that
// Trove would record for m, except the parent's location and checksum.
func Metadata(m *backup.Manifest) map[string]string {
	meta := map[string]string{}
	if lsn := m.Meta[backup.MetaToLSN]; lsn != "" && lsn != "0" {
		meta["Lsn"] = lsn
	}
	if f := m.Meta[backup.MetaServerFlavor]; f != "" {
		meta["Datastore"] = strings.ToLower(f)
	}
	if v := m.Engine.ServerVersion; v != "" {
		meta["Datastore-Version"] = v
	}
	return meta
}
