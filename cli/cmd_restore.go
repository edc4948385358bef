package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/urfave/cli/v2"
)

func restoreCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.BoolFlag{Name: "to-stdout", Usage: "write the backup's original bytes to standard output"},
		&cli.IntFlag{Name: "parallel", Usage: "pieces decoded at once (default: all cores)"},
		layoutFlag(),
	}
	return &cli.Command{
		Name:  "restore",
		Usage: "restore a backup: to standard output, into a directory (physical), or into a server (dump)",
		Description: "Three modes, one per restore:\n" +
			"  --to-stdout                 the backup's original bytes (any engine), to a file or a pipe\n" +
			"  --target-dir DIR            a physical backup and its chain, extracted and prepared in DIR;\n" +
			"                              with --copy-back or --move-back --datadir D, then put into a stopped server's datadir\n" +
			"  --to-mysql                  a dump, applied with the mysql/mariadb client to a running server",
		ArgsUsage: "ID|latest",
		Flags:     append(append(append(append(flags, keyFlags()...), authFlags()...), restoreMySQLFlags()...), restorePITRFlags()...),
		Action: func(c *cli.Context) error {
			target, pointInTime, err := targetFromFlags(c)
			if err != nil {
				return err
			}
			var ref string
			if !pointInTime {
				if ref, err = oneRef(c); err != nil {
					return err
				}
			}
			if err := oneMode("say where to restore, once", map[string]bool{"--to-stdout": c.Bool("to-stdout"),
				"--to-mysql": c.Bool("to-mysql"), "--target-dir": c.String("target-dir") != ""}); err != nil {
				return err
			}
			if err := checkScopes(c, e, restoreScopes()); err != nil {
				return err
			}
			if pointInTime {
				return restorePITR(c, e, target)
			}
			if !c.Bool("to-stdout") {
				return restoreMySQL(c, e, ref)
			}
			if isTerminal(e.stdout) {
				return usagef("standard output is a terminal: redirect it to a file or a pipe")
			}
			pass, err := loadKey(c, e)
			if err != nil {
				return err
			}
			r, err := openRepo(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			m, err := r.Resolve(c.Context, ref)
			if err != nil {
				return err
			}
			e.log.Info("restore started", "id", m.ID, "bytes", m.RawSize)
			p := newProgress(c.String("progress"), e.stderr, e.log, "restore", m.RawSize)
			ropts := readOptions(c, e, pass)
			ropts.Progress = p.Add
			_, err = restore.ToWriter(c.Context, r.Data(), m, e.stdout, ropts)
			p.Done()
			if err != nil {
				return err
			}
			e.log.Info("restore complete", "id", m.ID, "bytes", m.RawSize)
			return nil
		},
	}
}

// restoreMySQLFlags are restore's options for physical and logical restores.
func restoreMySQLFlags() []cli.Flag {
	return append(connFlags(),
		&cli.StringFlag{Name: "target-dir", Usage: "physical: extract and prepare the backup (and its chain) into this new or empty directory"},
		&cli.BoolFlag{Name: "copy-back", Usage: "physical: then copy the prepared files into --datadir"},
		&cli.BoolFlag{Name: "move-back", Usage: "physical: then move the prepared files into --datadir (consumes --target-dir)"},
		&cli.StringFlag{Name: "datadir", Usage: "physical: the server's (stopped) datadir for --copy-back / --move-back"},
		&cli.StringFlag{Name: "owner", Usage: "physical: user that owns the restored datadir (default: mysql when run as root)"},
		&cli.StringFlag{Name: "use-memory", Usage: "physical: the tool's --use-memory for prepare, e.g. 1G"},
		&cli.BoolFlag{Name: "to-mysql", Usage: "logical: apply the dump with the mysql/mariadb client (connection options as for backup)"},
		&cli.BoolFlag{Name: "force", Usage: "replace a non-empty --target-dir / --datadir (its old contents are moved aside to DIR.mybak-old-<time>), or apply a dump into a server that holds databases"},
		&cli.BoolFlag{Name: "remove-old", Usage: "physical, with --force: delete the old contents of --target-dir / --datadir instead of moving them aside"},
		&cli.StringSliceFlag{Name: "include", Usage: "--to-mysql of a logical engine backup: restore only these tables (db or db.table, wildcards * and ?); an existing one is refused without --force"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "--to-mysql of a logical engine backup: leave out these tables (db or db.table, wildcards)"},
		&cli.BoolFlag{Name: "resume", Usage: "--to-mysql of a logical engine backup: continue a restore that stopped (chunks already committed are skipped)"},
		&cli.BoolFlag{Name: "defer-indexes", Usage: "--to-mysql of a logical engine backup: add secondary indexes after the data"},
		&cli.BoolFlag{Name: "no-binlog", Usage: "--to-mysql: apply the dump (and, with a recovery target, the binary logs) with sql_log_bin=0: nothing is written to the server's binary log, its GTID position stays and its replicas do not get the restore (needs SUPER or BINLOG ADMIN)"},
		&cli.BoolFlag{Name: "users", Usage: "--to-mysql of a logical engine backup taken with --users: restore its accounts, roles and grants also with --include/--exclude (a whole restore does anyway)"},
	)
}

