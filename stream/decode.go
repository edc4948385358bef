package stream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/mybak/mybak/crypto"
)

// ErrCorrupt is wrapped by Decode and DecodeParallel when the stored data
// is damaged: its size or a hash differs from Expect, the compressed data
// cannot be decoded, or the ciphertext is truncated (then the error also
// wraps crypto.ErrTruncated). The message says what mismatched, e.g.
// "stored size 123, manifest says 456".
var ErrCorrupt = errors.New("backup data is corrupt")

// ErrNeedPass is returned by Decode when the data is encrypted (starts with
// "Salted__") but DecodeOptions.Pass is nil.
var ErrNeedPass = errors.New("backup is encrypted: a passphrase is needed")

// Expect holds what the manifest recorded about a stream. Zero fields are
// unknown and not checked.
type Expect struct {
	RawSize      int64  `json:"raw_size,omitempty"`
	StoredSize   int64  `json:"stored_size,omitempty"`
	RawSHA256    string `json:"raw_sha256,omitempty"`
	StoredSHA256 string `json:"stored_sha256,omitempty"`
}

// DecodeOptions configure Decode and DecodeParallel.
type DecodeOptions struct {
	// Compression is Gzip, Zstd or None, as given to Encode ("" = Gzip).
	Compression string
	// Pass is the passphrase; nil means the stream is not encrypted.
	Pass []byte
	// KDF is the key derivation; nil means detect it among
	// crypto.LegacyCandidates by the compression's magic number (gzip
	// 1f 8b 08, zstd 28 b5 2f fd), which Compression None cannot do. Even
	// with a KDF given, a first block without the magic number is reported
	// as crypto.ErrWrongKey, not as corrupt data.
	KDF *crypto.KDF
	// Expect is checked after the stream is decoded.
	Expect Expect
	// Parallel is how many frames DecodeParallel decodes at once
	// (0 = GOMAXPROCS). Decode does not use it.
	Parallel int
	// NoStoredHash leaves DecodeResult.StoredSHA256 empty instead of
	// hashing every byte read, when Expect has no stored hash to check
	// (a store that checks its parts by MD5 itself, see
	// storage.ChecksParts). Decode only; DecodeParallel always hashes.
	NoStoredHash bool
}

// DecodeResult describes what was decoded.
type DecodeResult struct {
	// KDF is the KDF used (detected or given), zero if not encrypted.
	KDF          crypto.KDF `json:"kdf"`
	RawSize      int64      `json:"raw_size"`
	RawSHA256    string     `json:"raw_sha256"`
	StoredSize   int64      `json:"stored_size"`
	StoredSHA256 string     `json:"stored_sha256"`
}

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func magicFor(kind string) []byte {
	switch kind {
	case Gzip:
		return gzipMagic
	case Zstd:
		return zstdMagic
	}
	return nil
}

func normalizeDecode(opts *DecodeOptions) error {
	if opts.Compression == "" {
		opts.Compression = Gzip
	}
	switch opts.Compression {
	case Gzip, Zstd, None:
	default:
		return fmt.Errorf("decode: compression %q: want gzip, zstd or none", opts.Compression)
	}
	if opts.Pass != nil && opts.KDF == nil && opts.Compression == None {
		return errors.New("decode: cannot detect the KDF of uncompressed data; give the KDF recorded in the manifest")
	}
	if opts.KDF != nil {
		if err := opts.KDF.Validate(); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
	}
	return nil
}

// decrypt sets up decryption of r as opts say: KDF detection (or a check of
// the given KDF) against the compression magic.
func decrypt(r io.Reader, opts DecodeOptions) (crypto.KDF, io.Reader, error) {
	candidates := crypto.LegacyCandidates
	if opts.KDF != nil {
		candidates = []crypto.KDF{*opts.KDF}
	}
	var looksRight func([]byte) bool
	if m := magicFor(opts.Compression); m != nil {
		looksRight = func(p []byte) bool { return bytes.HasPrefix(p, m) }
	}
	kdf, pr, err := crypto.Detect(r, opts.Pass, candidates, looksRight)
	if err != nil {
		return kdf, nil, classify("decrypt", err)
	}
	return kdf, pr, nil
}

