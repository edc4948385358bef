package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mybak/mybak/internal/secretfile"
)

// Errors callers test with errors.Is.
var (
	// ErrWrongKey means the data does not decrypt with the passphrase and
	// KDF given: the PKCS#7 padding of the last block is invalid, or (Detect)
	// no candidate KDF gave a plaintext the caller recognised. With a wrong
	// key the padding is valid by chance about once in 256 times, so a
	// reader can return garbage instead; only a hash of the plaintext
	// recorded at write time (or Detect's looksRight) rules that out.
	ErrWrongKey = errors.New("wrong encryption key or KDF")
	// ErrNotEncrypted means the data does not start with the "Salted__"
	// header of `openssl enc -salt`.
	ErrNotEncrypted = errors.New("data is not encrypted (no Salted__ header)")
	// ErrTruncated means the ciphertext ends early: in the header, in the
	// middle of a 16-byte block, or without any block at all.
	ErrTruncated = errors.New("encrypted data is truncated")
)

var magic = []byte("Salted__")

// bufSize is how much ciphertext readers and writers encrypt or decrypt
// with one CryptBlocks call and pass to one Read or Write of the
// underlying stream. A multiple of aes.BlockSize.
const bufSize = 1 << 20

// NewWriter returns a writer that encrypts what is written to it into w in
// the `openssl enc -aes-256-cbc -salt` format, with a fresh random salt and
// the key and IV derived from pass with kdf.
//
// Output is buffered (up to 1 MiB) and written to w in large pieces; the
// first piece begins with the header. Close pads and writes the last block
// and everything still buffered; it does not close w. After an error from w,
// every later Write and Close returns that error. The writer must not be used
// from several goroutines at once. NewWriter fails only for an invalid kdf
// or if the system's random source fails.
func NewWriter(w io.Writer, pass []byte, kdf KDF) (io.WriteCloser, error) {
	if err := kdf.Validate(); err != nil {
		return nil, err
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generate salt: %w", err)
	}
	return newWriterSalt(w, pass, kdf, salt)
}

func newWriterSalt(w io.Writer, pass []byte, kdf KDF, salt []byte) (*writer, error) {
	key, iv, err := DeriveKeyIV(pass, salt, kdf)
	if err != nil {
		return nil, err
	}
	mode, err := newCBCEncrypter(key, iv)
	if err != nil {
		return nil, err
	}
	ew := &writer{w: w, mode: mode, buf: make([]byte, bufSize)}
	copy(ew.buf, magic)
	copy(ew.buf[len(magic):], salt)
	ew.n, ew.enc = HeaderSize, HeaderSize
	return ew, nil
}

// writer: buf[:enc] is ready output (header, ciphertext), buf[enc:n] is
// plaintext shorter than one block waiting for more.
type writer struct {
	w      io.Writer
	mode   cipher.BlockMode
	buf    []byte
	enc, n int
	err    error
	closed bool
}

