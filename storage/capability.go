package storage

import (
	"context"
	"io"
	"time"
)

// Optional capabilities. A backend declares one by implementing its
// interface; callers find it with As, never with a type assertion on the
// Backend they were given, so that a decorator (storage/retry, a test's
// counting wrapper) in front of the backend does not hide it.

// Unwrapper is implemented by decorators: backends that wrap another
// backend and forward to it. Unwrap returns the wrapped backend; As
// follows it to find the capabilities of the backends underneath.
type Unwrapper interface {
	Unwrap() Backend
}

// maxUnwrap bounds the decorators As looks through, so that a decorator
// that (wrongly) unwraps to itself cannot hang it.
const maxUnwrap = 64

// As returns b, or the first backend that b decorates (through Unwrap,
// outermost first), that implements T, and whether there is one. T is
// one of the capability interfaces of this package (CheapRanges,
// ChecksParts, Multipart, PartStatter, UncommittedSweeper,
// StaleTempRemover, RetriesItself) or any interface of a caller's.
//
// A decorator that must see the calls of a capability (to count or limit
// them) implements that capability itself; it is then found first. One
// that does not implement it lets callers reach the wrapped backend
// directly for that capability's methods.
func As[T any](b Backend) (T, bool) {
	for range maxUnwrap {
		if b == nil {
			break
		}
		if t, ok := b.(T); ok {
			return t, true
		}
		u, ok := b.(Unwrapper)
		if !ok {
			break
		}
		b = u.Unwrap()
	}
	var zero T
	return zero, false
}

// CheapRanges is implemented by backends whose Get at an offset costs
// only the bytes read (a local file): many concurrent reads of small
// ranges cost no more than one read of the whole object. Parallel restore
// reads frames by range only from such backends; from others (Swift, whose
// Get downloads and checks whole segments and reads ahead) it reads the
// object once, in order.
type CheapRanges interface {
	Backend
	// CheapRanges is a marker; it does nothing.
	CheapRanges()
}

// ChecksParts is implemented by backends that check every byte they store
// against an MD5 computed as it was written, when it is stored and again
// whenever it is read back in full (Swift: each segment's, or the plain
// object's, ETag; verify HEADs the segments). A backup to such a store
// does not also compute the SHA-256 of the stored stream: it would check
// the same bytes a third time, for a sixth of a Swift upload's CPU. The
// manifest then records the parts' MD5s and no stored_sha256.
type ChecksParts interface {
	Backend
	// ChecksParts is a marker; it does nothing.
	ChecksParts()
}

// Multipart is implemented by backends that store an object in parts
// uploaded separately, by a caller that keeps the parts itself, and
// committed at the end (Swift segments and a Static Large Object
// manifest). storage/spool uploads a backup's stream this way, so that
// another process can finish the upload after this one died. Nothing is
// visible under the object's name (to Get, Stat, List) before
// CommitParts returns nil. Safe for concurrent use.
type Multipart interface {
	// Location names the store, as Backend.Location.
	Location() string
	// PartSize is the size of the parts to cut (the last may be
	// shorter); MaxParts is the most parts an object may have;
	// UploadParallel is how many parts to upload at once.
	PartSize() int64
	MaxParts() int
	UploadParallel() int
	// PutPart stores part n (0-based) of the upload uploadID of object
	// name from the size bytes at the start of r, whose hex MD5 is
	// md5hex, rewinding r (Seek to 0) for every retry. A part whose bytes
	// do not match md5hex is refused. Storing a part again replaces it.
	// uploadID is a non-empty name without slashes. PutPart does not
	// close r.
	PutPart(ctx context.Context, name, uploadID string, n int, r io.ReadSeeker, size int64, md5hex string) (Part, error)
	// StatPart returns part n of an upload as stored (size, MD5), or an
	// error wrapping ErrNotFound.
	StatPart(ctx context.Context, name, uploadID string, n int) (Part, error)
	// CommitParts makes the object name visible, made of parts (as
	// PutPart returned them, in order), replacing an existing object.
	// Committing the same parts again is harmless.
	CommitParts(ctx context.Context, name string, parts []Part) (ObjectInfo, error)
	// Parts lists the parts of a committed object, or an error wrapping
	// ErrNotFound.
	Parts(ctx context.Context, name string) ([]Part, error)
	// DeleteUpload deletes the stored parts of an upload that will not
	// be committed; parts already gone are not an error.
	DeleteUpload(ctx context.Context, name, uploadID string) error
}

// PartStatter is implemented by backends that can check each part of an
// object (its size and MD5, as a Put or CommitParts recorded it) from
// metadata, without downloading it (Swift: a HEAD per segment). `verify`
// uses it. StatParts returns nil when every part matches, otherwise the
// problems joined.
type PartStatter interface {
	StatParts(ctx context.Context, parts []Part) error
}

// UncommittedSweeper is implemented by backends whose interrupted uploads
// leave parts that no object lists (Swift segments of an object whose
// manifest was never committed). SweepUncommitted deletes the parts
// stored under the object-name prefix that no committed object under that
// prefix references. It must not run while an upload under prefix is in
// progress. Deleting a backup calls it.
type UncommittedSweeper interface {
	SweepUncommitted(ctx context.Context, prefix string) error
}

// StaleTempRemover is implemented by backends whose Puts killed mid-way
// leave temporary files behind (a local directory). RemoveStaleTemp
// removes those older than olderThan and returns how many it removed.
// prune calls it when no backup is being written into the store.
type StaleTempRemover interface {
	RemoveStaleTemp(ctx context.Context, olderThan time.Duration) (int, error)
}

// RetriesItself is implemented by backends that retry transient failures
// inside, where they can replay the bytes (Swift: each segment held in
// memory). storage/retry does not wrap them a second time.
type RetriesItself interface {
	// RetriesItself is a marker; it does nothing.
	RetriesItself()
}

// Features names the capabilities that b declares, itself or through the
// backends it decorates, in this order: "CheapRanges", "ChecksParts",
// "Multipart", "PartStatter", "UncommittedSweeper", "StaleTempRemover",
// "RetriesItself" (rclone's fs.Features, as a list). The conformance
// suite compares it with what a backend's tests expect, so that a
// capability cannot disappear unnoticed.
func Features(b Backend) []string {
	var f []string
	add := func(name string, ok bool) {
		if ok {
			f = append(f, name)
		}
	}
	add("CheapRanges", has[CheapRanges](b))
	add("ChecksParts", has[ChecksParts](b))
	add("Multipart", has[Multipart](b))
	add("PartStatter", has[PartStatter](b))
	add("UncommittedSweeper", has[UncommittedSweeper](b))
	add("StaleTempRemover", has[StaleTempRemover](b))
	add("RetriesItself", has[RetriesItself](b))
	return f
}

func has[T any](b Backend) bool {
	_, ok := As[T](b)
	return ok
}
