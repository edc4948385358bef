package cli

import (
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/verify"
	"github.com/urfave/cli/v2"
)

func verifyCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.BoolFlag{Name: "deep", Usage: "also decrypt, decompress and hash the whole stream, and check its content (xbstream chunk CRCs, dump trailer)"},
		&cli.BoolFlag{Name: "list", Usage: "with --deep: list the files of a physical backup (path, size)"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		&cli.IntFlag{Name: "parallel", Usage: "pieces decoded at once with --deep (default: all cores)"},
		&cli.BoolFlag{Name: "pitr", Usage: "check the binary log archive instead of a backup (as mybak binlog verify): every piece's hash, no gap from the oldest backup to the newest event; with --deep every event and the GTIDs"},
		layoutFlag(),
	}
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a backup without restoring it, or with --drill by restoring it into a throwaway server (exit 3 when damaged)",
		ArgsUsage: "ID|latest",
		Flags:     append(append(append(append(flags, keyFlags()...), authFlags()...), drillFlags()...), targetFlags()...),
		Action: func(c *cli.Context) error {
			if c.Bool("pitr") {
				if c.NArg() > 0 || c.Bool("drill") || c.Bool("list") {
					return usagef("verify --pitr checks the binary log archive: no backup ID, --drill or --list")
				}
				return runBinlogVerify(c, e)
			}
			ref, err := oneRef(c)
			if err != nil {
				return err
			}
			if c.Bool("list") && !c.Bool("deep") && !c.Bool("drill") {
				return usagef("--list needs --deep: the files are read from the decoded stream")
			}
			if err := checkScopes(c, e, verifyScopes()); err != nil {
				return err
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
			if c.Bool("drill") {
				return runDrill(c, e, ref, r, pass)
			}
			rep, err := verify.Run(c.Context, r.Data(), ref, verify.Options{
				Catalogue: r,
				Deep:      c.Bool("deep"),
				List:      c.Bool("list"),
				Options:   readOptions(c, e, pass),
			})
			if rep != nil && len(rep.Checks) > 0 && !(e.quiet && err == nil) {
				if c.Bool("json") {
					check.WriteJSON(e.stdout, rep)
				} else {
					check.Verify.WriteText(e.stdout, rep.Checks)
					printFiles(e, rep, c.Bool("list"))
				}
			}
			if err == nil {
				e.log.Info("backup verified", "id", rep.ID, "deep", rep.Deep, "seconds", rep.Duration.Seconds())
			}
			if rep != nil {
				if rep.Deep {
					e.run.Command = "verify-deep"
				}
				e.run.Values = map[string]float64{"damaged": map[bool]float64{true: 0, false: 1}[rep.OK]}
			}
			return err
		},
	}
}
