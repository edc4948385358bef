package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/spool"
)

// backupSpoolFlags are the backup command's flags for spooling.
func backupSpoolFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "spool-dir", Usage: "write the encoded stream to segment files in `DIR` first (at the engine's speed) and upload them from there; a killed or failed upload can then be finished with mybak resume (Swift stores only; needs free space for the backup)"},
		&cli.StringFlag{Name: "resume", Usage: "finish the spooled backup `ID` (in --spool-dir) instead of taking a new one: the same as mybak resume ID"},
	}
}

// spoolOptions returns the backup's spool options from --spool-dir, or
// nil. sizeHint is the expected size of the stream (-1: unknown).
func spoolOptions(c *cli.Context, st storage.Backend, sizeHint int64) (*backup.SpoolOptions, error) {
	dir := c.String("spool-dir")
	if dir == "" {
		return nil, nil
	}
	if _, ok := storage.As[spool.Store](st); !ok {
		return nil, usagef("--spool-dir works with swift:// stores only: %s is written at disk speed already (drop --spool-dir)", st.Location())
	}
	so := &backup.SpoolOptions{Dir: dir}
	if sizeHint > 0 {
		so.Spool.SizeHint = sizeHint
	}
	return so, nil
}

func resumeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "resume",
		Usage: "finish a spooled backup that was killed or whose upload failed (or give it up with --discard)",
		Description: "A backup taken with --spool-dir keeps its encoded stream in DIR/ID until its manifest is\n" +
			"written. resume uploads the segments the store lacks (those it holds with the right MD5 are\n" +
			"skipped), commits the data object, writes the manifest and removes the spool files. A backup\n" +
			"killed before its stream was complete cannot be resumed: --discard removes its spool files\n" +
			"and what it stored.",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			storageFlag(),
			&cli.StringFlag{Name: "spool-dir", Usage: "the --spool-dir the backup was taken with (required)"},
			&cli.BoolFlag{Name: "discard", Usage: "give the backup up: remove its spool files and its stored parts and objects"},
			keyFlags()[0],
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("resume needs one backup ID")
			}
			return resumeBackup(c, e, c.Args().First())
		},
	}
}

// resumeBackup finishes (or, with --discard, gives up) the spooled backup
// id: the action of `resume ID` and of `backup --resume ID`.
func resumeBackup(c *cli.Context, e *env, id string) error {
	if err := backup.ValidateID(id); err != nil {
		return usageError{err}
	}
	dir := c.String("spool-dir")
	if dir == "" {
		return usagef("give the --spool-dir the backup %s was taken with", id)
	}
	st, err := openStore(c.Context, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, ok := storage.As[spool.Store](st); !ok {
		return usagef("--storage %s: spooled backups go to swift:// stores only", st.Location())
	}
	if c.Command.Name == "resume" && c.Bool("discard") {
		if err := backup.Discard(c.Context, st, dir, id); err != nil {
			return err
		}
		e.log.Info("backup discarded: spool files and stored leftovers removed", "id", id)
		return nil
	}
	e.log.Info("resuming backup", "id", id, "spool_dir", dir, "storage", st.Location())
	// The key seals the manifest of an encrypted backup (and must be the
	// one the backup was taken with: the pending manifest's MAC says).
	pass, err := loadKey(c, e)
	if err != nil {
		return err
	}
	m, stats, err := backup.Resume(c.Context, st, dir, id, spool.Options{Log: e.log}, pass)
	if err != nil {
		return err
	}
	e.log.Info("backup complete", "id", m.ID, "parts", stats.Parts, "uploaded", stats.Uploaded,
		"already_stored", stats.Skipped, "uploaded_bytes", stats.Bytes, "stored_bytes", m.StoredSize)
	if !e.quiet {
		fmt.Fprintln(e.stdout, m.ID)
	}
	return nil
}
