// Package restore reads backups back and restores them: it decodes a
// backup's stream to a writer (restore --to-stdout), restores a physical
// chain into a datadir (extract into staging, prepare, copy or move back:
// Physical) and applies a dump through the SQL client (ToMySQL), after
// authenticating every manifest it uses and keeping every path a backup
// names below its target.
//
// Checking backups is not here: package verify checks a stored backup
// without restoring it (verify, --deep), package drill restores it into a
// scratch server and checks that (verify --drill). Both use Physical,
// ToMySQL and ToWriter, and the few checks exported for them (checks.go).
package restore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/internal/status"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// ErrNeedKey is returned when an encrypted backup is read without a key.
var ErrNeedKey = errors.New("the backup is encrypted and no key is configured: give --encrypt-key-file or set MYBAK_ENCRYPT_KEY")

// Options configure reading a backup's stream.
type Options struct {
	// Pass is the encryption passphrase (nil when none is configured).
	Pass []byte
	// Parallel is how many frames are decoded at once (0: all cores) when
	// the store reads ranges cheaply (storage.CheapRanges); other stores
	// are read once, in order, with their own read-ahead.
	Parallel int
	// Progress, when set, is called with the count of raw bytes written.
	Progress func(n int64)
	// Status, when set, gets the engine's account of how far its restore
	// is in its own units (chunks, tables, the stream read against the
	// backup's size); an engine that has none never calls it.
	Status status.Func
	// Auth decides which backups are trusted (see backup/auth.go); its
	// Pass is set from Pass when empty.
	Auth backup.AuthPolicy
}

// decodeOptions builds the stream options for m.
func decodeOptions(m *backup.Manifest, opts Options) (stream.DecodeOptions, error) {
	if err := authenticate([]*backup.Manifest{m}, opts); err != nil {
		return stream.DecodeOptions{}, err
	}
	d := stream.DecodeOptions{
		Compression: m.Compression.Kind,
		Parallel:    opts.Parallel,
		Expect: stream.Expect{
			RawSize:      m.RawSize,
			RawSHA256:    m.RawSHA256,
			StoredSize:   m.StoredSize,
			StoredSHA256: m.StoredSHA256,
		},
		// A backup to a store that checks its parts (Swift) records no
		// stored hash: nothing to compute it for.
		NoStoredHash: m.StoredSHA256 == "",
	}
	if m.Encryption != nil {
		if opts.Pass == nil {
			return d, fmt.Errorf("backup %s: %w", m.ID, ErrNeedKey)
		}
		d.Pass = opts.Pass
		d.KDF = m.Encryption.KDF
	}
	return d, nil
}

// ToWriter decodes backup m from st and writes its original bytes to w,
// checking sizes and hashes against the manifest, which is authenticated
// first (opts.Auth, see auth.go). When a check fails the error wraps
// stream.ErrCorrupt (and backup.ErrAuthentication for an authenticated
// manifest), crypto.ErrWrongKey, or the authentication errors; bytes may already
// have been written to w by then, so a caller writing to a file must treat
// the file as garbage on error.
func ToWriter(ctx context.Context, st storage.Backend, m *backup.Manifest, w io.Writer, opts Options) (stream.DecodeResult, error) {
	d, err := decodeOptions(m, opts)
	if err != nil {
		return stream.DecodeResult{}, err
	}
	if opts.Progress != nil {
		w = &progressWriter{w: w, fn: opts.Progress}
	}
	open := objectsOpener(st, m)
	var res stream.DecodeResult
	if _, cheap := storage.As[storage.CheapRanges](st); cheap && len(m.Frames) > 1 && opts.Parallel != 1 {
		res, err = stream.DecodeParallel(ctx, w, open, m.StoredSize, m.Frames, d)
	} else {
		var rc io.ReadCloser
		rc, err = open(ctx, 0)
		if err != nil {
			return res, err
		}
		res, err = stream.Decode(ctx, w, rc, d)
		rc.Close()
	}
	if err != nil {
		return res, authDamage(m, fmt.Errorf("restore %s: %w", m.ID, explain(err)))
	}
	return res, nil
}

// explain adds what to do to the errors a user can act on.
func explain(err error) error {
	switch {
	case errors.Is(err, crypto.ErrWrongKey):
		return fmt.Errorf("%w (check --encrypt-key-file / MYBAK_ENCRYPT_KEY)", err)
	case errors.Is(err, stream.ErrCorrupt):
		return fmt.Errorf("%w (the stored data does not match its manifest: run `mybak verify` and restore an older backup)", err)
	case errors.Is(err, stream.ErrNeedPass):
		// Decode was given no key because the manifest records none.
		return unrecordedEncryption{err}
	}
	return err
}

// unrecordedEncryption is stream.ErrNeedPass from a backup whose manifest
// records no encryption: "a passphrase is needed" would send the user
// looking for a key that mybak does not apply.
type unrecordedEncryption struct{ err error }

func (e unrecordedEncryption) Error() string {
	return "the data is encrypted, but its manifest records no encryption (the manifest lost its encryption block: it was altered or damaged), so no key is applied to it: run `mybak verify` and restore an older backup"
}

func (e unrecordedEncryption) Unwrap() error { return e.err }

// objectsOpener returns a function that reads the concatenation of m's
// data objects from a stored-stream offset.
func objectsOpener(st storage.Backend, m *backup.Manifest) func(ctx context.Context, off int64) (io.ReadCloser, error) {
	return func(ctx context.Context, off int64) (io.ReadCloser, error) {
		mr := &multiReader{ctx: ctx, st: st, m: m}
		var start int64
		for i, o := range m.Objects {
			if off < start+o.Size || i == len(m.Objects)-1 {
				mr.idx, mr.off = i, off-start
				break
			}
			start += o.Size
		}
		return mr, nil
	}
}

// multiReader reads the data objects of a manifest one after the other.
type multiReader struct {
	ctx context.Context
	st  storage.Backend
	m   *backup.Manifest
	idx int
	off int64
	cur io.ReadCloser
}

func (r *multiReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.idx >= len(r.m.Objects) {
				return 0, io.EOF
			}
			name := r.m.ObjectPath(r.m.Objects[r.idx].Name)
			rc, err := r.st.Get(r.ctx, name, r.off)
			if err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return 0, fmt.Errorf("%w: object %s is missing from %s", stream.ErrCorrupt, name, r.st.Location())
				}
				return 0, fmt.Errorf("read %s: %w", name, err)
			}
			r.cur, r.off = rc, 0
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			r.idx++
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (r *multiReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}
