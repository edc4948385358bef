package trove

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/swift"
)

// Writer makes backup.Run write Trove's layout into a Swift store: set
// backup.Options.Layout to backup.LayoutTrove and PutData and
// BeforeManifest to the Writer's methods. The data object is then what
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

// BeforeManifest sets the data object's metadata as Trove does: Lsn (the
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
