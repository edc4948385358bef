package swift

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ncw/swift/v2"

	"github.com/mybak/mybak/storage"
)

// The segment-level API: an object uploaded part by part by a caller that
// keeps the parts itself (storage/spool keeps them in files), so that an
// upload can be finished by another process after this one died. Parts
// are the segments of Put's layout (doc.go): part n of upload UPLOAD-ID of
// object N is SEGMENT-CONTAINER/PREFIX/N/UPLOAD-ID/0000000n. Nothing is
// visible under N until CommitParts.

// PartSize is the size of the parts a caller should cut (Config.SegmentSize).
func (b *Backend) PartSize() int64 { return b.cfg.SegmentSize }

// MaxParts is the most parts an object may have (the cluster's
// slo.max_manifest_segments).
func (b *Backend) MaxParts() int { return b.limits.maxSegments }

// UploadParallel is how many parts a caller should upload at once
// (Config.UploadParallel).
func (b *Backend) UploadParallel() int { return b.cfg.UploadParallel }

// checkPart validates the arguments that name a part.
func checkPart(ctx context.Context, op, name, uploadID string, n int) error {
	if err := check(ctx, op, name); err != nil {
		return err
	}
	if uploadID == "" || strings.ContainsAny(uploadID, "/\\") || storage.ValidateName(uploadID) != nil {
		return fmt.Errorf("%s %q: upload ID %q must be a non-empty name without slashes", op, name, uploadID)
	}
	if n < 0 {
		return fmt.Errorf("%s %q: negative part number %d", op, name, n)
	}
	return nil
}

// PutPart stores part n (0-based) of the upload uploadID of object name:
// the size bytes at the start of r, whose hex MD5 is md5hex. r is rewound
// (Seek to 0) before every attempt, so a failed PUT (the transient
// failures of retry.go) is sent again from the same bytes; r must hold
// exactly size bytes. Swift checks md5hex (sent as ETag) and PutPart checks
// the ETag Swift returns. Storing a part again replaces it. The returned
// Part is what CommitParts needs. PutPart does not close r.
func (b *Backend) PutPart(ctx context.Context, name, uploadID string, n int, r io.ReadSeeker, size int64, md5hex string) (storage.Part, error) {
	if err := checkPart(ctx, "put part", name, uploadID, n); err != nil {
		return storage.Part{}, err
	}
	if raw, err := hex.DecodeString(md5hex); err != nil || len(raw) != 16 {
		return storage.Part{}, fmt.Errorf("put part %d of %q: %q is not a hex MD5", n, name, md5hex)
	}
	if size < 0 || size > b.limits.maxFileSize {
		return storage.Part{}, fmt.Errorf("put part %d of %q: size %d is not between 0 and the cluster's max_file_size %d", n, name, size, b.limits.maxFileSize)
	}
	if n >= b.limits.maxSegments {
		return storage.Part{}, fmt.Errorf("put part %d of %q: an object has at most %d parts (the cluster's slo max_manifest_segments): raise the segment size",
			n, name, b.limits.maxSegments)
	}
	md5hex = strings.ToLower(md5hex)
	obj := segmentKey(b.key(name), uploadID, n)
	err := b.retr.do(ctx, fmt.Sprintf("PUT part %d of %s", n, name), func(ctx context.Context) error {
		return b.putSeeker(ctx, b.cfg.SegmentContainer, obj, r, size, md5hex, nil)
	})
	if err != nil {
		if errors.Is(err, swift.ObjectNotFound) || errors.Is(err, swift.ContainerNotFound) {
			err = fmt.Errorf("%w (the segment container %q is gone: was it deleted while mybak was running?)", err, b.cfg.SegmentContainer)
		}
		return storage.Part{}, fmt.Errorf("upload part %d (%d bytes) of %q to %s/%s: %w", n, size, name, b.cfg.SegmentContainer, obj, err)
	}
	return storage.Part{Name: b.cfg.SegmentContainer + "/" + obj, Size: size, MD5: md5hex}, nil
}

