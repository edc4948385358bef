package spool

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/storage"
)

// Store is what a spool needs from the store it uploads to: the
// storage.Multipart capability (an object stored in parts that are
// uploaded separately and committed at the end), whose doc comment states
// the contract. Find it in a store with storage.As[spool.Store].
type Store = storage.Multipart

// PendingName is the file, in a backup's spool directory, that SavePending
// writes.
const PendingName = "pending-manifest.json"

// ErrNotSpooled is returned (wrapped) by Open when the spool directory has
// no spool of the backup.
var ErrNotSpooled = errors.New("no spool of this backup")

// ErrIncomplete is returned (wrapped) by Finish and Resume when the spool's
// stream was cut before its end: the rest is gone and the backup cannot be
// finished.
var ErrIncomplete = errors.New("the backup's stream was not complete when it stopped")

// ErrNoSpace is returned (wrapped) when the spool directory's file system
// lacks room for the backup or its next segment.
var ErrNoSpace = errors.New("not enough free space in the spool directory")

// Options configure a spool.
type Options struct {
	// Parallel is the number of parts uploaded at once; 0 means the
	// store's UploadParallel.
	Parallel int
	// SizeHint is the expected size of the stream in bytes (at most), or
	// 0 when unknown. Create fails when the spool directory has less free
	// space than SizeHint plus Reserve.
	SizeHint int64
	// Reserve is free space never used by the spool (default 64 MiB), so
	// that the database and the system keep some room.
	Reserve int64
	// FreeSpace returns the bytes available to an unprivileged user in the
	// file system of path (tests replace it); default statfs(2).
	FreeSpace func(path string) (int64, error)
	// Log receives progress and warnings; nil discards them.
	Log *slog.Logger
}

// DefaultReserve is Options.Reserve when it is zero.
const DefaultReserve = 64 << 20

// Spool is one backup's stream spooled to DIR/ID and uploaded from there.
// Create (for a new backup) or Open (to finish one) it; Consume writes the
// stream (Create only); Finish uploads what is missing and commits; Remove
// deletes the files once the caller has recorded the result; Discard gives
// the backup up. Methods are not safe for concurrent use, except that the
// uploads started by Create run in the background until Finish or Close.
type Spool struct {
	dir   string // DIR/ID
	st    Store
	opts  Options
	log   *slog.Logger
	j     *journal
	start record

	mu       sync.Mutex
	parts    []partInfo
	uploaded []storage.Part // the store's part, set once confirmed
	ended    bool
	size     int64
	// resumed is set by Open: the files were written by another process.
	resumed bool

	// The background uploads of a spool being written.
	queue     chan int
	queueOnce sync.Once
	upCtx     context.Context
	upCancel  context.CancelFunc
	upDone    chan struct{}
	upErr     error // first failed upload; later parts wait for Finish

	stats Stats
}

// Stats count what Finish did.
type Stats struct {
	Parts    int // parts of the object
	Uploaded int // parts uploaded by this process
	Skipped  int // parts the store already had (resume)
	Bytes    int64
}

// Create starts the spool of backup id in dir/id (dir is created when
// missing; dir/id must not exist) for the object name in st, checks the
// free space, and starts uploading parts as Consume completes them. ctx
// governs the uploads until Finish; Close stops them.
func Create(ctx context.Context, dir, id, object string, st Store, opts Options) (*Spool, error) {
	s, err := newSpool(dir, id, st, opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool dir: %w", err)
	}
	need := opts.SizeHint
	if need < 2*st.PartSize() {
		need = 2 * st.PartSize()
	}
	if err := s.checkSpace(dir, need, "the backup needs about"); err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("spool %s: already exists (finish it with resume or remove it)", s.dir)
		}
		return nil, fmt.Errorf("create spool %s: %w", s.dir, err)
	}
	if s.j, err = createJournal(filepath.Join(s.dir, JournalName)); err != nil {
		return nil, fmt.Errorf("create spool journal: %w", err)
	}
	s.start = record{
		Op: opStart, Version: journalVersion, ID: id, Object: object,
		UploadID: fmt.Sprintf("spool-%016x-%08x", time.Now().UnixNano(), rand.Uint32()),
		Location: st.Location(), PartSize: st.PartSize(), Time: time.Now().UTC(),
	}
	if err := s.j.append(s.start); err != nil {
		s.j.close()
		return nil, err
	}
	if err := syncDir(s.dir); err != nil {
		s.j.close()
		return nil, err
	}
	s.queue = make(chan int, st.MaxParts()+1)
	s.upCtx, s.upCancel = context.WithCancel(ctx)
	s.upDone = make(chan struct{})
	go s.uploadLoop()
	return s, nil
}

