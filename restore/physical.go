package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
)

// ErrNotEmpty is returned (wrapped) when a restore would write over an
// existing directory, datadir or database and Force was not given.
var ErrNotEmpty = errors.New("restore target is not empty")

// ErrServerRunning is returned (wrapped) when a server still runs on the
// datadir a restore would replace; Force does not override it.
var ErrServerRunning = errors.New("a server is running on the datadir")

// PhysicalOptions configure Physical.
type PhysicalOptions struct {
	Options
	// TargetDir receives the prepared backup. It may be empty when Datadir
	// is set: the prepared files then live in a staging dir next to the
	// datadir until they are copied.
	TargetDir string
	// Datadir, when set, receives the prepared files with --copy-back (or
	// --move-back with MoveBack) and is chowned to Owner.
	Datadir  string
	MoveBack bool
	// Owner of the datadir's files; empty: "mysql" when running as root.
	Owner string
	// Force replaces a non-empty TargetDir / Datadir (never one a running
	// server holds): once the restore succeeded, the old contents are moved
	// aside to DIR.mybak-old-<UTC time the restore started> next to it,
	// and kept (the log says where), unless RemoveOld.
	Force bool
	// RemoveOld, with Force, deletes the old contents instead of keeping
	// them aside.
	RemoveOld bool
	// Protect lists directories the target dir and the datadir must not
	// be, contain or lie inside (ErrUnsafeTarget, whatever Force says).
	// Physical adds the store it reads from when it is a directory.
	Protect   []Protected
	UseMemory string // --use-memory for prepare
	Log       *slog.Logger
	// Tools chooses the programs that prepare and copy back; nil: the
	// tool the manifest names (engine/physical sets one that lets the
	// stream's own files decide).
	Tools ToolChooser
}

// ToolChooser chooses the program of a physical restore.
type ToolChooser interface {
	// BeforeExtract finds the tool before anything is extracted, so that a
	// restore that cannot prepare fails before it copies gigabytes. A
	// zero Tool and no error leave the choice to Prepare.
	BeforeExtract(log *slog.Logger) (mysql.Tool, error)
	// Prepare chooses the tool that prepares the full backup extracted
	// into dir (and copies it back), and logs why.
	Prepare(dir string, log *slog.Logger) (mysql.Tool, error)
}

// manifestTool is the ToolChooser of the tool a manifest names.
type manifestTool mysql.Engine

// BeforeExtract implements ToolChooser.
func (t manifestTool) BeforeExtract(*slog.Logger) (mysql.Tool, error) {
	return mysql.LookupTool(mysql.Engine(t))
}

// Prepare implements ToolChooser.
func (t manifestTool) Prepare(_ string, log *slog.Logger) (mysql.Tool, error) {
	tool, err := mysql.LookupTool(mysql.Engine(t))
	if err != nil {
		return tool, fmt.Errorf("prepare the backup with %s (its manifest says engine=%s): %w", t, t, err)
	}
	log.Info(fmt.Sprintf("preparing with %s (its manifest says engine=%s)", tool.Engine, t), "tool", tool.Path)
	return tool, nil
}

// Physical restores a chain of physical backups (full first, as
// backup.Chain returns it, and checked by the engine: engine/physical's
// CheckChain): every backup is decoded from the store and
// extracted with xbstream/mbstream into its own dir inside a staging dir
// next to the target, the full backup is prepared (with --apply-log-only /
// --redo-only while incrementals follow, where the tool needs it), each
// incremental is applied with --incremental-dir, and only then is the
// result renamed into TargetDir. With Datadir the prepared backup is copied
// (or moved) into a second staging dir next to the datadir, chowned, and
// renamed into place. A restore that fails or is interrupted removes its
// staging dirs and never leaves a partly filled target or datadir; tool
// logs of a failed run are kept and named in the error.
func Physical(ctx context.Context, st storage.Backend, chain []*backup.Manifest, o PhysicalOptions) error {
	o.defaults()
	if len(chain) == 0 {
		return errors.New("empty backup chain")
	}
	eng := mysql.Engine(chain[0].Engine.Name) // the tool family; the engine checked the chain
	// Every manifest of the chain is authenticated before anything is
	// extracted (see auth.go).
	if err := authenticate(chain, o.Options); err != nil {
		return err
	}
	ids := make([]string, len(chain))
	for i, m := range chain {
		ids[i] = m.ID
	}
	if st == nil {
		return errors.New("physical restore needs a store")
	}
	if loc := st.Location(); filepath.IsAbs(loc) {
		o.Protect = append([]Protected{{What: "the store", Dir: loc}}, o.Protect...)
	}
	return physical(ctx, eng, ids, func(ctx context.Context, i int, dir, logPath string) error {
		m := chain[i]
		o.Log.Info("extracting", "id", m.ID, "type", m.Type, "dir", dir)
		return extractOne(ctx, st, m, eng, dir, logPath, o.Options)
	}, o)
}

