package cli

import (
	"time"

	"github.com/mybak/mybak/backup"
)

// jsonTimeFormat is how mybak's JSON output writes a time: RFC 3339 in
// UTC with a Z, to the millisecond, always the same width, as manifests.
const jsonTimeFormat = backup.TimeFormat

// timeFormat is how text output prints a time: RFC 3339 in UTC with a Z,
// to the second (like backup IDs).
const timeFormat = "2006-01-02T15:04:05Z"

// utcTime is a time printed in jsonTimeFormat.
type utcTime time.Time

// IsZero lets omitzero leave unknown times out.
func (t utcTime) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON writes the time in jsonTimeFormat.
func (t utcTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(jsonTimeFormat) + `"`), nil
}
