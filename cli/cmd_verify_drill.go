package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/drill"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/repo"
)

// drillFlags are verify's options for --drill.
func drillFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "drill", Usage: "restore drill: restore the backup (and its chain) into a scratch dir, start a throwaway server on 127.0.0.1, CHECK TABLE every table and compare row counts with those recorded at backup time (exit 3 when it fails)"},
		&cli.BoolFlag{Name: "keep", Usage: "with --drill: leave the scratch server running and its dir in place (prints how to connect and stop it)"},
		&cli.StringFlag{Name: "scratch-dir", Usage: "with --drill: where the scratch dir is made (default: $TMPDIR); needs room for the restored data"},
		&cli.StringFlag{Name: "mysqld", Usage: "with --drill: the server binary to start (default: mariadbd or mysqld on PATH; its major.minor must match a physical backup's server)"},
		&cli.DurationFlag{Name: "start-timeout", Value: 5 * time.Minute, Usage: "with --drill: how long the scratch server may take to start"},
		&cli.StringFlag{Name: "use-memory", Usage: "with --drill: the tool's --use-memory for prepare, e.g. 1G"},
	}
}

// runDrill is verify --drill.
func runDrill(c *cli.Context, e *env, ref string, r repo.Repository, pass []byte) error {
	if c.Bool("list") {
		return usagef("--list does not go with --drill (use verify --deep --list)")
	}
	e.run.Command = "verify-drill"
	var rollForward func(context.Context, mysql.Conn) (string, error)
	if hasTarget(c) {
		var err error
		if rollForward, ref, err = drillRollForward(c, e, r, ref, pass); err != nil {
			return err
		}
	}
	rep, err := drill.Run(c.Context, r.Data(), ref, drill.Options{
		RollForward:  rollForward,
		Options:      readOptions(c, e, pass),
		Catalogue:    r,
		Deep:         c.Bool("deep"),
		ScratchDir:   c.String("scratch-dir"),
		ServerBinary: c.String("mysqld"),
		StartTimeout: c.Duration("start-timeout"),
		UseMemory:    c.String("use-memory"),
		Keep:         c.Bool("keep"),
		Log:          e.log,
	})
	if rep != nil {
		e.run.Engine = rep.Engine
		e.run.Values = map[string]float64{
			"damaged":                 map[bool]float64{true: 0, false: 1}[rep.OK],
			"drill_restore_seconds":   rep.Seconds("restore") + rep.Seconds("initialise datadir") + rep.Seconds("apply dump"),
			"drill_check_seconds":     rep.Seconds("check tables"),
			"drill_tables_checked":    float64(len(rep.Tables)),
			"drill_tables_failed":     float64(rep.Failed()),
			"drill_restored_bytes":    float64(rep.DatadirBytes),
			"drill_backup_raw_bytes":  float64(rep.RawBytes),
			"drill_row_counts_exact":  0,
			"drill_row_counts_absent": 1,
		}
		if rep.RowCounts != nil && rep.RowCounts.Error == "" {
			e.run.Values["drill_row_counts_absent"] = 0
			if rep.RowCounts.Exact {
				e.run.Values["drill_row_counts_exact"] = 1
			}
		}
		if e.quiet && err == nil {
			// Nothing to say: the drill passed.
		} else if c.Bool("json") {
			check.WriteJSON(e.stdout, rep)
		} else {
			printDrill(e, rep)
		}
	}
	if err == nil {
		e.log.Info("restore drill passed", "id", rep.ID, "seconds", rep.Duration.Seconds())
	}
	return err
}

// printDrill writes the human report: the steps, then one line per table.
func printDrill(e *env, rep *drill.Report) {
	w := e.stdout
	fmt.Fprintf(w, "restore drill of %s", printable(rep.ID))
	if len(rep.Chain) > 1 {
		fmt.Fprintf(w, " (chain %s)", printableText(strings.Join(rep.Chain, " -> ")))
	}
	if rep.Engine != "" {
		fmt.Fprintf(w, ", %s %s backup of %s", rep.Kind, printable(rep.Engine), dash(printable(rep.BackupServer)))
	}
	fmt.Fprintln(w)
	check.Drill.WriteText(w, rep.Steps)
	if len(rep.Tables) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tCHECK\tROWS\tRECORDED\tRESULT\tDETAIL")
		system := 0
		for _, t := range rep.Tables {
			if mysql.SystemSchemas[strings.ToLower(t.Schema)] && t.Result == check.OK {
				system++ // listed in --json; only their failures here
				continue
			}
			fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\t%s\t%s\n", printable(t.Schema), printable(t.Table), dash(oneLine(t.Check)), count(t.Rows), count(t.Recorded),
				strings.ToUpper(string(t.Result)), oneLine(t.Detail))
		}
		tw.Flush()
		if system > 0 {
			fmt.Fprintf(w, "(and %d tables of the system schemas, all OK)\n", system)
		}
	}
	fmt.Fprintln(w)
	verdict := "PASSED"
	if !rep.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s in %s: backup %s stored, %s raw, %s restored\n", verdict, rep.Duration.Round(time.Millisecond),
		units.Bytes(rep.StoredBytes), units.Bytes(rep.RawBytes), units.Bytes(rep.DatadirBytes))
	if k := rep.Kept; k != nil {
		fmt.Fprintf(w, "\nThe scratch server is still running (--keep), pid %d, datadir %s.\n  connect: %s\n  stop:    %s\n",
			k.PID, k.Datadir, k.Connect, k.Stop)
	}
}

func count(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

// oneLine is printableText: s on one line, escaped.
func oneLine(s string) string { return printableText(s) }
