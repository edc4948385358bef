package cli

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
)

// preflightFlags are the options of `mybak preflight` beyond the connection.
func preflightFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "sample", Value: 5 * time.Second, Usage: "how long the redo generation rate is sampled"},
		&cli.DurationFlag{Name: "long-query", Value: 30 * time.Second, Usage: "statements running this long are reported as blocking the backup lock"},
		&cli.DurationFlag{Name: "min-redo-window", Value: time.Minute, Usage: "fail when the server fills its redo log faster than this (physical engines)"},
	}
}

func preflightCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "engine", Value: "auto", Usage: "engine to check for: " + strings.Join(mysqlEngines(), ", ")},
		&cli.StringFlag{Name: "storage", Aliases: []string{"s"}, Usage: "a local store directory whose free space is checked"},
		&cli.StringFlag{Name: "work-dir", Usage: "where the backup's temporary state (and spool) would go (default: $TMPDIR)"},
		&cli.StringFlag{Name: "target-dir", Usage: "a restore target whose free space is checked"},
		&cli.StringFlag{Name: "datadir", Usage: "a restore datadir whose free space is checked"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
	}
	flags = append(flags, preflightFlags()...)
	return &cli.Command{
		Name:      "preflight",
		Usage:     "check that a MySQL backup can run: engine, privileges, binlog/GTID, blocking queries, redo headroom, free space (exit 1 when a check fails)",
		ArgsUsage: " ",
		Flags:     append(flags, connFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("preflight takes no arguments")
			}
			name := c.String("engine")
			if !isMySQLEngine(name) {
				return usagef("--engine %q: use one of %s", name, strings.Join(mysqlEngines(), ", "))
			}
			conn, err := connFromFlags(c)
			if err != nil {
				return err
			}
			o := preflightOptions(c, conn, name)
			for _, d := range []struct{ flag, purpose string }{{"target-dir", "restore target"}, {"datadir", "restore datadir"}} {
				if p := c.String(d.flag); p != "" {
					o.Dirs = append(o.Dirs, backup.SpaceDir{Purpose: d.purpose, Path: p, Must: true})
				}
			}
			rep, err := backup.Preflight(c.Context, o)
			if !(e.quiet && err == nil) {
				printPreflight(e.stdout, rep, c.Bool("json"))
			}
			return err
		},
	}
}

// preflightOptions builds the checks' options from the command's flags
// (backup --preflight uses its own flags and the defaults of the rest).
func preflightOptions(c *cli.Context, conn mysql.Conn, engine string) backup.PreflightOptions {
	o := backup.PreflightOptions{Conn: conn, Engine: mysql.Engine(engine)}
	if c.IsSet("sample") || c.Command.Name == "preflight" {
		o.Sample, o.LongQuery, o.MinRedoWindow = c.Duration("sample"), c.Duration("long-query"), c.Duration("min-redo-window")
	}
	work := c.String("work-dir")
	if work == "" {
		work = os.TempDir()
	}
	o.Dirs = append(o.Dirs, backup.SpaceDir{Purpose: "temp state/spool", Path: work})
	if st := c.String("storage"); st != "" && !strings.Contains(st, "://") {
		o.Dirs = append(o.Dirs, backup.SpaceDir{Purpose: "local store", Path: st})
	} else if strings.HasPrefix(st, "file://") {
		o.Dirs = append(o.Dirs, backup.SpaceDir{Purpose: "local store", Path: strings.TrimPrefix(st, "file://")})
	}
	return o
}

// printPreflight writes the report to w: a table, or JSON.
func printPreflight(w io.Writer, rep *backup.PreflightReport, asJSON bool) {
	if rep == nil {
		return
	}
	if asJSON {
		check.WriteJSON(w, rep)
		return
	}
	check.Preflight.WriteText(w, rep.Checks)
}
