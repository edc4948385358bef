package cli

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/storage"

	// Trove's layout registers itself (repo.Register, backup.RegisterLayout).
	_ "github.com/mybak/mybak/trove"
)

// layoutFlag selects how backups are laid out in the store (a layout
// registered in package repo).
func layoutFlag() cli.Flag {
	return &cli.StringFlag{Name: "layout", Value: "mybak",
		Usage: "mybak, or trove: backups as OpenStack Trove keeps them in Swift (<id>.xbstream.gz.enc or <id>.gz.enc, segments <id>_NNNNNNNN beside them)"}
}

// layoutKind returns the layout --layout selects.
func layoutKind(c *cli.Context) (*repo.Kind, error) {
	k, err := repo.Lookup(c.String("layout"))
	return k, asUsage(err)
}

// asUsage returns err as a usage error when a repository said it is one
// (repo.UsageError), else unchanged.
func asUsage(err error) error {
	var ue repo.UsageError
	if errors.As(err, &ue) {
		return usageError{err}
	}
	return err
}

// openRepo opens --storage as a repository in the layout --layout selects:
// the one place commands open their backups. The caller closes
// r.Store().
func openRepo(c *cli.Context, e *env) (repo.Repository, error) {
	k, err := layoutKind(c)
	if err != nil {
		return nil, err
	}
	st, err := openStore(c.Context, c)
	if err != nil {
		return nil, err
	}
	r, err := k.Open(st, e.log)
	if err != nil {
		st.Close()
		return nil, asUsage(err)
	}
	return r, nil
}

// openRepoOn opens st, already open, as a repository in the layout
// --layout selects. The caller still closes st.
func openRepoOn(c *cli.Context, e *env, st storage.Backend) (repo.Repository, error) {
	k, err := layoutKind(c)
	if err != nil {
		return nil, err
	}
	r, err := k.Open(st, e.log)
	return r, asUsage(err)
}

// validateRef checks that ref is "latest" or a backup ID of the layout
// --layout selects.
func validateRef(c *cli.Context, ref string) error {
	k, err := layoutKind(c)
	if err != nil {
		return err
	}
	if ref == "latest" {
		return nil
	}
	if err := k.Layout.ValidateID(ref); err != nil {
		return usageError{err}
	}
	return nil
}
