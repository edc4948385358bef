package backup

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"
)

// idLayout is the time part of an ID: UTC, second resolution, sortable.
const idLayout = "20060102T150405Z"

var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$`)

// NewID returns a new backup ID for a backup started at t: the UTC time
// (sortable: lexical order is time order) and 6 random hex digits so that
// two backups started in the same second do not collide, e.g.
// 20261121T162435Z-3fa9c1.
func NewID(t time.Time) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on Linux
	}
	return t.UTC().Format(idLayout) + "-" + hex.EncodeToString(b[:])
}

// ValidateID reports whether s has the form of a backup ID.
func ValidateID(s string) error {
	if !idPattern.MatchString(s) {
		return fmt.Errorf("%q is not a backup ID (expected e.g. 20261121T162435Z-3fa9c1, or latest)", s)
	}
	return nil
}

// IDTime returns the start time encoded in a valid ID.
func IDTime(id string) (time.Time, bool) {
	if len(id) < len(idLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(idLayout, id[:len(idLayout)])
	return t, err == nil
}