// srcError marks errors of the caller's source, so they are not mistaken
// for corrupt data.
type srcError struct{ err error }

func (e *srcError) Error() string { return "read backup data: " + e.err.Error() }
func (e *srcError) Unwrap() error { return e.err }

// classify wraps err from a decode stage: source errors and wrong keys pass
// through; truncation and undecodable data become ErrCorrupt.
func classify(stage string, err error) error {
	var se *srcError
	switch {
	case errors.As(err, &se), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, crypto.ErrTruncated):
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, stage, err)
	case errors.Is(err, crypto.ErrWrongKey), errors.Is(err, crypto.ErrNotEncrypted), errors.Is(err, crypto.ErrBadKDF), errors.Is(err, ErrCorrupt):
		return fmt.Errorf("%s: %w", stage, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, stage, err)
}

// hashReader counts and hashes what is read from r and marks r's errors.
type hashReader struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	n   int64
	eof bool
}

func (h *hashReader) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := h.r.Read(p)
	if n > 0 {
		if h.h != nil {
			h.h.Write(p[:n])
		}
		h.n += int64(n)
	}
	if err == io.EOF {
		h.eof = true
	} else if err != nil {
		err = &srcError{err}
	}
	return n, err
}

// zstdMaxMemory bounds what a zstd decoder may allocate for a (possibly
// hostile) frame; Encode's frames need far less.
const zstdMaxMemory = 256 << 20

func newZstdReader(r io.Reader, concurrency int) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(concurrency),
		zstd.WithDecoderMaxMemory(zstdMaxMemory),
		zstd.WithDecoderMaxWindow(zstdMaxMemory),
	)
}

// copyBufSize is the buffer Decode uses between decompressor and dst.
const copyBufSize = 256 << 10

