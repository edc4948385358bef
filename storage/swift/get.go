package swift

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

	"github.com/ncw/swift/v2"
	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/storage"
)

// ErrCorrupt is wrapped by the errors of reads and verifications that
// found stored bytes that do not match their recorded MD5 or size.
var ErrCorrupt = errors.New("stored data is corrupt")

// CorruptPartError says which part (segment) of an object is bad.
// errors.Is(err, ErrCorrupt) holds for it.
type CorruptPartError struct {
	// Index is the part's position in the object (0-based).
	Index int
	// Part is the part as the manifest records it.
	Part storage.Part
	// Problem says what differs (the MD5 or the size found).
	Problem string
}

// Error names the part and what is wrong with it.
func (e *CorruptPartError) Error() string {
	return fmt.Sprintf("part %d (%s, %d bytes, md5 %s): %s", e.Index, e.Part.Name, e.Part.Size, e.Part.MD5, e.Problem)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptPartError) Is(target error) bool { return target == ErrCorrupt }

// Get opens the object for reading from byte off.
//
// A plain object is streamed; a broken download is resumed from the byte
// where it stopped (Range, with If-Match on the ETag so that bytes of a
// newer version are never appended), and when read from offset 0 its MD5
// is checked against the ETag at the end. A Static Large Object is read
// segment by segment from the segment container, UploadParallel segments
// ahead, each held whole and its MD5 checked against the manifest before
// any of its bytes are returned; a bad segment fails the read with a
// *CorruptPartError that names it. Reading from an offset inside a
// segment fetches that segment whole (to check it) and skips the head.
//
// ctx governs the reader: cancelling it fails the next Read.
func (b *Backend) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	if err := check(ctx, "get", name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("get %q: negative offset %d", name, off)
	}
	key := b.key(name)
	for attempt := 0; ; attempt++ {
		info, h, err := b.head(ctx, b.cfg.Container, key)
		if err != nil {
			return nil, fmt.Errorf("get %q: %w", name, err)
		}
		if h.IsLargeObjectSLO() {
			parts, err := b.manifest(ctx, key)
			if errors.Is(err, errNotManifest) && attempt < 3 {
				continue // replaced by a plain object since the HEAD
			}
			if err != nil {
				return nil, fmt.Errorf("get %q: %w", name, err)
			}
			return b.newSegmentReader(ctx, name, parts, off), nil
		}
		if off >= info.Bytes {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		r := b.newResumeReader(ctx, b.cfg.Container, key, info.Bytes, off)
		if !h.IsLargeObjectDLO() {
			// A DLO's ETag is not the MD5 of its bytes, nor usable
			// in If-Match.
			r.etag = strings.ToLower(info.Hash)
			r.verify = off == 0
		}
		r.what = fmt.Sprintf("get %q", name)
		return r, nil
	}
}

var errNotManifest = errors.New("not a Static Large Object manifest")

// manifestSegment is one entry of GET ?multipart-manifest=get.
type manifestSegment struct {
	Name  string `json:"name"` // "/container/object"
	Hash  string `json:"hash"`
	Bytes int64  `json:"bytes"`
	Range string `json:"range"`
	// Sub-manifests (nested SLOs) are not written by mybak.
	SubSLO bool `json:"sub_slo"`
}

