package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBytes reads a byte count: a plain number or one with a binary
// suffix (K, M, G, T, optionally followed by "i", "iB" or "B": 64M = 64MiB
// = 64<<20). Negative counts and counts above 2^62 are refused.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	for _, suf := range []string{"IB", "B", "I"} {
		if strings.HasSuffix(u, suf) && len(u) > len(suf) {
			u = strings.TrimSuffix(u, suf)
			break
		}
	}
	mult := int64(1)
	if n := len(u); n > 0 {
		switch u[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			u = u[:n-1]
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (examples: 1048576, 64M, 2GiB)", s)
	}
	return v * mult, nil
}
