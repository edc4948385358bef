package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/swift"
)

// swiftFlags configure swift:// stores. Credentials come from the
// environment as the `swift` CLI reads them (ST_AUTH/ST_USER/ST_KEY,
// OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/...); the flags override them, and a
// password is only ever taken from a file.
func swiftFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "swift-auth-url", Usage: "Swift auth URL (default: ST_AUTH or OS_AUTH_URL)"},
		&cli.IntFlag{Name: "swift-auth-version", Usage: "1 (tempauth), 2 or 3 (keystone); default: from the URL"},
		&cli.StringFlag{Name: "swift-user", Usage: "Swift user (default: ST_USER or OS_USERNAME)"},
		&cli.StringFlag{Name: "swift-key-file", Usage: "file whose first line is the Swift key / password (default: ST_KEY or OS_PASSWORD)"},
		&cli.StringFlag{Name: "swift-project", Usage: "keystone project (default: OS_PROJECT_NAME)"},
		&cli.StringFlag{Name: "swift-region", Usage: "keystone region (default: OS_REGION_NAME)"},
		&cli.StringFlag{Name: "swift-ca-file", Usage: "PEM file of extra CA certificates (default: OS_CACERT)"},
		&cli.BoolFlag{Name: "insecure", Usage: "do not verify the Swift endpoint's TLS certificate (test clouds only)"},
		&cli.StringFlag{Name: "segment-size", Value: "64M", Usage: "Swift segment size; each segment in flight is held in memory until stored"},
		&cli.IntFlag{Name: "upload-parallel", Value: swift.DefaultUploadParallel, Usage: "Swift segments uploaded (and downloaded ahead) at once"},
		&cli.IntFlag{Name: "max-retries", Value: swift.DefaultMaxRetries, Usage: "retries of a failed Swift request (408, 429, 5xx, resets, timeouts)"},
		&cli.StringFlag{Name: "limit-rate", Usage: "cap the upload bandwidth (Swift) or write rate (local store), bytes per second: 1048576, 512K, 50M, 1G (binary units; 0: no cap); default: no cap"},
	}
}

// openSwift opens a swift:// store.
func openSwift(ctx context.Context, c *cli.Context, loc string) (storage.Backend, error) {
	cfg, err := swift.ConfigFromEnv()
	if err != nil {
		return nil, usagef("Swift credentials from the environment: %w", err)
	}
	if cfg.Container, cfg.Prefix, err = swift.ParseLocation(loc); err != nil {
		return nil, usageError{err}
	}
	if v := c.String("swift-auth-url"); v != "" {
		cfg.AuthURL = v
	}
	if v := c.Int("swift-auth-version"); v != 0 {
		cfg.AuthVersion = v
	}
	if v := c.String("swift-user"); v != "" {
		cfg.User = v
	}
	if v := c.String("swift-key-file"); v != "" {
		if err := cfg.LoadKeyFile(v); err != nil {
			return nil, usageError{err}
		}
	}
	if v := c.String("swift-project"); v != "" {
		cfg.ProjectName = v
	}
	if v := c.String("swift-region"); v != "" {
		cfg.Region = v
	}
	if v := c.String("swift-ca-file"); v != "" {
		cfg.CAFile = v
	}
	cfg.Insecure = c.Bool("insecure")
	cfg.Log = loggerOf(c)
	if cfg.SegmentSize, err = parseSize(c.String("segment-size")); err != nil {
		return nil, usagef("--segment-size: %w", err)
	}
	cfg.UploadParallel = c.Int("upload-parallel")
	cfg.MaxRetries = c.Int("max-retries")
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = -1 // Config reads 0 as the default; the flag's 0 means none
	}
	if v := c.String("limit-rate"); v != "" {
		if cfg.LimitRate, err = parseSize(v); err != nil {
			return nil, usagef("--limit-rate: %w", err)
		}
	}
	if c.Command.Name == "backup" {
		cfg.KeepPartial = c.Bool("keep-partial")
	}
	// Only commands that write a backup create the containers.
	cfg.NoCreate = !createsStore(c)

	if cfg.AuthURL == "" && cfg.StorageURL == "" {
		return nil, usagef("--storage %s: no Swift credentials: set ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD (or --swift-auth-url, --swift-user, --swift-key-file)", loc)
	}
	b, err := swift.New(ctx, cfg)
	if err != nil {
		return nil, err // says "open swift://...: "
	}
	return b, nil
}
