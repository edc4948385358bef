package swift

// Raw access to what other tools (OpenStack Trove) store in Swift: their
// headers and metadata, their segments (Static or Dynamic Large Objects
// whose segments live beside the object), streaming verified reads of
// those segments, and uploads that name segments their way.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ncw/swift/v2"
	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/storage"
)

// RawObject is what a HEAD says about an object.
type RawObject struct {
	// Name is the object's name as given to HeadRaw.
	Name string
	// Size is the object's length (a large object's total).
	Size int64
	// ETag is Swift's ETag, quotes stripped, lower case: the MD5 of a
	// plain object's bytes; for a Static or Dynamic Large Object the MD5
	// of the concatenated hex MD5s of its segments ("etag of etags").
	ETag string
	// ModTime is the Last-Modified time.
	ModTime time.Time
	// Meta holds the X-Object-Meta-* headers, keys without the prefix and
	// in lower case ("lsn", "parent-location").
	Meta map[string]string
	// SLO is true for a Static Large Object manifest.
	SLO bool
	// DLO is the X-Object-Manifest header of a Dynamic Large Object
	// ("CONTAINER/PREFIX", URL-decoded), empty for other objects.
	DLO string
}

// HeadRaw returns the headers of object name (HEAD, with retries), or an
// error wrapping storage.ErrNotFound.
func (b *Backend) HeadRaw(ctx context.Context, name string) (RawObject, error) {
	if err := check(ctx, "head", name); err != nil {
		return RawObject{}, err
	}
	info, h, err := b.head(ctx, b.cfg.Container, b.key(name))
	if err != nil {
		return RawObject{}, fmt.Errorf("head %q: %w", name, err)
	}
	ro := RawObject{
		Name:    name,
		Size:    info.Bytes,
		ETag:    strings.ToLower(strings.Trim(h["Etag"], `"`)),
		ModTime: info.LastModified,
		Meta:    map[string]string{},
		SLO:     h.IsLargeObjectSLO(),
	}
	if t, err := time.Parse(time.RFC1123, h["Last-Modified"]); err == nil {
		ro.ModTime = t
	}
	for k, v := range h.ObjectMetadata() {
		ro.Meta[strings.ToLower(k)] = v
	}
	if m := h["X-Object-Manifest"]; m != "" {
		if d, err := url.PathUnescape(m); err == nil {
			m = d
		}
		ro.DLO = m
	}
	return ro, nil
}

// Segments returns the pieces of object name, in order, as
// "CONTAINER/OBJECT" with size and MD5: the entries of a Static Large
// Object's manifest (the MD5s the manifest recorded), the objects a
// Dynamic Large Object's X-Object-Manifest prefix lists (the MD5s Swift
// lists for them now), or the object itself for a plain object. It also
// returns the object's headers.
func (b *Backend) Segments(ctx context.Context, name string) ([]storage.Part, RawObject, error) {
	ro, err := b.HeadRaw(ctx, name)
	if err != nil {
		return nil, ro, fmt.Errorf("segments of %q: %w", name, err)
	}
	key := b.key(name)
	switch {
	case ro.SLO:
		parts, err := b.manifest(ctx, key)
		if err != nil {
			return nil, ro, fmt.Errorf("segments of %q: %w", name, err)
		}
		return parts, ro, nil
	case ro.DLO != "":
		parts, err := b.listDLO(ctx, ro.DLO)
		if err != nil {
			return nil, ro, fmt.Errorf("segments of %q: %w", name, err)
		}
		return parts, ro, nil
	}
	return []storage.Part{{Name: b.cfg.Container + "/" + key, Size: ro.Size, MD5: ro.ETag}}, ro, nil
}

