// Package drill is mybak verify --drill: it restores a backup (with its
// whole chain) into a scratch directory, starts a throwaway server on it,
// runs CHECK TABLE on every table, compares every user table's row count
// with the count recorded at backup time, and removes it all again.
//
// The drill is a table of steps (steps.go): each step has a name (the
// report's), what it needs before it runs (the scratch dir, a connection
// to the scratch server), its function, and which of its failures are
// damage of the backup (exit 3) rather than a drill that could not run
// (exit 1). The steps that restore the backup and start the server on it
// are those of the kind of target the backup's engine restores into (files
// or a server: engine.DrillPlan, restoreSteps). The report is a list of
// check.Results, printed by package check's printers.
//
// The scratch server (server.go) is started through mysql.Run like every
// other child: its own process group, output drained, a parent-death
// signal (SIGTERM, a clean shutdown; none with --keep).
package drill

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/mybak/mybak/engine"
	"io"
	"log/slog"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// Options configure Run.
type Options struct {
	restore.Options
	// Catalogue finds the backup and its chain (nil: mybak's layout).
	Catalogue restore.Catalogue
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
	// both are removed when Run returns, also after a failure or an
	// interruption.
	Keep bool
	// RollForward, when set, runs once the restored server is up, before
	// the checks (verify --drill --until: the binary logs replayed to the
	// target); its detail goes into the report. The backup's recorded row
	// counts no longer describe the server then: they are not compared.
	RollForward func(ctx context.Context, conn mysql.Conn) (detail string, err error)
	Log         *slog.Logger
}

