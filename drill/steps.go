package drill

import (
	"context"
	"errors"
	"fmt"
	"github.com/mybak/mybak/engine"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/verify"
)

// Drill steps, by name (the names in the report and in scripts that read
// it).
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
	drillReplay  = "replay binary logs"
)

// step is one row of the drill's table.
type step struct {
	name string
	// needs is what must be there before the step runs; run provides it.
	needs need
	// run does the step: its status and detail for the report, and its
	// error (a failed step without a status is check.Failed).
	run func(d *drill, ctx context.Context) (check.Status, string, error)
	// damage says which failures of the step are damage of the backup
	// (exit 3); nil: none, a failure says the drill could not run (exit 1).
	// An interrupted drill is never damage.
	damage func(error) bool
	// goOn: the drill goes on after the step failed (the checks of the
	// restored server report every table).
	goOn bool
}

// need is what a step needs before it runs.
type need int

const (
	needScratch need = 1 << iota // the scratch dir, its run dir and the server's settings
	needConn                     // a connection to the running scratch server
)

// The drill's table. verifyStep runs first (it finds the backup's ID);
// then, with the backup resolved, plan: setupSteps, the restore steps of
// the kind of target the backup's engine restores into (its DrillPlan),
// checkSteps. A new engine adds nothing here; a new kind of target adds
// its row to restoreSteps: how a backup is restored into the scratch
// server and the server started.
var (
	verifyStep = step{name: drillVerify, run: (*drill).verify, damage: isDamaged}
	setupSteps = []step{
		{name: drillServer, run: (*drill).serverBinary},
		{name: drillSpace, needs: needScratch, run: (*drill).space},
	}
	restoreSteps = map[engine.TargetKind][]step{
		engine.IntoFiles: {
			{name: drillRestore, needs: needScratch, run: (*drill).restoreFiles, damage: restoreDamage},
			{name: drillStart, run: (*drill).startRestored, damage: startDamage},
		},
		engine.IntoServer: {
			{name: drillInit, needs: needScratch, run: (*drill).initEmpty},
			{name: drillStart, run: (*drill).startEmpty}, // an empty server: not the backup's fault
			{name: drillApply, needs: needConn, run: (*drill).applyDump, damage: restoreDamage},
		},
	}
	checkSteps = []step{
		{name: drillCheck, needs: needConn, run: (*drill).checkTables, damage: always, goOn: true},
		{name: drillCounts, run: (*drill).rowCounts, damage: always, goOn: true},
	}
	stopStep = step{name: drillStop, run: (*drill).stop}
)

// plan is the steps after verify, for the resolved backup's kind.
func (d *drill) plan() []step {
	steps := append([]step{}, setupSteps...)
	steps = append(steps, restoreSteps[d.needs.Into]...)
	if d.o.RollForward != nil {
		// Rolled forward past the backup: CHECK TABLE, but the backup's
		// row counts no longer apply.
		return append(steps, step{name: drillReplay, needs: needConn, run: (*drill).rollForward, damage: restoreDamage}, checkSteps[0])
	}
	return append(steps, checkSteps...)
}

// rollForward is the replay step of verify --drill --until.
func (d *drill) rollForward(ctx context.Context) (check.Status, string, error) {
	detail, err := d.o.RollForward(ctx, d.srv.conn())
	if err != nil {
		return check.Failed, "", err
	}
	return check.OK, detail, nil
}

// provide makes what n names available.
func (d *drill) provide(ctx context.Context, n need) error {
	if n&needScratch != 0 && d.scratch == "" {
		if err := d.makeScratch(); err != nil {
			return err
		}
	}
	if n&needConn != 0 && d.conn == nil {
		if d.srv == nil || d.srv.db == nil {
			return errors.New("the scratch server is not running after its start step (a bug in mybak, please report it)")
		}
		// One connection, opened before a dump can replace the grant tables.
		conn, err := d.srv.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("connect to the scratch server: %w", err)
		}
		d.conn = conn
	}
	return nil
}

// always: every failure of the step is damage.
func always(error) bool { return true }

// isDamaged: verify's failures that are damage.
func isDamaged(err error) bool { return errors.Is(err, check.ErrDamaged) }

// restoreDamage sorts a restore failure: data that does not decode, a tool
// that rejects it (extract, prepare, copy-back, the SQL client) are
// damage; a missing tool, a missing or wrong key, an interruption are not.
func restoreDamage(err error) bool {
	var ee *mysql.ExitError
	var ae *restore.AppliedError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, mysql.ErrToolNotFound), errors.Is(err, restore.ErrNeedKey),
		errors.Is(err, crypto.ErrWrongKey):
		return false
	case errors.Is(err, stream.ErrCorrupt), errors.Is(err, check.ErrDamaged), errors.Is(err, restore.ErrTruncatedDump), errors.As(err, &ee):
		return true
	case errors.As(err, &ae):
		var ad *mysql.ApplyDumpError
		return errors.As(err, &ad)
	}
	return false
}