// PhysicalFromWire restores the full physical backup a wire stream carries
// (`mybak backup --to-stdout`) like Physical restores a chain of one: the
// stream is decoded into xbstream/mbstream -x as it arrives, and prepared
// only once its manifest's hashes matched. It returns that manifest.
func PhysicalFromWire(ctx context.Context, wr *backup.WireReader, o PhysicalOptions) (*backup.Manifest, error) {
	o.defaults()
	h := wr.Header
	if err := checkID(h.ID); err != nil {
		return nil, fmt.Errorf("the stream's header: %w", err)
	}
	eng := mysql.Engine(h.Engine) // the tool family; the engine chose this restore
	if h.Type != "full" {
		return nil, fmt.Errorf("the stream holds a %s backup, not a full one", h.Type)
	}
	var m *backup.Manifest
	err := physical(ctx, eng, []string{h.ID}, func(ctx context.Context, _ int, dir, logPath string) error {
		o.Log.Info("extracting", "id", h.ID, "from", "standard input", "dir", dir)
		pr, pw := io.Pipe()
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			var err error
			m, err = DecodeWire(gctx, wr, pw, o.Options)
			pw.CloseWithError(err)
			return err
		})
		var xerr error
		g.Go(func() error {
			xerr = extractGuarded(gctx, eng, pr, dir, logPath)
			pr.CloseWithError(fmt.Errorf("extract stopped: %w", xerr))
			return xerr
		})
		return unsafeFirst(g.Wait(), xerr)
	}, o)
	return m, err
}

// physical is the common part of Physical and PhysicalFromWire: extract
// each of ids (full first) with extract, prepare, copy back.
func physical(ctx context.Context, eng mysql.Engine, ids []string, extract func(ctx context.Context, i int, dir, logPath string) error, o PhysicalOptions) (err error) {
	o.defaults()
	log := o.Log
	for _, id := range ids {
		if err := checkID(id); err != nil {
			return err
		}
	}
	if o.TargetDir == "" && o.Datadir == "" {
		return errors.New("physical restore needs a target dir (--target-dir) or a datadir (--copy-back/--move-back --datadir)")
	}
	if o.Tools == nil {
		o.Tools = manifestTool(eng)
	}
	tool, err := o.Tools.BeforeExtract(log)
	if err != nil {
		return err
	}
	if _, err := mysql.StreamTool(eng); err != nil {
		return err
	}
	start := time.Now()
	if err := o.checkTargets(start); err != nil {
		return err
	}

	near := o.TargetDir
	if near == "" {
		near = o.Datadir
	}
	if err := os.MkdirAll(filepath.Dir(near), 0o755); err != nil {
		return fmt.Errorf("create parent of %s: %w", near, err)
	}
	staging, err := os.MkdirTemp(filepath.Dir(near), "."+filepath.Base(near)+".mybak-staging-")
	if err != nil {
		return fmt.Errorf("create staging dir next to %s: %w", near, err)
	}
	logDir := filepath.Join(staging, "logs")
	if err := os.Mkdir(logDir, 0o700); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(staging)
			return
		}
		// Keep the logs for the error; remove the (large, unusable) data.
		ents, _ := os.ReadDir(staging)
		for _, e := range ents {
			if e.Name() != "logs" {
				os.RemoveAll(filepath.Join(staging, e.Name()))
			}
		}
		log.Warn("restore failed: tool logs kept", "dir", logDir)
	}()

	dirs := make([]string, len(ids))
	for i, id := range ids {
		// The IDs were checked above; below checks again that each name
		// stays a direct child of its dir.
		if dirs[i], err = below(staging, fmt.Sprintf("%02d-%s", i, id)); err != nil {
			return err
		}
		logPath, err := below(logDir, "extract-"+id+".log")
		if err != nil {
			return err
		}
		if err := extract(ctx, i, dirs[i], logPath); err != nil {
			return err
		}
		// prepare reads the server options the backup carries.
		if err := checkBackupCnf(dirs[i]); err != nil {
			return fmt.Errorf("restore %s: %w", id, err)
		}
		if o.Datadir != "" {
			if err := checkNoISL(dirs[i]); err != nil {
				return fmt.Errorf("restore %s: %w", id, err)
			}
		}
	}
	// The stream's own files say which tool wrote it.
	if tool, err = o.Tools.Prepare(dirs[0], log); err != nil {
		return err
	}
	prep := func(step string, inc string, more bool) error {
		log.Info("preparing", "step", step)
		return mysql.Prepare(ctx, mysql.PrepareOptions{Tool: tool, TargetDir: dirs[0], IncrementalDir: inc,
			MoreIncrementals: more, UseMemory: o.UseMemory, LogPath: filepath.Join(logDir, "prepare-"+step+".log")})
	}
	if err := prep("0-full", "", len(ids) > 1); err != nil {
		return err
	}
	for i := 1; i < len(ids); i++ {
		if err := prep(fmt.Sprintf("%d-incremental", i), dirs[i], i < len(ids)-1); err != nil {
			return err
		}
	}
	// The last incremental's prepare rolls back uncommitted transactions on
	// xtrabackup 8.0 and mariabackup; innobackupex needs a last --apply-log.
	if len(ids) > 1 && tool.FinalApply() {
		if err := prep("final", "", false); err != nil {
			return err
		}
	}
	return o.placeBack(ctx, tool, dirs[0], logDir, start)
}

