package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/pitr"
	"github.com/mybak/mybak/repo"
)

// restorePITR is `restore [ID] --until ... | --until-gtid ... | ...`: the
// plan (which backup, which binary log range) is made and checked before
// anything is written; then the backup's chain is restored as without a
// target; then, into a running server (--to-mysql), the archive is
// replayed to the target. A physical restore leaves a stopped datadir:
// the exact `mybak binlog replay` that finishes the job, once the server
// runs on it, is printed (its --until-gtid pins the planned range).
func restorePITR(c *cli.Context, e *env, t pitr.Target) error {
	if c.Bool("to-stdout") {
		return usagef("a recovery target (--until, --until-gtid, ...) restores into a server: give --to-mysql, or --target-dir with --copy-back --datadir")
	}
	if c.NArg() > 1 {
		return usagef("restore takes one backup ID (or latest), or none with a recovery target (the newest backup that reaches it)")
	}
	ref := c.Args().First()
	if ref == "latest" {
		ref = ""
	}
	pass, r, err := openArchive(c, e)
	if err != nil {
		return err
	}
	defer r.Store().Close()
	st := r.Archive()
	rp, err := pitr.PlanRestore(c.Context, st, r, ref, t, pass)
	if err != nil {
		return fmt.Errorf("point-in-time restore: nothing was restored: %w", err)
	}
	logPITRPlan(e, rp)
	noBinlog := c.Bool("no-binlog")
	if c.Bool("to-mysql") {
		if err := checkLoadTarget(c, e, rp.Plan, noBinlog); err != nil {
			return err
		}
	}
	if err := restoreMySQL(c, e, rp.Backup.ID); err != nil {
		return err
	}
	if rp.Plan.Txns == 0 {
		e.log.Info("point-in-time restore: the backup is the target; nothing to replay", "backup", rp.Backup.ID)
		return nil
	}
	physical := !c.Bool("to-mysql")
	if physical && c.String("start-cmd") != "" {
		// The datadir is ready: the server is started on it, and the
		// archive replayed into it, as make-replica does.
		conn, err := connFromFlags(c)
		if err != nil {
			return err
		}
		if err := startAndWait(c.Context, e, c.String("start-cmd"), c.String("datadir"), conn, c.Duration("start-timeout")); err != nil {
			return fmt.Errorf("point-in-time restore: the datadir holds backup %s; %w", rp.Backup.ID, err)
		}
		physical = false
	}
	if physical {
		cmd := []string{"mybak binlog replay", "--storage", shellQuote(c.String("storage")), "--backup", rp.Backup.ID,
			"--until-gtid", rp.Plan.Last.GTID}
		if c.String("encrypt-key-file") != "" {
			cmd = append(cmd, "--encrypt-key-file", shellQuote(c.String("encrypt-key-file")))
		}
		e.log.Warn("point-in-time restore: the datadir holds the backup; start the server on it, then roll it forward with:",
			"command", strings.Join(cmd, " ")+" [connection options]", "transactions", rp.Plan.Txns)
		if !e.quiet {
			fmt.Fprintln(e.stdout, strings.Join(cmd, " "))
		}
		return nil
	}
	conn, err := connFromFlags(c)
	if err != nil {
		return err
	}
	if err := pitr.Replay(c.Context, pitr.ReplayOptions{Store: st, Pass: pass, Plan: rp.Plan, Target: conn, NoBinlog: noBinlog, Log: e.log}); err != nil {
		return fmt.Errorf("point-in-time restore: the backup %s is restored, the replay failed: %w", rp.Backup.ID, err)
	}
	e.log.Info("point-in-time restore complete", "backup", rp.Backup.ID, "transactions", rp.Plan.Txns, "gtid", rp.Plan.To.String())
	return nil
}

