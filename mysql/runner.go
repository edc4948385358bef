package mysql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mybak/mybak/internal/pipes"
	"github.com/mybak/mybak/internal/procattr"
)

// Command describes one child process run by Run. Path and Args are what
// exec runs; when Conn is set the connection settings and password are
// written into an in-memory --defaults-extra-file that becomes the first
// argument, so no secret ever reaches argv or the disk.
type Command struct {
	Path string   // program path or name (looked up on PATH)
	Args []string // arguments, without --defaults-extra-file

	// Conn, when non-nil, is written into the child's defaults-extra-file:
	// a 0600 memfd inherited as descriptor 3 and named /dev/fd/3 on its
	// command line, in the option groups Groups (default: "client"). No
	// file with the password exists on disk, so none is left when mybak is
	// killed.
	Conn   *Conn
	Groups []string
	// Options adds settings to the defaults-extra-file per group, e.g.
	// {"mysqld": {"datadir": "/x"}}. Used for settings that must not be on
	// argv or that tools read only from option files.
	Options map[string]map[string]string

	Dir    string    // working directory; empty means the current one
	Env    []string  // extra environment ("K=V"); SecretEnv is always removed
	Stdin  io.Reader // nil means /dev/null
	Stdout io.Writer // nil means discarded

	// LogPath, when set, receives the complete stderr (created 0600, appended).
	LogPath string
	// OnLine is called for every stderr line as it arrives, from the goroutine
	// draining stderr (so it must not block for long). Lines longer than
	// MaxLineLen are cut.
	OnLine func(line string)
	// TailLines is how many stderr lines to keep for errors (default 40).
	TailLines int

	// Credential, when set, runs the child as that user (a drill's scratch
	// server runs as mysql when mybak runs as root).
	Credential *syscall.Credential
	// DeathSignal is the signal the child gets when mybak dies, even by
	// kill -9, on Linux (default SIGKILL; a server gets SIGTERM, a clean
	// shutdown; other platforms have none: internal/procattr).
	// Outlive sends none: the child may run on after mybak (drill --keep).
	DeathSignal syscall.Signal
	Outlive     bool
	// ExactEnv makes Env the child's whole environment instead of an
	// addition to mybak's own (less SecretEnv). Env must hold no secret.
	ExactEnv bool
	// Started, when set, is called with the child's pid once it runs, from
	// Run's goroutine: a long-running child (a scratch server) is run by
	// Run in a goroutine of its own and stopped by its pid.
	Started func(pid int)
}

// MaxLineLen is the longest stderr line kept in memory; longer lines are cut
// (MariaDB 10.11's client echoes a whole failed statement, megabytes for a
// bulk INSERT). The log file keeps them in full.
const MaxLineLen = 2048

// Result is what Run reports about a child that ran.
type Result struct {
	ExitCode int
	Tail     []string // last TailLines lines of stderr
	Notable  []string // stderr lines that look like errors or warnings (at most 200)
}