func newSpool(dir, id string, st Store, opts Options) (*Spool, error) {
	if err := storage.ValidateName(id); err != nil || filepath.Base(id) != id {
		return nil, fmt.Errorf("spool: backup ID %q is not a plain name", id)
	}
	if dir == "" {
		return nil, errors.New("spool: no spool directory")
	}
	if opts.Parallel <= 0 {
		opts.Parallel = max(1, st.UploadParallel())
	}
	if opts.Reserve == 0 {
		opts.Reserve = DefaultReserve
	}
	if opts.FreeSpace == nil {
		opts.FreeSpace = freeSpace
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Spool{dir: filepath.Join(dir, id), st: st, opts: opts, log: log}, nil
}

// Dir is the backup's spool directory (DIR/ID).
func (s *Spool) Dir() string { return s.dir }

// Object is the name of the object the spool uploads.
func (s *Spool) Object() string { return s.start.Object }

// Complete reports whether the whole stream is in the spool.
func (s *Spool) Complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// Size is the number of bytes spooled so far.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Stats says what Finish did.
func (s *Spool) Stats() Stats { return s.stats }

// checkSpace fails with ErrNoSpace when the file system of path has less
// than need bytes free beyond the reserve.
func (s *Spool) checkSpace(path string, need int64, what string) error {
	free, err := s.opts.FreeSpace(path)
	if err != nil {
		return fmt.Errorf("spool dir %s: check free space: %w", path, err)
	}
	if free-s.opts.Reserve < need {
		return fmt.Errorf("%w: spool dir %s has %s free, %s %s (plus a reserve of %s): free some space, use another --spool-dir, or back up without --spool-dir",
			ErrNoSpace, path, units.Bytes(free), what, units.Bytes(need), units.Bytes(s.opts.Reserve))
	}
	return nil
}

// Consume writes the stream read from r to segment files of PartSize
// bytes, each fsynced and recorded in the journal before it is queued for
// upload, until r reports io.EOF; then it records the end of the stream.
// Uploads never slow it down: it waits only for the disk. It returns the
// number of bytes spooled. On error the stream is incomplete and the spool
// cannot be finished (Discard it).
func (s *Spool) Consume(ctx context.Context, r io.Reader) (int64, error) {
	if s.resumed || s.queue == nil {
		return 0, errors.New("spool: Consume on a spool that was not created by Create")
	}
	buf := make([]byte, 1<<20)
	partSize := s.start.PartSize
	var total int64
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if n >= s.st.MaxParts() {
			return total, fmt.Errorf("spool: the stream needs more than %d parts of %d bytes (the store's limit): raise the segment size", s.st.MaxParts(), partSize)
		}
		if err := s.checkSpace(s.dir, partSize, "the next segment needs"); err != nil {
			return total, fmt.Errorf("spool segment %d after %s: %w", n, units.Bytes(total), err)
		}
		size, sum, err := s.writePart(n, r, buf)
		total += size
		if err != nil {
			return total, err
		}
		if size == 0 && n > 0 {
			os.Remove(s.partPath(n))
			break
		}
		if err := s.j.append(record{Op: opPart, N: intp(n), Size: size, MD5: sum}); err != nil {
			return total, err
		}
		s.mu.Lock()
		s.parts = append(s.parts, partInfo{Size: size, MD5: sum})
		s.uploaded = append(s.uploaded, storage.Part{})
		s.size = total
		s.mu.Unlock()
		s.queue <- n
		if size < partSize {
			break
		}
	}
	s.mu.Lock()
	nparts := len(s.parts)
	s.mu.Unlock()
	if err := s.j.append(record{Op: opEnd, Parts: nparts, Size: total}); err != nil {
		return total, err
	}
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.closeQueue()
	return total, nil
}

func (s *Spool) partPath(n int) string {
	return filepath.Join(s.dir, fmt.Sprintf("part-%08d", n))
}