// placeBack moves the backup prepared in prepared into the target dir,
// then, with a datadir, copies (or moves) it into a staging datadir next
// to it with tool and renames that into place. Old contents are moved
// aside (named after start) or removed (RemoveOld).
func (o *PhysicalOptions) placeBack(ctx context.Context, tool mysql.Tool, prepared, logDir string, start time.Time) (err error) {
	replace := func(src, dst string) error {
		aside := ""
		if !o.RemoveOld {
			aside = asideName(dst, start)
		}
		kept, err := replaceDir(src, dst, aside)
		if kept != "" {
			o.Log.Warn("the old contents are kept: remove them when you no longer need them", "dir", dst, "kept_in", kept)
		}
		return err
	}
	if o.TargetDir != "" {
		if err := replace(prepared, o.TargetDir); err != nil {
			return err
		}
		prepared = o.TargetDir
		o.Log.Info("prepared backup in place", "dir", o.TargetDir)
	}
	if o.Datadir == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(o.Datadir), 0o755); err != nil {
		return fmt.Errorf("create parent of %s: %w", o.Datadir, err)
	}
	part, err := os.MkdirTemp(filepath.Dir(o.Datadir), "."+filepath.Base(o.Datadir)+".mybak-partial-")
	if err != nil {
		return fmt.Errorf("create staging datadir next to %s: %w", o.Datadir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(part)
		}
	}()
	if err := os.Chmod(part, 0o750); err != nil {
		return err
	}
	mode := "copy-back"
	if o.MoveBack {
		mode = "move-back"
	}
	if err := checkNoISL(prepared); err != nil { // checked after extraction; prepare must not have added one
		return err
	}
	o.Log.Info(mode, "from", prepared, "datadir", o.Datadir)
	if err := mysql.CopyBack(ctx, mysql.CopyBackOptions{Tool: tool, TargetDir: prepared, Datadir: part, Move: o.MoveBack,
		Owner: o.Owner, LogPath: filepath.Join(logDir, mode+".log")}); err != nil {
		return err
	}
	if err := replace(part, o.Datadir); err != nil {
		return err
	}
	o.Log.Info("datadir restored", "datadir", o.Datadir)
	return nil
}

// checkTargets makes o's target dir and datadir absolute and checks
// them before anything is extracted: not overlapping, not what Protect
// lists, empty unless Force (and the datadir not in use); it logs what
// Force will move aside (named after start) or remove.
func (o *PhysicalOptions) checkTargets(start time.Time) error {
	for _, d := range []*string{&o.TargetDir, &o.Datadir} {
		if *d != "" {
			var err error
			if *d, err = filepath.Abs(*d); err != nil {
				return err
			}
		}
	}
	if o.RemoveOld && !o.Force {
		return errors.New("RemoveOld needs Force (--remove-old goes with --force)")
	}
	if o.TargetDir != "" && o.Datadir != "" && (within(o.TargetDir, o.Datadir) || within(o.Datadir, o.TargetDir)) {
		return fmt.Errorf("%w: the target dir %s and the datadir %s overlap: the datadir is replaced, and the target dir is the source of its files: choose separate directories",
			ErrUnsafeTarget, o.TargetDir, o.Datadir)
	}
	for _, t := range []struct{ dir, what string }{{o.TargetDir, "target dir"}, {o.Datadir, "datadir"}} {
		if t.dir == "" {
			continue
		}
		if err := checkTarget(t.dir, t.what, o.Protect); err != nil {
			return err
		}
		var err error
		if t.what == "datadir" {
			err = CheckDatadir(t.dir, o.Force)
		} else {
			err = checkEmpty(t.dir, t.what, o.Force)
		}
		if err != nil {
			return err
		}
		if n := entries(t.dir); n > 0 {
			if o.RemoveOld {
				o.Log.Warn("--force --remove-old: the "+t.what+" is not empty; its old contents are deleted once the restore succeeded",
					"dir", t.dir, "entries", n)
			} else {
				o.Log.Warn("--force: the "+t.what+" is not empty; its old contents are moved aside once the restore succeeded (add --remove-old to delete them)",
					"dir", t.dir, "entries", n, "aside", t.dir+".mybak-old-"+start.UTC().Format("20060102T150405Z"))
			}
		}
	}

	return nil
}

