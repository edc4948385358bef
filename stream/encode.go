package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/mybak/mybak/crypto"
	"golang.org/x/sync/errgroup"
)

// Compression kinds.
const (
	Gzip = "gzip"
	Zstd = "zstd"
	None = "none"
)

// Defaults, chosen by measurement on 2 cores: the gzip level by make bench
// on a real mariabackup stream, the rest on a mixed SQL-text / InnoDB-page
// corpus (bench_test.go, levels_test.go).
const (
	// DefaultGzipLevel is the pgzip (klauspost/compress/flate) level used
	// by default, chosen by `make bench` (scripts/bench.sh) on a real
	// `mariabackup --backup --stream=xbstream` of a sysbench database (4 x
	// 250k rows, 286 MB) with the rule of issue 9: stored size at most
	// `gzip -6 | openssl enc`'s + 1%, and at least 1.5x faster than `pigz
	// -p2 -6 | openssl enc`, in the same run. On 2 shared cores, busy
	// (2026-12-03, medians of 5 and of 3 runs after a warm-up): level 7
	// stored 0.1% less than gzip -6 and was 2.65x and 1.79x faster than the
	// pigz pipeline (CPU time 1.95x and 1.78x); levels 5 and 6 stored 2.7%
	// more. Levels 7 and 8 store the same within 0.1% at about the same
	// cost; the rule takes the lowest level that passes. On the
	// synthetic corpus (scripts/gencorpus) level 6 came within 1.3% of
	// gzip -6's size, which is why it was the default before.
	DefaultGzipLevel = 7
	// DefaultZstdLevel is zstd's level 3 (zstd -3, SpeedDefault).
	DefaultZstdLevel = 3
	// DefaultBlockSize is the pgzip block size: data compressed by one
	// goroutine at a time.
	DefaultBlockSize = 1 << 20
	// DefaultFrameSize is how many raw bytes go into one gzip member / zstd
	// frame. It bounds DecodeParallel's memory (Parallel frames of output)
	// and costs nothing measurable in compressed size.
	DefaultFrameSize = 16 << 20
)

// Compression selects the compressor Encode uses.
type Compression struct {
	// Kind is Gzip, Zstd or None; "" means Gzip.
	Kind string `json:"kind"`
	// Level is the compression level: 1..9 for gzip (0 = DefaultGzipLevel),
	// 1..22 for zstd in zstd's numbering (0 = DefaultZstdLevel; klauspost's
	// encoder maps them to its four speeds). Ignored for None.
	Level int `json:"level,omitempty"`
	// BlockSize is the pgzip block size in bytes (0 = DefaultBlockSize,
	// minimum 64 KiB). Ignored for zstd and none.
	BlockSize int `json:"block_size,omitempty"`
	// Concurrency is how many goroutines compress at once (0 = GOMAXPROCS).
	Concurrency int `json:"concurrency,omitempty"`
}

// Validate reports whether Encode accepts c (kind, level range, block
// size, concurrency), so CLI flags can be checked before any work starts.
func (c Compression) Validate() error {
	_, err := c.normalized()
	return err
}

func (c Compression) normalized() (Compression, error) {
	if c.Kind == "" {
		c.Kind = Gzip
	}
	if c.Concurrency == 0 {
		c.Concurrency = runtime.GOMAXPROCS(0)
	}
	if c.Concurrency < 0 {
		return c, fmt.Errorf("compression concurrency %d: must be >= 0", c.Concurrency)
	}
	switch c.Kind {
	case Gzip:
		if c.Level == 0 {
			c.Level = DefaultGzipLevel
		}
		if c.Level < 1 || c.Level > 9 {
			return c, fmt.Errorf("gzip level %d: want 1..9", c.Level)
		}
		if c.BlockSize == 0 {
			c.BlockSize = DefaultBlockSize
		}
		if c.BlockSize < 64<<10 {
			return c, fmt.Errorf("gzip block size %d: want at least 64 KiB", c.BlockSize)
		}
	case Zstd:
		if c.Level == 0 {
			c.Level = DefaultZstdLevel
		}
		if c.Level < 1 || c.Level > 22 {
			return c, fmt.Errorf("zstd level %d: want 1..22", c.Level)
		}
	case None:
	default:
		return c, fmt.Errorf("compression %q: want gzip, zstd or none", c.Kind)
	}
	return c, nil
}