// writePart copies up to PartSize bytes of r into the file of part n,
// fsyncs it and returns its size and MD5.
func (s *Spool) writePart(n int, r io.Reader, buf []byte) (int64, string, error) {
	path := s.partPath(n)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("spool segment %d: %w", n, err)
	}
	h := md5.New()
	size, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(r, s.start.PartSize), buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The journal will say the file exists: make its name durable
		// first.
		err = syncDir(s.dir)
	}
	if err != nil {
		if isNoSpace(err) {
			err = fmt.Errorf("%w: %w", ErrNoSpace, err)
		}
		return size, "", fmt.Errorf("spool segment %d to %s: %w", n, path, err)
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// uploadLoop uploads queued parts, Parallel at once, until the queue is
// closed or uploads are stopped. After the first failure (the store's own
// retries are exhausted: the network or the store is down) it stops
// uploading and leaves the rest to Finish, which tries once more.
func (s *Spool) uploadLoop() {
	defer close(s.upDone)
	var g errgroup.Group
	g.SetLimit(s.opts.Parallel)
	var once sync.Once
	failed := make(chan struct{})
	for n := range s.queue {
		select {
		case <-failed:
			continue
		case <-s.upCtx.Done():
			continue
		default:
		}
		g.Go(func() error {
			if err := s.upload(s.upCtx, n, false); err != nil {
				once.Do(func() {
					s.mu.Lock()
					s.upErr = err
					s.mu.Unlock()
					close(failed)
					if s.upCtx.Err() == nil {
						s.log.Warn("upload stopped; the stream is still spooled and Finish tries again", "err", err)
					}
				})
			}
			return nil
		})
	}
	_ = g.Wait()
}

// upload sends part n from its file and records the store's confirmation.
// verify checks the file against the journal's MD5 first (a file written
// by another process).
func (s *Spool) upload(ctx context.Context, n int, verify bool) error {
	s.mu.Lock()
	p := s.parts[n]
	s.mu.Unlock()
	f, err := os.Open(s.partPath(n))
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	defer f.Close()
	if verify {
		h := md5.New()
		k, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("upload part %d: read %s: %w", n, f.Name(), err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); k != p.Size || got != p.MD5 {
			return fmt.Errorf("upload part %d: spool file %s is damaged: %d bytes with MD5 %s, the journal says %d bytes with MD5 %s",
				n, f.Name(), k, got, p.Size, p.MD5)
		}
	}
	part, err := s.st.PutPart(ctx, s.start.Object, s.start.UploadID, n, f, p.Size, p.MD5)
	if err != nil {
		return err
	}
	return s.confirm(n, part, true)
}

// confirm records that the store holds part n.
func (s *Spool) confirm(n int, part storage.Part, uploaded bool) error {
	s.mu.Lock()
	s.uploaded[n] = part
	if uploaded {
		s.stats.Uploaded++
		s.stats.Bytes += part.Size
	} else {
		s.stats.Skipped++
	}
	s.mu.Unlock()
	return s.j.append(record{Op: opUploaded, N: intp(n), Name: part.Name})
}

// SavePending stores data (what the caller needs to finish the backup:
// its pending manifest) in the spool, atomically and durably. Call it
// once the stream is complete, before Finish, so that a process killed
// during the upload leaves a backup that Open and Finish can complete.
func (s *Spool) SavePending(data []byte) error {
	path := filepath.Join(s.dir, PendingName)
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data); err != nil {
		return fmt.Errorf("save pending manifest in %s: %w", s.dir, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save pending manifest in %s: %w", s.dir, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("save pending manifest in %s: %w", s.dir, err)
	}
	return nil
}

// Pending returns what SavePending stored, or an error wrapping
// os.ErrNotExist.
func (s *Spool) Pending() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, PendingName))
	if err != nil {
		return nil, fmt.Errorf("read the pending manifest of spool %s: %w", s.dir, err)
	}
	return b, nil
}

// Finish waits for the background uploads, uploads every part the store
// does not hold with the right size and MD5 (asking the store, StatPart,
// for the parts this process did not upload itself), and commits the
// object. When the object is already committed with these parts (a
// process killed after the commit), it only checks that. It returns the
// committed object. The spool's files stay until Remove.
func (s *Spool) Finish(ctx context.Context) (storage.ObjectInfo, error) {
	if s.upDone != nil {
		if !s.Complete() {
			return storage.ObjectInfo{}, fmt.Errorf("finish spool %s: %w", s.dir, ErrIncomplete)
		}
		<-s.upDone
	}
	if !s.Complete() {
		return storage.ObjectInfo{}, fmt.Errorf("finish spool %s: %w", s.dir, ErrIncomplete)
	}
	s.mu.Lock()
	parts := append([]partInfo(nil), s.parts...)
	s.stats.Parts = len(parts)
	s.mu.Unlock()

	if s.resumed {
		// Killed after the commit? Then only the caller's last step is
		// left.
		if got, err := s.st.Parts(ctx, s.start.Object); err == nil && s.sameParts(got, parts) {
			s.log.Info("the object is already committed", "object", s.start.Object)
			s.stats.Skipped = len(parts)
			if err := s.j.append(record{Op: opCommitted}); err != nil {
				return storage.ObjectInfo{}, err
			}
			return s.committedInfo(storage.ObjectInfo{Name: s.start.Object, Size: s.size, ModTime: time.Now().UTC()}, got), nil
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Parallel)
	for n, p := range parts {
		s.mu.Lock()
		done := s.uploaded[n].Name != ""
		s.mu.Unlock()
		if done && !s.resumed {
			continue // confirmed by this process's upload
		}
		g.Go(func() error {
			got, err := s.st.StatPart(gctx, s.start.Object, s.start.UploadID, n)
			switch {
			case err == nil && got.Size == p.Size && got.MD5 == p.MD5:
				return s.confirm(n, got, false)
			case err != nil && !errors.Is(err, storage.ErrNotFound):
				return err
			}
			return s.upload(gctx, n, s.resumed)
		})
	}
	if err := g.Wait(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("finish spool %s: %w", s.dir, err)
	}
	s.mu.Lock()
	sparts := append([]storage.Part(nil), s.uploaded...)
	s.mu.Unlock()
	info, err := s.st.CommitParts(ctx, s.start.Object, sparts)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("finish spool %s: %w", s.dir, err)
	}
	if err := s.j.append(record{Op: opCommitted}); err != nil {
		return storage.ObjectInfo{}, err
	}
	return s.committedInfo(info, sparts), nil
}

