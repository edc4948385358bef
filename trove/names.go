package trove

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Name is a Trove data object's name taken apart.
type Name struct {
	// ID is the backup's ID (a UUID in Trove).
	ID string
	// Physical is true for "<id>.xbstream.gz[.enc]" (the xtrabackup
	// family), false for "<id>.gz[.enc]" (mysqldump).
	Physical bool
	// Encrypted is true when the name ends in ".enc".
	Encrypted bool
}

// Object returns the object's name: the inverse of ParseObjectName.
func (n Name) Object() string {
	s := n.ID
	if n.Physical {
		s += ".xbstream"
	}
	s += ".gz"
	if n.Encrypted {
		s += ".enc"
	}
	return s
}

// ParseObjectName recognises the name of a Trove data object:
// <id>.xbstream.gz.enc, <id>.xbstream.gz, <id>.gz.enc or <id>.gz, where
// the ID is a valid Trove ID (ValidateID). Segments
// (<id>_%08d), mybak's manifests (<id>.mybak.json) and anything else are
// not data objects.
func ParseObjectName(name string) (Name, bool) {
	var n Name
	s := name
	if rest, ok := strings.CutSuffix(s, ".enc"); ok {
		s, n.Encrypted = rest, true
	}
	s, ok := strings.CutSuffix(s, ".gz")
	if !ok {
		return Name{}, false
	}
	if rest, ok := strings.CutSuffix(s, ".xbstream"); ok {
		s, n.Physical = rest, true
	}
	if ValidateID(s) != nil {
		return Name{}, false
	}
	n.ID = s
	return n, true
}

// SegmentName is the name of segment n of backup id, as Trove names it
// ('%s_%08d' % (file.split('.')[0], n)).
func SegmentName(id string, n int) string {
	return fmt.Sprintf("%s_%08d", id, n)
}

// ParseSegmentName recognises a segment name "<id>_NNNNNNNN" (8 digits)
// and returns the backup's ID and the segment's number.
func ParseSegmentName(name string) (id string, n int, ok bool) {
	i := strings.LastIndexByte(name, '_')
	if i < 0 || len(name)-i-1 != 8 {
		return "", 0, false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
		n = n*10 + int(c-'0')
	}
	id = name[:i]
	if ValidateID(id) != nil {
		return "", 0, false
	}
	return id, n, true
}

// ParentName returns the object name in a Parent-Location (Trove stores
// the parent's URL, "<storage URL>/<container>/<object>"): its last path
// element, unescaped, when that is a data object's name.
func ParentName(location string) (Name, error) {
	p := location
	if u, err := url.Parse(location); err == nil && u.Path != "" {
		p = u.Path
	}
	base := path.Base(p)
	if d, err := url.PathUnescape(base); err == nil {
		base = d
	}
	n, ok := ParseObjectName(base)
	if !ok {
		return Name{}, fmt.Errorf("parent location %q does not end in a Trove backup's object name", location)
	}
	return n, nil
}
