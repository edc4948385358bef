package swift

import (
	"context"

	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/storage"
)

// The Swift store opens swift://CONTAINER[/PREFIX] locations.
func init() {
	storage.Register("swift", OpenURL)
}

// OpenURL is the storage.Factory of swift://CONTAINER[/PREFIX]: the
// credentials come from the environment (ConfigFromEnv), overridden by
// the settings swift-auth-url, swift-auth-version, swift-user,
// swift-key-file (the key is only ever read from a file), swift-project,
// swift-region, swift-ca-file and insecure; the uploads are tuned by
// segment-size, upload-parallel, max-retries (0: none), limit-rate and
// keep-partial; with no Settings at all, Config's defaults apply. Without
// opts.Create the containers must exist.
func OpenURL(ctx context.Context, loc string, opts storage.OpenOptions) (storage.Backend, error) {
	cfg, err := configFor(loc, opts)
	if err != nil {
		return nil, err
	}
	b, err := New(ctx, cfg)
	if err != nil {
		return nil, err // says "open swift://...: "
	}
	return b, nil
}

// configFor is the Config that OpenURL opens: the environment's, then
// the settings. Its errors match storage.ErrUsage.
func configFor(loc string, opts storage.OpenOptions) (Config, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return Config{}, storage.Usagef("Swift credentials from the environment: %w", err)
	}
	if cfg.Container, cfg.Prefix, err = ParseLocation(loc); err != nil {
		return Config{}, storage.Usage(err)
	}
	if v := opts.String("swift-auth-url"); v != "" {
		cfg.AuthURL = v
	}
	if v := opts.Int("swift-auth-version"); v != 0 {
		cfg.AuthVersion = v
	}
	if v := opts.String("swift-user"); v != "" {
		cfg.User = v
	}
	if v := opts.String("swift-key-file"); v != "" {
		if err := cfg.LoadKeyFile(v); err != nil {
			return Config{}, storage.Usage(err)
		}
	}
	if v := opts.String("swift-project"); v != "" {
		cfg.ProjectName = v
	}
	if v := opts.String("swift-region"); v != "" {
		cfg.Region = v
	}
	if v := opts.String("swift-ca-file"); v != "" {
		cfg.CAFile = v
	}
	cfg.Insecure = opts.Bool("insecure")
	cfg.Log = opts.Log
	if v := opts.String("segment-size"); v != "" {
		if cfg.SegmentSize, err = units.ParseBytes(v); err != nil {
			return Config{}, storage.Usagef("--segment-size: %w", err)
		}
	}
	cfg.UploadParallel = opts.Int("upload-parallel")
	if opts.Settings != nil {
		// The cli's flag defaults to DefaultMaxRetries; its 0 means none,
		// where Config reads 0 as the default.
		cfg.MaxRetries = opts.Int("max-retries")
		if cfg.MaxRetries == 0 {
			cfg.MaxRetries = -1
		}
	}
	if v := opts.String("limit-rate"); v != "" {
		if cfg.LimitRate, err = units.ParseBytes(v); err != nil {
			return Config{}, storage.Usagef("--limit-rate: %w", err)
		}
	}
	cfg.KeepPartial = opts.Bool("keep-partial")
	// Only commands that write a backup create the containers.
	cfg.NoCreate = !opts.Create

	if cfg.AuthURL == "" && cfg.StorageURL == "" {
		return Config{}, storage.Usagef("--storage %s: no Swift credentials: set ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD (or --swift-auth-url, --swift-user, --swift-key-file)", loc)
	}
	return cfg, nil
}