// manifest reads the segments of the SLO stored as obj in the container.
func (b *Backend) manifest(ctx context.Context, obj string) ([]storage.Part, error) {
	var segs []manifestSegment
	err := b.retr.do(ctx, "GET manifest "+b.cfg.Container+"/"+obj, func(ctx context.Context) error {
		resp, h, err := b.call(ctx, swift.RequestOpts{
			Container:  b.cfg.Container,
			ObjectName: obj,
			Operation:  "GET",
			Parameters: url.Values{"multipart-manifest": {"get"}},
		})
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if !h.IsLargeObjectSLO() {
			return errNotManifest
		}
		segs = nil
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &segs); err != nil {
			return fmt.Errorf("parse the manifest: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s/%s: %w", b.cfg.Container, obj, notFound(err))
	}
	parts := make([]storage.Part, len(segs))
	for i, s := range segs {
		if s.SubSLO || s.Range != "" {
			return nil, fmt.Errorf("read the manifest of %s/%s: segment %d (%s) is a nested SLO or a range: not supported", b.cfg.Container, obj, i, s.Name)
		}
		parts[i] = storage.Part{Name: strings.TrimPrefix(s.Name, "/"), Size: s.Bytes, MD5: strings.ToLower(s.Hash)}
	}
	return parts, nil
}

// Parts returns the pieces the object is stored in: the segments of a
// Static Large Object as its manifest lists them, or the object itself as
// one part for a plain object. Part names are "CONTAINER/OBJECT".
func (b *Backend) Parts(ctx context.Context, name string) ([]storage.Part, error) {
	if err := check(ctx, "parts", name); err != nil {
		return nil, err
	}
	key := b.key(name)
	info, h, err := b.head(ctx, b.cfg.Container, key)
	if err != nil {
		return nil, fmt.Errorf("parts of %q: %w", name, err)
	}
	if h.IsLargeObjectSLO() {
		parts, err := b.manifest(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("parts of %q: %w", name, err)
		}
		return parts, nil
	}
	if h.IsLargeObjectDLO() {
		return nil, fmt.Errorf("parts of %q: a Dynamic Large Object has no recorded parts", name)
	}
	return []storage.Part{{Name: b.cfg.Container + "/" + key, Size: info.Bytes, MD5: strings.ToLower(info.Hash)}}, nil
}

// VerifyParts downloads every part (UploadParallel at once, streaming, not
// held) and checks its size and MD5. It returns nil when all are intact,
// otherwise the errors joined: a *CorruptPartError for each bad part
// (errors.As finds the first; ErrCorrupt matches), or the error that
// stopped a download.
func (b *Backend) VerifyParts(ctx context.Context, parts []storage.Part) error {
	errs := make([]error, len(parts))
	var g errgroup.Group
	g.SetLimit(b.cfg.UploadParallel)
	for i, p := range parts {
		g.Go(func() error {
			container, obj, ok := strings.Cut(p.Name, "/")
			if !ok {
				errs[i] = fmt.Errorf("verify part %d: name %q is not CONTAINER/OBJECT", i, p.Name)
				return nil
			}
			r := b.newResumeReader(ctx, container, obj, p.Size, 0)
			r.what = fmt.Sprintf("verify part %d", i)
			h := md5.New()
			n, err := io.Copy(h, r)
			r.Close()
			switch {
			case errors.Is(err, errSizeMismatch):
				errs[i] = &CorruptPartError{Index: i, Part: p, Problem: problem(err)}
			case err != nil:
				errs[i] = fmt.Errorf("verify part %d (%s): %w", i, p.Name, notFound(err))
			case n != p.Size:
				errs[i] = &CorruptPartError{Index: i, Part: p, Problem: fmt.Sprintf("read %d bytes", n)}
			default:
				if got := hex.EncodeToString(h.Sum(nil)); got != p.MD5 {
					errs[i] = &CorruptPartError{Index: i, Part: p, Problem: "its MD5 is " + got}
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// errSizeMismatch is wrapped by the error of a download whose object
// does not have the size it should.
var errSizeMismatch = errors.New("size differs")

// sizeError says that an object has got bytes where want were expected.
type sizeError struct{ got, want int64 }

func (e *sizeError) Error() string {
	return fmt.Sprintf("size differs: it has %d bytes, %d expected", e.got, e.want)
}
func (e *sizeError) Is(target error) bool { return target == errSizeMismatch }

// problem describes a corruption found by a download for a
// CorruptPartError.
func problem(err error) string {
	var se *sizeError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

// resumeReader streams bytes [pos, size) of an object and reopens the
// download at the byte where it broke, with retries.
type resumeReader struct {
	ctx            context.Context
	b              *Backend
	container, obj string
	what           string // for errors
	pos, size      int64
	// etag, when set, is sent as If-Match with every request (so a
	// resumed download never mixes versions); it is learnt from the first
	// response when empty.
	etag   string
	verify bool // check the MD5 of [0, size) against etag at the end
	h      hash.Hash
	body   io.ReadCloser
	// failures counts consecutive failed reads without progress.
	failures int
	err      error // sticky
}

func (b *Backend) newResumeReader(ctx context.Context, container, obj string, size, off int64) *resumeReader {
	return &resumeReader{ctx: ctx, b: b, container: container, obj: obj, pos: off, size: size, what: "read " + container + "/" + obj}
}

func (r *resumeReader) open() error {
	h := swift.Headers{}
	if r.pos > 0 {
		h["Range"] = fmt.Sprintf("bytes=%d-", r.pos)
	}
	if r.etag != "" {
		h["If-Match"] = r.etag
	}
	return r.b.retr.do(r.ctx, "GET "+r.container+"/"+r.obj, func(ctx context.Context) error {
		f, rh, err := r.b.conn.ObjectOpen(ctx, r.container, r.obj, false, h)
		if err != nil {
			return err
		}
		if n, err := strconv.ParseInt(rh["Content-Length"], 10, 64); err == nil && r.pos+n != r.size {
			f.Close()
			return &sizeError{got: r.pos + n, want: r.size}
		}
		if r.etag == "" {
			r.etag = strings.ToLower(strings.Trim(rh["Etag"], `"`))
		}
		r.body = f
		return nil
	})
}

func (r *resumeReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.verify && r.h == nil {
		r.h = md5.New()
	}
	for {
		if err := r.ctx.Err(); err != nil {
			return 0, r.fail(err)
		}
		if r.pos >= r.size {
			return 0, r.finish()
		}
		if r.body == nil {
			if err := r.open(); err != nil {
				if errors.Is(err, errSizeMismatch) {
					return 0, r.fail(err)
				}
				return 0, r.fail(notFound(err))
			}
		}
		if int64(len(p)) > r.size-r.pos {
			p = p[:r.size-r.pos]
		}
		n, err := r.body.Read(p)
		if n > 0 {
			r.pos += int64(n)
			r.failures = 0
			if r.h != nil {
				r.h.Write(p[:n])
			}
		}
		if err == nil {
			return n, nil
		}
		r.body.Close()
		r.body = nil
		if err == io.EOF && r.pos >= r.size {
			if n > 0 {
				return n, nil
			}
			return 0, r.finish()
		}
		// The download broke (or ended early): resume from r.pos.
		if cerr := r.ctx.Err(); cerr != nil {
			return n, r.fail(cerr)
		}
		if err != io.EOF && classify(err) == permanent {
			return n, r.fail(err)
		}
		r.failures++
		if r.failures > r.b.cfg.MaxRetries {
			return n, r.fail(fmt.Errorf("gave up resuming at byte %d after %d attempts: %w", r.pos, r.failures, err))
		}
		if n > 0 {
			return n, nil
		}
		if err := sleep(r.ctx, r.b.retr.backoff(r.failures-1)); err != nil {
			return 0, r.fail(err)
		}
	}
}

func (r *resumeReader) finish() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	if r.h != nil && r.etag != "" {
		if got := hex.EncodeToString(r.h.Sum(nil)); got != r.etag {
			return r.fail(fmt.Errorf("%w: MD5 of the bytes read is %s, Swift's ETag is %s", ErrCorrupt, got, r.etag))
		}
	}
	r.err = io.EOF
	return io.EOF
}

func (r *resumeReader) fail(err error) error {
	r.err = fmt.Errorf("%s at byte %d: %w", r.what, r.pos, err)
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	return r.err
}

// Close ends the download.
func (r *resumeReader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	if r.err == nil {
		r.err = errors.New("read after Close")
	}
	return nil
}

// segmentReader reads a Static Large Object segment by segment, with
// read-ahead.
type segmentReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	b      *Backend
	name   string
	parts  []storage.Part
	// results[i] delivers segment i once fetched and checked.
	results []chan segResult
	sem     chan struct{} // segments fetched or held: UploadParallel
	next    int           // the segment Read consumes next
	cur     *segResult
	curOff  int
	err     error
	wg      sync.WaitGroup
}

type segResult struct {
	buf  *[]byte // from the pool, or nil
	data []byte
	err  error
}

func (b *Backend) newSegmentReader(ctx context.Context, name string, parts []storage.Part, off int64) *segmentReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &segmentReader{
		ctx: ctx, cancel: cancel, b: b, name: name, parts: parts,
		results: make([]chan segResult, len(parts)),
		sem:     make(chan struct{}, b.cfg.UploadParallel),
	}
	// Find the segment holding off, and how much of it to skip.
	first, skip := len(parts), int64(0)
	var start int64
	for i, p := range parts {
		if off < start+p.Size {
			first, skip = i, off-start
			break
		}
		start += p.Size
	}
	r.next = first
	r.curOff = int(skip)
	for i := range r.results {
		r.results[i] = make(chan segResult, 1)
	}
	r.wg.Add(1)
	go r.fetchAll(first)
	return r
}

// fetchAll starts the fetches in order, at most UploadParallel segments
// fetched or waiting to be read at a time.
func (r *segmentReader) fetchAll(first int) {
	defer r.wg.Done()
	for i := first; i < len(r.parts); i++ {
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.results[i] <- r.fetch(i)
		}()
	}
}

// fetch downloads segment i whole (resuming a broken download) and checks
// its MD5 against the manifest.
func (r *segmentReader) fetch(i int) segResult {
	p := r.parts[i]
	container, obj, ok := strings.Cut(p.Name, "/")
	if !ok {
		return segResult{err: fmt.Errorf("segment %d: name %q is not CONTAINER/OBJECT", i, p.Name)}
	}
	var res segResult
	if p.Size <= r.b.cfg.SegmentSize {
		bp := r.b.pool.get()
		res.buf = bp
		res.data = (*bp)[:p.Size]
	} else {
		res.data = make([]byte, p.Size)
	}
	rr := r.b.newResumeReader(r.ctx, container, obj, p.Size, 0)
	rr.what = fmt.Sprintf("download segment %d", i)
	_, err := io.ReadFull(rr, res.data)
	rr.Close()
	switch {
	case errors.Is(err, errSizeMismatch):
		res.err = &CorruptPartError{Index: i, Part: p, Problem: problem(err)}
	case err != nil:
		res.err = notFound(err)
	default:
		sum := md5.Sum(res.data)
		if got := hex.EncodeToString(sum[:]); got != p.MD5 {
			res.err = &CorruptPartError{Index: i, Part: p, Problem: "its MD5 is " + got}
		}
	}
	return res
}

// Read returns the bytes of the current segment, waiting for it to be
// fetched and checked.
func (r *segmentReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("get %q: %w", r.name, err)
			return 0, r.err
		}
		if r.cur != nil && r.curOff < len(r.cur.data) {
			n := copy(p, r.cur.data[r.curOff:])
			r.curOff += n
			return n, nil
		}
		if r.cur != nil {
			r.release(r.cur)
			r.cur = nil
			r.curOff = 0
			r.next++
		}
		if r.next >= len(r.parts) {
			r.err = io.EOF
			return 0, io.EOF
		}
		select {
		case res := <-r.results[r.next]:
			if res.err != nil {
				r.release(&res)
				r.err = fmt.Errorf("get %q: %w", r.name, res.err)
				return 0, r.err
			}
			r.cur = &res
		case <-r.ctx.Done():
		}
	}
}

func (r *segmentReader) release(res *segResult) {
	if res.buf != nil {
		r.b.pool.put(res.buf)
		res.buf = nil
	}
	<-r.sem
}

// Close stops the read-ahead and waits for it.
func (r *segmentReader) Close() error {
	r.cancel()
	r.wg.Wait()
	if r.err == nil {
		r.err = errors.New("read after Close")
	}
	return nil
}
