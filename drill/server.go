package drill

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mybak/mybak/mysql"
)

// drillUser is the account a drill creates (through --init-file) on the
// scratch server it starts, with a random password: the restored grant
// tables hold the backed-up server's users, whose passwords mybak does not
// know, and --skip-grant-tables would open the loopback port to every
// local user.
const drillUser = "mybak_drill"

// serverBinary finds the server program for flavour: the path given, else
// mariadbd (MariaDB) or mysqld on PATH or in the usual sbin directories.
func serverBinary(given string, flavor mysql.Flavor) (string, error) {
	if given != "" {
		p, err := exec.LookPath(given)
		if err != nil {
			return "", fmt.Errorf("server binary %s: %w", given, err)
		}
		return filepath.Abs(p)
	}
	names := []string{"mysqld"}
	if flavor == mysql.FlavorMariaDB || flavor == "" {
		names = []string{"mariadbd", "mysqld"}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/libexec", "/usr/local/mysql/bin", "/usr/local/bin"} {
			if fi, err := os.Stat(filepath.Join(d, n)); err == nil && fi.Mode()&0o111 != 0 {
				return filepath.Join(d, n), nil
			}
		}
	}
	pkg := "mysql-server (or percona-server-server)"
	if flavor == mysql.FlavorMariaDB || flavor == "" {
		pkg = "mariadb-server"
	}
	return "", fmt.Errorf("no %s found on PATH or in /usr/sbin: install %s of the backup's version, or give --mysqld PATH: %w",
		strings.Join(names, " or "), pkg, mysql.ErrToolNotFound)
}

// serverVersion runs bin --version and returns its version, flavour,
// major and minor.
func serverVersion(ctx context.Context, bin string) (string, mysql.Flavor, int, int, error) {
	var stdout bytes.Buffer
	if _, err := mysql.Run(ctx, &mysql.Command{Path: bin, Args: []string{"--no-defaults", "--version"}, Stdout: &stdout}); err != nil {
		return "", "", 0, 0, fmt.Errorf("%s --version: %w", bin, err)
	}
	out := stdout.Bytes()
	v, err := mysql.ParseToolVersion(string(out))
	if err != nil {
		return "", "", 0, 0, fmt.Errorf("%s --version: %w", bin, err)
	}
	comment := ""
	if bytes.Contains(bytes.ToLower(out), []byte("percona")) {
		comment = "Percona"
	}
	major, minor, _, flavor, err := mysql.ParseVersion(v, comment)
	return v, flavor, major, minor, err
}

// runAs is the user a scratch server runs as: "mysql" when mybak runs as
// root (a server refuses to run as root), else mybak's own user (nil).
func runAs() (*user.User, *syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		return nil, nil, fmt.Errorf("the scratch server runs as the user mysql when mybak runs as root: %w (install the server package, or run mybak as the user the server should run as)", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return u, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// scratchServer is a throwaway server a drill starts on a restored datadir:
// bound to 127.0.0.1 on a free port, with a private socket, no binary log,
// no replication threads and no event scheduler (so nothing changes the
// data under the checks).
type scratchServer struct {
	bin     string
	flavor  mysql.Flavor
	datadir string
	dir     string // run dir: socket, pid file, logs
	port    int
	socket  string
	pidFile string
	errLog  string
	// password of drillUser, also in passFile (0600) for --keep.
	password string
	passFile string
	keep     bool // started without a parent-death signal
	cred     *syscall.Credential

	pid    int
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
	db     *sql.DB
}

// conn is how to reach the server as drillUser.
func (s *scratchServer) conn() mysql.Conn {
	return mysql.Conn{Host: "127.0.0.1", Port: s.port, User: drillUser, Password: s.password}
}

// userSQL creates drillUser (for localhost and 127.0.0.1) with the
// password, and all privileges.
func (s *scratchServer) userSQL() []string {
	q := func(h string) string { return "'" + drillUser + "'@'" + h + "'" }
	return []string{
		fmt.Sprintf("DROP USER IF EXISTS %s, %s", q("localhost"), q("127.0.0.1")),
		fmt.Sprintf("CREATE USER %s IDENTIFIED BY '%s'", q("localhost"), s.password),
		fmt.Sprintf("CREATE USER %s IDENTIFIED BY '%s'", q("127.0.0.1"), s.password),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION", q("localhost")),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION", q("127.0.0.1")),
	}
}

// freePort picks a free TCP port on 127.0.0.1 below the ephemeral range
// (where client connections could take it meanwhile).
func freePort() (int, error) {
	for i := 0; i < 200; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(20000))
		if err != nil {
			return 0, err
		}
		p := 12000 + int(n.Int64())
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free TCP port on 127.0.0.1 between 12000 and 32000")
}

