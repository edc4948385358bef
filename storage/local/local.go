package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/time/rate"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mybak/mybak/internal/ratelimit"
	"github.com/mybak/mybak/storage"
)

// tempDir is the directory, directly below the root, that holds the
// temporary files of Puts in progress. List never shows it.
const tempDir = ".mybak-tmp"

// bufSize is the size of the chunks Put copies; ctx is checked between
// chunks.
const bufSize = 1 << 20

// commitAttempts bounds how often Put retries creating the parent
// directories and renaming when a concurrent Delete removes an empty parent
// directory between the two steps.
const commitAttempts = 100

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// Backend is a storage.Backend on a local directory. It is safe for
// concurrent use, also by several processes on the same directory.
type Backend struct {
	dir  string // absolute path of the root
	root *os.Root
	// limiter caps the rate Put writes at (nil: no cap), see LimitRate.
	limiter *rate.Limiter
}

var (
	_ storage.Backend          = (*Backend)(nil)
	_ storage.CheapRanges      = (*Backend)(nil)
	_ storage.StaleTempRemover = (*Backend)(nil)
)

// New opens the directory dir as a store, creating it (mode 0700, with its
// parents) when it does not exist. The caller must Close the Backend.
func New(dir string) (*Backend, error) {
	abs, err := absDir(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, explain(fmt.Sprintf("create local storage directory %s", abs), abs, err)
	}
	b, err := Open(abs)
	if err != nil {
		return nil, err
	}
	if err := b.root.Mkdir(tempDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		b.Close()
		return nil, explain(fmt.Sprintf("open local storage %s", abs), filepath.Join(abs, tempDir), err)
	}
	return b, nil
}

// Open opens an existing store for reading (and deleting): unlike New it
// creates nothing, so a mistyped path is an error rather than a new empty
// store, and a store on a read-only mount (a snapshot, an NFS export) can
// be restored from. Writes still work where the directory is writable.
func Open(dir string) (*Backend, error) {
	abs, err := absDir(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open local storage %s: no such directory (check the path; backup creates it)", abs)
	}
	if err != nil {
		return nil, explain(fmt.Sprintf("open local storage %s", abs), abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open local storage %s: not a directory", abs)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, explain(fmt.Sprintf("open local storage %s", abs), abs, err)
	}
	return &Backend{dir: abs, root: root}, nil
}

// absDir is dir made absolute; an empty name is an error.
func absDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("open local storage: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("open local storage %s: %w", dir, err)
	}
	return abs, nil
}

// Location returns the absolute path of the directory.
func (b *Backend) Location() string { return b.dir }

// Close releases the directory handle. The Backend must not be used after.
func (b *Backend) Close() error {
	if err := b.root.Close(); err != nil {
		return fmt.Errorf("close local storage %s: %w", b.dir, err)
	}
	return nil
}

// path returns the file system path of an object, for messages.
func (b *Backend) path(name string) string { return filepath.Join(b.dir, filepath.FromSlash(name)) }

// checkName validates an object name, including the reserved temporary
// directory.
func checkName(name string) error {
	if err := storage.ValidateName(name); err != nil {
		return err
	}
	if first, _, _ := strings.Cut(name, "/"); first == tempDir {
		return fmt.Errorf("%w %q: %s/ is reserved for the temporary files of local storage", storage.ErrInvalidName, name, tempDir)
	}
	return nil
}

