package swift

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ncw/swift/v2"
	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/internal/ratelimit"
	"github.com/mybak/mybak/storage"
)

// Put stores everything read from r as the object name.
//
// The stream is cut into segments of Config.SegmentSize bytes. Each
// segment is read whole into a pooled buffer, its MD5 computed while it
// fills, and uploaded (up to UploadParallel at once) to the segment
// container as PREFIX/NAME/UPLOAD-ID/00000000, 00000001, ...; Swift checks
// the MD5 (sent as ETag) and Put checks the ETag Swift returns. Because
// the segment is held until Swift has stored it, a failed segment upload
// (timeout, 408/499 from a proxy, 5xx, connection reset, expired token)
// is retried with the same bytes; the caller's stream is read once and
// never rewound. While all buffers are busy Put stops reading r, so memory
// stays within about (UploadParallel+1) segments whatever the stream's
// length.
//
// After the last segment, Put commits the object as a Static Large Object
// manifest (PUT ?multipart-manifest=put); only then is anything visible
// under name. A stream shorter than one segment is stored as a plain
// object instead. When Put fails or ctx is cancelled, the segments it
// uploaded are deleted (unless Config.KeepPartial). When Put replaces an
// SLO, the old object's segments are deleted after the commit, so a
// reader that opened the old object before may fail (never mix contents).
//
// The returned ObjectInfo lists Parts: the segments, as
// "SEGMENT-CONTAINER/OBJECT", with size and MD5.
func (b *Backend) Put(ctx context.Context, name string, r io.Reader) (info storage.ObjectInfo, err error) {
	if err := check(ctx, "put", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	u := &upload{
		b:      b,
		name:   name,
		key:    b.key(name),
		id:     fmt.Sprintf("%016x-%08x", time.Now().UnixNano(), rand.Uint32()),
		bufSem: make(chan struct{}, b.cfg.UploadParallel+1),
	}
	info, err = u.run(ctx, r)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %q: %w", name, err)
	}
	return info, nil
}

// upload is the state of one Put.
type upload struct {
	b    *Backend
	name string // object name given to Put
	key  string // object name in the container
	id   string // unique per Put: segments of concurrent Puts never clash
	// bufSem bounds the buffers this Put holds: UploadParallel being
	// uploaded plus the one being filled.
	bufSem chan struct{}

	mu    sync.Mutex
	parts []storage.Part // by segment index; filled as uploads succeed
	// uploaded lists the segment objects that may exist in Swift (an
	// upload was attempted), for cleanup after a failure.
	uploaded []string
}

// segmentObject is the name of segment n in the segment container.
func (u *upload) segmentObject(n int) string {
	return segmentKey(u.key, u.id, n)
}

// segmentKey is the name, in the segment container, of segment n of the
// upload uploadID of the object stored as key.
func segmentKey(key, uploadID string, n int) string {
	return fmt.Sprintf("%s/%s/%08d", key, uploadID, n)
}

// buffer is a segment buffer taken from the backend's pool.
type buffer struct {
	p    *[]byte
	data []byte // the filled part
	md5  string
}

