package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
)

func storageFlag() cli.Flag {
	return &cli.StringFlag{Name: "storage", Aliases: []string{"s"},
		Usage: "where backups live: a directory, file:///path or swift://container[/prefix]"}
}

// openStore opens the backend that a --storage value names.
func openStore(ctx context.Context, c *cli.Context) (storage.Backend, error) {
	loc := c.String("storage")
	if loc == "" {
		return nil, usagef("--storage is required (a directory, file:///path or swift://container[/prefix]; or MYBAK_STORAGE)")
	}
	scheme, rest, hasScheme := strings.Cut(loc, "://")
	if !hasScheme {
		return localStore(c, loc)
	}
	switch scheme {
	case "file":
		u, err := url.Parse(loc)
		if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
			return nil, usagef("--storage %q: a file URL must look like file:///path", loc)
		}
		return localStore(c, u.Path)
	case "swift":
		_ = rest
		return openSwift(ctx, c, loc)
	}
	return nil, usagef("--storage %q: unknown scheme %q (use a directory, file:///path or swift://container[/prefix])", loc, scheme)
}

// createsStore reports whether c's command may create the store (its
// directory, its Swift containers): only commands that write a backup.
// The others open what exists, so that a mistyped --storage is an error,
// not a new empty store.
func createsStore(c *cli.Context) bool {
	return c.Command.Name == "backup" || c.Command.Name == "resume"
}

func localStore(c *cli.Context, dir string) (storage.Backend, error) {
	open := local.Open
	if createsStore(c) {
		open = local.New
	}
	b, err := open(dir)
	if err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	if v := c.String("limit-rate"); v != "" {
		rate, err := parseSize(v)
		if err != nil {
			b.Close()
			return nil, usagef("--limit-rate: %w", err)
		}
		b.LimitRate(rate)
	}
	return b, nil
}
