package cli

import "github.com/mybak/mybak/internal/units"

// parseSize reads a byte count: a plain number or one with a binary suffix
// (K, M, G, T, optionally followed by "i", "iB" or "B": 64M = 64MiB = 64<<20).
func parseSize(s string) (int64, error) { return units.ParseBytes(s) }
