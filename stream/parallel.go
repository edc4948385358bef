package stream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mybak/mybak/crypto"
	"golang.org/x/sync/errgroup"
)

// OpenFunc opens the stored stream for reading from byte offset off. The
// reader may run to the end of the stream; DecodeParallel reads only the
// range it needs and closes it. It is called from several goroutines at
// once. Errors are returned as they are (wrapped "read backup data"); a
// retrying opener is the caller's business.
type OpenFunc func(ctx context.Context, off int64) (io.ReadCloser, error)

const (
	// chunkSize is the unit in which DecodeParallel's workers hand data
	// to the writer.
	chunkSize = 256 << 10
	// maxChunksPerFrame bounds how far a worker may run ahead of the
	// writer: at most 2 x Parallel x 16 MiB of decoded data is held.
	maxChunksPerFrame = 64
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

type chunk struct {
	b      *[]byte
	n      int
	stored bool // stored bytes (to hash) rather than raw output
}

// pjob is one frame for DecodeParallel.
type pjob struct {
	i                  int
	readStart, readEnd int64 // stored bytes the worker reads
	ownStart, ownEnd   int64 // stored bytes it hashes (frames' ranges overlap by a block)
	compStart          int64 // offset of the frame in the compressed stream
	compLen            int64 // -1: to the end
	rawLen             int64 // -1: to the end
	last               bool
	ch                 chan chunk
}

// DecodeParallel decodes a stream Encode wrote, whose frame table is
// frames (Result.Frames) and whose stored size is storedSize, decrypting
// and decompressing up to opts.Parallel frames at once and writing the
// output to dst in order. It gives the same output, result and errors as
// Decode; errors name the frame (its index and stored offset).
//
// open is called once for the header and once per frame, possibly from
// several goroutines at once; each reader is closed before DecodeParallel
// returns. With fewer than two frames, or Parallel 1, it is Decode over
// open(ctx, 0). An inconsistent frame table (not starting at {0, 0}, not
// increasing, beyond storedSize) is ErrCorrupt.
//
// Memory: at most 2 x Parallel frames are in flight, each holding at most 16
// MiB of decoded data waiting for dst, plus one decompressor each. On the
// first error (or cancellation) all workers stop and every reader is
// closed; dst may hold part of the data, as with Decode.
func DecodeParallel(ctx context.Context, dst io.Writer, open OpenFunc, storedSize int64, frames []Frame, opts DecodeOptions) (res DecodeResult, err error) {
	if err := normalizeDecode(&opts); err != nil {
		return DecodeResult{}, err
	}
	if opts.Expect.StoredSize != 0 && storedSize != opts.Expect.StoredSize {
		return DecodeResult{}, fmt.Errorf("decode: %w: stored size %d, manifest says %d", ErrCorrupt, storedSize, opts.Expect.StoredSize)
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	if len(frames) < 2 || parallel == 1 || storedSize == 0 {
		rc, err := open(ctx, 0)
		if err != nil {
			return DecodeResult{}, fmt.Errorf("decode: open backup data: %w", err)
		}
		defer rc.Close()
		if opts.Expect.StoredSize == 0 {
			opts.Expect.StoredSize = storedSize
		}
		return Decode(ctx, dst, io.LimitReader(rc, storedSize), opts)
	}

	encrypted := opts.Pass != nil
	if !encrypted {
		// Without this, frames after the first would fail on ciphertext
		// with a decompressor's error before the first frame says why.
		if err := checkNotEncrypted(ctx, open); err != nil {
			return res, fmt.Errorf("decode: %w", err)
		}
	}
	var key, iv0 []byte
	if encrypted {
		if res.KDF, key, iv0, err = parallelKey(ctx, open, opts); err != nil {
			return res, fmt.Errorf("decode: %w", err)
		}
	}
	jobs, err := planJobs(frames, storedSize, encrypted)
	if err != nil {
		return res, fmt.Errorf("decode: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	sem := make(chan struct{}, 2*parallel) // frames in flight: workers run a frame ahead of the writer
	order := make(chan *pjob, 2*parallel)
	work := make(chan *pjob)
	g.Go(func() error { // dispatcher
		defer close(order)
		defer close(work)
		for _, j := range jobs {
			select {
			case sem <- struct{}{}: // released by the writer once j is written
			case <-gctx.Done():
				return gctx.Err()
			}
			order <- j // cannot block: at most 2*parallel jobs are unwritten
			select {
			case work <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for w := 0; w < parallel; w++ {
		g.Go(func() error {
			d := &frameDecoder{ctx: gctx, open: open, kind: opts.Compression, key: key, iv0: iv0, encrypted: encrypted}
			defer d.close()
			for j := range work {
				if err := d.decode(j); err != nil {
					return fmt.Errorf("frame %d at stored offset %d: %w", j.i, j.readStart, err)
				}
				close(j.ch)
			}
			return nil
		})
	}
	storedSHA, rawSHA := sha256.New(), sha256.New()
	var stored, raw int64
	g.Go(func() error { // writer: in frame order
		for j := range order {
		frame:
			for {
				select {
				case c, ok := <-j.ch:
					if !ok {
						break frame
					}
					b := (*c.b)[:c.n]
					if c.stored {
						storedSHA.Write(b)
						stored += int64(c.n)
					} else {
						rawSHA.Write(b)
						raw += int64(c.n)
						if _, err := dst.Write(b); err != nil {
							chunkPool.Put(c.b)
							return fmt.Errorf("write restored data: %w", err)
						}
					}
					chunkPool.Put(c.b)
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			<-sem
		}
		return nil
	})
	err = g.Wait()
	res.StoredSize, res.RawSize = stored, raw
	res.StoredSHA256 = hex.EncodeToString(storedSHA.Sum(nil))
	res.RawSHA256 = hex.EncodeToString(rawSHA.Sum(nil))
	if err != nil {
		return res, fmt.Errorf("decode: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("decode: %w", err)
	}
	if stored != storedSize {
		return res, fmt.Errorf("decode: %w: read %d stored bytes, expected %d", ErrCorrupt, stored, storedSize)
	}
	if err := checkExpect(opts.Expect, stored, res.StoredSHA256, raw, res.RawSHA256); err != nil {
		return res, err
	}
	return res, nil
}

// parallelKey reads the header and first blocks, detects or checks the KDF
// and derives the key and IV once for all workers.
func parallelKey(ctx context.Context, open OpenFunc, opts DecodeOptions) (crypto.KDF, []byte, []byte, error) {
	rc, err := open(ctx, 0)
	if err != nil {
		return crypto.KDF{}, nil, nil, fmt.Errorf("open backup data: %w", err)
	}
	defer rc.Close()
	head := make([]byte, crypto.HeaderSize+4*16)
	n, err := io.ReadFull(rc, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return crypto.KDF{}, nil, nil, &srcError{err}
	}
	kdf, _, err := decrypt(bytes.NewReader(head[:n]), opts)
	if err != nil {
		if errors.Is(err, crypto.ErrTruncated) && n == len(head) {
			err = nil // only our prefix ended; the stream goes on
		} else {
			return kdf, nil, nil, err
		}
	}
	if n < crypto.HeaderSize {
		return kdf, nil, nil, fmt.Errorf("%w: %w", ErrCorrupt, crypto.ErrTruncated)
	}
	key, iv, err := crypto.DeriveKeyIV(opts.Pass, head[8:16], kdf)
	return kdf, key, iv, err
}

func planJobs(frames []Frame, storedSize int64, encrypted bool) ([]*pjob, error) {
	if frames[0] != (Frame{}) {
		return nil, fmt.Errorf("%w: frame table starts at %+v, not {0 0}", ErrCorrupt, frames[0])
	}
	compSize := storedSize // upper bound of the compressed size
	if encrypted {
		if storedSize < crypto.HeaderSize+16 || storedSize%16 != 0 {
			return nil, fmt.Errorf("%w: stored size %d is not an encrypted stream's: %w", ErrCorrupt, storedSize, crypto.ErrTruncated)
		}
		compSize = storedSize - crypto.HeaderSize - 1 // at least one padding byte
	}
	jobs := make([]*pjob, len(frames))
	for i, f := range frames {
		if i > 0 && (f.Raw <= frames[i-1].Raw || f.Compressed <= frames[i-1].Compressed) {
			return nil, fmt.Errorf("%w: frame table not increasing at frame %d", ErrCorrupt, i)
		}
		if f.Compressed >= compSize {
			return nil, fmt.Errorf("%w: frame %d starts at compressed offset %d, beyond the stored data (%d bytes)", ErrCorrupt, i, f.Compressed, storedSize)
		}
		j := &pjob{i: i, compStart: f.Compressed, compLen: -1, rawLen: -1, last: i == len(frames)-1}
		if !j.last {
			j.compLen = frames[i+1].Compressed - f.Compressed
			j.rawLen = frames[i+1].Raw - f.Raw
		}
		if encrypted {
			// The worker reads from the block before the frame's first
			// block (header or IV) to the block holding its last byte.
			blk := f.Compressed / 16
			j.readStart = 16 * blk
			j.ownStart = crypto.HeaderSize + 16*blk
			j.readEnd, j.ownEnd = storedSize, storedSize
			if !j.last {
				next := frames[i+1].Compressed
				j.readEnd = crypto.HeaderSize + 16*((next+15)/16)
				j.ownEnd = crypto.HeaderSize + 16*(next/16)
			}
			if i == 0 {
				j.ownStart = 0
			}
		} else {
			j.readStart, j.ownStart = f.Compressed, f.Compressed
			j.readEnd, j.ownEnd = storedSize, storedSize
			if !j.last {
				j.readEnd, j.ownEnd = frames[i+1].Compressed, frames[i+1].Compressed
			}
		}
		n := maxChunksPerFrame
		if !j.last {
			n = min(n, int((j.rawLen+j.compLen)/chunkSize)+3)
		}
		j.ch = make(chan chunk, n)
		jobs[i] = j
	}
	return jobs, nil
}

// frameDecoder is one worker's state, reused across frames.
type frameDecoder struct {
	ctx       context.Context
	open      OpenFunc
	kind      string
	key, iv0  []byte
	encrypted bool
	gz        *gzip.Reader
	zs        *zstd.Decoder
}

func (d *frameDecoder) close() {
	if d.zs != nil {
		d.zs.Close()
	}
}

func (d *frameDecoder) send(j *pjob, c chunk) error {
	select {
	case j.ch <- c:
		return nil
	case <-d.ctx.Done():
		chunkPool.Put(c.b)
		return d.ctx.Err()
	}
}

func (d *frameDecoder) decode(j *pjob) error {
	rc, err := d.open(d.ctx, j.readStart)
	if err != nil {
		return &srcError{fmt.Errorf("open at offset %d: %w", j.readStart, err)}
	}
	defer rc.Close()
	in := &rangeIn{d: d, j: j, r: io.LimitReader(rc, j.readEnd-j.readStart), pos: j.readStart}
	body := io.Reader(in)
	if !d.encrypted && j.i == 0 {
		var head [8]byte
		n, err := io.ReadFull(in, head[:])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return classify("read", err)
		}
		if string(head[:n]) == "Salted__" {
			return ErrNeedPass
		}
		body = io.MultiReader(bytes.NewReader(head[:n]), in)
	}
	if d.encrypted {
		var first [16]byte
		if _, err := io.ReadFull(in, first[:]); err != nil {
			return classify("read", noEOF(err))
		}
		iv := d.iv0
		if j.readStart > 0 {
			iv = first[:]
		}
		cr, err := crypto.NewRangeReader(in, d.key, iv, j.last)
		if err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, cr, j.compStart%16); err != nil {
			return classify("decrypt", noEOF(err))
		}
		body = cr
	}
	if !j.last {
		body = &exactReader{r: body, left: j.compLen}
	}
	dec := body
	switch d.kind {
	case Gzip:
		if d.gz == nil {
			d.gz, err = gzip.NewReader(body)
		} else {
			err = d.gz.Reset(body)
		}
		if err != nil {
			return d.classify(j, "gzip header", err)
		}
		dec = d.gz
	case Zstd:
		if d.zs == nil {
			if d.zs, err = newZstdReader(nil, 1); err != nil {
				return err
			}
		}
		if err := d.zs.Reset(body); err != nil {
			return d.classify(j, "zstd", err)
		}
		dec = d.zs
	}
	var raw int64
	for done := false; !done; {
		p := chunkPool.Get().(*[]byte)
		n := 0
		var rerr error
		for n < len(*p) && rerr == nil {
			var m int
			m, rerr = dec.Read((*p)[n:])
			n += m
		}
		raw += int64(n)
		if n > 0 {
			if err := d.send(j, chunk{b: p, n: n}); err != nil {
				return err
			}
		} else {
			chunkPool.Put(p)
		}
		switch {
		case rerr == io.EOF:
			done = true
		case rerr != nil:
			return d.classify(j, d.kind, rerr)
		}
		if j.rawLen >= 0 && raw > j.rawLen {
			return fmt.Errorf("%w: frame decodes to more than the %d bytes the frame table says", ErrCorrupt, j.rawLen)
		}
	}
	if j.rawLen >= 0 && raw != j.rawLen {
		return fmt.Errorf("%w: frame decoded to %d bytes, frame table says %d", ErrCorrupt, raw, j.rawLen)
	}
	// Read the rest of the range (at most the block shared with the next
	// frame), so that all owned stored bytes are hashed.
	if n, err := io.Copy(io.Discard, body); err != nil {
		return d.classify(j, "read", err)
	} else if n > 0 {
		return fmt.Errorf("%w: %d bytes after the end of the frame's %s data", ErrCorrupt, n, d.kind)
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return d.classify(j, "read", err)
	}
	return in.flush()
}

func (d *frameDecoder) classify(j *pjob, stage string, err error) error {
	if d.encrypted && d.kind != None && errors.Is(err, crypto.ErrWrongKey) {
		// The first block had the right magic number: the end is damaged.
		return fmt.Errorf("%w: the end of the data does not decrypt: %w", ErrCorrupt, err)
	}
	return classify(stage, err)
}

func noEOF(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: stored data ends early", crypto.ErrTruncated)
	}
	return err
}

// exactReader returns exactly left bytes of r, or ErrCorrupt.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = fmt.Errorf("%w: %w: frame's compressed data ends %d bytes early", ErrCorrupt, crypto.ErrTruncated, e.left)
	}
	return n, err
}

// rangeIn reads a job's stored range and passes the bytes the job owns to
// the writer for hashing.
type rangeIn struct {
	d   *frameDecoder
	j   *pjob
	r   io.Reader
	pos int64
	buf *[]byte
	n   int
}

func (in *rangeIn) Read(p []byte) (int, error) {
	if err := in.d.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := in.r.Read(p)
	if n > 0 {
		lo := max(in.pos, in.j.ownStart)
		hi := min(in.pos+int64(n), in.j.ownEnd)
		var own []byte
		if hi > lo {
			own = p[lo-in.pos : hi-in.pos]
		}
		for len(own) > 0 {
			if in.buf == nil {
				in.buf = chunkPool.Get().(*[]byte)
				in.n = 0
			}
			c := copy((*in.buf)[in.n:], own)
			in.n += c
			own = own[c:]
			if in.n == len(*in.buf) {
				if ferr := in.flush(); ferr != nil {
					return 0, ferr
				}
			}
		}
		in.pos += int64(n)
	}
	if err == io.EOF {
		if in.pos < in.j.readEnd {
			return n, fmt.Errorf("%w: %w: stored data ends at offset %d, expected %d", ErrCorrupt, crypto.ErrTruncated, in.pos, in.j.readEnd)
		}
		return n, io.EOF
	}
	if err != nil {
		return n, &srcError{err}
	}
	return n, nil
}

func (in *rangeIn) flush() error {
	if in.buf == nil {
		return nil
	}
	b := in.buf
	in.buf = nil
	if in.n == 0 {
		chunkPool.Put(b)
		return nil
	}
	return in.d.send(in.j, chunk{b: b, n: in.n, stored: true})
}

// checkNotEncrypted returns ErrNeedPass when the stream starts with the
// OpenSSL header.
func checkNotEncrypted(ctx context.Context, open OpenFunc) error {
	rc, err := open(ctx, 0)
	if err != nil {
		return fmt.Errorf("open backup data: %w", err)
	}
	defer rc.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(rc, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("read backup data: %w", err)
	}
	if n == 8 && string(head) == "Salted__" {
		return ErrNeedPass
	}
	return nil
}
