package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotFound is returned (possibly wrapped) by Get, Stat and Delete when the
// object does not exist. Test for it with errors.Is.
var ErrNotFound = errors.New("object not found")

// ErrInvalidName is returned (wrapped) for object names that ValidateName rejects.
var ErrInvalidName = errors.New("invalid object name")

// Part is one piece of an object that a backend stored in several pieces
// (Swift segments of a Static Large Object). Backends that store an object
// in one piece report no parts.
type Part struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	MD5  string `json:"md5"`
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	// Name is the object's name as given to Put.
	Name string `json:"name"`
	// Size is the object's length in bytes.
	Size int64 `json:"size"`
	// ModTime is when the object was stored, as far as the backend knows.
	ModTime time.Time `json:"mod_time"`
	// MD5 is the hex MD5 of the object's bytes when the backend knows it
	// without reading the object (a Swift ETag of a one-piece object), or
	// empty.
	MD5 string `json:"md5,omitempty"`
	// Parts lists the pieces the object was stored in, in order, when the
	// backend split it (Put fills it in; Stat may leave it nil).
	Parts []Part `json:"parts,omitempty"`
}

// Backend stores named objects. Names are slash-separated relative paths
// accepted by ValidateName; a backend maps them onto its own namespace
// (a directory, a container and prefix).
//
// Every method takes a context; cancelling it stops the operation and the
// method returns an error wrapping ctx.Err(). Backends are safe for
// concurrent use by several goroutines.
//
// Errors: methods wrap the cause with the operation and the object's name
// (`put "ID/data.gz": ...`). A missing object is ErrNotFound (wrapped).
// Transient failures are retried only where the data can be replayed: by
// the backend itself (Swift holds each segment in memory and declares
// RetriesItself), or by storage/retry's decorator around it, which retries
// what retry.Classify calls transient (mark an error with retry.Permanent
// to stop that) and never a Put whose stream cannot be rewound: a stream
// handed to Put is read once and is never rewound.
//
// Optional capabilities (ranged reads, parts, sweeping, ...) are the
// interfaces in capability.go, found with As.
type Backend interface {
	// Put stores everything read from r, until io.EOF, as the object name.
	// The object becomes visible (to Get, Stat, List) only when Put returns
	// nil, and then completely and durably; when Put fails or ctx is
	// cancelled, nothing new is visible under name and no partial data is
	// left behind. Put replaces an existing object atomically: a reader
	// sees either the old or the new content, and concurrent Puts of one
	// name leave exactly one of their contents. Put does not close r.
	Put(ctx context.Context, name string, r io.Reader) (ObjectInfo, error)

	// Get opens the object for reading from byte offset off (0 for the
	// whole object). The caller must Close the reader. An offset at or past
	// the end yields an empty reader.
	Get(ctx context.Context, name string, off int64) (io.ReadCloser, error)

	// Stat describes the object, or returns ErrNotFound.
	Stat(ctx context.Context, name string) (ObjectInfo, error)

	// List calls fn for every object whose name starts with prefix, in
	// lexical order of names. It lists complete objects only (never the
	// temporary state of a Put in progress). An error from fn stops the
	// listing and is returned as is.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Delete removes the object (and its parts). A missing object is
	// ErrNotFound.
	Delete(ctx context.Context, name string) error

	// Location returns the store's location as the user would write it
	// (a path, swift://container/prefix), without credentials.
	Location() string

	// Close releases the backend's resources.
	Close() error
}

// ValidateName rejects object names that could escape the backend's
// namespace or that a backend cannot store: empty names, absolute paths,
// "." or ".." elements, empty elements, backslashes and control characters.
func ValidateName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, name, why)
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > 1024:
		return bad("longer than 1024 bytes")
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case strings.ContainsRune(name, '\\'):
		return bad("contains a backslash")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("contains a control character")
		}
	}
	for _, el := range strings.Split(name, "/") {
		switch el {
		case "":
			return bad("empty path element")
		case ".", "..":
			return bad("contains a . or .. element")
		}
	}
	return nil
}
