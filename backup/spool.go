package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/spool"
)

// SpoolOptions make Run write the encoded stream to local segment files in
// Dir first, at the speed of the engine, and upload them from there
// concurrently (package spool). The store must take objects in parts
// (spool.Store: Swift). A spooled backup that fails or is killed after its
// stream is complete is not lost: Resume finishes it.
type SpoolOptions struct {
	// Dir is the spool directory; the backup's files go to Dir/ID and are
	// removed once its manifest is written.
	Dir string
	// Spool tunes the spool (SizeHint: the expected stream size, checked
	// against the free space; Parallel; Reserve; FreeSpace for tests).
	Spool spool.Options
}

// ResumableError is returned by Run and Resume when a spooled backup's
// stream is complete in the spool but its upload or commit failed: the
// backup is not lost, and Resume (`mybak resume`) finishes it.
type ResumableError struct {
	ID       string
	SpoolDir string
	Location string
	Err      error
}

// Error says what failed and which command finishes the backup.
func (e *ResumableError) Error() string {
	return fmt.Sprintf("backup %s is complete in the spool %s but not stored: %v; it is not lost: run `mybak resume %s --spool-dir %s --storage %s` when the store is reachable (or `mybak resume %s --discard ...` to give it up)",
		e.ID, e.SpoolDir, e.Err, e.ID, e.SpoolDir, e.Location, e.ID)
}

// Unwrap returns the cause.
func (e *ResumableError) Unwrap() error { return e.Err }

// ErrNotResumable is returned (wrapped) by Resume for a spooled backup
// whose process died before its stream was complete.
var ErrNotResumable = errors.New("the backup cannot be resumed")

// partStore is the spool's view of the store.
func partStore(st storage.Backend) (spool.Store, error) {
	ps, ok := storage.As[spool.Store](st)
	if !ok {
		return nil, fmt.Errorf("spooling needs a store that takes objects in parts (Swift); %s does not (and writes at disk speed: back up without a spool dir)", st.Location())
	}
	return ps, nil
}

// spooler is the spool of one Run.
type spooler struct {
	sp  *spool.Spool
	opt *SpoolOptions
	loc string
	log *slog.Logger
	// pass seals the pending manifest, so that Resume can tell the key it
	// is given is the backup's (nil: unencrypted).
	pass []byte
	// resumable is set once the pending manifest is saved: from then on
	// a failure keeps everything for Resume.
	resumable bool
}

// startSpool creates the spool of backup id (checking the free space).
func startSpool(ctx context.Context, opts Options, id, dataName string, log *slog.Logger) (*spooler, error) {
	if _, own := opts.Writer.(ownWriter); opts.Writer != nil && !own {
		// The spool uploads mybak's own parts, under mybak's names.
		return nil, fmt.Errorf("backup %s: a spool dir works with mybak's layout only, not %q", id, opts.Writer.Layout().Name())
	}
	ps, err := partStore(opts.Store)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	so := opts.Spool.Spool
	if so.Log == nil {
		so.Log = log
	}
	sp, err := spool.Create(ctx, opts.Spool.Dir, id, dataName, ps, so)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	log.Info("spooling the stream, uploading concurrently", "id", id, "spool", sp.Dir())
	return &spooler{sp: sp, opt: opts.Spool, loc: opts.Store.Location(), log: log, pass: opts.Encode.Pass}, nil
}

// put stores the stream in the spool (uploads run in the background).
func (s *spooler) put(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	n, err := s.sp.Consume(ctx, r)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return storage.ObjectInfo{Name: name, Size: n}, nil
}