// errLogTail returns the last lines of the server's error log.
func (s *scratchServer) errLogTail(n int) string {
	b, _ := os.ReadFile(s.errLog)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n  ")
}

// start launches the server and waits until drillUser can log in, the
// server exits (the error carries its error log's tail), or timeout. A
// port taken between the pick and the bind is retried on another one.
func (s *scratchServer) start(ctx context.Context, timeout time.Duration) error {
	for attempt := 0; ; attempt++ {
		err := s.startOnce(ctx, timeout)
		if err == nil || attempt >= 3 || !strings.Contains(s.errLogTail(30), "already in use") {
			return err
		}
	}
}

func (s *scratchServer) startOnce(ctx context.Context, timeout time.Duration) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	initFile, err := s.prepare()
	if err != nil {
		return err
	}
	defer os.Remove(initFile)
	if err := s.launch(ctx, s.args(initFile)); err != nil {
		return err
	}
	return s.waitReady(ctx, timeout)
}

// prepare writes what a start needs: a new password for drillUser (also in
// passFile, for --keep), the init file that creates drillUser (returned;
// the caller removes it), the run dir's tmp and files dirs.
func (s *scratchServer) prepare() (initFile string, err error) {
	pw := make([]byte, 18)
	rand.Read(pw)
	s.password = hex.EncodeToString(pw)
	if err := os.WriteFile(s.passFile, []byte(s.password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the scratch server's password file: %w", err)
	}
	initSQL := strings.Join(s.userSQL(), ";\n") + ";\n"
	initFile = filepath.Join(s.dir, "init.sql")
	if err := os.WriteFile(initFile, []byte(initSQL), 0o600); err != nil {
		return "", fmt.Errorf("write the scratch server's init file: %w", err)
	}
	if s.cred != nil {
		os.Chown(initFile, int(s.cred.Uid), int(s.cred.Gid))
	}
	s.socket = filepath.Join(s.dir, "mysqld.sock")
	if len(s.socket) > 100 {
		os.Remove(initFile)
		return "", fmt.Errorf("the scratch server's socket path %s is longer than a Unix socket allows: choose a shorter --scratch-dir", s.socket)
	}
	for _, d := range []string{s.tmpDir(), s.filesDir()} {
		os.MkdirAll(d, 0o700)
		if s.cred != nil {
			os.Chown(d, int(s.cred.Uid), int(s.cred.Gid))
		}
	}
	return initFile, nil
}

// tmpDir is the server's --tmpdir.
func (s *scratchServer) tmpDir() string { return filepath.Join(s.dir, "tmp") }

// filesDir is the only directory the dump's SQL may read and write files
// in through the server (SELECT ... INTO OUTFILE, LOAD_FILE, LOAD DATA
// INFILE): an empty directory of the scratch space, never elsewhere on the
// host.
func (s *scratchServer) filesDir() string { return filepath.Join(s.dir, "files") }

// args is the server's command line.
func (s *scratchServer) args(initFile string) []string {
	args := []string{"--no-defaults", "--datadir=" + s.datadir, "--socket=" + s.socket, "--pid-file=" + s.pidFile,
		"--log-error=" + s.errLog, "--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--skip-slave-start", "--event-scheduler=DISABLED", "--init-file=" + initFile, "--tmpdir=" + s.tmpDir(),
		"--secure-file-priv=" + s.filesDir(), "--local-infile=0",
		"--performance-schema=OFF", "--innodb-buffer-pool-size=128M", "--max-connections=20"}
	if s.flavor == mysql.FlavorMariaDB {
		return append(args, "--skip-log-bin")
	}
	return append(args, "--disable-log-bin", "--mysqlx=OFF")
}

// launch runs the server through mysql.Run in a goroutine of its own and
// returns once it runs (s.pid set), or why it could not start
// (errServerExec). s.exited is closed when it has exited.
func (s *scratchServer) launch(ctx context.Context, args []string) error {
	s.exited = make(chan struct{})
	started := make(chan int, 1)
	go func() {
		// The server is stopped by its pid (stop), not by ctx: an
		// interrupted drill shuts it down cleanly.
		_, err := mysql.Run(context.WithoutCancel(ctx), &mysql.Command{Path: s.bin, Args: args, Dir: s.dir,
			Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TZ=UTC"}, ExactEnv: true,
			LogPath: filepath.Join(s.dir, "console.log"), Credential: s.cred,
			// Dies with mybak, even with kill -9, by a clean shutdown;
			// a kept server outlives it.
			DeathSignal: syscall.SIGTERM, Outlive: s.keep,
			Started: func(pid int) { started <- pid }})
		s.err = err
		close(s.exited)
	}()
	select {
	case s.pid = <-started:
	case <-s.exited:
		select {
		case s.pid = <-started: // it ran, and exited at once
		default:
			return fmt.Errorf("start %s: %w (%w: can the server's user run it?)", s.bin, s.err, errServerExec)
		}
	}
	return nil
}

// waitReady waits until drillUser can log in (s.db set), the server exits
// (the error carries its error log's tail), ctx ends, or timeout.
func (s *scratchServer) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	name := filepath.Base(s.bin)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited during start-up (%s); its error log %s ends:\n  %s", name, exitStatus(s.err), s.errLog, s.errLogTail(25))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := os.Stat(s.socket); err != nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not open its socket within %s (raise --start-timeout); its error log %s ends:\n  %s",
					name, timeout, s.errLog, s.errLogTail(25))
			}
			continue
		}
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		db, err := mysql.Open(octx, s.conn())
		cancel()
		if err == nil {
			s.db = db
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept the drill's login within %s: %w; its error log %s ends:\n  %s",
				name, timeout, err, s.errLog, s.errLogTail(25))
		}
	}
}