// EncodeOptions configure Encode.
type EncodeOptions struct {
	Compression Compression
	// Pass is the encryption passphrase; nil means no encryption. An empty,
	// non-nil Pass encrypts with the empty passphrase (as openssl would).
	Pass []byte
	// KDF derives the key from Pass; the zero KDF means crypto.DefaultKDF.
	KDF crypto.KDF
	// FrameSize is how many raw bytes go into each independent gzip member
	// or zstd frame (0 = DefaultFrameSize). Ignored for None, whose frames
	// are recorded at the same raw offsets (they are trivially independent).
	FrameSize int64
	// NoStoredHash leaves Result.StoredSHA256 empty instead of hashing
	// every byte written to dst: for a dst that checks what it stores by
	// other means (see storage.ChecksParts).
	NoStoredHash bool
}

// Result describes what Encode wrote.
type Result struct {
	// RawSize and RawSHA256 (hex) are of the bytes read from src.
	RawSize   int64  `json:"raw_size"`
	RawSHA256 string `json:"raw_sha256"`
	// StoredSize and StoredSHA256 (hex) are of the exact bytes written to
	// dst. (No MD5: a store that needs one, Swift, computes it per segment.)
	// StoredSHA256 is empty with EncodeOptions.NoStoredHash.
	StoredSize   int64  `json:"stored_size"`
	StoredSHA256 string `json:"stored_sha256"`
	// KDF is the KDF used, zero if not encrypted.
	KDF crypto.KDF `json:"kdf"`
	// Frames lists where each gzip member / zstd frame starts; there is
	// always at least one, at {0, 0}.
	Frames []Frame `json:"frames"`
}

// frameWriter is one compressor, reset for each frame.
type frameWriter interface {
	io.Writer
	// Close finishes the current frame (does not close the destination).
	Close() error
	// Reset starts a new frame writing to w.
	Reset(w io.Writer) error
}

type gzipFrames struct {
	z *pgzip.Writer
	c Compression
}

func (g *gzipFrames) Write(p []byte) (int, error) { return g.z.Write(p) }
func (g *gzipFrames) Close() error                { return g.z.Close() }
func (g *gzipFrames) Reset(w io.Writer) error {
	if g.z == nil {
		z, err := pgzip.NewWriterLevel(w, g.c.Level)
		if err != nil {
			return err
		}
		g.z = z
	} else {
		g.z.Reset(w) // also resets the concurrency settings
	}
	return g.z.SetConcurrency(g.c.BlockSize, g.c.Concurrency)
}

type zstdFrames struct {
	z *zstd.Encoder
	c Compression
}

func (s *zstdFrames) Write(p []byte) (int, error) { return s.z.Write(p) }
func (s *zstdFrames) Close() error                { return s.z.Close() }
func (s *zstdFrames) Reset(w io.Writer) error {
	if s.z == nil {
		z, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(s.c.Level)),
			zstd.WithEncoderConcurrency(s.c.Concurrency),
			zstd.WithZeroFrames(true), // an empty input is still a valid zstd stream
		)
		if err != nil {
			return err
		}
		s.z = z
		return nil
	}
	s.z.Reset(w)
	return nil
}

type noFrames struct{ w io.Writer }

func (n *noFrames) Write(p []byte) (int, error) { return n.w.Write(p) }
func (n *noFrames) Close() error                { return nil }
func (n *noFrames) Reset(w io.Writer) error     { n.w = w; return nil }

func newFrameWriter(c Compression) frameWriter {
	switch c.Kind {
	case Gzip:
		return &gzipFrames{c: c}
	case Zstd:
		return &zstdFrames{c: c}
	}
	return &noFrames{}
}

// hashWriter counts and hashes what it writes to w. Writes fail once ctx
// is done, which also stops compressor goroutines writing through it.
type hashWriter struct {
	ctx    context.Context
	w      io.Writer
	hashes []hash.Hash
	n      int64
	err    error // first error of w
}

func (h *hashWriter) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	if err := h.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := h.w.Write(p)
	if n > 0 {
		for _, hh := range h.hashes {
			hh.Write(p[:n])
		}
		h.n += int64(n)
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		h.err = fmt.Errorf("write backup data: %w", err)
		return n, h.err
	}
	return n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readBufSize is how much Encode reads from src at a time; readBufs how
// many such buffers are in flight between reading and compressing.
const (
	readBufSize = 256 << 10
	readBufs    = 4
)

type rawChunk struct {
	b        []byte
	endFrame bool // the last chunk of a frame
}