// startDamage: restored files that do not make a server are damage; a
// server binary that cannot be executed, or a scratch dir that ran out of
// space, say the drill could not run.
func startDamage(err error) bool {
	return !errors.Is(err, errServerExec) && !errors.Is(err, errNoRoom)
}

// errNoRoom marks a server that ran out of space in the scratch dir.
var errNoRoom = errors.New("no room in the scratch dir")

// noRoom is an error marked as errNoRoom, with err's message.
type noRoom struct{ err error }

func (e noRoom) Error() string        { return e.err.Error() }
func (e noRoom) Unwrap() []error      { return []error{e.err, errNoRoom} }
func (e noRoom) Is(target error) bool { return target == errNoRoom }

// verify runs the cheap checks (and --deep when asked).
func (d *drill) verify(ctx context.Context) (check.Status, string, error) {
	vr, err := verify.Run(ctx, d.st, d.ref, verify.Options{Options: d.o.Options, Deep: d.o.Deep, Catalogue: d.o.Catalogue})
	if vr != nil && vr.ID != "" {
		d.rep.ID = vr.ID
	}
	if err != nil {
		return check.Failed, err.Error(), err
	}
	what := "manifest, objects and chain"
	if d.o.Deep {
		what += ", deep (hashes and content)"
	}
	return check.OK, what, nil
}

// resolve finds the backup and its chain, and fills the report's summary.
func (d *drill) resolve(ctx context.Context) error {
	m, err := d.cat.Resolve(ctx, d.ref)
	if err != nil {
		return err
	}
	chain := []*backup.Manifest{m}
	if m.Parent != "" {
		if chain, err = d.cat.Chain(ctx, m); err != nil {
			return err
		}
	}
	d.m, d.chain = m, chain
	rep := d.rep
	rep.Engine, rep.BackupServer = m.Engine.Name, m.Engine.ServerVersion
	for _, c := range chain {
		rep.Chain = append(rep.Chain, c.ID)
		rep.RawBytes += c.RawSize
		rep.StoredBytes += c.StoredSize
	}
	if d.eng, err = engine.For(m); err != nil {
		return err
	}
	if d.needs, err = d.eng.Drill(m); err != nil {
		return err
	}
	rep.Kind = d.needs.Kind
	_, _, _, bflavor, verr := mysql.ParseVersion(m.Engine.ServerVersion, "")
	if verr != nil {
		bflavor = d.needs.Flavor
	}
	d.bflavor = bflavor
	return nil
}

// serverBinary finds the server binary, of the backup's version.
func (d *drill) serverBinary(ctx context.Context) (check.Status, string, error) {
	bin, err := serverBinary(d.o.ServerBinary, d.bflavor)
	if err != nil {
		return check.Failed, err.Error(), err
	}
	v, fl, major, minor, err := serverVersion(ctx, bin)
	if err != nil {
		return check.Failed, err.Error(), err
	}
	d.bin, d.flavor = bin, fl
	d.rep.Server, d.rep.ServerVersion = bin, v
	backupVersion := d.m.Engine.ServerVersion
	detail := fmt.Sprintf("%s %s", bin, v)
	bmaj, bmin, _, bfl, perr := mysql.ParseVersion(backupVersion, "")
	switch {
	case perr != nil:
		return check.Warn, detail + ": the backup does not record its server's version: cannot check that they match", nil
	case bfl != fl && !(bfl == mysql.FlavorMySQL && fl == mysql.FlavorPercona) && !(bfl == mysql.FlavorPercona && fl == mysql.FlavorMySQL):
		err := fmt.Errorf("%s is %s %s but the backup is of %s %s: install the backup's server or give --mysqld PATH", bin, fl, v, bfl, backupVersion)
		return check.Failed, err.Error(), err
	case bmaj != major || bmin != minor:
		msg := fmt.Sprintf("%s is %d.%d but the backup is of %s", detail, major, minor, backupVersion)
		if d.needs.SameMajorMinor {
			err := fmt.Errorf("%s: a physical backup must be drilled with the same major.minor version (a newer server would upgrade the files, an older one may not open them): install it or give --mysqld PATH", msg)
			return check.Failed, err.Error(), err
		}
		return check.Warn, msg + ": a dump is portable, the drill goes on", nil
	}
	return check.OK, detail + " (backup: " + backupVersion + ")", nil
}