// listDLO lists the segments of a Dynamic Large Object whose
// X-Object-Manifest is manifest ("CONTAINER/PREFIX"), in Swift's order,
// which is the order a GET of the object concatenates them in.
func (b *Backend) listDLO(ctx context.Context, manifest string) ([]storage.Part, error) {
	container, prefix, ok := strings.Cut(manifest, "/")
	if !ok || container == "" {
		return nil, fmt.Errorf("X-Object-Manifest %q is not CONTAINER/PREFIX", manifest)
	}
	var parts []storage.Part
	opts := &swift.ObjectsOpts{Prefix: prefix, Limit: 1000}
	for {
		var objs []swift.Object
		err := b.retr.do(ctx, "list "+container, func(ctx context.Context) error {
			var err error
			objs, err = b.conn.Objects(ctx, container, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list the segments %s*: %w", manifest, notFound(err))
		}
		for _, o := range objs {
			parts = append(parts, storage.Part{Name: container + "/" + o.Name, Size: o.Bytes, MD5: strings.ToLower(o.Hash)})
		}
		if len(objs) < opts.Limit {
			return parts, nil
		}
		opts.Marker = objs[len(objs)-1].Name
	}
}

// SetMetadata replaces the user metadata of object name with meta
// (POST X-Object-Meta-KEY: VALUE; keys as HeadRaw returns them). The
// object's data is not touched; for a large object the manifest carries
// the metadata.
func (b *Backend) SetMetadata(ctx context.Context, name string, meta map[string]string) error {
	if err := check(ctx, "set metadata of", name); err != nil {
		return err
	}
	h := swift.Headers{}
	for k, v := range meta {
		h["X-Object-Meta-"+k] = v
	}
	err := b.retr.do(ctx, "POST metadata of "+b.cfg.Container+"/"+b.key(name), func(ctx context.Context) error {
		return b.conn.ObjectUpdate(ctx, b.cfg.Container, b.key(name), h)
	})
	if err != nil {
		return fmt.Errorf("set metadata of %q: %w", name, notFound(err))
	}
	return nil
}

// ReadParts returns a reader of the concatenation of parts (as Segments
// returns them) from byte off of the concatenation. Parts are streamed one
// after the other, never held whole (Trove's segments are up to 2 GiB), and
// a broken download is resumed. Each part read from its start is checked
// as it ends: a size or MD5 that differs from the part's record fails the
// read with a *CorruptPartError naming it, so the bytes of a bad part have
// already been returned by then (the caller must treat its output as
// garbage on error). The part that off falls inside is checked for size
// only. ctx governs the reader; the caller must Close it.
func (b *Backend) ReadParts(ctx context.Context, parts []storage.Part, off int64) io.ReadCloser {
	r := &partsReader{ctx: ctx, b: b, parts: parts, idx: len(parts)}
	var start int64
	for i, p := range parts {
		if off < start+p.Size {
			r.idx, r.off = i, off-start
			break
		}
		start += p.Size
	}
	return r
}

// partsReader streams parts one after the other, checking each.
type partsReader struct {
	ctx   context.Context
	b     *Backend
	parts []storage.Part
	idx   int   // the part being read
	off   int64 // where reading of part idx starts
	cur   *resumeReader
	h     hash.Hash // MD5 of part idx, nil when it is not read from 0
	n     int64     // bytes of part idx read
	err   error
}

func (r *partsReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.idx >= len(r.parts) {
			r.err = io.EOF
			break
		}
		part := r.parts[r.idx]
		if r.cur == nil {
			container, obj, ok := strings.Cut(part.Name, "/")
			if !ok {
				r.err = fmt.Errorf("read segment %d: name %q is not CONTAINER/OBJECT", r.idx, part.Name)
				break
			}
			r.cur = r.b.newResumeReader(r.ctx, container, obj, part.Size, r.off)
			r.cur.what = fmt.Sprintf("read segment %d (%s)", r.idx, part.Name)
			r.h, r.n = nil, r.off
			if r.off == 0 {
				r.h = md5.New()
			}
		}
		n, err := r.cur.Read(p)
		if n > 0 {
			r.n += int64(n)
			if r.h != nil {
				r.h.Write(p[:n])
			}
		}
		switch {
		case err == io.EOF:
			r.cur.Close()
			r.cur = nil
			if cerr := r.checkPart(part); cerr != nil {
				r.err = cerr
				return n, nil // the error comes with the next Read
			}
			r.idx, r.off = r.idx+1, 0
		case errors.Is(err, errSizeMismatch):
			r.err = &CorruptPartError{Index: r.idx, Part: part, Problem: problem(err)}
		case err != nil:
			r.err = err
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, r.err
}

// checkPart compares the part just read with its record.
func (r *partsReader) checkPart(part storage.Part) error {
	if r.n != part.Size {
		return &CorruptPartError{Index: r.idx, Part: part, Problem: fmt.Sprintf("read %d bytes", r.n)}
	}
	if r.h != nil && part.MD5 != "" {
		if got := hex.EncodeToString(r.h.Sum(nil)); got != part.MD5 {
			return &CorruptPartError{Index: r.idx, Part: part, Problem: "its MD5 is " + got}
		}
	}
	return nil
}

// Close ends the read.
func (r *partsReader) Close() error {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	if r.err == nil {
		r.err = errors.New("read after Close")
	}
	return nil
}

// SegmentedPut configures PutSegmented.
type SegmentedPut struct {
	// SegmentName returns the name (relative to the store's prefix, like
	// the object's) of segment n. The segments are stored in the object's
	// own container (Trove: "<id>_%08d").
	SegmentName func(n int) string
	// Meta is stored as the object's X-Object-Meta-* headers.
	Meta map[string]string
}

// PutSegmented stores everything read from r as object name, like Put,
// with the segments named by opts.SegmentName in the object's container
// (not in the segment container) and opts.Meta as its metadata: the
// layout that OpenStack Trove writes and reads. Segments are held whole
// until Swift stored them and retried like Put's (UploadParallel at a
// time, so memory stays within UploadParallel+1 segments). A stream of
// one segment or less is stored as a plain object under name; a longer one
// as a Static Large Object whose manifest, PUT last, makes it visible.
// When PutSegmented fails, the segments it uploaded are deleted (unless
// KeepPartial). Segment names do not change between uploads of one name,
// so concurrent PutSegmented calls of one name are not supported.
func (b *Backend) PutSegmented(ctx context.Context, name string, r io.Reader, opts SegmentedPut) (info storage.ObjectInfo, err error) {
	if err := check(ctx, "put", name); err != nil {
		return info, err
	}
	if opts.SegmentName == nil {
		return info, fmt.Errorf("put %q: no segment names", name)
	}
	meta := swift.Headers{}
	for k, v := range opts.Meta {
		meta["X-Object-Meta-"+k] = v
	}
	key := b.key(name)
	segKey := func(n int) string { return b.key(opts.SegmentName(n)) }
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		parts    []storage.Part
		uploaded []string
	)
	defer func() {
		if err == nil || b.cfg.KeepPartial {
			return
		}
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer ccancel()
		mu.Lock()
		objs := append([]string(nil), uploaded...)
		mu.Unlock()
		b.deleteSegments(cctx, b.cfg.Container, objs)
		err = fmt.Errorf("put %q: %w", name, err)
	}()

	sem := make(chan struct{}, b.cfg.UploadParallel+1) // buffers held
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.UploadParallel)
	var size int64
	for n := 0; ; n++ {
		select {
		case sem <- struct{}{}:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			break
		}
		data := make([]byte, b.cfg.SegmentSize)
		k, rerr := io.ReadFull(r, data)
		data = data[:k]
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			cancel()
			_ = g.Wait()
			return info, fmt.Errorf("read the source: %w", rerr)
		}
		last := rerr != nil
		if k == 0 && n > 0 {
			break
		}
		sum := md5.Sum(data)
		md5hex := hex.EncodeToString(sum[:])
		if n == 0 && last {
			// One segment or less: a plain object, as Trove copies a
			// single segment to the object's name.
			err := b.retr.do(ctx, "PUT "+b.cfg.Container+"/"+key, func(ctx context.Context) error {
				return b.putHeld(ctx, b.cfg.Container, key, data, md5hex, meta)
			})
			if err != nil {
				return info, fmt.Errorf("upload %d bytes to %s/%s: %w", k, b.cfg.Container, key, err)
			}
			return storage.ObjectInfo{Name: name, Size: int64(k), ModTime: time.Now().UTC(), MD5: md5hex}, nil
		}
		if n >= b.limits.maxSegments {
			cancel()
			_ = g.Wait()
			return info, fmt.Errorf("the stream needs more than %d segments of %d bytes (the cluster's slo max_manifest_segments): raise the segment size",
				b.limits.maxSegments, b.cfg.SegmentSize)
		}
		size += int64(k)
		obj := segKey(n)
		mu.Lock()
		parts = append(parts, storage.Part{Name: b.cfg.Container + "/" + obj, Size: int64(k), MD5: md5hex})
		uploaded = append(uploaded, obj)
		mu.Unlock()
		g.Go(func() error {
			defer func() { <-sem }()
			err := b.retr.do(gctx, fmt.Sprintf("PUT segment %d of %s", n, key), func(ctx context.Context) error {
				return b.putHeld(ctx, b.cfg.Container, obj, data, md5hex, nil)
			})
			if err != nil {
				return fmt.Errorf("upload segment %d (%d bytes) to %s/%s: %w", n, len(data), b.cfg.Container, obj, err)
			}
			return nil
		})
		if last {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return info, err
	}
	if err := ctx.Err(); err != nil {
		return info, err
	}
	if err := b.putSLO(ctx, key, parts, meta); err != nil {
		return info, err
	}
	return storage.ObjectInfo{Name: name, Size: size, ModTime: time.Now().UTC(), Parts: parts}, nil
}

// putSLO PUTs a Static Large Object manifest of parts as key, with extra
// headers (metadata). Paths are "CONTAINER/OBJECT" as Trove writes them.
func (b *Backend) putSLO(ctx context.Context, key string, parts []storage.Part, extra swift.Headers) error {
	type entry struct {
		Path string `json:"path"`
		Etag string `json:"etag"`
		Size int64  `json:"size_bytes"`
	}
	entries := make([]entry, len(parts))
	for i, p := range parts {
		entries[i] = entry{Path: p.Name, Etag: p.MD5, Size: p.Size}
	}
	body, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	h := swift.Headers{
		"Content-Length": strconv.Itoa(len(body)),
		"Content-Type":   "application/octet-stream",
	}
	for k, v := range extra {
		h[k] = v
	}
	err = b.retr.do(ctx, "PUT manifest "+b.cfg.Container+"/"+key, func(ctx context.Context) error {
		_, _, err := b.call(ctx, swift.RequestOpts{
			Container:  b.cfg.Container,
			ObjectName: key,
			Operation:  "PUT",
			Parameters: url.Values{"multipart-manifest": {"put"}},
			Headers:    h,
			Body:       bytes.NewReader(body),
			NoResponse: true,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("commit the manifest of %d segments to %s/%s: %w", len(parts), b.cfg.Container, key, err)
	}
	return nil
}

// ObjectURL returns the URL of object name in the storage URL the backend
// authenticated for ("<storage URL>/<container>/<object>"): the location
// Trove records, e.g. as a child's X-Object-Meta-Parent-Location.
func (b *Backend) ObjectURL(ctx context.Context, name string) (string, error) {
	if err := check(ctx, "locate", name); err != nil {
		return "", err
	}
	u, err := b.conn.GetStorageUrl(ctx)
	if err != nil {
		return "", fmt.Errorf("locate %q: %w", name, err)
	}
	p := (&url.URL{Path: b.cfg.Container + "/" + b.key(name)}).EscapedPath()
	return strings.TrimRight(u, "/") + "/" + p, nil
}