func (o *PhysicalOptions) defaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// extractOne decodes backup m and extracts its xbstream into dir (through
// xbstream.Guard, see contain.go; decodeExtract in auth.go says how a
// failed extraction of an authenticated backup is told from altered data).
func extractOne(ctx context.Context, st storage.Backend, m *backup.Manifest, eng mysql.Engine, dir, logPath string, opts Options) error {
	var xerr error
	err := decodeExtract(ctx, m, func(ctx context.Context, w io.Writer) error {
		_, err := ToWriter(ctx, st, m, w, opts)
		return err
	}, func(ctx context.Context, r io.Reader) error {
		xerr = extractGuarded(ctx, eng, r, dir, logPath)
		return xerr
	})
	if !errors.Is(err, backup.ErrAuthentication) {
		err = unsafeFirst(err, xerr)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", m.ID, err)
	}
	return nil
}

// checkEmpty refuses a directory that exists and is not empty, unless force.
func checkEmpty(dir, what string, force bool) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check %s %s: %w", what, dir, err)
	case len(ents) > 0 && !force:
		return fmt.Errorf("%w: %s %s holds %d entries (e.g. %s): restore into a new or empty directory, or add --force to replace it (its contents are then moved aside to %s.mybak-old-<time>; --force --remove-old deletes them)",
			ErrNotEmpty, what, dir, len(ents), ents[0].Name(), dir)
	}
	return nil
}

// entries counts the entries of dir (0 when it does not exist).
func entries(dir string) int {
	ents, _ := os.ReadDir(dir)
	return len(ents)
}

// CheckDatadir refuses a datadir a server is running on (whatever force
// says), and a non-empty one unless force (the Vitess checkNoDB rule: never
// restore over an existing database by accident).
func CheckDatadir(dir string, force bool) error {
	for _, f := range []string{"ibdata1", "aria_log_control"} {
		if locked(filepath.Join(dir, f)) {
			return fmt.Errorf("%w: %s is locked by a running server: stop the server before restoring into its datadir",
				ErrServerRunning, filepath.Join(dir, f))
		}
	}
	if err := checkEmpty(dir, "datadir", force); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "mysql")); serr == nil {
			return fmt.Errorf("%w (it holds a database: %s/mysql exists)", err, dir)
		}
		return err
	}
	return nil
}

// locked reports whether some process holds a POSIX lock on path, as
// InnoDB (ibdata1) and Aria (aria_log_control) do while a server runs.
func locked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != syscall.F_UNLCK
}

// replaceDir renames src to dst. An empty dst is replaced directly; a
// non-empty one (checked by the caller) is first renamed aside, then src
// is renamed into place, so dst is never half-filled. The old contents are
// kept in aside (a name next to dst, returned as kept) or, when aside is
// empty, removed.
func replaceDir(src, dst, aside string) (kept string, err error) {
	err = syscall.Rename(src, dst)
	if err == nil {
		return "", nil
	}
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		if errors.Is(err, syscall.EXDEV) {
			return "", fmt.Errorf("move %s into place at %s: %w (%s is a mount point: restore into a new directory below it)", src, dst, err, dst)
		}
		return "", fmt.Errorf("move %s into place at %s: %w", src, dst, err)
	}
	old := aside
	if old == "" {
		old = filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".mybak-old-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	}
	if err := os.Rename(dst, old); err != nil {
		return "", fmt.Errorf("move old %s aside to %s: %w", dst, old, err)
	}
	if err := syscall.Rename(src, dst); err != nil {
		if rerr := os.Rename(old, dst); rerr != nil {
			return old, fmt.Errorf("move %s into place at %s: %w (and moving the old contents back from %s failed: %v)", src, dst, err, old, rerr)
		}
		return "", fmt.Errorf("move %s into place at %s: %w", src, dst, err)
	}
	if aside != "" {
		return aside, nil
	}
	if err := os.RemoveAll(old); err != nil {
		return "", fmt.Errorf("remove the old contents of %s (moved to %s): %w", dst, old, err)
	}
	return "", nil
}
