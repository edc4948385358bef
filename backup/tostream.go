package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// ErrStreamIncremental is returned by RunToWriter for an incremental
// backup: a wire stream carries one full backup.
var ErrStreamIncremental = errors.New("an incremental backup cannot be streamed: --to-stdout takes full backups only")

// RunToWriter takes one full backup like Run but writes it to w in the wire
// format (see wire.go) instead of a store: the header, the encoded stream
// in data records, and the manifest last. opts.Store, Parent, Writer and
// Spool must be unset. When the backup fails an
// error record ends the stream (best effort), so the receiver reports the
// sender's failure rather than a truncated stream. w is not closed.
func RunToWriter(ctx context.Context, w io.Writer, opts Options) (*Manifest, error) {
	if opts.Parent != nil {
		return nil, ErrStreamIncremental
	}
	if opts.Store != nil || opts.Writer != nil || opts.Spool != nil {
		return nil, errors.New("RunToWriter writes no store: unset Store, Writer and Spool")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := now()
	id := NewID(start)
	host, _ := os.Hostname()
	relName := ownDataName(opts.Engine.Extension(), opts.Encode)
	ww, err := newWireWriter(w, &WireHeader{FormatVersion: FormatVersion, ID: id, Engine: opts.Engine.Name(),
		Type: "full", Compression: opts.compression(), Encryption: opts.encryption()}, opts.Encode.Pass)
	if err != nil {
		return nil, err
	}
	log.Info("backup started", "id", id, "engine", opts.Engine.Name(), "to", "standard output")

	engRes, encRes, err := produce(ctx, opts, nil, ww)
	fail := func(err error) (*Manifest, error) {
		ww.fail(err)
		return nil, err
	}
	if err != nil {
		if ctx.Err() != nil {
			return fail(fmt.Errorf("backup %s interrupted: %w", id, context.Cause(ctx)))
		}
		return fail(fmt.Errorf("backup %s failed: %w", id, err))
	}
	m := newManifest(opts, id, start, now(), host, relName, engRes, encRes)
	if err := m.Validate(); err != nil {
		return fail(fmt.Errorf("backup %s: %w", id, err))
	}
	if err := ww.finish(m); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	return m, nil
}
