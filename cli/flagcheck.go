package cli

import (
	"github.com/urfave/cli/v2"
)

// intRanges are the bounds of the integer flags whose out-of-range values
// would otherwise be taken silently (a negative parallelism, a port past
// 65535, --upload-parallel 0 read as the default).
var intRanges = map[string][2]int{
	"parallel":             {0, 1 << 16},
	"throttle":             {0, 1 << 30},
	"ftwrl-wait-timeout":   {0, 1 << 30},
	"lock-wait-timeout":    {0, 1 << 30},
	"compress-concurrency": {0, 1 << 16},
	"upload-parallel":      {1, 1 << 10},
	"max-retries":          {0, 1 << 10},
	"port":                 {0, 65535},
	"primary-port":         {1, 65535},
	"swift-auth-version":   {0, 3},
}

// sizeFlags are the flags that take a byte count (see parseSize), with
// the least value each accepts.
var sizeFlags = map[string]int64{
	"limit-rate":   0, // 0: no cap
	"segment-size": 1,
}

// checkFlagValues refuses, as a usage error, a flag value that the
// command would otherwise take silently or only notice half-way: a size
// that does not parse, a negative duration, an integer out of its range.
// It checks every value, from the command line, the environment or the
// config file, whether or not the store in use reads it (--limit-rate
// abc is wrong for a local store too).
func checkFlagValues(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		switch f.(type) {
		case *cli.DurationFlag:
			if d := c.Duration(name); d < 0 {
				return usagef("--%s %v: a duration cannot be negative", name, d)
			}
		case *cli.IntFlag:
			if r, ok := intRanges[name]; ok {
				if v := c.Int(name); v < r[0] || v > r[1] {
					return usagef("--%s %d: want %d to %d", name, v, r[0], r[1])
				}
			}
		case *cli.StringFlag:
			if least, ok := sizeFlags[name]; ok {
				v, err := parseSize(c.String(name))
				if err != nil {
					return usagef("--%s: %w", name, err)
				}
				if v < least {
					return usagef("--%s %s: want at least %d bytes", name, c.String(name), least)
				}
			}
		}
	}
	return nil
}