func (u *upload) getBuffer(ctx context.Context) (*buffer, error) {
	select {
	case u.bufSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b := u.b
	p := b.pool.get()
	n := b.inUse.Add(1)
	for {
		m := b.maxInUse.Load()
		if n <= m || b.maxInUse.CompareAndSwap(m, n) {
			break
		}
	}
	return &buffer{p: p}, nil
}

func (u *upload) putBuffer(buf *buffer) {
	if buf == nil || buf.p == nil {
		return
	}
	u.b.inUse.Add(-1)
	u.b.pool.put(buf.p)
	buf.p = nil
	<-u.bufSem
}

// fill reads from r into buf until the buffer is full or r ends, hashing
// as it goes. It returns io.EOF when r ended (possibly with data), and
// checks ctx between reads so that a cancelled Put stops reading.
func (u *upload) fill(ctx context.Context, r io.Reader, buf *buffer) error {
	p := (*buf.p)[:u.b.cfg.SegmentSize]
	h := md5.New()
	n := 0
	var err error
	for n < len(p) {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		var k int
		k, err = r.Read(p[n:])
		if k > 0 {
			h.Write(p[n : n+k])
			n += k
		}
		if err != nil {
			break
		}
	}
	buf.data = p[:n]
	buf.md5 = hex.EncodeToString(h.Sum(nil))
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	return ctx.Err()
}

func (u *upload) run(ctx context.Context, r io.Reader) (info storage.ObjectInfo, err error) {
	b := u.b
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	buf, err := u.getBuffer(ctx)
	if err != nil {
		return info, err
	}
	ferr := u.fill(ctx, r, buf)
	if ferr != nil && ferr != io.EOF {
		u.putBuffer(buf)
		return info, ferr
	}
	if ferr == io.EOF && int64(len(buf.data)) < b.cfg.SegmentSize {
		// Shorter than one segment: a plain object, still held whole.
		defer u.putBuffer(buf)
		return u.putSmall(ctx, buf)
	}

	// Segmented upload.
	old := u.oldSegments(ctx)
	defer func() {
		if err != nil {
			u.cleanup(ctx)
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.UploadParallel)
	var size int64
	for n := 0; ; n++ {
		if len(buf.data) == 0 {
			u.putBuffer(buf)
			break
		}
		if n >= b.limits.maxSegments {
			u.putBuffer(buf)
			cancel()
			_ = g.Wait()
			return info, fmt.Errorf("the stream needs more than %d segments of %d bytes (the cluster's slo max_manifest_segments): raise the segment size",
				b.limits.maxSegments, b.cfg.SegmentSize)
		}
		size += int64(len(buf.data))
		seg, idx := buf, n
		u.mu.Lock()
		u.parts = append(u.parts, storage.Part{})
		u.mu.Unlock()
		g.Go(func() error {
			defer u.putBuffer(seg)
			return u.putSegment(gctx, idx, seg)
		})
		if ferr == io.EOF {
			break
		}
		buf, err = u.getBuffer(gctx)
		if err != nil {
			break
		}
		ferr = u.fill(gctx, r, buf)
		if ferr != nil && ferr != io.EOF {
			u.putBuffer(buf)
			err = ferr
			break
		}
	}
	werr := g.Wait()
	// The first error that happened: a source error, a failed segment
	// (which cancelled gctx and so stopped the reading), or ctx.
	switch {
	case err != nil && errors.Is(err, context.Canceled) && werr != nil && ctx.Err() == nil:
		err = werr // gctx was cancelled by a failing segment
	case err == nil:
		err = werr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return info, err
	}
	info, err = u.commit(ctx, size)
	if err != nil {
		return info, err
	}
	u.deleteOld(ctx, old)
	return info, nil
}

// putSegment uploads one held segment, with retries.
func (u *upload) putSegment(ctx context.Context, n int, seg *buffer) error {
	b := u.b
	obj := u.segmentObject(n)
	u.mu.Lock()
	u.uploaded = append(u.uploaded, obj)
	u.mu.Unlock()
	err := b.retr.do(ctx, fmt.Sprintf("PUT segment %d of %s", n, u.key), func(ctx context.Context) error {
		return b.putHeld(ctx, b.cfg.SegmentContainer, obj, seg.data, seg.md5, nil)
	})
	if err != nil {
		if errors.Is(err, swift.ObjectNotFound) || errors.Is(err, swift.ContainerNotFound) {
			err = fmt.Errorf("%w (the segment container %q is gone: was it deleted while mybak was running?)", err, b.cfg.SegmentContainer)
		}
		return fmt.Errorf("upload segment %d (%d bytes) to %s/%s: %w", n, len(seg.data), b.cfg.SegmentContainer, obj, err)
	}
	u.mu.Lock()
	u.parts[n] = storage.Part{Name: b.cfg.SegmentContainer + "/" + obj, Size: int64(len(seg.data)), MD5: seg.md5}
	u.mu.Unlock()
	return nil
}

// putHeld is one attempt to PUT bytes held in memory. Swift verifies the
// MD5 we send as ETag (422 when the body arrived damaged) and we verify
// the ETag it returns; both mismatches mean damage on the way and are
// worth a retry, since the bytes are still here.
func (b *Backend) putHeld(ctx context.Context, container, obj string, data []byte, md5hex string, h swift.Headers) error {
	return b.putSeeker(ctx, container, obj, bytes.NewReader(data), int64(len(data)), md5hex, h)
}

// putSeeker is one attempt to PUT the size bytes at the start of r, which
// it rewinds first: the body of every attempt is the same bytes, held in
// memory (putHeld) or in a file (PutPart).
func (b *Backend) putSeeker(ctx context.Context, container, obj string, r io.ReadSeeker, size int64, md5hex string, h swift.Headers) error {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind the data: %w", err)
	}
	hdr := swift.Headers{"Content-Length": strconv.FormatInt(size, 10)}
	for k, v := range h {
		hdr[k] = v
	}
	var body io.Reader = r
	body = ratelimit.Reader(ctx, body, b.limiter)
	rx, err := b.conn.ObjectPut(ctx, container, obj, body, false, md5hex, "application/octet-stream", hdr)
	if errors.Is(err, swift.ObjectCorrupted) {
		return &transientError{fmt.Errorf("Swift says the body does not match its MD5 %s: %w", md5hex, err)}
	}
	if err != nil {
		return err
	}
	if got := strings.ToLower(strings.Trim(rx["Etag"], `"`)); got != md5hex {
		return &transientError{fmt.Errorf("Swift stored ETag %q, the data's MD5 is %s", got, md5hex)}
	}
	return nil
}

// putSmall stores a stream shorter than one segment as a plain object.
func (u *upload) putSmall(ctx context.Context, buf *buffer) (storage.ObjectInfo, error) {
	b := u.b
	old := u.oldSegments(ctx)
	err := b.retr.do(ctx, "PUT "+b.cfg.Container+"/"+u.key, func(ctx context.Context) error {
		return b.putHeld(ctx, b.cfg.Container, u.key, buf.data, buf.md5, nil)
	})
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("upload %d bytes to %s/%s: %w", len(buf.data), b.cfg.Container, u.key, err)
	}
	u.deleteOld(ctx, old)
	return storage.ObjectInfo{Name: u.name, Size: int64(len(buf.data)), ModTime: time.Now().UTC(), MD5: buf.md5}, nil
}

