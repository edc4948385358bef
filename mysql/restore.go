package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Extract unpacks an xbstream read from r into dir (created 0750 if missing)
// with `mbstream -x -C dir` (mariabackup) or `xbstream -x -C dir`. r is read
// to its end; a stream tool failure is reported with its own message.
func Extract(ctx context.Context, e Engine, r io.Reader, dir string, logPath string) error {
	bin, err := StreamTool(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create extract dir: %w", err)
	}
	_, err = Run(ctx, &Command{Path: bin, Args: []string{"-x", "-C", dir}, Stdin: r, LogPath: logPath})
	if err != nil {
		return fmt.Errorf("extract backup stream into %s: %w", dir, err)
	}
	return nil
}

// PrepareOptions configures Prepare.
type PrepareOptions struct {
	Tool      Tool   // physical engine; Path empty means LookupTool
	TargetDir string // the extracted full backup
	// IncrementalDir, when set, applies that extracted incremental onto TargetDir.
	IncrementalDir string
	// MoreIncrementals: further incrementals follow, so redo is applied
	// without rollback: --apply-log-only (xtrabackup), --redo-only
	// (innobackupex). mariabackup 10.2+ needs no such flag (10.11 rejects
	// it); for it the flag is not passed.
	MoreIncrementals bool
	UseMemory        string
	ExtraArgs        []string
	LogPath          string
	OnLine           func(string)
}

// PrepareArgs builds the prepare command line.
func PrepareArgs(o *PrepareOptions) ([]string, error) {
	if o.TargetDir == "" {
		return nil, errors.New("prepare: no target directory")
	}
	var a []string
	ti := toolNames[o.Tool.Engine]
	switch ti.style {
	case xtraStyle:
		a = append(a, "--prepare", "--target-dir="+o.TargetDir)
		if o.MoreIncrementals && ti.applyLogOnly {
			a = append(a, "--apply-log-only")
		}
		if o.IncrementalDir != "" {
			a = append(a, "--incremental-dir="+o.IncrementalDir)
		}
	case innoStyle:
		a = append(a, "--apply-log")
		if o.MoreIncrementals {
			a = append(a, "--redo-only")
		}
		if o.IncrementalDir != "" {
			a = append(a, "--incremental-dir="+o.IncrementalDir)
		}
	default:
		return nil, fmt.Errorf("%q cannot prepare a physical backup", o.Tool.Engine)
	}
	if o.UseMemory != "" {
		a = append(a, "--use-memory="+o.UseMemory)
	}
	a = append(a, o.ExtraArgs...)
	if ti.style == innoStyle {
		a = append(a, o.TargetDir)
	}
	return a, nil
}

// Prepare applies the redo log of an extracted backup (and, with
// IncrementalDir, an incremental onto it). Success needs exit 0 and
// "completed OK!" in the log.
func Prepare(ctx context.Context, o PrepareOptions) error {
	if o.Tool.Path == "" {
		t, err := LookupTool(o.Tool.Engine)
		if err != nil {
			return err
		}
		o.Tool = t
	}
	args, err := PrepareArgs(&o)
	if err != nil {
		return err
	}
	what := "prepare " + o.TargetDir
	if o.IncrementalDir != "" {
		what = fmt.Sprintf("apply incremental %s onto %s", o.IncrementalDir, o.TargetDir)
	}
	return runUntilOK(ctx, what, &Command{Path: o.Tool.Path, Args: args, LogPath: o.LogPath, OnLine: o.OnLine})
}

// runUntilOK runs a tool that must print "completed OK!".
func runUntilOK(ctx context.Context, what string, c *Command) error {
	var mu sync.Mutex
	ok := false
	user := c.OnLine
	c.OnLine = func(l string) {
		if strings.Contains(l, "completed OK!") {
			mu.Lock()
			ok = true
			mu.Unlock()
		}
		if user != nil {
			user(l)
		}
	}
	r, err := Run(ctx, c)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			err = classify(ee, append(r.Notable, r.Tail...))
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: %w", what, &ExitError{Tool: filepath.Base(c.Path), Tail: r.Tail, LogPath: c.LogPath,
			Reason: `exited 0 without "completed OK!" in its log`})
	}
	return nil
}

// CopyBackOptions configures CopyBack.
type CopyBackOptions struct {
	Tool      Tool
	TargetDir string // the prepared backup
	Datadir   string // must not exist or be empty; the tool refuses otherwise
	Move      bool   // --move-back instead of --copy-back (TargetDir is consumed)
	// Owner is the user (and its group) the files are chowned to; empty means
	// "mysql" when running as root, nothing otherwise.
	Owner     string
	ExtraArgs []string
	LogPath   string
	OnLine    func(string)
}

