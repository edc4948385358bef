package local

import (
	"context"
	"fmt"
	"net/url"

	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/storage"
)

// The local store opens plain directories and file:///path URLs.
func init() {
	storage.Register("", OpenPath)
	storage.Register("file", OpenFileURL)
}

// OpenPath is the storage.Factory of plain directories: with opts.Create
// New, else Open (the directory must exist). Setting "limit-rate" (a
// byte count, see units.ParseBytes) caps the write rate (LimitRate).
func OpenPath(_ context.Context, dir string, opts storage.OpenOptions) (storage.Backend, error) {
	open := Open
	if opts.Create {
		open = New
	}
	b, err := open(dir)
	if err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	if v := opts.String("limit-rate"); v != "" {
		rate, err := units.ParseBytes(v)
		if err != nil {
			b.Close()
			return nil, storage.Usagef("--limit-rate: %w", err)
		}
		b.LimitRate(rate)
	}
	return b, nil
}

// OpenFileURL is the storage.Factory of file:///path URLs (a host other
// than localhost is refused): OpenPath of the URL's path.
func OpenFileURL(ctx context.Context, loc string, opts storage.OpenOptions) (storage.Backend, error) {
	u, err := url.Parse(loc)
	if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return nil, storage.Usagef("--storage %q: a file URL must look like file:///path", loc)
	}
	return OpenPath(ctx, u.Path, opts)
}
