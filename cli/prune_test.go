package cli

import (
	"testing"
	"time"
)

func TestParseWithin(t *testing.T) {
	const day = 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"36h": 36 * time.Hour, "90m": 90 * time.Minute, "30d": 30 * day, "2w": 14 * day,
		"1w2d12h": 9*day + 12*time.Hour, "1d30m": day + 30*time.Minute, "0d1s": time.Second,
	} {
		if got, err := parseWithin(in); err != nil || got != want {
			t.Errorf("parseWithin(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0d", "-1h", "1y", "d", "3 days", "1d-2d", "99999999999d", "12x"} {
		if got, err := parseWithin(in); err == nil {
			t.Errorf("parseWithin(%q) = %v, want an error", in, got)
		}
	}
}