// Run starts the child in its own process group, drains its stderr while it
// runs (into LogPath, OnLine, a tail buffer), copies its stdout to
// c.Stdout and feeds c.Stdin to it. When ctx is cancelled the whole group is
// killed with SIGKILL. On Linux the child also gets SIGKILL when mybak dies,
// even by kill -9 (a parent-death signal), so that no tool runs on with an
// open connection and nobody to read its output; other platforms have no
// such signal (internal/procattr). Run returns after the child exited and
// its output was drained.
//
// Errors, in order of precedence: a write error of c.Stdout (the child is
// killed: its output has nowhere to go); ctx's cause when cancelled; an
// *ExitError with the stderr tail when the child exits non-zero; a read error
// of c.Stdin (the child is killed); an error when the child exited 0 without
// reading all of c.Stdin. When the child exits early (e.g. mysql stops at an
// SQL error) the resulting broken pipe is never reported: the child's own
// error is. Run does not wait for a Read on c.Stdin that is blocked after the
// child exited; the caller closes its reader to release its producer.
func Run(ctx context.Context, c *Command) (*Result, error) {
	path, err := toolPath(c.Path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(c.Path)
	args, defaults, err := withDefaults(c, path, name)
	if err != nil {
		return nil, err
	}
	if defaults != nil {
		defer defaults.Close()
	}

	if log := logFrom(ctx); log.Enabled(ctx, slog.LevelDebug) {
		log.Debug("run", "cmd", path, "args", redactArgs(args), "dir", c.Dir)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Pdeathsig is sent when the thread that started the child ends, not
	// the process. Go ends a thread when a goroutine locked to it exits
	// without unlocking: so this goroutine keeps the thread to itself
	// until the child has exited (a drill's scratch server runs for
	// minutes), and the signal comes only with mybak's end.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ch := &child{c: c, name: name, cancel: cancel, cmd: newCmd(ctx, c, path, args, defaults), tail: newRing(c.TailLines)}
	if err := ch.openPipes(); err != nil {
		return nil, err
	}
	if ch.logFile != nil {
		defer ch.logFile.Close()
	}

	if err := ch.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if c.Started != nil {
		c.Started(ch.cmd.Process.Pid)
	}
	if defaults != nil {
		defaults.Close() // the child holds its own copy
	}

	var wg sync.WaitGroup
	ch.drainStderr(&wg)
	ch.copyStdout(&wg)
	stdinDone := ch.feedStdin()
	wg.Wait()
	waitErr := ch.cmd.Wait()
	res := &Result{ExitCode: ch.cmd.ProcessState.ExitCode(), Tail: ch.tail.lines(), Notable: ch.notable}
	inErr, inFinished := ch.awaitStdin(stdinDone, waitErr != nil || ctx.Err() != nil || ch.stdoutErr != nil)
	return res, ch.outcome(ctx, res, waitErr, inErr, inFinished)
}

// toolPath is the program to run: path itself when it names a file by a
// path, else where PATH has it (ErrToolNotFound when nowhere).
func toolPath(path string) (string, error) {
	if strings.ContainsRune(path, '/') {
		return path, nil
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH: %w", path, ErrToolNotFound)
	}
	return p, nil
}

// withDefaults returns the child's arguments and, when c has a
// connection or options, the in-memory defaults file that holds them
// (the caller closes it), named first on the command line.
func withDefaults(c *Command, path, name string) ([]string, *os.File, error) {
	args := append([]string(nil), c.Args...)
	if c.Conn == nil && len(c.Options) == 0 {
		return args, nil, nil
	}
	groups := c.Groups
	if len(groups) == 0 {
		groups = []string{"client"}
	}
	content, err := defaultsContent(c.Conn, groups, c.Options)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkDefaultsReopen(path, defaultsReopen); err != nil {
		return nil, nil, err
	}
	defaults, err := secretFD("mybak-defaults", content)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	opt := "--defaults-extra-file="
	if c.Conn != nil && c.Conn.resolved {
		// Only this file (and what it includes): see defaultsContent.
		opt = "--defaults-file="
	}
	return append([]string{opt + childDefaultsPath}, args...), defaults, nil
}

// newCmd is the child's exec.Cmd: its environment, its own process group
// (killed whole when ctx ends), the parent-death signal, the defaults
// file as descriptor 3.
func newCmd(ctx context.Context, c *Command, path string, args []string, defaults *os.File) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = c.Dir
	cmd.Env = childEnv(c.Env)
	if c.ExactEnv {
		cmd.Env = c.Env
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Credential}
	if !c.Outlive {
		death := c.DeathSignal
		if death == 0 {
			death = syscall.SIGKILL
		}
		procattr.SetPdeathsig(cmd.SysProcAttr, death) // Linux only: see internal/procattr
	}
	if defaults != nil {
		cmd.ExtraFiles = []*os.File{defaults} // descriptor 3 == childDefaultsFD
	}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		// Negative pid: the whole process group (children of the tool too).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}

// child is one run of Run: the command, its pipes, and what its output
// goroutines found.
type child struct {
	c      *Command
	name   string
	cmd    *exec.Cmd
	cancel context.CancelCauseFunc

	stderr  io.ReadCloser
	stdout  io.ReadCloser  // nil without c.Stdout
	stdin   io.WriteCloser // nil without c.Stdin
	logFile *os.File       // nil without c.LogPath

	// Written by the output goroutines, read after they are done.
	tail      *ring
	notable   []string
	stdoutErr error
}

// openPipes makes the child's pipes (grown: tools write megabytes at a
// time) and opens its log file.
func (ch *child) openPipes() error {
	var err error
	if ch.stderr, err = ch.cmd.StderrPipe(); err != nil {
		return fmt.Errorf("%s: %w", ch.name, err)
	}
	if ch.c.Stdout != nil {
		if ch.stdout, err = ch.cmd.StdoutPipe(); err != nil {
			return fmt.Errorf("%s: %w", ch.name, err)
		}
		if f, ok := ch.stdout.(*os.File); ok {
			pipes.Grow(f) // the tool writes megabytes at a time
		}
	}
	if ch.c.Stdin != nil {
		if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
			return fmt.Errorf("%s: %w", ch.name, err)
		}
		if f, ok := ch.stdin.(*os.File); ok {
			pipes.Grow(f)
		}
	}
	if ch.c.LogPath != "" {
		if ch.logFile, err = os.OpenFile(ch.c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("%s: open log: %w", ch.name, err)
		}
	}
	return nil
}

// drainStderr reads the child's stderr in a goroutine of wg's: into the
// log file, the tail, the notable lines and OnLine. It must be drained or
// the child blocks on a full pipe.
func (ch *child) drainStderr(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReaderSize(ch.stderr, 64<<10)
		for {
			line, err := readLine(r, ch.logFile)
			if line != "" || err == nil {
				ch.tail.add(line)
				if isNotable(line) && len(ch.notable) < 200 {
					ch.notable = append(ch.notable, line)
				}
				if ch.c.OnLine != nil {
					ch.c.OnLine(line)
				}
			}
			if err != nil {
				return
			}
		}
	}()
}