// checkLoadTarget: the load and the replay of a logical point-in-time
// restore go into the --to-mysql server; its binary log is read, and a
// conflict with the replayed GTIDs (pitr.Plan.CheckTarget) refused,
// before the load writes anything.
func checkLoadTarget(c *cli.Context, e *env, plan *pitr.Plan, noBinlog bool) error {
	conn, err := connFromFlags(c)
	if err != nil {
		return err
	}
	sb, err := pitr.ReadServerBinlog(c.Context, conn)
	if err != nil {
		return fmt.Errorf("point-in-time restore: nothing was restored: %w", err)
	}
	if err := plan.CheckTarget(sb, pitr.TargetOptions{LoadBinlogged: !noBinlog, NoBinlog: noBinlog}); err != nil {
		return fmt.Errorf("point-in-time restore: nothing was restored: %w", err)
	}
	if noBinlog {
		e.log.Info("point-in-time restore: the load and the replay are not binlogged on the target (--no-binlog): its replicas do not get them", "target", conn.String())
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// startAndWait runs the command that starts the restored server (with
// /bin/sh -c, MYBAK_DATADIR set), then waits until conn answers.
func startAndWait(ctx context.Context, e *env, cmd, datadir string, conn mysql.Conn, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	e.log.Info("point-in-time restore: starting the server", "cmd", cmd)
	if _, err := mysql.Run(ctx, &mysql.Command{Path: "/bin/sh", Args: []string{"-c", cmd}, Env: []string{"MYBAK_DATADIR=" + datadir}}); err != nil {
		return fmt.Errorf("start the server with --start-cmd: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		db, err := mysql.Open(cctx, conn)
		cancel()
		if err == nil {
			db.Close()
			return nil
		}
		if errors.Is(err, mysql.ErrAccessDenied) || time.Now().After(deadline) {
			return fmt.Errorf("the started server did not answer (within --start-timeout %s): %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// restorePITRFlags are restore's point-in-time options: the recovery
// target, and how to start a physically restored server to roll it
// forward.
func restorePITRFlags() []cli.Flag {
	return append(targetFlags(),
		&cli.StringFlag{Name: "start-cmd", Usage: "with a recovery target, physical: shell command that starts the server on the restored datadir (gets MYBAK_DATADIR), e.g. 'systemctl start mariadb'; mybak then replays the binary logs into it through the connection options; without it mybak prints the binlog replay command"},
		&cli.DurationFlag{Name: "start-timeout", Value: 10 * time.Minute, Usage: "how long to wait for the server --start-cmd started to answer"},
	)
}

// hasTarget reports whether a recovery target is given.
func hasTarget(c *cli.Context) bool {
	for _, f := range []string{"until", "until-gtid", "before-gtid", "until-position", "before-statement"} {
		if c.String(f) != "" {
			return true
		}
	}
	return false
}

// drillRollForward is verify --drill with a recovery target: the plan is
// made first (the drill does not start when the archive cannot reach the
// target), the drill restores the planned backup, and its replay step
// applies the plan to the scratch server. Without a target it returns
// nil and ref unchanged.
func drillRollForward(c *cli.Context, e *env, rp repo.Repository, ref string, pass []byte) (func(context.Context, mysql.Conn) (string, error), string, error) {
	t, ok, err := targetFromFlags(c)
	if err != nil || !ok {
		return nil, ref, err
	}
	r, err := repo.ForPointInTime(rp)
	if err != nil {
		return nil, "", asUsage(err)
	}
	st := r.Archive()
	if ref == "latest" {
		ref = ""
	}
	plan, err := pitr.PlanRestore(c.Context, st, r, ref, t, pass)
	if err != nil {
		return nil, "", fmt.Errorf("drill to a point in time: %w", err)
	}
	logPITRPlan(e, plan)
	return func(ctx context.Context, conn mysql.Conn) (string, error) {
		if err := pitr.Replay(ctx, pitr.ReplayOptions{Store: st, Pass: pass, Plan: plan.Plan, Target: conn, Log: e.log}); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d transactions to %s (%s)", plan.Plan.Txns, plan.Plan.To.String(), t), nil
	}, plan.Backup.ID, nil
}
