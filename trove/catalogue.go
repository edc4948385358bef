package trove

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/swift"
)

// Swift is what this package needs of a Swift store;
// *storage/swift.Backend implements it.
type Swift interface {
	storage.Backend
	HeadRaw(ctx context.Context, name string) (swift.RawObject, error)
	Segments(ctx context.Context, name string) ([]storage.Part, swift.RawObject, error)
	ReadParts(ctx context.Context, parts []storage.Part, off int64) io.ReadCloser
	VerifyParts(ctx context.Context, parts []storage.Part) error
	SetMetadata(ctx context.Context, name string, meta map[string]string) error
	PutSegmented(ctx context.Context, name string, r io.Reader, opts swift.SegmentedPut) (storage.ObjectInfo, error)
	ObjectURL(ctx context.Context, name string) (string, error)
	DeleteOne(ctx context.Context, name string) error
}

var _ Swift = (*swift.Backend)(nil)

// Metadata keys (X-Object-Meta-*, lower case as swift.RawObject.Meta holds
// them) that Trove writes.
const (
	MetaLsn              = "lsn"
	MetaParentLocation   = "parent-location"
	MetaParentChecksum   = "parent-checksum"
	MetaDatastore        = "datastore"
	MetaDatastoreVersion = "datastore-version"
)

// Keys of backup.Manifest.Meta that a synthesized manifest fills in
// besides backup.MetaToLSN (Trove's Lsn) and backup.MetaFromLSN.
const (
	ManifestMetaChecksum         = "trove_checksum" // the object's ETag
	ManifestMetaParentLocation   = "trove_parent_location"
	ManifestMetaParentChecksum   = "trove_parent_checksum"
	ManifestMetaDatastore        = "trove_datastore"
	ManifestMetaDatastoreVersion = "trove_datastore_version"
)

// Catalogue finds the Trove backups in a Swift store (the container
// Trove writes to, database_backups by default). It implements
// restore.Catalogue and restore.ObjectChecker. Safe for concurrent use.
type Catalogue struct {
	sw Swift
}

// NewCatalogue returns the Catalogue of the Trove backups in sw.
func NewCatalogue(sw Swift) *Catalogue { return &Catalogue{sw: sw} }

// Store returns the storage.Backend that restore reads these backups
// through (see Store).
func (c *Catalogue) Store() storage.Backend { return Store{c.sw} }

// entryObjects groups what a listing holds for one backup ID.
type entryObjects struct {
	data     *storage.ObjectInfo
	name     Name
	manifest bool // <id>.mybak.json is present
	objects  []storage.ObjectInfo
}