// Decode reads an encoded stream from src to EOF and writes the original
// data to dst, checking opts.Expect at the end.
//
// Errors: crypto.ErrWrongKey (wrapped) if the passphrase or KDF is wrong
// (including when the given KDF does not produce the compression's magic
// number); ErrNeedPass if the data is encrypted but no Pass was given;
// crypto.ErrNotEncrypted if Pass was given but the data is not encrypted;
// ErrCorrupt (wrapped, with the detail) for undecodable or truncated data
// and for any mismatch with opts.Expect; src's error wrapped "read backup
// data"; dst's error wrapped "write restored data"; ctx's error once ctx
// is done.
//
// Data is written to dst as it is decoded, so on any error dst may already
// hold some or all of the data: the caller must treat it as invalid. A
// wrong key goes unnoticed by the cipher about once in 256 times with
// Compression None; the gzip/zstd checksums and Expect hashes catch it.
// On error the result's sizes and hashes are of what was processed so far.
// Decode neither closes src nor dst.
func Decode(ctx context.Context, dst io.Writer, src io.Reader, opts DecodeOptions) (res DecodeResult, err error) {
	if err := normalizeDecode(&opts); err != nil {
		return DecodeResult{}, err
	}
	stored := &hashReader{ctx: ctx, r: src}
	if !opts.NoStoredHash || opts.Expect.StoredSHA256 != "" {
		stored.h = sha256.New()
	}
	storedSHA := func() string {
		if stored.h == nil {
			return ""
		}
		return hex.EncodeToString(stored.h.Sum(nil))
	}
	rawSHA := sha256.New()
	var raw int64
	checked := false
	defer func() {
		res.StoredSize, res.RawSize = stored.n, raw
		res.StoredSHA256 = storedSHA()
		res.RawSHA256 = hex.EncodeToString(rawSHA.Sum(nil))
		if err != nil && !checked && stored.eof && opts.Expect.StoredSize != 0 && stored.n != opts.Expect.StoredSize {
			// A truncated or extended stream explains the error better.
			err = fmt.Errorf("%w: stored size %d, manifest says %d (%w)", ErrCorrupt, stored.n, opts.Expect.StoredSize, err)
		}
	}()

	plain := io.Reader(stored)
	if opts.Pass != nil {
		if res.KDF, plain, err = decrypt(stored, opts); err != nil {
			return res, fmt.Errorf("decode: %w", err)
		}
	} else {
		var head [8]byte
		n, err := io.ReadFull(stored, head[:])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return res, fmt.Errorf("decode: %w", err)
		}
		if string(head[:n]) == "Salted__" {
			return res, fmt.Errorf("decode: %w", ErrNeedPass)
		}
		plain = io.MultiReader(bytes.NewReader(head[:n]), stored)
	}

	var dec io.Reader
	switch opts.Compression {
	case Gzip:
		z, err := pgzip.NewReader(plain)
		if err != nil {
			return res, fmt.Errorf("decode: %w", classify("gzip header", err))
		}
		defer z.Close()
		dec = z
	case Zstd:
		z, err := newZstdReader(plain, 0)
		if err != nil {
			return res, fmt.Errorf("decode: zstd: %w", err)
		}
		defer z.Close()
		dec = z
	default:
		dec = plain
	}

	buf := make([]byte, copyBufSize)
	for {
		n, rerr := dec.Read(buf)
		if n > 0 {
			rawSHA.Write(buf[:n])
			raw += int64(n)
			if _, err := dst.Write(buf[:n]); err != nil {
				return res, fmt.Errorf("decode: write restored data: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if res.KDF != (crypto.KDF{}) && errors.Is(rerr, crypto.ErrWrongKey) && opts.Compression != None {
				// The first block decrypted to the right magic number, so
				// the key is right and the end of the data is damaged.
				return res, fmt.Errorf("decode: %w: the end of the data does not decrypt: %w", ErrCorrupt, rerr)
			}
			return res, fmt.Errorf("decode: %w", classify(opts.Compression, rerr))
		}
	}
	// The decompressors read to EOF; make sure, so StoredSize is right.
	if n, err := io.Copy(io.Discard, stored); err != nil {
		return res, fmt.Errorf("decode: %w", err)
	} else if n > 0 && opts.Compression != None {
		return res, fmt.Errorf("decode: %w: %d bytes of trailing data", ErrCorrupt, n)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("decode: %w", err)
	}
	checked = true
	if err := checkExpect(opts.Expect, stored.n, storedSHA(), raw, hex.EncodeToString(rawSHA.Sum(nil))); err != nil {
		return res, err
	}
	return res, nil
}

// checkExpect compares what was decoded with the manifest.
func checkExpect(e Expect, storedSize int64, storedSHA string, rawSize int64, rawSHA string) error {
	var bad []string
	if e.StoredSize != 0 && e.StoredSize != storedSize {
		bad = append(bad, fmt.Sprintf("stored size %d, manifest says %d", storedSize, e.StoredSize))
	}
	if e.StoredSHA256 != "" && !strings.EqualFold(e.StoredSHA256, storedSHA) {
		bad = append(bad, fmt.Sprintf("stored sha256 %s, manifest says %s", storedSHA, e.StoredSHA256))
	}
	if e.RawSize != 0 && e.RawSize != rawSize {
		bad = append(bad, fmt.Sprintf("raw size %d, manifest says %d", rawSize, e.RawSize))
	}
	if e.RawSHA256 != "" && !strings.EqualFold(e.RawSHA256, rawSHA) {
		bad = append(bad, fmt.Sprintf("raw sha256 %s, manifest says %s", rawSHA, e.RawSHA256))
	}
	if len(bad) > 0 {
		return fmt.Errorf("decode: %w: %s", ErrCorrupt, strings.Join(bad, "; "))
	}
	return nil
}