// StatPart returns part n of the upload uploadID of object name as Swift
// has it (size and ETag, which is the MD5 of a segment's bytes), or an
// error wrapping storage.ErrNotFound. A caller resuming an upload compares
// it with what it stored to skip the parts that need no upload.
func (b *Backend) StatPart(ctx context.Context, name, uploadID string, n int) (storage.Part, error) {
	if err := checkPart(ctx, "stat part", name, uploadID, n); err != nil {
		return storage.Part{}, err
	}
	obj := segmentKey(b.key(name), uploadID, n)
	info, _, err := b.head(ctx, b.cfg.SegmentContainer, obj)
	if err != nil {
		return storage.Part{}, fmt.Errorf("stat part %d of %q (%s/%s): %w", n, name, b.cfg.SegmentContainer, obj, err)
	}
	return storage.Part{Name: b.cfg.SegmentContainer + "/" + obj, Size: info.Bytes, MD5: strings.ToLower(info.Hash)}, nil
}

// CommitParts makes the object name visible, made of parts (as PutPart
// returned them, in order). Several parts are committed as a Static Large
// Object manifest (Swift checks every part's size and ETag and refuses
// the manifest when one is missing or differs); a single part is copied
// to name on the server and then deleted from the segment container, so
// that the object looks like one that Put stored in one piece. Committing
// the same parts again is harmless: when the commit's response was lost,
// CommitParts finds the object already committed and succeeds.
//
// CommitParts does not delete the segments of an object it replaces;
// SweepUncommitted does.
func (b *Backend) CommitParts(ctx context.Context, name string, parts []storage.Part) (storage.ObjectInfo, error) {
	if err := check(ctx, "commit", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return storage.ObjectInfo{}, fmt.Errorf("commit %q: no parts", name)
	}
	if len(parts) > b.limits.maxSegments {
		return storage.ObjectInfo{}, fmt.Errorf("commit %q: %d parts, more than the cluster's slo max_manifest_segments %d", name, len(parts), b.limits.maxSegments)
	}
	var size int64
	for i, p := range parts {
		c, _, ok := strings.Cut(p.Name, "/")
		if !ok || c != b.cfg.SegmentContainer {
			return storage.ObjectInfo{}, fmt.Errorf("commit %q: part %d (%s) is not in the segment container %s", name, i, p.Name, b.cfg.SegmentContainer)
		}
		size += p.Size
	}
	key := b.key(name)
	if len(parts) == 1 {
		return b.commitOne(ctx, name, key, parts[0])
	}
	rx, err := b.putManifest(ctx, key, parts)
	if err != nil && !b.hasParts(ctx, name, parts) {
		return storage.ObjectInfo{}, fmt.Errorf("commit the manifest of %d parts to %s/%s: %w", len(parts), b.cfg.Container, key, err)
	}
	return storage.ObjectInfo{Name: name, Size: size, ModTime: lastModified(rx), Parts: append([]storage.Part(nil), parts...)}, nil
}

// commitOne copies a single part to the object and deletes the part.
func (b *Backend) commitOne(ctx context.Context, name, key string, p storage.Part) (storage.ObjectInfo, error) {
	_, obj, _ := strings.Cut(p.Name, "/")
	var rx swift.Headers
	err := b.retr.do(ctx, "COPY "+obj+" to "+key, func(ctx context.Context) error {
		var err error
		rx, err = b.conn.ObjectCopy(ctx, b.cfg.SegmentContainer, obj, b.cfg.Container, key, nil)
		if err != nil {
			return err
		}
		if got := strings.ToLower(strings.Trim(rx["Etag"], `"`)); got != p.MD5 {
			return &transientError{fmt.Errorf("Swift stored ETag %q for the copy, the part's MD5 is %s", got, p.MD5)}
		}
		return nil
	})
	if err != nil && errors.Is(notFound(err), storage.ErrNotFound) && b.hasParts(ctx, name, []storage.Part{p}) {
		// Committed before (the part is gone because it was deleted
		// after the copy).
		return storage.ObjectInfo{Name: name, Size: p.Size, ModTime: lastModified(rx), MD5: p.MD5}, nil
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("commit %q: copy %s to %s/%s: %w", name, p.Name, b.cfg.Container, key, notFound(err))
	}
	_ = b.deleteSegments(ctx, b.cfg.SegmentContainer, []string{obj}) // garbage at worst
	return storage.ObjectInfo{Name: name, Size: p.Size, ModTime: lastModified(rx), MD5: p.MD5}, nil
}