// scan lists the store under prefix and groups the objects by backup ID.
func (c *Catalogue) scan(ctx context.Context, prefix string) (map[string]*entryObjects, error) {
	byID := map[string]*entryObjects{}
	get := func(id string) *entryObjects {
		e := byID[id]
		if e == nil {
			e = &entryObjects{}
			byID[id] = e
		}
		return e
	}
	err := c.sw.List(ctx, prefix, func(oi storage.ObjectInfo) error {
		if n, ok := ParseObjectName(oi.Name); ok {
			e := get(n.ID)
			if e.data == nil { // two data objects of one ID: the first wins
				e.data, e.name = &oi, n
			}
			e.objects = append(e.objects, oi)
			return nil
		}
		if id, _, ok := ParseSegmentName(oi.Name); ok {
			e := get(id)
			e.objects = append(e.objects, oi)
			return nil
		}
		if id, ok := strings.CutSuffix(oi.Name, MarkerSuffix); ok && ValidateID(id) == nil {
			e := get(id) // mybak's marker of a backup being written
			e.objects = append(e.objects, oi)
			return nil
		}
		if id, ok := strings.CutSuffix(oi.Name, ManifestSuffix); ok && ValidateID(id) == nil {
			e := get(id)
			e.manifest = true
			e.objects = append(e.objects, oi)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list Trove backups in %s: %w", c.sw.Location(), err)
	}
	return byID, nil
}

// Entries lists the Trove backups in the store, oldest first, in the form
// of backup.Catalogue: complete ones (a data object) with a synthesized
// manifest (or mybak's own, when it wrote the backup), damaged ones whose
// metadata cannot be read or whose chain of parents is a cycle (see
// backup.MarkParentCycles), and incomplete ones (segments without a data
// object: an interrupted upload).
func (c *Catalogue) Entries(ctx context.Context) ([]backup.Entry, error) {
	byID, err := c.scan(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]backup.Entry, 0, len(byID))
	for id, eo := range byID {
		e := backup.Entry{ID: id, State: backup.StateIncomplete, Objects: eo.objects}
		for _, oi := range eo.objects {
			if oi.ModTime.After(e.LastModified) {
				e.LastModified = oi.ModTime
			}
		}
		if eo.data == nil {
			for _, oi := range eo.objects {
				e.StoredBytes += oi.Size
			}
			out = append(out, e)
			continue
		}
		e.StoredBytes = eo.data.Size
		m, err := c.manifest(ctx, eo, false)
		switch {
		case err == nil:
			e.State, e.Manifest = backup.StateComplete, m
		case errors.Is(err, storage.ErrNotFound):
			continue // deleted while we listed
		case ctx.Err() != nil:
			return nil, err
		default:
			e.State, e.Err = backup.StateDamaged, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := entryTime(out[i]), entryTime(out[j])
		switch {
		case !ti.Equal(tj):
			return ti.Before(tj)
		case parentOf(out[j]) == out[i].ID:
			return true
		case parentOf(out[i]) == out[j].ID:
			return false
		}
		return out[i].ID < out[j].ID
	})
	backup.MarkParentCycles(out)
	return out, nil
}

// parentOf is the ID of the entry's parent, if it has one.
func parentOf(e backup.Entry) string {
	if e.Manifest != nil {
		return e.Manifest.Parent
	}
	return ""
}

// entryTime is when a backup was made, as far as the entry knows.
func entryTime(e backup.Entry) time.Time {
	if e.Manifest != nil {
		return e.Manifest.StartTime
	}
	return e.LastModified
}

// Resolve returns the manifest of backup ref: a Trove ID, or "latest"
// (the newest complete backup). The manifest lists the object's segments
// as Swift has them now. An unknown ID is backup.ErrNoBackup.
func (c *Catalogue) Resolve(ctx context.Context, ref string) (*backup.Manifest, error) {
	if ref == "latest" {
		entries, err := c.Entries(ctx)
		if err != nil {
			return nil, err
		}
		for i := len(entries) - 1; i >= 0; i-- {
			if entries[i].State == backup.StateComplete {
				return c.Resolve(ctx, entries[i].ID)
			}
		}
		return nil, fmt.Errorf("%w in %s is complete, so none is latest; %s", backup.ErrNoBackup, c.sw.Location(), backup.ListHint(troveLayout{}, c.sw.Location()))
	}
	if err := ValidateID(ref); err != nil {
		return nil, err
	}
	byID, err := c.scan(ctx, ref)
	if err != nil {
		return nil, err
	}
	eo := byID[ref]
	switch {
	case eo == nil:
		return nil, fmt.Errorf("%w %s in %s (no object %s.xbstream.gz[.enc] or %s.gz[.enc]); %s", backup.ErrNoBackup, ref, c.sw.Location(), ref, ref,
			backup.ListHint(troveLayout{}, c.sw.Location()))
	case eo.data == nil:
		return nil, fmt.Errorf("%w %s in %s that is complete: only %d segment(s) of it, no data object (an interrupted upload, or one still running); %s",
			backup.ErrNoBackup, ref, c.sw.Location(), len(eo.objects), backup.ListHint(troveLayout{}, c.sw.Location()))
	}
	m, err := c.manifest(ctx, eo, true)
	if err != nil {
		return nil, fmt.Errorf("Trove backup %s: %w", ref, err)
	}
	return m, nil
}

// manifest builds the manifest of a listed backup: mybak's own when it
// wrote one beside the data and it matches the data object, otherwise one
// synthesized from the object's name and headers. With parts, the
// object's segments are read (SLO manifest or DLO listing) into
// Objects[0].Parts.
func (c *Catalogue) manifest(ctx context.Context, eo *entryObjects, parts bool) (*backup.Manifest, error) {
	var (
		segs []storage.Part
		ro   swift.RawObject
		err  error
	)
	if parts {
		segs, ro, err = c.sw.Segments(ctx, eo.data.Name)
	} else {
		ro, err = c.sw.HeadRaw(ctx, eo.data.Name)
	}
	if err != nil {
		return nil, err
	}
	if !eo.data.ModTime.IsZero() {
		// The listing's time has microseconds, a HEAD's only seconds.
		ro.ModTime = eo.data.ModTime
	}
	if eo.manifest {
		m, err := c.ownManifest(ctx, eo, ro)
		switch {
		case err == nil && parts && m.Auth != nil && len(m.Objects[0].Parts) > 0:
			// The parts an authenticated manifest records are what the
			// data is checked against: Swift's current listing must
			// agree with them, never replace them.
			if err := sameParts(m.Objects[0].Parts, segs); err != nil {
				return nil, fmt.Errorf("%w: the segments of %s are not those its authenticated manifest %s records (%v): they were replaced after the backup",
					backup.ErrAuthentication, eo.data.Name, troveLayout{}.ManifestPath(m.ID), err)
			}
			return m, nil
		case err == nil:
			if parts {
				m.Objects[0].Parts = segs
			}
			return m, nil
		case errors.Is(err, errAuthenticatedMismatch):
			// An authenticated manifest that does not describe the object
			// is damage, not a backup Trove made.
			return nil, err
		}
	}
	m, err := synthesize(eo.name, eo.data.Name, ro)
	if err != nil {
		return nil, err
	}
	if parts {
		m.Objects[0].Parts = segs
	}
	return m, nil
}

// ownManifest reads the manifest mybak wrote beside a backup and checks
// that it describes the data object as it is stored.
func (c *Catalogue) ownManifest(ctx context.Context, eo *entryObjects, ro swift.RawObject) (*backup.Manifest, error) {
	id := eo.name.ID
	rc, err := c.sw.Get(ctx, troveLayout{}.ManifestPath(id), 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, err
	}
	m, err := backup.ParseManifest(b)
	if err != nil {
		return nil, err
	}
	if m.ID != id || m.Layout != backup.LayoutTrove || len(m.Objects) != 1 ||
		m.Objects[0].Name != eo.data.Name || m.Objects[0].Size != ro.Size {
		if m.Auth != nil {
			return nil, fmt.Errorf("%w: %w: %s does not describe %s (altered after the backup)", errAuthenticatedMismatch,
				backup.ErrAuthentication, troveLayout{}.ManifestPath(id), eo.data.Name)
		}
		return nil, fmt.Errorf("%w: %s does not describe %s", backup.ErrInvalidManifest, troveLayout{}.ManifestPath(id), eo.data.Name)
	}
	return m, nil
}

// errAuthenticatedMismatch marks an authenticated manifest that does not
// describe its data object: the catalogue then reports it instead of
// treating the object as one Trove made.
var errAuthenticatedMismatch = errors.New("authenticated manifest mismatch")

// MadeByTrove reports whether m was synthesized from a Trove data object's
// name and headers (a backup Trove made, or one whose mybak manifest is
// missing or does not match the object) rather than read from the manifest
// mybak wrote beside it. mybak records the SHA-256 of the original stream
// in every manifest it writes; a synthesized one has none. Its engine is
// then the datastore's tool family as the Datastore header says:
// mariabackup for MariaDB, xtrabackup otherwise (see synthesize).
func MadeByTrove(m *backup.Manifest) bool {
	return m.Layout == backup.LayoutTrove && m.RawSHA256 == ""
}

// synthesize builds the manifest of a backup Trove made from its name and
// headers. Nothing records the original's size or hash, nor the KDF.
func synthesize(n Name, object string, ro swift.RawObject) (*backup.Manifest, error) {
	meta := map[string]string{}
	if ro.ETag != "" {
		meta[ManifestMetaChecksum] = ro.ETag
	}
	for k, mk := range map[string]string{
		MetaParentLocation:   ManifestMetaParentLocation,
		MetaParentChecksum:   ManifestMetaParentChecksum,
		MetaDatastore:        ManifestMetaDatastore,
		MetaDatastoreVersion: ManifestMetaDatastoreVersion,
	} {
		if v := ro.Meta[k]; v != "" {
			meta[mk] = v
		}
	}
	engine := "mysqldump"
	if n.Physical {
		engine = "xtrabackup"
		if strings.Contains(strings.ToLower(ro.Meta[MetaDatastore]), "mariadb") {
			engine = "mariabackup"
		}
		if lsn := ro.Meta[MetaLsn]; lsn != "" {
			meta[backup.MetaToLSN] = lsn
		}
	}
	m := &backup.Manifest{
		FormatVersion: backup.FormatVersion,
		ID:            n.ID,
		Layout:        backup.LayoutTrove,
		StartTime:     ro.ModTime.UTC(),
		EndTime:       ro.ModTime.UTC(),
		Engine:        backup.EngineInfo{Name: engine, ServerVersion: ro.Meta[MetaDatastoreVersion]},
		Type:          "full",
		Compression:   backup.Compression{Kind: "gzip"},
		StoredSize:    ro.Size,
		Objects:       []backup.Object{{Name: object, Size: ro.Size}},
		Meta:          meta,
	}
	if !ro.SLO && ro.DLO == "" {
		m.Objects[0].MD5 = ro.ETag
	}
	if n.Encrypted {
		// No KDF: stream.Decode detects md5, sha256 or pbkdf2.
		m.Encryption = &backup.Encryption{Cipher: "aes-256-cbc"}
	}
	if loc := ro.Meta[MetaParentLocation]; loc != "" {
		p, err := ParentName(loc)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", backup.ErrInvalidManifest, n.ID, err)
		}
		m.Type, m.Parent = "incremental", p.ID
	} else if n.Physical && meta[backup.MetaToLSN] != "" {
		meta[backup.MetaFromLSN] = "0"
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Chain returns the backups restoring m needs, the full one first. Trove
// ran an incremental from its parent's Lsn, so a synthesized child's
// from_lsn is its parent's to_lsn.
func (c *Catalogue) Chain(ctx context.Context, m *backup.Manifest) ([]*backup.Manifest, error) {
	chain := []*backup.Manifest{m}
	w := backup.NewParentWalk(m.ID)
	for cur := m; cur.Parent != ""; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := w.Step(cur.Parent); err != nil {
			return nil, fmt.Errorf("backup chain of %s: %w", m.ID, err)
		}
		p, err := c.Resolve(ctx, cur.Parent)
		if err != nil {
			return nil, fmt.Errorf("parent of %s (%s): %w", cur.ID, cur.Meta[ManifestMetaParentLocation], err)
		}
		if cur.Meta != nil && cur.Meta[backup.MetaFromLSN] == "" && p.Meta[backup.MetaToLSN] != "" {
			cur.Meta[backup.MetaFromLSN] = p.Meta[backup.MetaToLSN]
		}
		if want := cur.Meta[ManifestMetaParentChecksum]; want != "" && p.Meta[ManifestMetaChecksum] != "" &&
			!strings.EqualFold(strings.Trim(want, `"`), p.Meta[ManifestMetaChecksum]) {
			return nil, fmt.Errorf("parent of %s: %s has checksum %s, its child recorded %s (the parent was replaced)",
				cur.ID, p.ID, p.Meta[ManifestMetaChecksum], want)
		}
		chain = append(chain, p)
		cur = p
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// CheckObject checks a Trove data object as Trove's checksums define it:
// the segments listed now are the ones m records (when it records them),
// their sizes add up to the object's, the object's ETag is the MD5 of the
// segments' MD5s (a single segment's own MD5), and every segment's bytes,
// downloaded, have the MD5 recorded for it (by the SLO manifest; for a
// DLO, by Swift's listing). A bad segment is named in the error.
func (c *Catalogue) CheckObject(ctx context.Context, m *backup.Manifest, o backup.Object) error {
	name := m.ObjectPath(o.Name)
	parts, ro, err := c.sw.Segments(ctx, name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return errors.New("missing")
		}
		return err
	}
	if ro.Size != o.Size {
		return fmt.Errorf("size %d, manifest says %d", ro.Size, o.Size)
	}
	if len(o.Parts) > 0 {
		if err := sameParts(o.Parts, parts); err != nil {
			return err
		}
		parts = o.Parts
	}
	var total int64
	sums := md5.New()
	for _, p := range parts {
		total += p.Size
		sums.Write([]byte(p.MD5))
	}
	if total != ro.Size {
		return fmt.Errorf("the %d segments hold %d bytes, the object %d", len(parts), total, ro.Size)
	}
	if len(parts) == 0 {
		return errors.New("no segments")
	}
	want := parts[0].MD5
	if ro.SLO || ro.DLO != "" {
		want = hex.EncodeToString(sums.Sum(nil))
	}
	if ro.ETag != want {
		return fmt.Errorf("checksum (ETag) %s, the segments' MD5s make %s", ro.ETag, want)
	}
	if err := c.sw.VerifyParts(ctx, parts); err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	return nil
}

// sameParts compares the segments a manifest recorded with those stored.
func sameParts(recorded, stored []storage.Part) error {
	if len(recorded) != len(stored) {
		return fmt.Errorf("%d segments stored, manifest records %d", len(stored), len(recorded))
	}
	for i := range recorded {
		r, s := recorded[i], stored[i]
		if r.Name != s.Name || r.Size != s.Size || !strings.EqualFold(r.MD5, s.MD5) {
			return &swift.CorruptPartError{Index: i, Part: r, Problem: fmt.Sprintf("stored as %s, %d bytes, md5 %s", s.Name, s.Size, s.MD5)}
		}
	}
	return nil
}