// Table is what a drill found about one restored (or recorded) table.
type Table struct {
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
	// Result is check.OK, check.Warn or check.Failed for the whole row.
	Result check.Status `json:"result"`
	Detail string       `json:"detail,omitempty"`
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

// Report is the outcome of Run.
type Report struct {
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
	Steps check.DrillResults `json:"steps"`
	// RowCounts is how the backup's counts were taken (nil: none recorded).
	RowCounts *RowCounts `json:"row_counts,omitempty"`
	Tables    []Table    `json:"tables,omitempty"`
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

// RowCounts summarises the backup's recorded counts.
type RowCounts struct {
	Mode    string `json:"mode"`
	Exact   bool   `json:"exact"`
	Why     string `json:"why"`
	Tables  int    `json:"tables"`
	Skipped int    `json:"skipped"`
	Error   string `json:"error,omitempty"`
}

// Step returns the step called name, or nil.
func (r *Report) Step(name string) *check.Result { return check.Find(r.Steps, name) }

// Seconds returns the duration of step name in seconds (0 when it did not
// run).
func (r *Report) Seconds(name string) float64 {
	if s := r.Step(name); s != nil {
		return s.Duration.Seconds()
	}
	return 0
}

// Failed counts the tables whose result is check.Failed.
func (r *Report) Failed() int {
	n := 0
	for _, t := range r.Tables {
		if t.Result == check.Failed {
			n++
		}
	}
	return n
}

// failed is the report's error: check.ErrDamaged naming every failed step
// when one of them is damage (see check.Err).
func (r *Report) failed() error { return check.Err(r.Steps, "restore drill failed") }

// Run drills backup ref (an ID or "latest"): it restores the backup with
// its whole chain into a scratch directory, starts a throwaway server on
// it (the local mariadbd / mysqld, whose major.minor must match the
// backup's server for a physical backup), runs CHECK TABLE on every table,
// counts every user table's rows and compares them with the counts
// recorded at backup time (backup.MetaRowCounts), then stops the server
// and removes the scratch directory (unless Keep). A logical backup is
// applied into an empty server made with mariadb-install-db.
//
// The drill first runs verify (Deep when asked); the restore then checks
// every byte against the manifest's hashes and mbstream/xbstream every
// chunk's CRC. A prepare that fails (an incremental applied onto the wrong
// parent), a server that does not start on the restored data, a CHECK
// TABLE error, a recorded table missing from the restore and a count that
// differs from an exact recorded one fail the drill: the error then wraps
// check.ErrDamaged. Differences from approximate counts are warnings.
// Other errors say the drill could not run (no server binary, a version
// mismatch, no space, the store unreachable): the backup's state is then
// unknown. The report is returned in both cases.
func Run(ctx context.Context, st storage.Backend, ref string, o Options) (rep *Report, err error) {
	d := newDrill(st, ref, o)
	rep = d.rep
	defer d.finish(time.Now(), &err)
	defer d.recoverPanic(&err)
	defer d.cleanup(ctx, &err)
	return rep, d.runSteps(ctx)
}

// drill is one run: what its steps share.
type drill struct {
	st  storage.Backend
	ref string
	o   Options
	log *slog.Logger
	cat restore.Catalogue
	rep *Report

	// The backup (resolve).
	m       *backup.Manifest
	chain   []*backup.Manifest
	eng     engine.Engine    // the backup's engine
	needs   engine.DrillPlan // what it says a drill of the backup needs
	bflavor mysql.Flavor     // the backed-up server's flavour ("" unknown)
	// The server binary (step "server binary").
	bin    string
	flavor mysql.Flavor
	// The scratch dir (needScratch).
	parent, scratch, logDir string
	cred                    *syscall.Credential // the server's user; nil: mybak's own
	srv                     *scratchServer
	// The connection to the scratch server (needConn).
	conn *sql.Conn
}

func newDrill(st storage.Backend, ref string, o Options) *drill {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 5 * time.Minute
	}
	cat := o.Catalogue
	if cat == nil {
		cat = restore.MybakCatalogue{Store: st}
	}
	return &drill{st: st, ref: ref, o: o, log: o.Log, cat: cat, rep: &Report{ID: ref, Steps: check.DrillResults{}}}
}

// runSteps runs the verify step, resolves the backup, then runs the steps
// of its plan in order. It stops at the first step that fails, except
// those that go on (the checks of the restored server).
func (d *drill) runSteps(ctx context.Context) error {
	if err := d.run(ctx, verifyStep); err != nil {
		return err
	}
	if err := d.resolve(ctx); err != nil {
		return err
	}
	for _, s := range d.plan() {
		if err := d.run(ctx, s); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.rep.failed()
}

// run runs step s once what it needs is there, records its result and
// returns the error the drill stops with (nil: go on). It is the one
// place where a step's failure is sorted: damage when the step's damage
// function says so and the drill was not interrupted, otherwise a drill
// that could not run.
func (d *drill) run(ctx context.Context, s step) error {
	if err := d.provide(ctx, s.needs); err != nil {
		return err
	}
	t := time.Now()
	status, detail, err := s.run(d, ctx)
	if err != nil && status == "" {
		status, detail = check.Failed, err.Error()
	}
	damage := err != nil && ctx.Err() == nil && s.damage != nil && s.damage(err)
	if damage {
		status = check.Failed
	}
	r := check.Result{Name: s.name, Status: status, Detail: detail, Duration: time.Since(t), Damage: damage, Err: err}
	d.rep.Steps = append(d.rep.Steps, r)
	d.log.Info("drill", "step", s.name, "status", string(status), "seconds", r.Duration.Round(time.Millisecond).Seconds())
	switch {
	case err == nil:
		return nil
	case s.goOn && ctx.Err() == nil:
		return nil // the report's error names it at the end
	case s.goOn:
		return ctx.Err()
	case damage:
		// The step is in the report now: the error names every failed
		// step, this one included.
		return d.rep.failed()
	}
	return err
}

// finish completes the report once the drill returned err.
func (d *drill) finish(start time.Time, err *error) {
	d.rep.Duration = time.Since(start)
	d.rep.DurationSeconds = d.rep.Duration.Seconds()
	d.rep.OK = *err == nil && d.rep.failed() == nil
}

// recoverPanic ends a drill with its report, whatever happens: a panic in
// a step (a bug) becomes a failed step and an error saying so, not a stack
// trace and an empty --json file.
func (d *drill) recoverPanic(err *error) {
	if r := recover(); r != nil {
		stack := debug.Stack()
		d.log.Error("internal error in the restore drill: please report it", "panic", fmt.Sprint(r), "stack", string(stack))
		d.rep.Steps = append(d.rep.Steps, check.Result{Name: "internal error", Status: check.Failed, Detail: fmt.Sprint(r)})
		*err = fmt.Errorf("the restore drill stopped on an internal error (a bug in mybak, please report it with the log above): %v", r)
	}
}
