package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// DrillOptions configure Drill.
type DrillOptions struct {
	Options
	// Catalogue finds the backup and its chain (nil: mybak's layout).
	Catalogue Catalogue
	// Deep runs verify --deep before the restore (the restore itself
	// already checks every byte against the manifest's hashes, and the
	// stream tool every xbstream chunk's CRC).
	Deep bool
	// ScratchDir is where the scratch directory (mybak-drill-*) is made;
	// empty means os.TempDir().
	ScratchDir string
	// ServerBinary is the mariadbd / mysqld to start; empty means look it
	// up for the backup's flavour.
	ServerBinary string
	// StartTimeout bounds the scratch server's start-up (default 5 min).
	StartTimeout time.Duration
	// UseMemory is the tool's --use-memory for prepare.
	UseMemory string
	// Keep leaves the scratch server running and its directory in place
	// (Report.Kept says how to connect and how to stop it). Without it
	// both are removed when Drill returns, also after a failure or an
	// interruption.
	Keep bool
	Log  *slog.Logger
}

// Step statuses of a drill report.
const (
	StepOK      = "ok"
	StepWarn    = "warn" // reported, does not fail the drill
	StepFailed  = "failed"
	StepSkipped = "skipped"
)

// DrillStep is one step of a drill and how it went.
type DrillStep struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Detail  string  `json:"detail,omitempty"`
	Seconds float64 `json:"seconds"`
}

// DrillTable is what a drill found about one restored (or recorded) table.
type DrillTable struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Type   string `json:"type,omitempty"` // BASE TABLE, VIEW, ... ("" when missing)
	Engine string `json:"engine,omitempty"`
	// Check is CHECK TABLE's verdict ("OK", or its error), "" when not run.
	Check   string `json:"check,omitempty"`
	CheckOK bool   `json:"check_ok"`
	// Rows is the restored table's COUNT(*); Recorded the backup's count.
	Rows     *int64 `json:"rows,omitempty"`
	Recorded *int64 `json:"recorded_rows,omitempty"`
	// Result is StepOK, StepWarn or StepFailed for the whole row.
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
}

// KeptServer says how to reach a scratch server left running by Keep.
type KeptServer struct {
	PID          int    `json:"pid"`
	Port         int    `json:"port"`
	Socket       string `json:"socket"`
	Datadir      string `json:"datadir"`
	ScratchDir   string `json:"scratch_dir"`
	User         string `json:"user"`
	PasswordFile string `json:"password_file"`
	Connect      string `json:"connect"`
	Stop         string `json:"stop"`
}