// hasParts reports whether the object name is committed with exactly
// parts: an SLO whose manifest lists them, or, for one part, a plain
// object with its size and MD5.
func (b *Backend) hasParts(ctx context.Context, name string, parts []storage.Part) bool {
	got, err := b.Parts(ctx, name)
	if err != nil || len(got) != len(parts) {
		return false
	}
	if len(parts) == 1 && got[0].Size == parts[0].Size && got[0].MD5 == parts[0].MD5 {
		return true
	}
	for i := range parts {
		if got[i] != parts[i] {
			return false
		}
	}
	return true
}

// DeleteUpload deletes every part of the upload uploadID of object name
// that Swift holds (the segments of an upload that will not be
// committed). Parts already deleted are not an error.
func (b *Backend) DeleteUpload(ctx context.Context, name, uploadID string) error {
	if err := checkPart(ctx, "delete upload", name, uploadID, 0); err != nil {
		return err
	}
	objs, err := b.segmentNames(ctx, b.key(name)+"/"+uploadID+"/")
	if err == nil {
		err = b.deleteSegments(ctx, b.cfg.SegmentContainer, objs)
	}
	if err != nil {
		return fmt.Errorf("delete upload %s of %q: %w", uploadID, name, err)
	}
	return nil
}

// SweepUncommitted deletes the segments stored under the object-name
// prefix (a backup's "ID/") that no committed object under that prefix
// references: the leftovers of uploads that were killed before their
// commit (a killed process cannot clean up after itself) and the
// segments of replaced objects. Objects under prefix are not touched.
//
// It must not run while an upload under prefix is in progress: that
// upload's segments are not referenced yet and would be deleted (prune
// only sweeps backups older than its grace period).
func (b *Backend) SweepUncommitted(ctx context.Context, prefix string) error {
	if err := check(ctx, "sweep", strings.TrimSuffix(prefix, "/")); err != nil {
		return err
	}
	keep := map[string]bool{}
	err := b.List(ctx, prefix, func(oi storage.ObjectInfo) error {
		key := b.key(oi.Name)
		_, h, err := b.head(ctx, b.cfg.Container, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !h.IsLargeObjectSLO() {
			return nil
		}
		parts, err := b.manifest(ctx, key)
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, errNotManifest) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range parts {
			keep[p.Name] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep uncommitted segments under %q: %w", prefix, err)
	}
	objs, err := b.segmentNames(ctx, b.key(prefix))
	if err != nil {
		return fmt.Errorf("sweep uncommitted segments under %q: %w", prefix, err)
	}
	var del []string
	for _, o := range objs {
		if !keep[b.cfg.SegmentContainer+"/"+o] {
			del = append(del, o)
		}
	}
	if err := b.deleteSegments(ctx, b.cfg.SegmentContainer, del); err != nil {
		return fmt.Errorf("sweep uncommitted segments under %q: %w", prefix, err)
	}
	return nil
}

// segmentNames lists the objects of the segment container whose names
// start with keyPrefix.
func (b *Backend) segmentNames(ctx context.Context, keyPrefix string) ([]string, error) {
	var names []string
	opts := &swift.ObjectsOpts{Prefix: keyPrefix, Limit: 1000}
	for {
		var page []string
		err := b.retr.do(ctx, "list "+b.cfg.SegmentContainer, func(ctx context.Context) error {
			var err error
			page, err = b.conn.ObjectNames(ctx, b.cfg.SegmentContainer, opts)
			return err
		})
		if errors.Is(err, swift.ContainerNotFound) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s/%s*: %w", b.cfg.SegmentContainer, keyPrefix, err)
		}
		names = append(names, page...)
		if len(page) < opts.Limit {
			return names, nil
		}
		opts.Marker = page[len(page)-1]
	}
}
