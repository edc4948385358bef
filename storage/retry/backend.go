package retry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mybak/mybak/storage"
)

// Backend is a storage.Backend that retries the requests of the backend
// it wraps, with a Policy, where they can be replayed:
//
//   - Stat and Delete are tried again. A Delete whose earlier attempt did
//     delete the object but lost the answer returns ErrNotFound.
//   - List is tried again and skips the names fn already got (List
//     reports names in lexical order), so fn sees each object once. An
//     error returned by fn stops the listing, is returned as is and is
//     never retried.
//   - Get is tried again, and a read that breaks with a transient error
//     is resumed by a new Get at the byte reached (at most MaxRetries
//     times in a row without progress).
//   - Put is tried again only when r is an io.Seeker, rewound to where it
//     was for every attempt; any other stream is read once and a failed
//     Put is not retried (storage.Backend's contract: never rewound).
//
// The capabilities of the wrapped backend are found through Unwrap
// (storage.As); their calls go to it directly, without retries.
type Backend struct {
	b storage.Backend
	p Policy
}

var (
	_ storage.Backend   = (*Backend)(nil)
	_ storage.Unwrapper = (*Backend)(nil)
)

// New wraps b in a Backend that retries with p. When b (or a backend it
// decorates) retries by itself (storage.RetriesItself: Swift retries
// each held segment), New returns b unchanged, so that no request is
// retried twice over.
func New(b storage.Backend, p Policy) storage.Backend {
	if _, ok := storage.As[storage.RetriesItself](b); ok {
		return b
	}
	return &Backend{b: b, p: p}
}

// Unwrap returns the wrapped backend (storage.Unwrapper).
func (r *Backend) Unwrap() storage.Backend { return r.b }

// Location is the wrapped backend's.
func (r *Backend) Location() string { return r.b.Location() }

// Close closes the wrapped backend.
func (r *Backend) Close() error { return r.b.Close() }

// Stat is the wrapped backend's Stat, retried.
func (r *Backend) Stat(ctx context.Context, name string) (storage.ObjectInfo, error) {
	var oi storage.ObjectInfo
	err := r.p.Do(ctx, "stat "+name, func(ctx context.Context) error {
		var err error
		oi, err = r.b.Stat(ctx, name)
		return err
	})
	return oi, err
}

// Delete is the wrapped backend's Delete, retried.
func (r *Backend) Delete(ctx context.Context, name string) error {
	return r.p.Do(ctx, "delete "+name, func(ctx context.Context) error {
		return r.b.Delete(ctx, name)
	})
}

// fnError carries an error of List's fn through Do: never retried.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// List is the wrapped backend's List, retried from after the last name
// fn got.
func (r *Backend) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	var last string
	seen := false
	err := r.p.Do(ctx, "list "+prefix, func(ctx context.Context) error {
		return r.b.List(ctx, prefix, func(oi storage.ObjectInfo) error {
			if seen && oi.Name <= last {
				return nil // delivered by an earlier attempt
			}
			if err := fn(oi); err != nil {
				return Permanent(&fnError{err})
			}
			last, seen = oi.Name, true
			return nil
		})
	})
	if fe := (*fnError)(nil); errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// Put is the wrapped backend's Put; retried only when r is an io.Seeker.
func (r *Backend) Put(ctx context.Context, name string, src io.Reader) (storage.ObjectInfo, error) {
	sk, ok := src.(io.Seeker)
	if !ok {
		// A stream cannot be replayed: one attempt.
		return r.b.Put(ctx, name, src)
	}
	start, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return r.b.Put(ctx, name, src)
	}
	var oi storage.ObjectInfo
	first := true
	err = r.p.Do(ctx, "put "+name, func(ctx context.Context) error {
		if !first {
			if _, err := sk.Seek(start, io.SeekStart); err != nil {
				return Permanent(fmt.Errorf("put %q: rewind the source for a retry: %w", name, err))
			}
		}
		first = false
		var err error
		oi, err = r.b.Put(ctx, name, src)
		return err
	})
	return oi, err
}

// Get is the wrapped backend's Get, retried; its reader resumes a broken
// read at the byte reached.
func (r *Backend) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	rc, err := r.open(ctx, name, off)
	if err != nil {
		return nil, err
	}
	return &resumingReader{r: r, ctx: ctx, name: name, pos: off, rc: rc}, nil
}

func (r *Backend) open(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := r.p.Do(ctx, fmt.Sprintf("get %s at %d", name, off), func(ctx context.Context) error {
		var err error
		rc, err = r.b.Get(ctx, name, off)
		return err
	})
	return rc, err
}

// resumingReader reads an object and, when a read breaks with a
// transient error, opens it again at the byte reached.
type resumingReader struct {
	r        *Backend
	ctx      context.Context
	name     string
	pos      int64
	rc       io.ReadCloser // nil after a break, until reopened
	failures int           // breaks in a row without a byte read
	err      error         // sticky
}

func (rr *resumingReader) Read(p []byte) (int, error) {
	if rr.err != nil {
		return 0, rr.err
	}
	for {
		if rr.rc == nil {
			rc, err := rr.r.open(rr.ctx, rr.name, rr.pos)
			if err != nil {
				rr.err = err
				return 0, err
			}
			rr.rc = rc
		}
		n, err := rr.rc.Read(p)
		rr.pos += int64(n)
		if n > 0 {
			rr.failures = 0
		}
		if err == nil || err == io.EOF {
			if err == io.EOF {
				rr.err = io.EOF
			}
			return n, err
		}
		// The read broke.
		if cerr := rr.ctx.Err(); cerr != nil {
			rr.err = fmt.Errorf("read %q at byte %d: %w (last error: %w)", rr.name, rr.pos, cerr, err)
			return n, rr.err
		}
		if rr.r.p.classify(err) == GiveUp || rr.failures >= max(rr.r.p.MaxRetries, 0) {
			if rr.failures > 0 {
				err = fmt.Errorf("gave up resuming after %d attempts: %w", rr.failures+1, err)
			}
			rr.err = err
			return n, err
		}
		rr.rc.Close()
		rr.rc = nil
		if rr.r.p.OnRetry != nil {
			rr.r.p.OnRetry(rr.failures, err)
		}
		if rr.r.p.Log != nil {
			rr.r.p.Log.Info("read broke, resuming", "what", "get "+rr.name, "at", rr.pos, "why", rr.r.p.reason(err, Again))
		}
		if serr := Sleep(rr.ctx, rr.r.p.Backoff(rr.failures)); serr != nil {
			rr.err = fmt.Errorf("read %q at byte %d: %w (last error: %w)", rr.name, rr.pos, serr, err)
			return n, rr.err
		}
		rr.failures++
		if n > 0 {
			return n, nil
		}
	}
}

// errClosed is what a read after Close returns.
var errClosed = errors.New("read after Close")

func (rr *resumingReader) Close() error {
	if rr.err == nil || rr.err == io.EOF {
		rr.err = errClosed
	}
	if rr.rc == nil {
		return nil
	}
	err := rr.rc.Close()
	rr.rc = nil
	return err
}