// begin checks ctx and name at the start of an operation.
func begin(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %q: %w", op, name, err)
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// explain wraps err with what and, for causes a human must fix, what to do
// about file system path p.
func explain(what, p string, err error) error {
	var hint string
	switch {
	case errors.Is(err, syscall.ENOSPC):
		hint = fmt.Sprintf("no space left on device writing %s: free space or choose another --storage", p)
	case errors.Is(err, syscall.EDQUOT):
		hint = fmt.Sprintf("disk quota exceeded writing %s: free space, raise the quota or choose another --storage", p)
	case errors.Is(err, syscall.EROFS):
		hint = fmt.Sprintf("%s is on a read-only file system: remount it read-write or choose another --storage", p)
	case errors.Is(err, fs.ErrPermission):
		hint = fmt.Sprintf("permission denied on %s: give the user running mybak access to it or choose another --storage", p)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s: %w", what, hint, err)
}

// notFound reports whether err means that an object does not exist: a
// missing file, or a path element that is a file (ENOTDIR).
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// lstatObject returns the FileInfo of the regular file of an object, or an
// error wrapping storage.ErrNotFound.
func (b *Backend) lstatObject(op, name string) (fs.FileInfo, error) {
	fi, err := b.root.Lstat(name)
	if notFound(err) {
		return nil, fmt.Errorf("%s %q: %w", op, name, storage.ErrNotFound)
	}
	if err != nil {
		return nil, explain(fmt.Sprintf("%s %q", op, name), b.path(name), err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %q: %w (%s is a %s, not a regular file)", op, name, storage.ErrNotFound, b.path(name), fi.Mode().Type())
	}
	return fi, nil
}

func info(name string, fi fs.FileInfo) storage.ObjectInfo {
	return storage.ObjectInfo{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}
}

// Put stores r as the object name: it copies r in 1 MiB chunks into a
// temporary file, checking ctx between chunks, fsyncs it, renames it into
// place and fsyncs the directory. On any failure the temporary file is
// removed and an existing object of that name is untouched. An error of r
// is returned wrapped. Put does not report an MD5.
//
// If fsyncing the directory fails after the rename, Put returns the error
// although the new object is in place; the storage is then not to be
// trusted (an I/O error of the disk).
func (b *Backend) Put(ctx context.Context, name string, r io.Reader) (storage.ObjectInfo, error) {
	if err := begin(ctx, "put", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	op := fmt.Sprintf("put %q", name)
	tmp, f, err := b.createTemp()
	if err != nil {
		return storage.ObjectInfo{}, explain(op+": create temporary file", filepath.Join(b.dir, tempDir), err)
	}
	// Messages name the store, whose file system a human must fix; the
	// wrapped cause names the temporary file.
	tmpPath := b.dir
	committed := false
	defer func() {
		if !committed {
			f.Close()
			b.root.Remove(tmp)
		}
	}()

	r = ratelimit.Reader(ctx, r, b.limiter)
	n, err := copyChunks(ctx, &writeback{f: f}, r)
	var we *writeError
	switch {
	case errors.As(err, &we):
		return storage.ObjectInfo{}, explain(fmt.Sprintf("%s: write after %d bytes", op, n), tmpPath, we.err)
	case err != nil:
		return storage.ObjectInfo{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := f.Sync(); err != nil {
		return storage.ObjectInfo{}, explain(op+": fsync", tmpPath, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := f.Close(); err != nil {
		return storage.ObjectInfo{}, explain(op+": close", tmpPath, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := b.commit(tmp, name); err != nil {
		return storage.ObjectInfo{}, explain(op, b.path(name), err)
	}
	committed = true
	return storage.ObjectInfo{Name: name, Size: n, ModTime: fi.ModTime()}, nil
}

// CheapRanges marks the local store as one where ranged reads cost only
// what they read (see storage.CheapRanges).
func (b *Backend) CheapRanges() {}

// createTemp creates a new temporary file in tempDir, recreating tempDir
// if someone removed it.
func (b *Backend) createTemp() (string, *os.File, error) {
	var rnd [16]byte
	rand.Read(rnd[:])
	name := tempDir + "/" + hex.EncodeToString(rnd[:]) + ".tmp"
	f, err := b.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err := b.root.Mkdir(tempDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", nil, err
		}
		f, err = b.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	return name, f, err
}

// writeError marks an error of the destination in copyChunks.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// copyChunks copies r to w in chunks of bufSize, checking ctx before each
// chunk. Errors of w are returned as *writeError; errors of r and of ctx
// are returned wrapped.
func copyChunks(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := io.ReadFull(r, buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, &writeError{werr}
			}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return n, nil
		default:
			return n, fmt.Errorf("read source after %d bytes: %w", n, rerr)
		}
	}
}

// commit creates the parent directories of name and renames tmp to name,
// then fsyncs the directories whose entries changed. A concurrent Delete
// may remove an empty parent between the two steps; commit then retries.
func (b *Backend) commit(tmp, name string) error {
	dir := path.Dir(name)
	for attempt := 1; ; attempt++ {
		created, err := b.mkdirs(dir)
		if err == nil {
			err = b.root.Rename(tmp, name)
		}
		if err == nil {
			syncs := []string{dir}
			for _, c := range created {
				syncs = append(syncs, path.Dir(c))
			}
			slices.Sort(syncs)
			for _, d := range slices.Compact(syncs) {
				if err := b.syncDir(d); err != nil {
					return err
				}
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == commitAttempts {
			return err
		}
		if _, serr := b.root.Lstat(tmp); serr != nil {
			return fmt.Errorf("temporary file %s vanished (removed by RemoveStaleTemp of another process?): %w", b.path(tmp), serr)
		}
	}
}

// mkdirs creates dir and its missing parents with mode 0700 and returns
// those it created, parents first.
func (b *Backend) mkdirs(dir string) ([]string, error) {
	if dir == "." {
		return nil, nil
	}
	var created []string
	cur := ""
	for el := range strings.SplitSeq(dir, "/") {
		cur = path.Join(cur, el)
		err := b.root.Mkdir(cur, 0o700)
		switch {
		case err == nil:
			created = append(created, cur)
		case errors.Is(err, fs.ErrExist):
		default:
			return created, err
		}
	}
	return created, nil
}

// syncDir fsyncs the directory dir ("." for the root).
func (b *Backend) syncDir(dir string) error {
	d, err := b.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", b.path(dir), err)
	}
	return nil
}

// Get opens the object for reading from offset off. Reads of the returned
// reader fail with an error wrapping ctx.Err() once ctx is cancelled. The
// reader keeps reading the content the object had when Get opened it, even
// if a Put replaces or a Delete removes the object meanwhile.
func (b *Backend) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	if err := begin(ctx, "get", name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("get %q: negative offset %d", name, off)
	}
	if _, err := b.lstatObject("get", name); err != nil {
		return nil, err
	}
	f, err := b.root.Open(name)
	if notFound(err) {
		return nil, fmt.Errorf("get %q: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return nil, explain(fmt.Sprintf("get %q", name), b.path(name), err)
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("get %q: seek to %d: %w", name, off, err)
		}
	}
	return &reader{ctx: ctx, name: name, f: f}, nil
}

// reader is the io.ReadCloser of Get.
type reader struct {
	ctx  context.Context
	name string
	f    *os.File
}

// Read implements io.Reader; it fails once ctx is cancelled.
func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("read %q: %w", r.name, err)
	}
	n, err := r.f.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read %q: %w", r.name, err)
	}
	return n, err
}

// Close closes the file.
func (r *reader) Close() error { return r.f.Close() }

// Stat describes the object; MD5 is always empty.
func (b *Backend) Stat(ctx context.Context, name string) (storage.ObjectInfo, error) {
	if err := begin(ctx, "stat", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	fi, err := b.lstatObject("stat", name)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return info(name, fi), nil
}

// Delete removes the object's file, fsyncs its directory and removes the
// parent directories that became empty, up to the root.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := begin(ctx, "delete", name); err != nil {
		return err
	}
	if _, err := b.lstatObject("delete", name); err != nil {
		return err
	}
	if err := b.root.Remove(name); err != nil {
		if notFound(err) {
			return fmt.Errorf("delete %q: %w", name, storage.ErrNotFound)
		}
		return explain(fmt.Sprintf("delete %q", name), b.path(name), err)
	}
	dir := path.Dir(name)
	if err := b.syncDir(dir); err != nil && !notFound(err) {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	// Remove empty parents; stop at the first that is not empty (or that a
	// concurrent Put is filling).
	for ; dir != "."; dir = path.Dir(dir) {
		if err := b.root.Remove(dir); err != nil {
			break
		}
	}
	return nil
}

// List calls fn for every object whose name starts with prefix, in lexical
// order, walking only the directories that can hold such names. Objects
// that a concurrent Delete removes during the walk may or may not be
// listed.
func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return b.walk(ctx, ".", prefix, fn)
}

// walk lists directory dir. Errors of fn are returned as they are.
func (b *Backend) walk(ctx context.Context, dir, prefix string, fn func(storage.ObjectInfo) error) error {
	d, err := b.root.Open(dir)
	if err != nil {
		if dir != "." && notFound(err) {
			return nil // removed by a concurrent Delete
		}
		return explain(fmt.Sprintf("list %q", prefix), b.path(dir), err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return explain(fmt.Sprintf("list %q", prefix), b.path(dir), err)
	}
	// A directory's names all start with its name and "/", so sorting
	// directories by name+"/" among the files yields lexical order of the
	// full names.
	key := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return strings.Compare(key(x), key(y)) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		full := path.Join(dir, e.Name())
		switch {
		case dir == "." && e.Name() == tempDir:
		case e.IsDir():
			if strings.HasPrefix(full+"/", prefix) || strings.HasPrefix(prefix, full+"/") {
				if err := b.walk(ctx, full, prefix, fn); err != nil {
					return err
				}
			}
		case e.Type().IsRegular():
			if !strings.HasPrefix(full, prefix) || storage.ValidateName(full) != nil {
				continue
			}
			fi, err := e.Info()
			if notFound(err) {
				continue // removed by a concurrent Delete
			}
			if err != nil {
				return fmt.Errorf("list %q: %w", prefix, err)
			}
			if err := fn(info(full, fi)); err != nil {
				return err
			}
		}
	}
	return nil
}

// RemoveStaleTemp removes the temporary files of Puts that a crash or a
// kill -9 left behind: those last written more than olderThan ago. It
// returns how many it removed. A Put whose source stalls for longer than
// olderThan loses its temporary file and fails (safely: nothing becomes
// visible), so olderThan must be longer than any stall of a running
// backup, e.g. 24 hours; prune uses it with such a value.
func (b *Backend) RemoveStaleTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	d, err := b.root.Open(tempDir)
	if notFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, explain("remove stale temporary files", filepath.Join(b.dir, tempDir), err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return 0, explain("remove stale temporary files", filepath.Join(b.dir, tempDir), err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("remove stale temporary files: %w", err)
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(cutoff) {
			continue
		}
		p := tempDir + "/" + e.Name()
		if err := b.root.Remove(p); err != nil && !notFound(err) {
			return removed, explain("remove stale temporary file", b.path(p), err)
		}
		removed++
	}
	return removed, nil
}