var errClosed = errors.New("crypto: write to closed writer")

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errClosed
	}
	written := 0
	for len(p) > 0 {
		if w.n == w.enc && len(p) >= aes.BlockSize {
			// Encrypt whole blocks straight from p into the buffer.
			k := min(len(p)&^(aes.BlockSize-1), len(w.buf)-w.n)
			w.mode.CryptBlocks(w.buf[w.n:w.n+k], p[:k])
			w.n += k
			w.enc = w.n
			p = p[k:]
			written += k
		} else {
			c := copy(w.buf[w.n:], p)
			w.n += c
			p = p[c:]
			written += c
			if (w.n-w.enc)%aes.BlockSize == 0 {
				w.mode.CryptBlocks(w.buf[w.enc:w.n], w.buf[w.enc:w.n])
				w.enc = w.n
			}
		}
		if w.n == len(w.buf) {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *writer) flush() error {
	if _, err := w.w.Write(w.buf[:w.n]); err != nil {
		w.err = err
		return err
	}
	w.n, w.enc = 0, 0
	return nil
}

// Close implements io.Closer: it writes the padded final block and flushes.
// It does not close the underlying writer. Closing twice is a no-op.
func (w *writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	// Invariant: len(buf)-enc is a multiple of the block size and n <
	// len(buf), so the padded block fits.
	pad := aes.BlockSize - (w.n-w.enc)%aes.BlockSize
	for i := 0; i < pad; i++ {
		w.buf[w.n+i] = byte(pad)
	}
	w.n += pad
	w.mode.CryptBlocks(w.buf[w.enc:w.n], w.buf[w.enc:w.n])
	w.enc = w.n
	return w.flush()
}

// readHeader reads the 16-byte header and returns the salt.
func readHeader(r io.Reader) ([]byte, error) {
	var hdr [HeaderSize]byte
	n, err := io.ReadFull(r, hdr[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("read encryption header: %w", err)
	}
	if !bytes.HasPrefix(magic, hdr[:min(n, len(magic))]) {
		return nil, ErrNotEncrypted
	}
	if n < HeaderSize {
		return nil, fmt.Errorf("%w: header is %d bytes, want %d", ErrTruncated, n, HeaderSize)
	}
	return hdr[len(magic):], nil
}

// NewReader reads the header from r, derives the key and IV from pass with
// kdf and returns a reader of the decrypted data.
//
// NewReader itself returns ErrNotEncrypted if r does not start with
// "Salted__", an error wrapping ErrTruncated if the header is short, or
// r's error. Read returns io.EOF after the last plaintext byte once it has
// checked and removed the padding; it returns an error wrapping
// ErrWrongKey if the padding is invalid (see ErrWrongKey: a wrong key goes
// unnoticed about once in 256), ErrTruncated if the ciphertext is not a
// non-empty multiple of 16 bytes, or r's error. Plaintext is returned as
// soon as it is certain not to be the padded last block, so a caller can
// have consumed data before learning that the stream is bad. The reader does
// not close r.
func NewReader(r io.Reader, pass []byte, kdf KDF) (io.Reader, error) {
	if err := kdf.Validate(); err != nil {
		return nil, err
	}
	salt, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	key, iv, err := DeriveKeyIV(pass, salt, kdf)
	if err != nil {
		return nil, err
	}
	return NewRangeReader(r, key, iv, true)
}

// NewRangeReader decrypts a run of whole ciphertext blocks read from r,
// without any header: r must start at a block boundary of the ciphertext
// (stored offset 16+16k), iv is the ciphertext block before it (for k=0,
// the IV from DeriveKeyIV) and key comes from DeriveKeyIV. This is how
// several parts of one stream are decrypted in parallel.
//
// If last is true, r runs to the end of the stream: the padding of its
// final block is checked and removed as by NewReader. Otherwise the range
// ends anywhere on a block boundary and is returned whole. In both cases Read
// returns an error wrapping ErrTruncated if r ends inside a block. It fails
// only if key or iv have the wrong size. The reader does not close r.
func NewRangeReader(r io.Reader, key, iv []byte, last bool) (io.Reader, error) {
	if len(key) != KeySize || len(iv) != IVSize {
		return nil, fmt.Errorf("crypto: key/IV are %d/%d bytes, want %d/%d", len(key), len(iv), KeySize, IVSize)
	}
	mode, err := newCBCDecrypter(key, iv)
	if err != nil {
		return nil, err
	}
	return &reader{r: r, mode: mode, last: last}, nil
}

// reader: buf[off:dec] is plaintext to return, buf[dec:n] ciphertext not
// yet decrypted.
type reader struct {
	r           io.Reader
	mode        cipher.BlockMode
	last        bool
	buf         []byte
	off, dec, n int
	total       int64 // ciphertext bytes read
	eof         bool
	err         error
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for r.off == r.dec {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	c := copy(p, r.buf[r.off:r.dec])
	r.off += c
	return c, nil
}

// fill reads more ciphertext and decrypts what can be decrypted, or sets
// r.err.
func (r *reader) fill() {
	if r.buf == nil {
		r.buf = make([]byte, bufSize+aes.BlockSize)
	}
	// Move the undecrypted tail (less than two blocks) to the front.
	r.n = copy(r.buf, r.buf[r.dec:r.n])
	r.off, r.dec = 0, 0
	if !r.eof {
		m, err := r.r.Read(r.buf[r.n:])
		r.n += m
		r.total += int64(m)
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			r.err = err
			return
		}
	}
	avail := r.n
	if !r.eof {
		k := avail &^ (aes.BlockSize - 1)
		if r.last && k == avail {
			k -= aes.BlockSize // might be the padded final block
		}
		if k > 0 {
			r.mode.CryptBlocks(r.buf[:k], r.buf[:k])
			r.dec = k
		}
		return
	}
	if avail%aes.BlockSize != 0 {
		r.err = fmt.Errorf("%w: ciphertext ends %d bytes into a 16-byte block", ErrTruncated, avail%aes.BlockSize)
		return
	}
	if r.last && avail == 0 {
		r.err = fmt.Errorf("%w: no final block", ErrTruncated)
		return
	}
	r.mode.CryptBlocks(r.buf[:avail], r.buf[:avail])
	r.dec = avail
	if r.last {
		pad, err := paddingLen(r.buf[avail-aes.BlockSize : avail])
		if err != nil {
			r.dec = 0
			r.err = err
			return
		}
		r.dec -= pad
	}
	r.err = io.EOF
}

// paddingLen checks the PKCS#7 padding of the final plaintext block.
func paddingLen(block []byte) (int, error) {
	pad := int(block[len(block)-1])
	if pad == 0 || pad > aes.BlockSize {
		return 0, fmt.Errorf("%w: bad padding", ErrWrongKey)
	}
	for _, b := range block[len(block)-pad:] {
		if int(b) != pad {
			return 0, fmt.Errorf("%w: bad padding", ErrWrongKey)
		}
	}
	return pad, nil
}

// detectBlocks is how many ciphertext blocks Detect decrypts and shows to
// looksRight.
const detectBlocks = 4

// Detect finds which of candidates (in order; e.g. LegacyCandidates)
// encrypted r with pass. It reads the header and the first blocks (at most
// 16+64 bytes), decrypts them with each candidate and returns the first
// candidate for which looksRight(plaintext prefix) is true, with a reader of
// the whole plaintext (nothing read is lost), as NewReader would give.
// looksRight sees at most 64 bytes; when the whole stream is that short,
// it sees the unpadded plaintext, and candidates whose padding is invalid are
// skipped. A nil looksRight accepts any plaintext, which is only meaningful
// with one candidate or a short stream.
//
// With no match the error wraps ErrWrongKey and lists the KDFs tried. A
// wrong key passes looksRight only by chance (2^-24 for a 3-byte magic
// number). Other errors are as for NewReader. Detect costs one key
// derivation per candidate tried.
func Detect(r io.Reader, pass []byte, candidates []KDF, looksRight func(plainPrefix []byte) bool) (KDF, io.Reader, error) {
	if len(candidates) == 0 {
		return KDF{}, nil, errors.New("detect KDF: no candidates")
	}
	for _, k := range candidates {
		if err := k.Validate(); err != nil {
			return KDF{}, nil, fmt.Errorf("detect KDF: %w", err)
		}
	}
	salt, err := readHeader(r)
	if err != nil {
		return KDF{}, nil, err
	}
	prefix := make([]byte, detectBlocks*aes.BlockSize)
	n, err := io.ReadFull(r, prefix)
	short := false
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		short = true
		if n == 0 {
			return KDF{}, nil, fmt.Errorf("%w: no final block", ErrTruncated)
		}
		if n%aes.BlockSize != 0 {
			return KDF{}, nil, fmt.Errorf("%w: ciphertext ends %d bytes into a 16-byte block", ErrTruncated, n%aes.BlockSize)
		}
	default:
		return KDF{}, nil, fmt.Errorf("read encrypted data: %w", err)
	}
	prefix = prefix[:n]
	plain := make([]byte, n)
	tried := make([]string, 0, len(candidates))
	for _, k := range candidates {
		tried = append(tried, k.String())
		key, iv, err := DeriveKeyIV(pass, salt, k)
		if err != nil {
			return KDF{}, nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return KDF{}, nil, err
		}
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, prefix)
		p := plain
		if short {
			pad, err := paddingLen(plain[n-aes.BlockSize:])
			if err != nil {
				continue
			}
			p = plain[:n-pad]
		}
		if looksRight != nil && !looksRight(p) {
			continue
		}
		rr, err := NewRangeReader(io.MultiReader(bytes.NewReader(prefix), r), key, iv, true)
		if err != nil {
			return KDF{}, nil, err
		}
		return k, rr, nil
	}
	return KDF{}, nil, fmt.Errorf("%w: tried KDFs %s", ErrWrongKey, strings.Join(tried, ", "))
}