// restoreMySQL is restore without --to-stdout: into files (--target-dir /
// --datadir) or into a server (--to-mysql), by the backup's engine, which
// refuses the kind of target it does not restore into.
func restoreMySQL(c *cli.Context, e *env, ref string) error {
	physical := c.String("target-dir") != "" || c.Bool("copy-back") || c.Bool("move-back")
	switch {
	case physical && c.Bool("to-mysql"):
		return usagef("--to-mysql restores a logical backup; --target-dir / --copy-back / --move-back a physical one: pick one")
	case !physical && !c.Bool("to-mysql"):
		return usagef("say where to restore: --to-stdout, --target-dir DIR [--copy-back|--move-back --datadir DIR] (physical) or --to-mysql (logical)")
	case c.Bool("copy-back") && c.Bool("move-back"):
		return usagef("--copy-back and --move-back exclude each other")
	case (c.Bool("copy-back") || c.Bool("move-back")) && c.String("datadir") == "":
		return usagef("--copy-back / --move-back need --datadir DIR")
	case c.String("datadir") != "" && !c.Bool("copy-back") && !c.Bool("move-back"):
		return usagef("--datadir needs --copy-back or --move-back")
	case c.Bool("resume") && c.Bool("force"):
		return usagef("--resume continues a stopped restore, --force starts over by dropping what exists: give one of them")
	case c.Bool("remove-old") && (!c.Bool("force") || !physical):
		return usagef("--remove-old goes with --force, for a physical restore (--target-dir / --copy-back / --move-back)")
	}
	pass, err := loadKey(c, e)
	if err != nil {
		return err
	}
	var conn mysql.Conn
	if c.Bool("to-mysql") {
		if conn, err = connFromFlags(c); err != nil {
			return err
		}
	}
	st, err := openStore(c.Context, c)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := openRepoOn(c, e, st)
	if err != nil {
		return err
	}
	// From here on st reads the backup's objects in its layout (for
	// Trove, segment by segment).
	st = r.Data()
	m, err := r.Resolve(c.Context, ref)
	if err != nil {
		return err
	}
	p := newProgress(c.String("progress"), e.stderr, e.log, "restore", -1)
	defer p.Done()
	opts := readOptions(c, e, pass)
	opts.Progress = p.Add
	opts.Status = p.Report // an engine's own units and total (the logical engine's chunks)
	eng, err := engine.For(m)
	if err != nil {
		return err
	}
	if c.Bool("to-mysql") {
		logf, err := os.CreateTemp("", "mybak-restore-"+m.ID+"-*.log")
		if err != nil {
			return fmt.Errorf("create the client's log file: %w", err)
		}
		logf.Close()
		e.log.Info("restore started", "id", m.ID, "engine", m.Engine.Name, "to", conn.String())
		err = eng.Restore(c.Context, st, []*backup.Manifest{m}, engine.Target{Server: &restore.LogicalOptions{Options: opts,
			Conn: conn, Force: c.Bool("force"), LogPath: logf.Name(), Log: e.log,
			Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"), Resume: c.Bool("resume"),
			DeferIndexes: c.Bool("defer-indexes"), Users: c.Bool("users"), NoBinlog: c.Bool("no-binlog")}})
		if err != nil {
			if fi, serr := os.Stat(logf.Name()); serr == nil && fi.Size() > 0 {
				e.log.Warn("the SQL client's full log is kept", "file", logf.Name())
			} else {
				os.Remove(logf.Name())
			}
			return err
		}
		os.Remove(logf.Name())
		e.log.Info("restore complete", "id", m.ID)
		return nil
	}
	chain, err := r.Chain(c.Context, m)
	if err != nil {
		return err
	}
	ids := make([]string, len(chain))
	for i, cm := range chain {
		ids[i] = cm.ID
	}
	e.log.Info("restore started", "id", m.ID, "chain", strings.Join(ids, " -> "))
	err = eng.Restore(c.Context, st, chain, engine.Target{Files: &restore.PhysicalOptions{Options: opts,
		TargetDir: c.String("target-dir"), Datadir: c.String("datadir"), MoveBack: c.Bool("move-back"),
		Owner: c.String("owner"), Force: c.Bool("force"), RemoveOld: c.Bool("remove-old"), UseMemory: c.String("use-memory"), Log: e.log}})
	if err != nil {
		return err
	}
	e.log.Info("restore complete", "id", m.ID, "target_dir", c.String("target-dir"), "datadir", c.String("datadir"))
	return nil
}