// committedInfo completes the description of the committed object: Parts
// for an object of several parts, MD5 for one stored in one piece (as Put
// stores a short stream).
func (s *Spool) committedInfo(info storage.ObjectInfo, parts []storage.Part) storage.ObjectInfo {
	info.Size = s.size
	if len(parts) == 1 {
		info.Parts, info.MD5 = nil, parts[0].MD5
	} else {
		info.Parts = append([]storage.Part(nil), parts...)
	}
	return info
}

// sameParts reports whether a committed object's parts are the spool's.
func (s *Spool) sameParts(got []storage.Part, want []partInfo) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i].Size != want[i].Size || got[i].MD5 != want[i].MD5 {
			return false
		}
	}
	return true
}

// Close stops the background uploads and closes the journal, leaving the
// files for Open.
func (s *Spool) Close() error {
	if s.upCancel != nil {
		s.upCancel()
		s.mu.Lock()
		ended := s.ended
		s.mu.Unlock()
		if !ended {
			// Consume stopped before the end: nobody else closes the
			// queue, and uploadLoop skips what is left in it.
			s.closeQueue()
		}
		<-s.upDone
	}
	if s.j != nil {
		return s.j.close()
	}
	return nil
}

// closeQueue closes the upload queue once.
func (s *Spool) closeQueue() {
	s.queueOnce.Do(func() { close(s.queue) })
}

// Remove closes the spool and deletes its files: call it once the backup
// is recorded as complete.
func (s *Spool) Remove() error {
	s.Close()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove spool %s: %w", s.dir, err)
	}
	return nil
}

// Discard gives the backup up: it stops the uploads, deletes the parts
// uploaded to the store and removes the spool's files.
func (s *Spool) Discard(ctx context.Context) error {
	s.Close()
	if err := s.st.DeleteUpload(ctx, s.start.Object, s.start.UploadID); err != nil {
		return fmt.Errorf("discard spool %s: %w", s.dir, err)
	}
	return s.Remove()
}

// UploadErr is the error that stopped the background uploads, or nil.
func (s *Spool) UploadErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upErr
}

// Open opens the spool of backup id in dir, written by Create in this or
// another process, to finish it (Finish) or give it up (Discard). It
// fails with ErrNotSpooled when there is none, with ErrDamagedJournal when
// its journal cannot be trusted, and when the spool was made for another
// store than st.
func Open(dir, id string, st Store, opts Options) (*Spool, error) {
	s, err := newSpool(dir, id, st, opts)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, JournalName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w %s in %s", ErrNotSpooled, id, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	js, tail, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: journal %s: %w", s.dir, path, err)
	}
	if js.start.ID != id {
		return nil, fmt.Errorf("open spool %s: %w: it is the journal of %s", s.dir, ErrDamagedJournal, js.start.ID)
	}
	if js.start.Location != st.Location() {
		return nil, fmt.Errorf("open spool %s: it was made for %s, not %s: give --storage %s",
			s.dir, js.start.Location, st.Location(), js.start.Location)
	}
	if js.torn {
		s.log.Warn("the journal's last line was torn by the interruption and is ignored", "journal", path)
	}
	if err := repairTail(path, data, tail); err != nil {
		return nil, fmt.Errorf("open spool %s: repair the journal: %w", s.dir, err)
	}
	if s.j, err = openJournal(path); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", s.dir, err)
	}
	s.start = js.start
	s.parts = js.parts
	s.uploaded = make([]storage.Part, len(js.parts))
	s.ended = js.ended
	for _, p := range js.parts {
		s.size += p.Size
	}
	s.resumed = true
	return s, nil
}

// writeFileSync writes data to a new file at path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory, so that the files created in it survive a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
