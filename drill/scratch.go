package drill

import (
	"context"
	"fmt"
	"github.com/mybak/mybak/engine"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// makeScratch makes the scratch dir (mybak-drill-* in --scratch-dir),
// with the run dir of its server given to the server's user. Run's
// cleanup removes it (unless --keep).
func (d *drill) makeScratch() error {
	_, cred, err := runAs()
	if err != nil {
		return err
	}
	parent := d.o.ScratchDir
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create the scratch parent %s: %w", parent, err)
	}
	if parent, err = filepath.Abs(parent); err != nil {
		return err
	}
	if cred != nil {
		if err := searchable(parent); err != nil {
			return err
		}
	}
	scratch, err := os.MkdirTemp(parent, "mybak-drill-")
	if err != nil {
		return fmt.Errorf("create the scratch dir in %s: %w (set --scratch-dir)", parent, err)
	}
	d.parent, d.scratch, d.cred = parent, scratch, cred
	d.srv = &scratchServer{bin: d.bin, flavor: d.flavor, datadir: filepath.Join(scratch, "data"), dir: filepath.Join(scratch, "run"),
		pidFile: filepath.Join(scratch, "run", "mysqld.pid"), errLog: filepath.Join(scratch, "run", "error.log"),
		passFile: filepath.Join(scratch, "drill.password"), keep: d.o.Keep, cred: cred}
	for _, dir := range []string{scratch, d.srv.dir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if cred != nil {
			if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("give the scratch dir to the server's user: %w", err)
			}
		}
	}
	d.logDir = filepath.Join(scratch, "logs")
	os.Mkdir(d.logDir, 0o700)
	return nil
}

// cleanup runs when the drill returns with err: with --keep, it leaves a
// running server and says how to reach it; otherwise it stops the server,
// keeps the logs of a failed drill and removes the scratch dir.
func (d *drill) cleanup(ctx context.Context, err *error) {
	if d.scratch == "" {
		return
	}
	if d.conn != nil {
		d.conn.Close()
	}
	srv := d.srv
	if d.o.Keep && srv.running() && ctx.Err() == nil {
		d.rep.Kept = &KeptServer{PID: srv.pid, Port: srv.port, Socket: srv.socket, Datadir: srv.datadir, ScratchDir: d.scratch,
			User: drillUser, PasswordFile: srv.passFile,
			Connect: fmt.Sprintf("mariadb --protocol=tcp -h 127.0.0.1 -P %d -u %s -p\"$(cat %s)\"  # or --socket=%s", srv.port, drillUser, srv.passFile, srv.socket),
			Stop:    fmt.Sprintf("kill %d && while kill -0 %d 2>/dev/null; do sleep 1; done && rm -rf %s", srv.pid, srv.pid, d.scratch)}
		if srv.db != nil {
			srv.db.Close()
		}
		d.log.Info("the scratch server is kept running (--keep)", "pid", srv.pid, "port", srv.port, "socket", srv.socket, "dir", d.scratch)
		return
	}
	if srv.running() {
		d.run(ctx, stopStep)
	}
	if (*err != nil || d.rep.failed() != nil) && ctx.Err() == nil {
		if dir := keepLogs(d.scratch, d.parent); dir != "" {
			d.log.Warn("the drill failed: its logs (tool logs, the scratch server's error log) are kept", "dir", dir)
		}
	}
	if err := os.RemoveAll(d.scratch); err != nil {
		d.log.Warn("could not remove the scratch dir", "dir", d.scratch, "err", err)
	}
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

// scratchOverhead is what a restored server adds to its data files: the
// redo log it creates at start (96 MiB by default on MariaDB 10.11, 48 MiB
// on MySQL 8.0), the system tablespace, the temporary tablespace, undo
// logs, Aria's logs. A 31 MB stream became a 141 MB datadir.
const scratchOverhead = 128 << 20

// scratchNeed estimates the room a drill of a chain of raw bytes needs:
// the restored data as the backup's engine estimates it (a physical
// chain's files; a dump's tables, which take more room than its SQL text)
// plus what the server adds.
func scratchNeed(p engine.DrillPlan, raw int64) int64 {
	return p.Data(raw) + scratchOverhead
}
