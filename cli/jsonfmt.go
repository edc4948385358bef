package cli

import (
	"time"
)

// timeFormat is how mybak prints a time, in text and in JSON: RFC 3339 in
// UTC with a Z, to the second, always the same width (like backup IDs).
const timeFormat = "2006-01-02T15:04:05Z"

// utcTime is a time printed in timeFormat.
type utcTime time.Time

// IsZero lets omitzero leave unknown times out.
func (t utcTime) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON writes the time in timeFormat.
func (t utcTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timeFormat) + `"`), nil
}
