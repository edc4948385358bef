package restore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// Authentication on restore (see backup/auth.go for the scheme and the
// policy). Every manifest read from a store is authenticated before
// anything of its backup is read, extracted, prepared or applied:
// Physical checks the whole chain first, decodeOptions (ToWriter, ToMySQL,
// verify --deep) each manifest it decodes, package verify reports an
// "authentication" check per backup of the chain.
//
// The data itself is proven by the authenticated manifest's hashes, checked
// while it streams (the stored bytes' SHA-256 or, on Swift, every
// segment's MD5; the original stream's SHA-256 and size at the end). What
// the stream feeds before that end is never used unchecked:
//   - physical restores extract into a scratch (staging) dir next to the
//     target, and prepare, copy back and move into place only after the
//     whole stream matched; on a mismatch the scratch dir is removed and
//     the error is damage (ErrAuthentication, exit 3);
//   - logical restores (--to-mysql, drills, make-replica from a store)
//     first check every stored object against the authenticated manifest
//     (SHA-256 of its bytes, or its Swift segments' MD5s), and only then
//     start the SQL client; the stream is hashed again while it is applied
//     and its end held back until it matched (a store rewritten between
//     the two reads is still caught, but after the start of the dump was
//     applied);
//   - restore --to-stdout writes as it decodes: its output is garbage when
//     it fails (as before);
//   - a wire stream (make-replica --from-stdin) checks every record's MAC
//     before its bytes are passed on (backup/wire.go).

// policy returns o's authentication policy with o's key.
func (o Options) policy() backup.AuthPolicy {
	p := o.Auth
	if p.Pass == nil {
		p.Pass = o.Pass
	}
	return p
}

// authenticate checks the manifests of chain with o's policy, before
// anything of them is used.
func authenticate(chain []*backup.Manifest, o Options) error {
	for _, m := range chain {
		if _, err := o.policy().Check(m); err != nil {
			return fmt.Errorf("restore %s: %w", m.ID, err)
		}
	}
	return nil
}

// authDamage marks a data error of an authenticated backup as an
// authentication failure: the data does not match the hashes its
// authenticated manifest holds.
func authDamage(m *backup.Manifest, err error) error {
	if err == nil || !m.Authenticated() || errors.Is(err, backup.ErrAuthentication) || !errors.Is(err, stream.ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %w", backup.ErrAuthentication, err)
}

// checkAuthenticatedObjects reads every stored object of an authenticated
// m (the caller checked its MAC: ToMySQL through decodeOptions) back and
// compares it with the manifest (size, and the SHA-256 of its bytes or its
// parts' MD5s), so that nothing is applied from data that does not match.
// It does nothing for an unauthenticated m (whose hashes anyone who could
// change the data could have changed too: the stream is still checked
// against them as it is applied).
func checkAuthenticatedObjects(ctx context.Context, st storage.Backend, m *backup.Manifest) error {
	if m.Auth == nil {
		return nil
	}
	for _, o := range m.Objects {
		if o.SHA256 == "" && len(o.Parts) == 0 && len(m.Objects) == 1 {
			o.SHA256 = m.StoredSHA256
		}
		if o.SHA256 == "" && len(o.Parts) == 0 && o.MD5 == "" {
			return fmt.Errorf("restore %s: %w: object %s has no hash in the manifest; nothing was applied", m.ID, backup.ErrAuthentication, o.Name)
		}
		if err := CheckObject(ctx, st, m.ObjectPath(o.Name), o); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("restore %s: %w: object %s does not match its authenticated manifest: %v; nothing was applied",
				m.ID, backup.ErrAuthentication, o.Name, err)
		}
	}
	return nil
}

// decodeExtract runs decode, which writes m's stream, and extract, which
// reads it (xbstream -x into a scratch dir), together; it returns the
// first failure. For an authenticated m, a failed extract does not stop
// decode: the rest of the stream is read (and thrown away) so that its
// hashes are checked, and data that does not match its authenticated
// manifest is reported as such (damage: ErrAuthentication), not as the
// extractor's failure it caused (mbstream's "invalid checksum"). That
// costs reading the rest of the backup, only on that failure path.
func decodeExtract(ctx context.Context, m *backup.Manifest, decode func(context.Context, io.Writer) error, extract func(context.Context, io.Reader) error) error {
	pr, pw := io.Pipe()
	if !m.Authenticated() {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			err := decode(gctx, pw)
			pw.CloseWithError(err)
			return err
		})
		g.Go(func() error {
			err := extract(gctx, pr)
			pr.CloseWithError(fmt.Errorf("extract stopped: %w", err))
			return err
		})
		return g.Wait()
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	exDone := make(chan error, 1)
	go func() {
		err := extract(ectx, pr)
		if err != nil {
			pr.CloseWithError(fmt.Errorf("extract stopped: %w", err))
		} else {
			pr.CloseWithError(errors.New("the extractor exited before the end of the stream"))
		}
		exDone <- err
	}()
	sink := &drainAfterFailure{w: pw}
	derr := decode(ctx, sink)
	pw.CloseWithError(derr)
	if derr != nil {
		cancel()
	}
	exErr := <-exDone
	switch {
	case derr != nil:
		return derr
	case exErr != nil:
		return exErr
	}
	return sink.err
}

// drainAfterFailure passes writes on until one fails, then accepts and
// drops everything, remembering the failure.
type drainAfterFailure struct {
	w   io.Writer
	err error
}

func (d *drainAfterFailure) Write(p []byte) (int, error) {
	if d.err == nil {
		n, err := d.w.Write(p)
		if err == nil {
			return n, nil
		}
		d.err = err
	}
	return len(p), nil
}
