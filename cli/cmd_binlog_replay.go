package cli

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/pitr"
)

// targetFlags are the recovery targets of point-in-time recovery.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "until", Usage: "replay the transactions that started at or before this time (RFC 3339, or '2006-01-02 15:04:05' in UTC)"},
		&cli.StringFlag{Name: "until-gtid", Usage: "replay up to and including this GTID (0-1-42, or uuid:42 on MySQL)"},
		&cli.StringFlag{Name: "before-gtid", Usage: "replay up to the transaction before this GTID"},
		&cli.StringFlag{Name: "until-position", Usage: "FILE:POS: replay the transactions of FILE that end at or before POS, and all before them"},
		&cli.StringFlag{Name: "before-statement", Usage: "a regular expression: stop before the first transaction after the backup with a matching statement (e.g. '(?i)^DROP TABLE')"},
	}
}

// targetFromFlags reads the one recovery target given (ok false: none).
func targetFromFlags(c *cli.Context) (t pitr.Target, ok bool, err error) {
	n := 0
	for _, f := range []string{"until", "until-gtid", "before-gtid", "until-position", "before-statement"} {
		if c.String(f) != "" {
			n++
		}
	}
	if n == 0 {
		return t, false, nil
	}
	if n > 1 {
		return t, false, usagef("give one recovery target: --until, --until-gtid, --before-gtid, --until-position or --before-statement")
	}
	if t.Until, err = parseWhen(c, "until"); err != nil {
		return t, false, err
	}
	for _, f := range []struct {
		name string
		to   **binlog.GTID
	}{{"until-gtid", &t.UntilGTID}, {"before-gtid", &t.BeforeGTID}} {
		if s := c.String(f.name); s != "" {
			g, err := binlog.ParseGTID(s)
			if err != nil {
				return t, false, usagef("--%s: %w", f.name, err)
			}
			*f.to = &g
		}
	}
	if s := c.String("until-position"); s != "" {
		file, pos, found := strings.Cut(s, ":")
		p, perr := strconv.ParseInt(pos, 10, 64)
		if !found || file == "" || perr != nil || p < 4 {
			return t, false, usagef("--until-position %q: want FILE:POSITION, e.g. mysql-bin.000042:1234", s)
		}
		t.UntilFile, t.UntilPos = file, p
	}
	if s := c.String("before-statement"); s != "" {
		if t.BeforeStatement, err = regexp.Compile(s); err != nil {
			return t, false, usagef("--before-statement: %w", err)
		}
	}
	return t, true, nil
}

// planJSON is what `binlog replay --dry-run --json` prints.
type planJSON struct {
	Backup       string       `json:"backup"`
	BackupGTID   string       `json:"backup_gtid"`
	Target       string       `json:"target"`
	Transactions int          `json:"transactions"`
	First        *pitr.TxnRef `json:"first,omitempty"`
	Last         *pitr.TxnRef `json:"last,omitempty"`
	StopBefore   *pitr.TxnRef `json:"stop_before,omitempty"`
	EndGTID      string       `json:"end_gtid"`
}

func binlogReplayCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.StringFlag{Name: "backup", Usage: "the backup the server was restored from (ID or latest; default: the newest backup from which the archive reaches the target)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the plan (backup, binary log range, transactions) and apply nothing"},
		&cli.BoolFlag{Name: "json", Usage: "with --dry-run, print the plan as JSON"},
	}
	flags = append(append(append(flags, targetFlags()...), keyFlags()...), connFlags()...)
	return &cli.Command{
		Name:      "replay",
		Usage:     "apply the archived binary logs from a backup's position to a target, onto a running server restored from that backup",
		ArgsUsage: " ",
		Description: "The plan (which backup, which range, how many transactions) is made and checked first:\n" +
			"a gap, a target older than the backup or past the archive's end is an error before anything\n" +
			"is applied. The transactions go through mariadb-binlog (mysqlbinlog) into the mariadb (mysql)\n" +
			"client, as children.\n\n" +
			"EXAMPLES:\n" +
			"   mybak binlog replay --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --backup 20261203T010000Z-1a2b3c --before-statement '(?i)^DROP TABLE' --dry-run\n" +
			"   mybak binlog replay --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --backup 20261203T010000Z-1a2b3c --until '2026-12-03 09:30:00' --host db2 --user root --password-file /root/.pw",
		Flags: flags,
		Action: func(c *cli.Context) error {
			t, ok, err := targetFromFlags(c)
			if err != nil {
				return err
			}
			if !ok {
				return usagef("binlog replay needs a target: --until, --until-gtid, --before-gtid, --until-position or --before-statement")
			}
			if c.Bool("json") && !c.Bool("dry-run") {
				return usagef("--json applies to --dry-run only")
			}
			pass, r, err := openArchive(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			st := r.Archive()
			rp, err := pitr.PlanRestore(c.Context, st, r, c.String("backup"), t, pass)
			if err != nil {
				return err
			}
			logPITRPlan(e, rp)
			if c.Bool("dry-run") {
				return printPITRPlan(e, rp, c.Bool("json"))
			}
			conn, err := connFromFlags(c)
			if err != nil {
				return err
			}
			if err := pitr.Replay(c.Context, pitr.ReplayOptions{Store: st, Pass: pass, Plan: rp.Plan, Target: conn, Log: e.log}); err != nil {
				return err
			}
			e.log.Info("replay complete", "transactions", rp.Plan.Txns, "gtid", rp.Plan.To.String())
			return nil
		},
	}
}

// logPITRPlan says which backup, which binary log range, how many
// transactions.
func logPITRPlan(e *env, rp *pitr.RestorePlan) {
	p := rp.Plan
	args := []any{"backup", rp.Backup.ID, "backup_gtid", p.From.String(), "target", p.Target.String(), "transactions", p.Txns}
	if p.First != nil {
		args = append(args, "from", fmt.Sprintf("%s %s:%d (%s)", p.First.Server, p.First.File, p.First.Start, p.First.GTID),
			"to", fmt.Sprintf("%s %s:%d (%s)", p.Last.Server, p.Last.File, p.Last.End, p.Last.GTID))
	}
	if p.Stop != nil {
		args = append(args, "stops_before", fmt.Sprintf("%s at %s %s:%d: %s", p.Stop.GTID, p.Stop.Time.UTC().Format(time.RFC3339),
			p.Stop.File, p.Stop.Start, printable(p.Stop.Statement)))
	}
	e.log.Info("point-in-time plan", args...)
}

func printPITRPlan(e *env, rp *pitr.RestorePlan, asJSON bool) error {
	p := rp.Plan
	v := planJSON{Backup: rp.Backup.ID, BackupGTID: p.From.String(), Target: p.Target.String(), Transactions: p.Txns,
		First: p.First, Last: p.Last, StopBefore: p.Stop, EndGTID: p.To.String()}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(e.stdout, "backup        %s (GTID %s)\n", v.Backup, printable(v.BackupGTID))
	fmt.Fprintf(e.stdout, "target        %s\n", printable(v.Target))
	fmt.Fprintf(e.stdout, "transactions  %d\n", v.Transactions)
	if v.First != nil {
		fmt.Fprintf(e.stdout, "first         %s %s %s:%d\n", v.First.GTID, printable(v.First.Server), printable(v.First.File), v.First.Start)
		fmt.Fprintf(e.stdout, "last          %s %s %s:%d %s\n", v.Last.GTID, printable(v.Last.Server), printable(v.Last.File), v.Last.End,
			v.Last.Time.UTC().Format(time.RFC3339))
	}
	if v.StopBefore != nil {
		fmt.Fprintf(e.stdout, "stops before  %s %s %s\n", v.StopBefore.GTID, v.StopBefore.Time.UTC().Format(time.RFC3339), printable(v.StopBefore.Statement))
	}
	fmt.Fprintf(e.stdout, "GTID after    %s\n", printable(v.EndGTID))
	return nil
}