// manifestEntry is one segment in an SLO manifest PUT.
type manifestEntry struct {
	Path string `json:"path"`
	Etag string `json:"etag"`
	Size int64  `json:"size_bytes"`
}

// commit PUTs the SLO manifest, making the object visible.
func (u *upload) commit(ctx context.Context, size int64) (storage.ObjectInfo, error) {
	b := u.b
	rx, err := b.putManifest(ctx, u.key, u.parts)
	if err != nil && !u.committed(ctx) {
		return storage.ObjectInfo{}, fmt.Errorf("commit the manifest of %d segments to %s/%s: %w", len(u.parts), b.cfg.Container, u.key, err)
	}
	return storage.ObjectInfo{Name: u.name, Size: size, ModTime: lastModified(rx), Parts: append([]storage.Part(nil), u.parts...)}, nil
}

// putManifest PUTs the SLO manifest of parts as key (with retries: the
// manifest is built in memory).
func (b *Backend) putManifest(ctx context.Context, key string, parts []storage.Part) (swift.Headers, error) {
	entries := make([]manifestEntry, len(parts))
	for i, p := range parts {
		entries[i] = manifestEntry{Path: "/" + p.Name, Etag: p.MD5, Size: p.Size}
	}
	body, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	var rx swift.Headers
	err = b.retr.do(ctx, "PUT manifest "+b.cfg.Container+"/"+key, func(ctx context.Context) error {
		var err error
		_, rx, err = b.call(ctx, swift.RequestOpts{
			Container:  b.cfg.Container,
			ObjectName: key,
			Operation:  "PUT",
			Parameters: url.Values{"multipart-manifest": {"put"}},
			Headers: swift.Headers{
				"Content-Length": strconv.Itoa(len(body)),
				"Content-Type":   "application/octet-stream",
			},
			Body:       bytes.NewReader(body),
			NoResponse: true,
		})
		return err
	})
	return rx, err
}

// lastModified is the Last-Modified time of a response, or now.
func lastModified(rx swift.Headers) time.Time {
	if t, err := http.ParseTime(rx["Last-Modified"]); err == nil {
		return t
	}
	return time.Now().UTC()
}

// committed reports whether the object's manifest is this Put's, after
// the manifest PUT failed: an attempt may have succeeded with its response
// lost, and then the segments must not be deleted.
func (u *upload) committed(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	parts, err := u.b.manifest(ctx, u.key)
	return err == nil && len(parts) > 0 && strings.Contains(parts[0].Name, "/"+u.id+"/")
}

// cleanup deletes the segments of a failed Put (unless KeepPartial). It
// runs after ctx may have been cancelled, so it has its own deadline.
func (u *upload) cleanup(ctx context.Context) {
	if u.b.cfg.KeepPartial {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	u.mu.Lock()
	objs := append([]string(nil), u.uploaded...)
	u.mu.Unlock()
	_ = u.b.deleteSegments(ctx, u.b.cfg.SegmentContainer, objs)
}

// oldSegments returns the segments of the object that this Put is about
// to replace, when it is an SLO whose segments are in our segment
// container. Errors are ignored: at worst old segments are left behind.
func (u *upload) oldSegments(ctx context.Context) []string {
	b := u.b
	_, h, err := b.head(ctx, b.cfg.Container, u.key)
	if err != nil || !h.IsLargeObjectSLO() {
		return nil
	}
	parts, err := b.manifest(ctx, u.key)
	if err != nil {
		return nil
	}
	var objs []string
	for _, p := range parts {
		c, o, ok := strings.Cut(p.Name, "/")
		if ok && c == b.cfg.SegmentContainer {
			objs = append(objs, o)
		}
	}
	return objs
}

// deleteOld deletes the replaced object's segments after a commit.
// Concurrent Puts of one name may leave a loser's segments behind (never
// a broken object).
func (u *upload) deleteOld(ctx context.Context, objs []string) {
	if len(objs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	_ = u.b.deleteSegments(ctx, u.b.cfg.SegmentContainer, objs)
}

// deleteSegments deletes objects, a few at a time, ignoring the missing.
// It tries them all and returns the failures joined; callers that clean up
// after a failure ignore them (a leftover segment is garbage, not damage).
func (b *Backend) deleteSegments(ctx context.Context, container string, objs []string) error {
	var g errgroup.Group
	g.SetLimit(b.cfg.UploadParallel)
	errs := make([]error, len(objs))
	for i, o := range objs {
		g.Go(func() error {
			err := b.retr.do(ctx, "DELETE "+container+"/"+o, func(ctx context.Context) error {
				return b.conn.ObjectDelete(ctx, container, o)
			})
			if err != nil && !errors.Is(notFound(err), storage.ErrNotFound) {
				errs[i] = fmt.Errorf("delete %s/%s: %w", container, o, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}