// exitStatus says how the server ended: "exit status N", "killed by
// SIG" (its output is in its error log, quoted beside it).
func exitStatus(err error) string {
	var ee *mysql.ExitError
	switch {
	case errors.As(err, &ee) && ee.Signal != "":
		return "killed by " + ee.Signal
	case errors.As(err, &ee):
		return fmt.Sprintf("exit status %d", ee.ExitCode)
	case err == nil:
		return "exit status 0"
	}
	return err.Error()
}

// running reports whether the server process is still alive.
func (s *scratchServer) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop shuts the server down with SIGTERM (a clean shutdown), by its pid,
// and kills it when it has not exited within timeout.
func (s *scratchServer) stop(timeout time.Duration) error {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	if !s.running() {
		return nil
	}
	syscall.Kill(s.pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(timeout):
	}
	syscall.Kill(s.pid, syscall.SIGKILL)
	<-s.exited
	return fmt.Errorf("the scratch server (pid %d) did not shut down within %s and was killed", s.pid, timeout)
}

// initDatadir creates an empty datadir for a logical drill with
// mariadb-install-db (MariaDB) or mysqld --initialize-insecure (MySQL),
// run as the server's user.
func initDatadir(ctx context.Context, bin string, flavor mysql.Flavor, datadir, logPath string, cred *syscall.Credential) error {
	var c *mysql.Command
	if flavor == mysql.FlavorMariaDB {
		var inst string
		for _, n := range []string{filepath.Join(filepath.Dir(bin), "mariadb-install-db"), "mariadb-install-db", "mysql_install_db"} {
			if p, err := exec.LookPath(n); err == nil {
				inst = p
				break
			}
		}
		if inst == "" {
			return fmt.Errorf("mariadb-install-db not found on PATH: install mariadb-server: %w", mysql.ErrToolNotFound)
		}
		args := []string{"--no-defaults", "--datadir=" + datadir, "--skip-test-db", "--auth-root-authentication-method=socket"}
		if cred != nil {
			args = append(args, "--user=mysql")
		}
		c = &mysql.Command{Path: inst, Args: args, LogPath: logPath}
	} else {
		args := []string{"--no-defaults", "--initialize-insecure", "--datadir=" + datadir}
		if cred != nil {
			args = append(args, "--user=mysql")
		}
		c = &mysql.Command{Path: bin, Args: args, LogPath: logPath}
	}
	if _, err := mysql.Run(ctx, c); err != nil {
		return fmt.Errorf("initialise an empty datadir for the dump: %w", err)
	}
	return nil
}

// outOfSpace returns the line of the scratch server's error log that says
// it ran out of disk space ("" when none does): a server that cannot
// create its redo log on a full disk says nothing about the backup.
func (s *scratchServer) outOfSpace() string {
	return noSpaceLine(s.errLogTail(60))
}

// noSpaceRE matches the servers' ways of saying ENOSPC: MariaDB 10.11
// "preallocating 1073741824 bytes for file ./ib_logfile101 failed with
// error 28", "Errcode: 28 "No space left on device"", MySQL's "OS errno 28".
var noSpaceRE = regexp.MustCompile(`(?i)no space left on device|\berr(no|code)?:? 28\b|with error 28\b|OS errno 28\b|disk (is )?full`)

func noSpaceLine(log string) string {
	for _, l := range strings.Split(log, "\n") {
		if noSpaceRE.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// errServerExec marks a server binary that could not be executed at all
// (not found, no permission for the server's user): the drill could not
// run, which says nothing about the backup.
var errServerExec = errors.New("the server binary could not be executed")
