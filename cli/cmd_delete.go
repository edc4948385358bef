package cli

import (
	"fmt"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/urfave/cli/v2"
)

func deleteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Aliases:   []string{"rm"},
		Usage:     "delete backups (and, with --cascade, the incrementals that depend on them)",
		ArgsUsage: "ID|latest [ID...]",
		Description: "Every ID is looked up first: when one is missing, or when a backup that is not named\n" +
			"depends on one that is (and --cascade is not given), nothing is deleted.",
		Flags: []cli.Flag{
			storageFlag(),
			&cli.BoolFlag{Name: "cascade", Usage: "also delete the backups that depend on these"},
			layoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("delete needs at least one backup ID (or latest)")
			}
			refs := c.Args().Slice()
			for _, ref := range refs {
				if err := validateRef(c, ref); err != nil {
					return err
				}
			}
			r, err := openRepo(c, e)
			if err != nil {
				return err
			}
			st := r.Store()
			defer st.Close()
			entries, err := r.Entries(c.Context)
			if err != nil {
				return err
			}
			ids, err := backup.ResolveIDs(entries, refs, c.Bool("cascade"), r.Layout(), r.Location())
			if err != nil {
				return err
			}
			byID := entryMap(entries)
			for _, id := range ids {
				if byID[id].State == backup.StateIncomplete {
					why, err := backup.WriterAlive(c.Context, st, byID[id], time.Now())
					if err == nil && why != "" {
						return fmt.Errorf("backup %s is being written (%s); nothing deleted: wait for it to finish, or stop it first", id, why)
					}
				}
			}
			// The repository logs what it deletes.
			_, err = r.Delete(c.Context, entries, ids, c.Bool("cascade"))
			return err
		},
	}
}