// finish saves m (complete but for the data object's parts) in the spool,
// then waits for the uploads, commits the data object and fills in its
// parts. Its errors are *ResumableError once the pending manifest is saved.
func (s *spooler) finish(ctx context.Context, m *Manifest) error {
	if s.pass != nil {
		if err := m.Seal(s.pass); err != nil {
			return fmt.Errorf("backup %s: %w", m.ID, err)
		}
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := s.sp.SavePending(b); err != nil {
		return fmt.Errorf("backup %s: %w", m.ID, err)
	}
	s.resumable = true
	s.log.Info("stream complete in the spool; waiting for the uploads", "id", m.ID,
		"stored_bytes", m.StoredSize, "seconds", m.EndTime.Sub(m.StartTime).Seconds())
	info, err := s.sp.Finish(ctx)
	if err != nil {
		return &ResumableError{ID: m.ID, SpoolDir: s.opt.Dir, Location: s.loc, Err: err}
	}
	m.Objects[0].Parts, m.Objects[0].MD5 = info.Parts, info.MD5
	return nil
}

// failed handles a failed Run: it reports whether the store's objects must
// be kept (the backup is resumable). Otherwise the spool's files and
// uploaded parts are removed, unless keepPartial.
func (s *spooler) failed(ctx context.Context, keepPartial bool, log *slog.Logger, id string) (keep bool) {
	if s.resumable {
		s.sp.Close()
		log.Warn("the backup is complete in the spool; its stored parts are kept for `mybak resume`", "id", id, "spool", s.sp.Dir())
		return true
	}
	if keepPartial {
		s.sp.Close()
		log.Warn("the spool of the failed backup is kept (--keep-partial); it cannot be resumed", "id", id, "spool", s.sp.Dir())
		return false
	}
	if err := s.sp.Discard(ctx); err != nil {
		log.Warn("could not remove the spool of the failed backup", "id", id, "err", err)
	}
	return false
}

// done removes the spool's files once the manifest is written.
func (s *spooler) done(log *slog.Logger) {
	if err := s.sp.Remove(); err != nil {
		log.Warn("backup complete, but its spool files could not be removed", "err", err)
	}
}

// Resume finishes the spooled backup id in spoolDir (a run of Run with
// SpoolOptions that was killed, or whose upload failed): it uploads the
// parts the store lacks (skipping those it holds with the right size and
// MD5), commits the data object, writes the manifest last and removes the
// spool's files. A backup whose stream was cut before its end cannot be
// resumed (ErrNotResumable): Discard removes it. pass is the backup's
// passphrase: the manifest of an encrypted backup is authenticated with it
// (Seal), so Resume refuses to write one without it.
func Resume(ctx context.Context, st storage.Backend, spoolDir, id string, opts spool.Options, pass []byte) (*Manifest, spool.Stats, error) {
	if err := ValidateID(id); err != nil {
		return nil, spool.Stats{}, err
	}
	ps, err := partStore(st)
	if err != nil {
		return nil, spool.Stats{}, fmt.Errorf("resume %s: %w", id, err)
	}
	sp, err := spool.Open(spoolDir, id, ps, opts)
	if err != nil {
		return nil, spool.Stats{}, fmt.Errorf("resume %s: %w", id, err)
	}
	defer sp.Close()
	pending, perr := sp.Pending()
	if !sp.Complete() || perr != nil {
		return nil, spool.Stats{}, fmt.Errorf("resume %s: %w: mybak stopped before the backup's stream was complete (%s spooled), and the rest of the stream is gone; take a new backup, and remove this one with `mybak resume %s --discard --spool-dir %s --storage %s` (`mybak prune` also removes its stored leftovers once they are older than --grace)",
			id, ErrNotResumable, units.Bytes(sp.Size()), id, spoolDir, st.Location())
	}
	m, err := ParseManifest(pending)
	if err != nil || m.ID != id || len(m.Objects) != 1 || m.ObjectPath(m.Objects[0].Name) != sp.Object() {
		return nil, spool.Stats{}, fmt.Errorf("resume %s: the pending manifest in %s does not describe the spooled object %s: %v", id, sp.Dir(), sp.Object(), err)
	}
	if m.Encryption != nil && pass == nil {
		return nil, spool.Stats{}, fmt.Errorf("resume %s: the backup is encrypted and its manifest is authenticated with the key: give the key it was taken with (--encrypt-key-file or MYBAK_ENCRYPT_KEY)", id)
	}
	if m.Auth != nil {
		// The pending manifest was sealed when the stream was complete:
		// its MAC tells whether pass is the backup's key.
		if _, err := (AuthPolicy{Pass: pass}).Check(m); err != nil {
			return nil, spool.Stats{}, fmt.Errorf("resume %s: the pending manifest in %s does not authenticate with the key given (%v): give the key the backup was taken with", id, sp.Dir(), err)
		}
	}
	if sp.Size() != m.StoredSize {
		return nil, spool.Stats{}, fmt.Errorf("resume %s: the spool holds %d bytes, the pending manifest says %d", id, sp.Size(), m.StoredSize)
	}
	info, err := sp.Finish(ctx)
	if err != nil {
		return nil, sp.Stats(), &ResumableError{ID: id, SpoolDir: spoolDir, Location: st.Location(), Err: err}
	}
	m.Objects[0].Parts, m.Objects[0].MD5 = info.Parts, info.MD5
	m.Auth = nil
	if m.Encryption != nil {
		if err := m.Seal(pass); err != nil {
			return nil, sp.Stats(), fmt.Errorf("resume %s: %w", id, err)
		}
	}
	if err := WriteManifest(ctx, st, m); err != nil {
		return nil, sp.Stats(), &ResumableError{ID: id, SpoolDir: spoolDir, Location: st.Location(), Err: err}
	}
	stats := sp.Stats()
	if err := sp.Remove(); err != nil {
		return m, stats, fmt.Errorf("backup %s is complete, but: %w", id, err)
	}
	return m, stats, nil
}

// Discard gives up the spooled backup id: it deletes the parts it uploaded
// and its objects in the store (the started marker) and removes its spool
// files. Without a spool it only deletes the stored objects.
func Discard(ctx context.Context, st storage.Backend, spoolDir, id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if _, err := LoadManifest(ctx, st, id); err == nil {
		return fmt.Errorf("discard %s: the backup is complete in %s: use `mybak delete %s`", id, st.Location(), id)
	}
	if ps, err := partStore(st); err == nil {
		sp, err := spool.Open(spoolDir, id, ps, spool.Options{})
		switch {
		case err == nil:
			if err := sp.Discard(ctx); err != nil {
				return fmt.Errorf("discard %s: %w", id, err)
			}
		case !errors.Is(err, spool.ErrNotSpooled):
			return fmt.Errorf("discard %s: %w", id, err)
		}
	}
	if err := deleteObjects(ctx, st, id); err != nil {
		return fmt.Errorf("discard %s: %w", id, err)
	}
	return nil
}