// Encode reads src to EOF and writes it compressed (and, if opts.Pass is
// set, encrypted) to dst, returning sizes, hashes and frame offsets.
//
// Encode neither closes src nor dst. It returns the first error of src
// (wrapped "read source"), of dst (wrapped "write backup data"), of a
// compressor or of a Close, or ctx's error once ctx is done; then dst holds
// an incomplete stream that the caller must discard. Cancellation is seen
// between reads of src and on every write to dst; a src blocked in Read is
// unblocked by its owner (e.g. exec.CommandContext kills the child).
// Memory use is bounded by the compressor's Concurrency x BlockSize.
func Encode(ctx context.Context, dst io.Writer, src io.Reader, opts EncodeOptions) (Result, error) {
	e, err := newEncoder(ctx, dst, opts)
	if err != nil {
		return Result{}, err
	}
	defer e.abort()
	if e.zp == nil {
		if err := e.startFrame(); err != nil {
			return Result{}, err
		}
	}
	// Stage 1 (goroutine): read src and hash it. Stage 2 (goroutine): compress;
	// the compressor's own goroutines encrypt, hash and write. Buffers cycle
	// through free and full, so at most readBufs are in use.
	g, gctx := errgroup.WithContext(ctx)
	e.stored.ctx = gctx // a failed stage stops the compressor's writes too
	free := make(chan []byte, readBufs)
	full := make(chan rawChunk, readBufs)
	for i := 0; i < readBufs; i++ {
		free <- make([]byte, readBufSize)
	}
	g.Go(func() error { return e.read(gctx, src, free, full) })
	g.Go(func() error { return e.compress(gctx, free, full) })
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("encode: %w", err)
	}
	return e.result(), nil
}

// encoder is one run of Encode: the writers from the compressor down to
// dst, and what they counted.
type encoder struct {
	comp      Compression
	frameSize int64
	// stored writes to dst, counting and hashing (storedSHA, nil with
	// NoStoredHash) what is stored; enc encrypts into it (nil without a
	// passphrase); counted counts what the compressor writes.
	stored    *hashWriter
	storedSHA hash.Hash
	enc       io.WriteCloser
	counted   *countWriter
	// fw compresses one frame at a time (gzip, none); frameOpen says one
	// is open. zp compresses zstd frames on all cores instead; zframes is
	// written by zp's writer goroutine until zp is closed.
	fw        frameWriter
	frameOpen bool
	zp        *zstdParallel
	zframes   []Frame
	// rawSHA and raw hash and count src.
	rawSHA hash.Hash
	raw    int64
	res    Result
}

// newEncoder checks opts and builds the writers: hashWriter over dst,
// the encryption (opts.Pass), the counter, the compressor.
func newEncoder(ctx context.Context, dst io.Writer, opts EncodeOptions) (*encoder, error) {
	comp, err := opts.Compression.normalized()
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	e := &encoder{comp: comp, frameSize: opts.FrameSize, rawSHA: sha256.New()}
	if e.frameSize == 0 {
		e.frameSize = DefaultFrameSize
	}
	if e.frameSize < 0 {
		return nil, fmt.Errorf("encode: frame size %d: must be >= 0", e.frameSize)
	}
	e.stored = &hashWriter{ctx: ctx, w: dst}
	if !opts.NoStoredHash {
		e.storedSHA = sha256.New()
		e.stored.hashes = []hash.Hash{e.storedSHA}
	}
	compDst := io.Writer(e.stored)
	if opts.Pass != nil {
		kdf := opts.KDF
		if kdf == (crypto.KDF{}) {
			kdf = crypto.DefaultKDF
		}
		if e.enc, err = crypto.NewWriter(e.stored, opts.Pass, kdf); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		e.res.KDF = kdf
		compDst = e.enc
	}
	e.counted = &countWriter{w: compDst}
	e.fw = newFrameWriter(comp)
	if comp.Kind == Zstd {
		// Independent frames compressed on all cores; see zstdParallel.
		e.zp, err = newZstdParallel(comp, e.counted, func() int64 { return e.counted.n },
			func(raw int64) bool { return raw%e.frameSize == 0 },
			func(raw, compressed int64) { e.zframes = append(e.zframes, Frame{Raw: raw, Compressed: compressed}) })
		if err != nil {
			return nil, fmt.Errorf("encode: start zstd: %w", err)
		}
	}
	return e, nil
}

// abort stops what is still running when Encode returns early; after a
// complete run it does nothing.
func (e *encoder) abort() {
	if e.zp != nil {
		e.zp.Abort() // a no-op unless something returned early
	}
	if e.frameOpen {
		// Error path: stop the compressor's goroutines. Writes to dst
		// fail from now on (h.err or ctx), so this does not block.
		if e.stored.err == nil {
			e.stored.err = errors.New("encode aborted")
		}
		e.fw.Close()
	}
}