// CopyBackArgs builds the copy-back command line. The datadir is given
// explicitly (mariabackup needs it without a server config).
func CopyBackArgs(o *CopyBackOptions) ([]string, error) {
	if o.TargetDir == "" || o.Datadir == "" {
		return nil, errors.New("copy-back needs the prepared backup dir and the datadir")
	}
	mode := "--copy-back"
	if o.Move {
		mode = "--move-back"
	}
	ti := toolNames[o.Tool.Engine]
	switch ti.style {
	case xtraStyle:
		return append([]string{mode, "--target-dir=" + o.TargetDir, "--datadir=" + o.Datadir}, o.ExtraArgs...), nil
	case innoStyle:
		return append(append([]string{mode, "--datadir=" + o.Datadir}, o.ExtraArgs...), o.TargetDir), nil
	}
	return nil, fmt.Errorf("%q cannot copy back a physical backup", o.Tool.Engine)
}

// CopyBack copies (or moves) a prepared backup into Datadir and chowns the
// result to the server's user so that mysqld can open it.
func CopyBack(ctx context.Context, o CopyBackOptions) error {
	if o.Tool.Path == "" {
		t, err := LookupTool(o.Tool.Engine)
		if err != nil {
			return err
		}
		o.Tool = t
	}
	args, err := CopyBackArgs(&o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Datadir, 0o750); err != nil {
		return fmt.Errorf("create datadir: %w", err)
	}
	if err := runUntilOK(ctx, "copy back into "+o.Datadir, &Command{Path: o.Tool.Path, Args: args,
		LogPath: o.LogPath, OnLine: o.OnLine}); err != nil {
		return err
	}
	owner := o.Owner
	if owner == "" && os.Geteuid() == 0 {
		owner = "mysql"
	}
	if owner == "" {
		return nil
	}
	return ChownTree(o.Datadir, owner)
}

// ChownTree gives dir and everything below it to the user name (and its
// primary group), without following symlinks.
func ChownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("chown %s: %w (create the user or set the owner)", dir, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s to %s: %w", p, name, err)
		}
		return nil
	})
}

// ApplyOptions configures ApplyDump.
type ApplyOptions struct {
	Client    string // path of mysql / mariadb; empty means ClientTool(Engine)
	Engine    Engine // the dump's engine, to pick the client
	Conn      Conn
	Database  string // default database, for dumps made without --databases
	ExtraArgs []string
	LogPath   string
}

// ApplyDumpError is a failure of the SQL client while applying a dump. Line
// is the client's own error line ("ERROR 1064 (42000) at line 4896: ...").
type ApplyDumpError struct {
	Client string
	Line   string
	err    error
}

func (e *ApplyDumpError) Error() string {
	if strings.Contains(e.Line, "sandbox mode") || strings.Contains(e.Line, "Unknown command") {
		return fmt.Sprintf("apply dump with %s: %s (the dump holds a command of the SQL client, e.g. \\! to run a shell, "+
			"which mybak does not run: a backup is applied as SQL only; inspect the dump before trusting it)", e.Client, e.Line)
	}
	return fmt.Sprintf("apply dump with %s: %s", e.Client, e.Line)
}

// Unwrap returns the underlying *ExitError.
func (e *ApplyDumpError) Unwrap() error { return e.err }

// ApplyDump pipes SQL from r into the mysql / mariadb client. When the
// client fails it stops at the first error; ApplyDump then stops feeding it
// and returns an *ApplyDumpError carrying the client's own message (never
// a "broken pipe"). r may not be read to its end in that case; the caller
// closes it.
func ApplyDump(ctx context.Context, o ApplyOptions, r io.Reader) error {
	bin := o.Client
	if bin == "" {
		var err error
		if bin, err = ClientTool(o.Engine); err != nil {
			return err
		}
	} else if !strings.ContainsRune(bin, '/') {
		p, err := exec.LookPath(bin)
		if err != nil {
			return fmt.Errorf("%s not found on PATH: %w", bin, ErrToolNotFound)
		}
		bin = p
	}
	// The dump comes from a backup: the client may run its SQL and nothing
	// else (no shell, no host files, no other server); see SafeClientArgs.
	safe, err := SafeClientArgs(ctx, bin)
	if err != nil {
		return fmt.Errorf("apply dump: %w", err)
	}
	args := append([]string{"--batch", "--silent"}, o.ExtraArgs...)
	args = append(args, safe...)
	if o.Database != "" {
		args = append(args, "--database="+o.Database)
	}
	res, err := Run(ctx, &Command{Path: bin, Args: args, Conn: &o.Conn, Groups: []string{"client", "mysql"},
		Stdin: r, LogPath: o.LogPath, TailLines: 20})
	if err == nil {
		return nil
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Reason != "" {
		return fmt.Errorf("apply dump with %s: %w", filepath.Base(bin), err)
	}
	lines := append(res.Notable, res.Tail...)
	for _, l := range lines {
		if strings.HasPrefix(l, "ERROR ") {
			if strings.Contains(l, "Access denied") {
				return classify(ee, []string{l})
			}
			return &ApplyDumpError{Client: filepath.Base(bin), Line: l, err: ee}
		}
	}
	return fmt.Errorf("apply dump with %s: %w", filepath.Base(bin), err)
}