// copyStdout copies the child's stdout to c.Stdout in a goroutine of
// wg's; a write error cancels the run (the output has nowhere to go) and
// the rest is discarded so that the child is not blocked.
func (ch *child) copyStdout(wg *sync.WaitGroup) {
	if ch.stdout == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := io.Copy(ch.c.Stdout, ch.stdout); err != nil {
			ch.stdoutErr = err
			ch.cancel(fmt.Errorf("write output of %s: %w", ch.name, err))
			io.Copy(io.Discard, ch.stdout)
		}
	}()
}

// feedStdin copies c.Stdin to the child in a goroutine of its own, which
// sends its outcome on the channel (buffered: nobody may wait for it).
func (ch *child) feedStdin() <-chan error {
	done := make(chan error, 1)
	if ch.stdin == nil {
		return done
	}
	go func() {
		_, err := io.Copy(ch.stdin, ch.c.Stdin)
		if cerr := ch.stdin.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
		done <- err
	}()
	return done
}

// awaitStdin returns how feeding stdin ended once the child exited, and
// whether it did end. A child that exited 0 has normally read to EOF: the
// copier is about to report, and is given a moment. A failed child is not
// waited for.
func (ch *child) awaitStdin(done <-chan error, failed bool) (inErr error, finished bool) {
	if ch.stdin == nil {
		return nil, true
	}
	grace := time.After(5 * time.Second)
	if failed {
		grace = nil
	}
	select {
	case inErr = <-done:
		return inErr, true
	case <-grace:
		return nil, false
	default:
	}
	if grace == nil {
		return nil, false
	}
	select {
	case inErr = <-done:
		return inErr, true
	case <-grace:
		return nil, false
	}
}

// outcome is Run's error, in the precedence Run documents.
func (ch *child) outcome(ctx context.Context, res *Result, waitErr, inErr error, inFinished bool) error {
	if ch.stdoutErr != nil {
		return fmt.Errorf("write output of %s: %w", ch.name, ch.stdoutErr)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s aborted: %w", ch.name, context.Cause(ctx))
	}
	if waitErr != nil {
		ee := &ExitError{Tool: ch.name, ExitCode: res.ExitCode, Tail: res.Tail, LogPath: ch.c.LogPath}
		var xe *exec.ExitError
		if !errors.As(waitErr, &xe) {
			return fmt.Errorf("wait for %s: %w", ch.name, waitErr)
		}
		if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ee.Signal = ws.Signal().String()
		}
		return ee
	}
	if inErr != nil && !isPipeClosed(inErr) {
		return fmt.Errorf("read input for %s: %w", ch.name, inErr)
	}
	if !inFinished || inErr != nil {
		return &ExitError{Tool: ch.name, Tail: res.Tail, LogPath: ch.c.LogPath,
			Reason: "exited with status 0 before reading all of its input"}
	}
	return nil
}

// SecretEnv lists the environment variables that hold secrets mybak
// reads (the MySQL password, the Swift key and token, mybak's key and
// replication password). No child inherits them: a tool gets the MySQL
// password through its defaults file, and none needs the others.
var SecretEnv = []string{PasswordEnv, "ST_KEY", "OS_PASSWORD", "OS_AUTH_TOKEN", "MYBAK_ENCRYPT_KEY", "MYBAK_REPLICATION_PASSWORD"}

// childEnv is the environment of a child: ours, without SecretEnv, plus
// extra.
func childEnv(extra []string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, k := range SecretEnv {
			if strings.HasPrefix(kv, k+"=") {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func isPipeClosed(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

// readLine reads one line (without newline); the full bytes go to log, the
// returned string is cut at MaxLineLen.
func readLine(r *bufio.Reader, log io.Writer) (string, error) {
	var kept []byte
	for {
		frag, err := r.ReadSlice('\n')
		if log != nil && len(frag) > 0 {
			log.Write(frag)
		}
		if room := MaxLineLen - len(kept); room > 0 {
			f := frag
			if len(f) > room {
				f = f[:room]
			}
			kept = append(kept, f...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		s := strings.TrimRight(string(kept), "\r\n")
		return s, err
	}
}

func isNotable(l string) bool {
	for _, k := range []string{"rror", "denied", "privilege", "Waiting for query", "Unable to obtain",
		"Retrying read of log", "Was only able to copy", "wrapped around", "mismatch", "ERROR", "FATAL", "arning"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}

// ring keeps the last n lines.
type ring struct {
	mu   sync.Mutex
	buf  []string
	next int
	full bool
}

func newRing(n int) *ring {
	if n <= 0 {
		n = 40
	}
	return &ring{buf: make([]string, n)}
}

func (r *ring) add(s string) {
	r.mu.Lock()
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

func (r *ring) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.buf[:r.next]...)
	}
	return append(append([]string(nil), r.buf[r.next:]...), r.buf[:r.next]...)
}