// startFrame opens a frame of fw at the current offsets.
func (e *encoder) startFrame() error {
	if err := e.fw.Reset(e.counted); err != nil {
		return fmt.Errorf("encode: start %s frame: %w", e.comp.Kind, err)
	}
	e.res.Frames = append(e.res.Frames, Frame{Raw: e.raw, Compressed: e.counted.n})
	e.frameOpen = true
	return nil
}

// closeFrame finishes fw's open frame.
func (e *encoder) closeFrame() error {
	e.frameOpen = false
	if err := e.fw.Close(); err != nil {
		return fmt.Errorf("encode: finish %s frame: %w", e.comp.Kind, err)
	}
	return nil
}

// read is stage 1: src read into free buffers, hashed, and handed on in
// full, each chunk marked when it ends a frame. It closes full.
func (e *encoder) read(gctx context.Context, src io.Reader, free chan []byte, full chan<- rawChunk) error {
	defer close(full)
	left := e.frameSize
	for {
		if err := gctx.Err(); err != nil {
			return err
		}
		var buf []byte
		select {
		case buf = <-free:
		case <-gctx.Done():
			return gctx.Err()
		}
		n, rerr := src.Read(buf[:min(int64(len(buf)), left)])
		e.rawSHA.Write(buf[:n])
		left -= int64(n)
		c := rawChunk{b: buf[:n], endFrame: left == 0}
		if left == 0 {
			left = e.frameSize
		}
		select {
		case full <- c:
		case <-gctx.Done():
			return gctx.Err()
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("encode: read source: %w", rerr)
		}
	}
}

// compress is stage 2: every chunk of full compressed (its buffer given
// back to free), frames cut where read marked them, then everything
// finished.
func (e *encoder) compress(gctx context.Context, free chan<- []byte, full <-chan rawChunk) (err error) {
	if e.zp != nil {
		defer func() {
			if err != nil {
				// Stop the workers and the writer before Encode returns:
				// they touch stored and zframes.
				e.zp.Abort()
			}
		}()
	}
	for c := range full {
		if e.zp != nil {
			err = e.compressZstd(gctx, c)
		} else {
			err = e.compressFrame(c)
		}
		free <- c.b[:cap(c.b)]
		if err != nil {
			return err
		}
		if c.endFrame {
			if err := e.cut(gctx); err != nil {
				return err
			}
		}
	}
	return e.finish(gctx)
}

// compressZstd hands chunk c to the parallel zstd compressor.
func (e *encoder) compressZstd(gctx context.Context, c rawChunk) error {
	e.raw += int64(len(c.b))
	if err := e.zp.Write(gctx, c.b); err != nil {
		return fmt.Errorf("encode: compress: %w", err)
	}
	return nil
}

// compressFrame writes chunk c into fw's frame, opening one if none is.
func (e *encoder) compressFrame(c rawChunk) error {
	if len(c.b) == 0 {
		return nil
	}
	if !e.frameOpen {
		if err := e.startFrame(); err != nil {
			return err
		}
	}
	e.raw += int64(len(c.b))
	if _, err := e.fw.Write(c.b); err != nil {
		return fmt.Errorf("encode: compress: %w", err)
	}
	return nil
}

// cut ends the current frame where the raw data reached a frame's size.
func (e *encoder) cut(gctx context.Context) error {
	if e.zp != nil {
		if err := e.zp.Cut(gctx); err != nil {
			return fmt.Errorf("encode: compress: %w", err)
		}
		return nil
	}
	return e.closeFrame()
}

// finish closes the compressor and the encryption once src is read: here,
// in stage 2, since gctx, which dst writes check, ends with the group's
// Wait.
func (e *encoder) finish(gctx context.Context) error {
	if e.zp != nil {
		if err := e.zp.Close(gctx); err != nil {
			return fmt.Errorf("encode: finish zstd: %w", err)
		}
		e.res.Frames = e.zframes
	}
	if e.frameOpen {
		if err := e.closeFrame(); err != nil {
			return err
		}
	}
	if e.enc != nil {
		if err := e.enc.Close(); err != nil {
			return fmt.Errorf("encode: finish encryption: %w", err)
		}
	}
	return e.stored.err // a compressor may have swallowed it
}

// result is the Result of a complete run.
func (e *encoder) result() Result {
	res := e.res
	res.RawSize = e.raw
	res.RawSHA256 = hex.EncodeToString(e.rawSHA.Sum(nil))
	res.StoredSize = e.stored.n
	if e.storedSHA != nil {
		res.StoredSHA256 = hex.EncodeToString(e.storedSHA.Sum(nil))
	}
	return res
}