// DrillReport is the outcome of Drill.
type DrillReport struct {
	ID     string   `json:"id"`
	Chain  []string `json:"chain,omitempty"`
	Engine string   `json:"engine,omitempty"`
	// Kind is "physical" or "logical".
	Kind string `json:"kind,omitempty"`
	// BackupServer is the version of the server that was backed up; Server
	// and ServerVersion the local binary the drill started.
	BackupServer  string `json:"backup_server_version,omitempty"`
	Server        string `json:"server,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
	OK            bool   `json:"ok"`
	// Steps in the order they ran.
	Steps []DrillStep `json:"steps"`
	// RowCounts is how the backup's counts were taken (nil: none recorded).
	RowCounts *DrillRowCounts `json:"row_counts,omitempty"`
	Tables    []DrillTable    `json:"tables,omitempty"`
	// RawBytes and StoredBytes add up the chain's manifests; DatadirBytes
	// is the size of the restored datadir.
	RawBytes     int64         `json:"raw_size"`
	StoredBytes  int64         `json:"stored_size"`
	DatadirBytes int64         `json:"datadir_size"`
	Duration     time.Duration `json:"-"`
	// DurationSeconds is Duration in seconds, for --json.
	DurationSeconds float64     `json:"duration_seconds"`
	Kept            *KeptServer `json:"kept,omitempty"`
}

// DrillRowCounts summarises the backup's recorded counts.
type DrillRowCounts struct {
	Mode    string `json:"mode"`
	Exact   bool   `json:"exact"`
	Why     string `json:"why"`
	Tables  int    `json:"tables"`
	Skipped int    `json:"skipped"`
	Error   string `json:"error,omitempty"`
}

// Step returns the step called name, or nil.
func (r *DrillReport) Step(name string) *DrillStep {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Seconds returns the duration of step name (0 when it did not run).
func (r *DrillReport) Seconds(name string) float64 {
	if s := r.Step(name); s != nil {
		return s.Seconds
	}
	return 0
}

// Failed counts the tables whose result is StepFailed.
func (r *DrillReport) Failed() int {
	n := 0
	for _, t := range r.Tables {
		if t.Result == StepFailed {
			n++
		}
	}
	return n
}

// failed joins the failed steps into one error wrapping ErrDamaged.
func (r *DrillReport) failed() error {
	var msgs []string
	for _, s := range r.Steps {
		if s.Status == StepFailed {
			msgs = append(msgs, s.Name+": "+s.Detail)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: restore drill failed: %s", ErrDamaged, strings.Join(msgs, "; "))
}

// Drill steps, by name.
const (
	drillVerify  = "verify"
	drillServer  = "server binary"
	drillSpace   = "scratch space"
	drillRestore = "restore"
	drillInit    = "initialise datadir"
	drillStart   = "start server"
	drillApply   = "apply dump"
	drillCheck   = "check tables"
	drillCounts  = "row counts"
	drillStop    = "stop server"
)

// Drill restores backup ref (with its whole chain) into a scratch
// directory, starts a throwaway server on it (the local mariadbd / mysqld,
// whose major.minor must match the backup's server for a physical backup),
// runs CHECK TABLE on every table, counts every user table's rows and
// compares them with the counts recorded at backup time (backup.MetaRowCounts),
// then stops the server and removes the scratch directory (unless Keep).
// A logical backup is applied into an empty server made with
// mariadb-install-db.
//
// The drill first runs Verify (Deep when asked); the restore then checks
// every byte against the manifest's hashes and mbstream/xbstream every
// chunk's CRC. A prepare that fails (an incremental applied onto the wrong
// parent), a server that does not start on the restored data, a CHECK
// TABLE error, a recorded table missing from the restore and a count that
// differs from an exact recorded one fail the drill: the error then wraps
// ErrDamaged. Differences from approximate counts are warnings. Other
// errors say the drill could not run (no server binary, a version
// mismatch, no space, the store unreachable): the backup's state is then
// unknown. The report is returned in both cases.
func Drill(ctx context.Context, st storage.Backend, ref string, o DrillOptions) (rep *DrillReport, err error) {
	start := time.Now()
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 5 * time.Minute
	}
	rep = &DrillReport{ID: ref, Steps: []DrillStep{}}
	defer func() {
		rep.Duration = time.Since(start)
		rep.DurationSeconds = rep.Duration.Seconds()
		rep.OK = err == nil && rep.failed() == nil
	}()
	// A drill ends with its report, whatever happens: a panic in a step
	// (a bug) becomes a failed step and an error saying so, not a stack
	// trace and an empty --json file.
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			log.Error("internal error in the restore drill: please report it", "panic", fmt.Sprint(r), "stack", string(stack))
			rep.Steps = append(rep.Steps, DrillStep{Name: "internal error", Status: StepFailed, Detail: fmt.Sprint(r)})
			err = fmt.Errorf("the restore drill stopped on an internal error (a bug in mybak, please report it with the log above): %v", r)
		}
	}()
	step := func(name string, fn func() (status, detail string, err error)) error {
		t := time.Now()
		status, detail, err := fn()
		if err != nil && status == "" {
			status, detail = StepFailed, err.Error()
		}
		if errors.Is(err, ErrDamaged) {
			status = StepFailed
		}
		rep.Steps = append(rep.Steps, DrillStep{Name: name, Status: status, Detail: detail, Seconds: time.Since(t).Seconds()})
		log.Info("drill", "step", name, "status", status, "seconds", time.Since(t).Round(time.Millisecond).Seconds())
		if errors.Is(err, ErrDamaged) {
			// The step is in the report now: the error names every
			// failed step, this one included.
			return rep.failed()
		}
		return err
	}
	// damaged marks a failed step as damage of the backup. It is called
	// inside a step's function, before the step is in the report, so it
	// returns the bare sentinel and step turns it into the report's error
	// (it returned rep.failed() here, which was nil for the first failed
	// step: the drill went on to connect to a server that had not started).
	damaged := func() error { return ErrDamaged }

	cat := o.Catalogue
	if cat == nil {
		cat = MybakCatalogue{Store: st}
	}
	// 1. The cheap checks (and --deep when asked).
	if err := step(drillVerify, func() (string, string, error) {
		vr, err := Verify(ctx, st, ref, VerifyOptions{Options: o.Options, Deep: o.Deep, Catalogue: o.Catalogue})
		if vr != nil && vr.ID != "" {
			rep.ID = vr.ID
		}
		if err != nil {
			return StepFailed, err.Error(), err
		}
		what := "manifest, objects and chain"
		if o.Deep {
			what += ", deep (hashes and content)"
		}
		return StepOK, what, nil
	}); err != nil {
		return rep, err
	}
	m, err := cat.Resolve(ctx, ref)
	if err != nil {
		return rep, err
	}
	chain := []*backup.Manifest{m}
	if m.Parent != "" {
		if chain, err = cat.Chain(ctx, m); err != nil {
			return rep, err
		}
	}
	eng := mysql.Engine(m.Engine.Name)
	rep.Engine, rep.BackupServer = m.Engine.Name, m.Engine.ServerVersion
	for _, c := range chain {
		rep.Chain = append(rep.Chain, c.ID)
		rep.RawBytes += c.RawSize
		rep.StoredBytes += c.StoredSize
	}
	switch {
	case eng.Physical():
		rep.Kind = "physical"
	case eng == mysql.EngineMysqldump || eng == mysql.EngineMariadbDump:
		rep.Kind = "logical"
	default:
		return rep, fmt.Errorf("backup %s was taken with the %s engine: a restore drill needs a MySQL backup (mariabackup, xtrabackup, innobackupex, mysqldump, mariadb-dump); use verify --deep", m.ID, m.Engine.Name)
	}
	_, _, _, bflavor, verr := mysql.ParseVersion(m.Engine.ServerVersion, "")
	if verr != nil {
		bflavor = ""
		if eng == mysql.EngineMariabackup || eng == mysql.EngineMariadbDump {
			bflavor = mysql.FlavorMariaDB
		}
	}

	// 2. The server binary, of the backup's version.
	var bin string
	var flavor mysql.Flavor
	if err := step(drillServer, func() (string, string, error) {
		var err error
		if bin, err = serverBinary(o.ServerBinary, bflavor); err != nil {
			return StepFailed, err.Error(), err
		}
		v, fl, major, minor, err := serverVersion(ctx, bin)
		if err != nil {
			return StepFailed, err.Error(), err
		}
		rep.Server, rep.ServerVersion, flavor = bin, v, fl
		detail := fmt.Sprintf("%s %s", bin, v)
		bmaj, bmin, _, bfl, perr := mysql.ParseVersion(m.Engine.ServerVersion, "")
		switch {
		case perr != nil:
			return StepWarn, detail + ": the backup does not record its server's version: cannot check that they match", nil
		case bfl != fl && !(bfl == mysql.FlavorMySQL && fl == mysql.FlavorPercona) && !(bfl == mysql.FlavorPercona && fl == mysql.FlavorMySQL):
			err := fmt.Errorf("%s is %s %s but the backup is of %s %s: install the backup's server or give --mysqld PATH", bin, fl, v, bfl, m.Engine.ServerVersion)
			return StepFailed, err.Error(), err
		case bmaj != major || bmin != minor:
			msg := fmt.Sprintf("%s is %d.%d but the backup is of %s", detail, major, minor, m.Engine.ServerVersion)
			if rep.Kind == "physical" {
				err := fmt.Errorf("%s: a physical backup must be drilled with the same major.minor version (a newer server would upgrade the files, an older one may not open them): install it or give --mysqld PATH", msg)
				return StepFailed, err.Error(), err
			}
			return StepWarn, msg + ": a dump is portable, the drill goes on", nil
		}
		return StepOK, detail + " (backup: " + m.Engine.ServerVersion + ")", nil
	}); err != nil {
		return rep, err
	}

	// 3. The scratch directory, removed at the end unless Keep.
	_, cred, err := runAs()
	if err != nil {
		return rep, err
	}
	parent := o.ScratchDir
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return rep, fmt.Errorf("create the scratch parent %s: %w", parent, err)
	}
	if parent, err = filepath.Abs(parent); err != nil {
		return rep, err
	}
	if cred != nil {
		if err := searchable(parent); err != nil {
			return rep, err
		}
	}
	scratch, err := os.MkdirTemp(parent, "mybak-drill-")
	if err != nil {
		return rep, fmt.Errorf("create the scratch dir in %s: %w (set --scratch-dir)", parent, err)
	}
	srv := &scratchServer{bin: bin, flavor: flavor, datadir: filepath.Join(scratch, "data"), dir: filepath.Join(scratch, "run"),
		pidFile: filepath.Join(scratch, "run", "mysqld.pid"), errLog: filepath.Join(scratch, "run", "error.log"),
		passFile: filepath.Join(scratch, "drill.password"), keep: o.Keep, cred: cred}
	defer func() {
		if o.Keep && srv.running() && ctx.Err() == nil {
			rep.Kept = &KeptServer{PID: srv.pid, Port: srv.port, Socket: srv.socket, Datadir: srv.datadir, ScratchDir: scratch,
				User: drillUser, PasswordFile: srv.passFile,
				Connect: fmt.Sprintf("mariadb --protocol=tcp -h 127.0.0.1 -P %d -u %s -p\"$(cat %s)\"  # or --socket=%s", srv.port, drillUser, srv.passFile, srv.socket),
				Stop:    fmt.Sprintf("kill %d && while kill -0 %d 2>/dev/null; do sleep 1; done && rm -rf %s", srv.pid, srv.pid, scratch)}
			if srv.db != nil {
				srv.db.Close()
			}
			log.Info("the scratch server is kept running (--keep)", "pid", srv.pid, "port", srv.port, "socket", srv.socket, "dir", scratch)
			return
		}
		if srv.running() {
			step(drillStop, func() (string, string, error) {
				if err := srv.stop(2 * time.Minute); err != nil {
					return StepWarn, err.Error(), nil
				}
				return StepOK, fmt.Sprintf("pid %d", srv.pid), nil
			})
		}
		if (err != nil || rep.failed() != nil) && ctx.Err() == nil {
			if dir := keepLogs(scratch, parent); dir != "" {
				log.Warn("the drill failed: its logs (tool logs, the scratch server's error log) are kept", "dir", dir)
			}
		}
		if err := os.RemoveAll(scratch); err != nil {
			log.Warn("could not remove the scratch dir", "dir", scratch, "err", err)
		}
	}()
	for _, d := range []string{scratch, srv.dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return rep, err
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return rep, fmt.Errorf("give the scratch dir to the server's user: %w", err)
			}
		}
	}
	logDir := filepath.Join(scratch, "logs")
	os.Mkdir(logDir, 0o700)

	need := scratchNeed(rep.Kind, rep.RawBytes)
	if err := step(drillSpace, func() (string, string, error) {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(scratch, &fs); err != nil {
			return StepWarn, "cannot tell the free space: " + err.Error(), nil
		}
		free := int64(fs.Bavail) * int64(fs.Bsize)
		detail := fmt.Sprintf("%s: %s free, the restore needs about %s (%d bytes)", scratch, units.Bytes(free), units.Bytes(need), need)
		if free < need {
			err := fmt.Errorf("%s: choose a --scratch-dir with more room", detail)
			return StepFailed, err.Error(), err
		}
		return StepOK, detail, nil
	}); err != nil {
		return rep, err
	}

	// 4. Restore, start, (apply).
	if rep.Kind == "physical" {
		if err := step(drillRestore, func() (string, string, error) {
			err := Physical(ctx, st, chain, PhysicalOptions{Options: o.Options, Datadir: srv.datadir, MoveBack: true,
				UseMemory: o.UseMemory, Log: log})
			if err != nil {
				return StepFailed, err.Error(), restoreErr(err, damaged)
			}
			return StepOK, fmt.Sprintf("%d backup(s) extracted, prepared and moved into %s", len(chain), srv.datadir), nil
		}); err != nil {
			return rep, err
		}
		if err := step(drillStart, func() (string, string, error) {
			if err := srv.start(ctx, o.StartTimeout); err != nil {
				if errors.Is(err, errServerExec) {
					return StepFailed, err.Error(), err
				}
				if full := srv.outOfSpace(); full != "" {
					// Not the backup's fault: the drill could not run.
					err := fmt.Errorf("%w: the scratch dir ran out of space (%s); the restored datadir is %s: choose a --scratch-dir with more room",
						err, full, units.Bytes(dirSize(srv.datadir)))
					return StepFailed, err.Error(), err
				}
				// The restored files do not make a server: damage.
				return StepFailed, err.Error(), ctxOr(ctx, damaged)
			}
			return StepOK, fmt.Sprintf("pid %d on 127.0.0.1:%d", srv.pid, srv.port), nil
		}); err != nil {
			return rep, err
		}
	} else {
		if err := step(drillInit, func() (string, string, error) {
			if err := os.MkdirAll(srv.datadir, 0o750); err != nil {
				return StepFailed, err.Error(), err
			}
			if cred != nil {
				os.Chown(srv.datadir, int(cred.Uid), int(cred.Gid))
			}
			if err := initDatadir(ctx, bin, flavor, srv.datadir, filepath.Join(logDir, "init.log"), cred); err != nil {
				return StepFailed, err.Error(), err
			}
			return StepOK, "empty datadir " + srv.datadir, nil
		}); err != nil {
			return rep, err
		}
		if err := step(drillStart, func() (string, string, error) {
			if err := srv.start(ctx, o.StartTimeout); err != nil {
				return StepFailed, err.Error(), err // an empty server: not the backup's fault
			}
			return StepOK, fmt.Sprintf("pid %d on 127.0.0.1:%d", srv.pid, srv.port), nil
		}); err != nil {
			return rep, err
		}
	}
	if srv.db == nil {
		return rep, errors.New("the scratch server is not running after its start step (a bug in mybak, please report it)")
	}
	// One connection, opened before a dump can replace the grant tables.
	conn, err := srv.db.Conn(ctx)
	if err != nil {
		return rep, fmt.Errorf("connect to the scratch server: %w", err)
	}
	defer conn.Close()
	if rep.Kind == "logical" {
		if err := step(drillApply, func() (string, string, error) {
			err := ToMySQL(ctx, st, m, LogicalOptions{Options: o.Options, Conn: srv.conn(), LogPath: filepath.Join(logDir, "client.log"), Log: log})
			if err != nil {
				return StepFailed, err.Error(), restoreErr(err, damaged)
			}
			// The dump wrote the grant tables; load them as a restart
			// would (views check their definers), and give the drill's
			// user back, for --keep.
			for _, q := range append([]string{"FLUSH PRIVILEGES"}, srv.userSQL()...) {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					err = fmt.Errorf("reload the restored grant tables: %w", err)
					return StepFailed, err.Error(), damaged()
				}
			}
			return StepOK, fmt.Sprintf("%d bytes of SQL applied, grant tables reloaded", m.RawSize), nil
		}); err != nil {
			return rep, err
		}
	}
	rep.DatadirBytes = dirSize(srv.datadir)

	// 5. CHECK TABLE, counts.
	rec, recErr := backup.RowCountsOf(chain[len(chain)-1])
	if err := step(drillCheck, func() (string, string, error) {
		return checkTables(ctx, conn, srv, rep)
	}); err != nil && ctx.Err() != nil {
		return rep, ctx.Err()
	}
	step(drillCounts, func() (string, string, error) {
		return compareCounts(rep, rec, recErr)
	})
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, rep.failed()
}

// restoreErr sorts a restore failure: data that does not decode, a tool
// that rejects it (extract, prepare, copy-back, the SQL client) are
// damage; a missing tool, a missing or wrong key, an interruption are not.
func restoreErr(err error, damaged func() error) error {
	var ee *mysql.ExitError
	var ae *AppliedError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, mysql.ErrToolNotFound), errors.Is(err, ErrNeedKey),
		errors.Is(err, crypto.ErrWrongKey):
		return err
	case errors.Is(err, stream.ErrCorrupt), errors.Is(err, ErrDamaged), errors.Is(err, ErrTruncatedDump), errors.As(err, &ee):
		return damaged()
	case errors.As(err, &ae):
		var ad *mysql.ApplyDumpError
		if errors.As(err, &ad) {
			return damaged()
		}
	}
	return err
}

func ctxOr(ctx context.Context, damaged func() error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return damaged()
}

// keepLogs moves the logs of a failed drill out of its scratch dir (the
// restore's tool logs, the SQL client's, the scratch server's error log)
// into a new mybak-drill-logs-* dir in parent, and returns it ("" when
// there was nothing to keep).
func keepLogs(scratch, parent string) string {
	var logs []string
	for _, pat := range []string{"logs", ".*mybak-staging-*/logs", "run/error.log"} {
		m, _ := filepath.Glob(filepath.Join(scratch, pat))
		logs = append(logs, m...)
	}
	if len(logs) == 0 {
		return ""
	}
	dir, err := os.MkdirTemp(parent, "mybak-drill-logs-")
	if err != nil {
		return ""
	}
	for i, l := range logs {
		os.Rename(l, filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(l))))
	}
	return dir
}

// searchable checks that the server's user can reach dir: every ancestor
// must be searchable by others (the server runs as mysql, mybak as root).
func searchable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && uidName(st.Uid) == "mysql" {
				continue
			}
			return fmt.Errorf("the scratch server runs as mysql, which cannot enter %s (mode %s): chmod o+x %s, or choose another --scratch-dir",
				d, fi.Mode().Perm(), d)
		}
		if d == "/" || d == filepath.Dir(d) {
			return nil
		}
	}
}

func uidName(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		return u.Username
	}
	return ""
}

// dirSize adds up the sizes of the regular files below dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// checkTables runs CHECK TABLE on every table and view of every schema but
// information_schema, performance_schema and sys, and counts the rows of
// the user tables, filling rep.Tables.
func checkTables(ctx context.Context, conn *sql.Conn, srv *scratchServer, rep *DrillReport) (string, string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, '') FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys') ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return StepFailed, "list the restored tables: " + err.Error(), err
	}
	for rows.Next() {
		var t DrillTable
		if err := rows.Scan(&t.Schema, &t.Table, &t.Type, &t.Engine); err != nil {
			rows.Close()
			return StepFailed, err.Error(), err
		}
		rep.Tables = append(rep.Tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return StepFailed, err.Error(), err
	}
	failed, checked, counted := 0, 0, 0
	for i := range rep.Tables {
		t := &rep.Tables[i]
		name := mysql.QuoteName(t.Schema) + "." + mysql.QuoteName(t.Table)
		t.Result = StepOK
		verdict, ok, err := checkTable(ctx, conn, name)
		checked++
		if err != nil {
			t.Check, t.Result = "CHECK TABLE failed: "+err.Error(), StepFailed
			failed++
			if !srv.running() {
				return StepFailed, fmt.Sprintf("the server died during CHECK TABLE %s; its error log ends:\n  %s", name, srv.errLogTail(20)), err
			}
			continue
		}
		t.Check, t.CheckOK = verdict, ok
		if !ok {
			t.Result = StepFailed
			failed++
		}
		if mysql.SystemSchemas[strings.ToLower(t.Schema)] || (t.Type != "BASE TABLE" && t.Type != "SYSTEM VERSIONED") {
			continue
		}
		var n int64
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+name).Scan(&n); err != nil {
			t.Result, t.Detail = StepFailed, "count: "+err.Error()
			failed++
			continue
		}
		t.Rows = &n
		counted++
	}
	detail := fmt.Sprintf("%d tables and views checked, %d user tables counted", checked, counted)
	if failed > 0 {
		return StepFailed, fmt.Sprintf("%s; %d failed", detail, failed), errors.New("CHECK TABLE failed")
	}
	return StepOK, detail, nil
}

// checkTable runs CHECK TABLE name and returns its verdict: "OK", or the
// messages of its error and non-OK status rows.
func checkTable(ctx context.Context, conn *sql.Conn, name string) (string, bool, error) {
	rows, err := conn.QueryContext(ctx, "CHECK TABLE "+name)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	ok := true
	var msgs []string
	for rows.Next() {
		var tbl, op, typ, text sql.NullString
		if err := rows.Scan(&tbl, &op, &typ, &text); err != nil {
			return "", false, err
		}
		switch strings.ToLower(typ.String) {
		case "error":
			ok = false
			msgs = append(msgs, "error: "+text.String)
		case "status":
			if !strings.EqualFold(text.String, "OK") && !strings.EqualFold(text.String, "Table is already up to date") {
				ok = false
				msgs = append(msgs, "status: "+text.String)
			}
		case "warning", "note":
			msgs = append(msgs, strings.ToLower(typ.String)+": "+text.String)
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	if len(msgs) == 0 {
		return "OK", ok, nil
	}
	if ok {
		return "OK (" + strings.Join(msgs, "; ") + ")", true, nil
	}
	return strings.Join(msgs, "; "), false, nil
}

// compareCounts compares the restored tables' counts with the recorded
// ones: a recorded table missing from the restore fails the drill, and so
// does a count that differs from an exact record; differences from an
// approximate record are warnings.
func compareCounts(rep *DrillReport, rec *backup.RowCountRecord, recErr error) (string, string, error) {
	switch {
	case recErr != nil:
		return StepWarn, "cannot read the recorded row counts: " + recErr.Error(), nil
	case rec == nil:
		return StepWarn, "the backup records no row counts (taken with --row-counts off, by an older mybak or by another tool): only CHECK TABLE ran", nil
	}
	rep.RowCounts = &DrillRowCounts{Mode: rec.Mode, Exact: rec.Exact, Why: rec.Why, Tables: len(rec.Tables), Skipped: len(rec.Skipped), Error: rec.Error}
	if rec.Error != "" {
		return StepWarn, "row counts were not recorded at backup time: " + rec.Error, nil
	}
	key := func(s, t string) string { return s + "\x00" + t }
	idx := map[string]int{}
	for i, t := range rep.Tables {
		idx[key(t.Schema, t.Table)] = i
	}
	skipped := map[string]string{}
	for _, s := range rec.Skipped {
		skipped[key(s.Schema, s.Table)] = s.Reason
	}
	var missing, off, drift []string
	same := 0
	for _, c := range rec.Tables {
		c := c
		i, ok := idx[key(c.Schema, c.Table)]
		if !ok {
			missing = append(missing, c.Schema+"."+c.Table)
			rep.Tables = append(rep.Tables, DrillTable{Schema: c.Schema, Table: c.Table, Recorded: &c.Rows, Result: StepFailed,
				Detail: "recorded at backup time, missing from the restored data"})
			continue
		}
		t := &rep.Tables[i]
		t.Recorded = &c.Rows
		switch {
		case t.Rows == nil:
		case *t.Rows == c.Rows:
			same++
		case rec.Exact:
			t.Result, t.Detail = StepFailed, fmt.Sprintf("%d rows restored, %d recorded (exact)", *t.Rows, c.Rows)
			off = append(off, fmt.Sprintf("%s.%s (%d, recorded %d)", c.Schema, c.Table, *t.Rows, c.Rows))
		default:
			if t.Result == StepOK {
				t.Result = StepWarn
			}
			t.Detail = fmt.Sprintf("%d rows restored, about %d recorded (approximate)", *t.Rows, c.Rows)
			drift = append(drift, fmt.Sprintf("%s.%s (%d, recorded about %d)", c.Schema, c.Table, *t.Rows, c.Rows))
		}
	}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		if r, ok := skipped[key(t.Schema, t.Table)]; ok && t.Detail == "" {
			t.Detail = "not counted at backup time: " + r
		}
	}
	kind := "exact"
	if !rec.Exact {
		kind = "approximate"
	}
	detail := fmt.Sprintf("%d of %d recorded (%s) counts match, %d table(s) not counted at backup time", same, len(rec.Tables), kind, len(rec.Skipped))
	switch {
	case len(missing)+len(off) > 0:
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing from the restore: "+strings.Join(missing, ", "))
		}
		if len(off) > 0 {
			parts = append(parts, "row counts differ: "+strings.Join(off, ", "))
		}
		return StepFailed, detail + "; " + strings.Join(parts, "; "), errors.New("row counts differ")
	case len(drift) > 0:
		return StepWarn, detail + "; approximate counts differ (" + rec.Why + "): " + strings.Join(drift, ", "), nil
	}
	return StepOK, detail, nil
}

// scratchOverhead is what a restored server adds to its data files: the
// redo log it creates at start (96 MiB by default on MariaDB 10.11, 48 MiB
// on MySQL 8.0), the system tablespace, the temporary tablespace, undo
// logs, Aria's logs. A 31 MB stream became a 141 MB datadir.
const scratchOverhead = 128 << 20

// scratchNeed estimates the room a drill of a chain of raw bytes needs: a
// physical chain's files plus what the server adds; a dump's tables take
// more room than its SQL text (indexes, page fill), so half as much again.
func scratchNeed(kind string, raw int64) int64 {
	if kind == "logical" {
		return raw + raw/2 + scratchOverhead
	}
	return raw + scratchOverhead
}