// space checks the scratch dir's free space against what the restore
// needs.
func (d *drill) space(context.Context) (check.Status, string, error) {
	need := scratchNeed(d.needs, d.rep.RawBytes)
	var fs syscall.Statfs_t
	if err := syscall.Statfs(d.scratch, &fs); err != nil {
		return check.Warn, "cannot tell the free space: " + err.Error(), nil
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	detail := fmt.Sprintf("%s: %s free, the restore needs about %s (%d bytes)", d.scratch, units.Bytes(free), units.Bytes(need), need)
	if free < need {
		err := fmt.Errorf("%s: choose a --scratch-dir with more room", detail)
		return check.Failed, err.Error(), err
	}
	return check.OK, detail, nil
}

// restoreFiles restores the chain into the scratch datadir with its
// engine, as restore --move-back does.
func (d *drill) restoreFiles(ctx context.Context) (check.Status, string, error) {
	err := d.eng.Restore(ctx, d.st, d.chain, engine.Target{Files: &restore.PhysicalOptions{Options: d.o.Options,
		Datadir: d.srv.datadir, MoveBack: true, UseMemory: d.o.UseMemory, Log: d.log}})
	if err != nil {
		return check.Failed, err.Error(), err
	}
	return check.OK, fmt.Sprintf("%d backup(s) extracted, prepared and moved into %s", len(d.chain), d.srv.datadir), nil
}

// startRestored starts the scratch server on the restored datadir.
func (d *drill) startRestored(ctx context.Context) (check.Status, string, error) {
	if err := d.srv.start(ctx, d.o.StartTimeout); err != nil {
		if full := d.srv.outOfSpace(); full != "" && !errors.Is(err, errServerExec) {
			// Not the backup's fault: the drill could not run.
			err = noRoom{fmt.Errorf("%w: the scratch dir ran out of space (%s); the restored datadir is %s: choose a --scratch-dir with more room",
				err, full, units.Bytes(dirSize(d.srv.datadir)))}
		}
		return check.Failed, err.Error(), err
	}
	return check.OK, fmt.Sprintf("pid %d on 127.0.0.1:%d", d.srv.pid, d.srv.port), nil
}

// initEmpty makes an empty datadir for a dump.
func (d *drill) initEmpty(ctx context.Context) (check.Status, string, error) {
	if err := os.MkdirAll(d.srv.datadir, 0o750); err != nil {
		return check.Failed, err.Error(), err
	}
	if d.cred != nil {
		os.Chown(d.srv.datadir, int(d.cred.Uid), int(d.cred.Gid))
	}
	if err := initDatadir(ctx, d.bin, d.flavor, d.srv.datadir, filepath.Join(d.logDir, "init.log"), d.cred); err != nil {
		return check.Failed, err.Error(), err
	}
	return check.OK, "empty datadir " + d.srv.datadir, nil
}

// startEmpty starts the scratch server on the empty datadir.
func (d *drill) startEmpty(ctx context.Context) (check.Status, string, error) {
	if err := d.srv.start(ctx, d.o.StartTimeout); err != nil {
		return check.Failed, err.Error(), err
	}
	return check.OK, fmt.Sprintf("pid %d on 127.0.0.1:%d", d.srv.pid, d.srv.port), nil
}

// applyDump applies the dump with its engine (through the SQL client),
// then loads the restored grant tables.
func (d *drill) applyDump(ctx context.Context) (check.Status, string, error) {
	err := d.eng.Restore(ctx, d.st, d.chain, engine.Target{Server: &restore.LogicalOptions{Options: d.o.Options,
		Conn: d.srv.conn(), LogPath: filepath.Join(d.logDir, "client.log"), Log: d.log}})
	if err != nil {
		return check.Failed, err.Error(), err
	}
	// The dump wrote the grant tables; load them as a restart would (views
	// check their definers), and give the drill's user back, for --keep.
	for _, q := range append([]string{"FLUSH PRIVILEGES"}, d.srv.userSQL()...) {
		if _, err := d.conn.ExecContext(ctx, q); err != nil {
			err = fmt.Errorf("reload the restored grant tables: %w", err)
			return check.Failed, err.Error(), fmt.Errorf("%w: %w", check.ErrDamaged, err)
		}
	}
	return check.OK, fmt.Sprintf("%d bytes of SQL applied, grant tables reloaded", d.m.RawSize), nil
}

// checkTables runs CHECK TABLE and counts rows on the restored server.
func (d *drill) checkTables(ctx context.Context) (check.Status, string, error) {
	d.rep.DatadirBytes = dirSize(d.srv.datadir)
	return checkTables(ctx, d.conn, d.srv, d.rep)
}

// rowCounts compares the restored counts with the recorded ones.
func (d *drill) rowCounts(context.Context) (check.Status, string, error) {
	rec, recErr := backup.RowCountsOf(d.chain[len(d.chain)-1])
	return compareCounts(d.rep, rec, recErr)
}

// stop shuts the scratch server down (at the end, unless --keep).
func (d *drill) stop(context.Context) (check.Status, string, error) {
	if err := d.srv.stop(2 * time.Minute); err != nil {
		return check.Warn, err.Error(), nil
	}
	return check.OK, fmt.Sprintf("pid %d", d.srv.pid), nil
}
