package backup

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"

	"github.com/mybak/mybak/storage"
)

// Layouts: how a backup's objects are named in a store (Manifest.Layout).
//
// mybak's own layout ("") keeps every object of a backup under its ID:
// ID/started.json, ID/data.xbstream.gz.enc, ID/manifest.json.
//
// OpenStack Trove's layout (LayoutTrove) puts the data object at the root
// of the container, named after the backup: <id>.xbstream.gz.enc or
// <id>.gz.enc, with its Swift segments <id>_00000000, ... beside it (see
// package trove). mybak writes its manifest beside it as <id>.mybak.json,
// which Trove ignores.
const (
	LayoutMybak = ""
	LayoutTrove = "trove"
)

// troveIDPattern is what mybak accepts as a Trove backup ID: Trove uses
// UUIDs, and names its objects "<id><ext>" and its segments
// "file.split('.')[0]_%08d", so an ID has no dot and no slash.
var troveIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)

// ValidateLayoutID reports whether id has the form of a backup ID of
// layout: ValidateID for mybak's, a Trove ID (a UUID, or any name without
// dots, slashes or spaces) for Trove's.
func ValidateLayoutID(layout, id string) error {
	switch layout {
	case LayoutMybak:
		return ValidateID(id)
	case LayoutTrove:
		if !troveIDPattern.MatchString(id) {
			return fmt.Errorf("%q is not a Trove backup ID (expected a UUID such as 0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90, or latest)", id)
		}
		return nil
	}
	return fmt.Errorf("unknown layout %q (want mybak or trove)", layout)
}

// NewTroveID returns a random (version 4) UUID, the form of Trove's
// backup IDs.
func NewTroveID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ObjectPath returns the name in the store of m's object name (a name as
// Manifest.Objects records it): ID/name in mybak's layout, name itself in
// Trove's, whose objects lie at the root of the container.
func (m *Manifest) ObjectPath(name string) string {
	if m.Layout == LayoutTrove {
		return name
	}
	return m.ID + "/" + name
}

// ManifestPath returns the name in the store of the manifest of backup id
// in layout: ID/manifest.json, or <id>.mybak.json beside a Trove backup.
func ManifestPath(layout, id string) string {
	if layout == LayoutTrove {
		return id + TroveManifestSuffix
	}
	return id + "/" + ManifestName
}

// TroveManifestSuffix ends the name of the manifest mybak writes beside a
// backup in Trove's layout.
const TroveManifestSuffix = ".mybak.json"

// dataObjectName returns how a layout names the data object, as a function
// of the ID, relative to what Manifest.ObjectPath adds: "data.EXT.gz.enc"
// under the ID in mybak's layout; "<id>.xbstream.gz.enc" (physical) or
// "<id>.gz.enc" (anything else: Trove gives dumps no extension of their
// own) in Trove's, which only knows gzip.
func dataObjectName(layout, engineExt, compression string, encrypted bool) (func(id string) string, error) {
	enc := ""
	if encrypted {
		enc = ".enc"
	}
	if layout == LayoutTrove {
		if compression != "gzip" {
			return nil, fmt.Errorf("the trove layout needs gzip compression (Trove's restore runs gzip -d), not %q", compression)
		}
		ext := ""
		if engineExt == ".xbstream" {
			ext = engineExt
		}
		return func(id string) string { return id + ext + ".gz" + enc }, nil
	}
	name := "data" + engineExt + compressionExt(compression) + enc
	return func(string) string { return name }, nil
}

// deleteLayoutObjects removes what a failed backup left in the store: every
// object under the ID in mybak's layout; in Trove's, the data object, the
// manifest and the marker beside it (a failed upload removes its own
// segments).
func deleteLayoutObjects(ctx context.Context, st storage.Backend, layout, id, dataName string) error {
	if layout != LayoutTrove {
		return deleteObjects(ctx, st, id)
	}
	for _, n := range []string{ManifestPath(layout, id), dataName, MarkerPath(layout, id)} {
		if err := st.Delete(ctx, n); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete backup %s: %w", id, err)
		}
	}
	return nil
}
