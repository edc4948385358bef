package cli

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/storage"
	// The stores mybak offers register their URL schemes (storage.Open).
	// A new store is a package under storage/ and one line here.
	_ "github.com/mybak/mybak/storage/local"
	_ "github.com/mybak/mybak/storage/swift"
)

// storeForms lists the --storage forms, for help and errors.
const storeForms = "a directory, file:///path or swift://container[/prefix]"

func storageFlag() cli.Flag {
	return &cli.StringFlag{Name: "storage", Aliases: []string{"s"},
		Usage: "where backups live: " + storeForms}
}

// openStore opens the backend that a --storage value names, through the
// registry of stores (storage.Open); the store reads its own flags from c.
func openStore(ctx context.Context, c *cli.Context) (storage.Backend, error) {
	loc := c.String("storage")
	if loc == "" {
		return nil, usagef("--storage is required (%s; or MYBAK_STORAGE)", storeForms)
	}
	b, err := storage.Open(ctx, loc, storage.OpenOptions{Create: createsStore(c), Settings: c, Log: loggerOf(c)})
	switch {
	case errors.Is(err, storage.ErrUnknownScheme):
		return nil, usagef("--storage %q: unknown scheme %q (use %s)", loc, storage.Scheme(loc), storeForms)
	case errors.Is(err, storage.ErrUsage):
		return nil, usageError{err}
	case err != nil:
		return nil, err
	}
	return b, nil
}

// createsStore reports whether c's command may create the store (its
// directory, its Swift containers): only commands that write a backup.
// The others open what exists, so that a mistyped --storage is an error,
// not a new empty store.
func createsStore(c *cli.Context) bool {
	return c.Command.Name == "backup" || c.Command.Name == "resume"
}