// passFileMax is how much of a pass file openssl reads: BIO_gets with a
// 1024-byte buffer (APP_PASS_LEN) reads at most 1023 bytes.
const passFileMax = 1023

// ReadPassFile reads a passphrase the way `openssl enc -pass file:PATH`
// does (OpenSSL 1.1 and 3.x), so both tools derive the same key: the first
// line without its '\n' (a '\r' before it is kept), cut at the first NUL
// byte and at 1023 bytes. A file holding just a newline gives an empty
// passphrase; an empty file is an error, as it is for openssl.
//
// The file follows secretfile's rule for a key: one the group or others
// may write, or that another user owns, is refused (whoever can write it
// can switch future backups to a key only they know); one they may read
// yields warning, for the caller to show. Symlinks are followed. The
// passphrase's strength is not checked.
func ReadPassFile(path string) (pass []byte, warning string, err error) {
	f, warning, err := secretfile.Open("key file "+path, path, secretfile.Key)
	if err != nil {
		return nil, "", fmt.Errorf("read passphrase file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, passFileMax)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, "", fmt.Errorf("read passphrase file: %w", err)
	}
	if n == 0 {
		return nil, "", fmt.Errorf("read passphrase file %q: file is empty (openssl refuses it too; put the passphrase on the first line)", path)
	}
	buf = buf[:n]
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i]
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return buf, warning, nil
}
