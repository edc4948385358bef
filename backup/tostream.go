package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/stream"
)

// ErrStreamIncremental is returned by RunToWriter for an incremental
// backup: a wire stream carries one full backup.
var ErrStreamIncremental = errors.New("an incremental backup cannot be streamed: --to-stdout takes full backups only")

// RunToWriter takes one full backup like Run but writes it to w in the wire
// format (see wire.go) instead of a store: the header, the encoded stream
// in data records, and the manifest last. opts.Store, Parent, Layout,
// PutData, BeforeManifest and Spool must be unset. When the backup fails an
// error record ends the stream (best effort), so the receiver reports the
// sender's failure rather than a truncated stream. w is not closed.
func RunToWriter(ctx context.Context, w io.Writer, opts Options) (*Manifest, error) {
	if opts.Parent != nil {
		return nil, ErrStreamIncremental
	}
	if opts.Store != nil || opts.Layout != "" || opts.Spool != nil || opts.PutData != nil {
		return nil, errors.New("RunToWriter writes no store: unset Store, Layout, Spool and PutData")
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
	relName, err := dataObjectName("", opts.Engine.Extension(), opts.Encode.Compression.Kind, opts.Encode.Pass != nil)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	comp := Compression{Kind: opts.Encode.Compression.Kind, Level: opts.Encode.Compression.Level}
	if comp.Kind == "none" {
		comp.Level = 0
	}
	var enc *Encryption
	if opts.Encode.Pass != nil {
		kdf := opts.Encode.KDF
		enc = &Encryption{Cipher: "aes-256-cbc", KDF: &kdf}
	}
	ww, err := newWireWriter(w, &WireHeader{FormatVersion: FormatVersion, ID: id, Engine: opts.Engine.Name(),
		Type: "full", Compression: comp, Encryption: enc})
	if err != nil {
		return nil, err
	}
	log.Info("backup started", "id", id, "engine", opts.Engine.Name(), "to", "standard output")

	rawR, rawW := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	var engRes EngineResult
	var encRes stream.Result
	g.Go(func() error {
		var w io.Writer = rawW
		if opts.Progress != nil {
			w = &progressWriter{w: rawW, fn: opts.Progress}
		}
		var err error
		engRes, err = opts.Engine.Run(gctx, w, nil)
		if err != nil {
			err = fmt.Errorf("%s engine: %w", opts.Engine.Name(), err)
			rawW.CloseWithError(err)
			return err
		}
		return rawW.Close()
	})
	g.Go(func() error {
		var err error
		encRes, err = stream.Encode(gctx, ww, rawR, opts.Encode)
		if err != nil {
			err = fmt.Errorf("encode: %w", err)
			rawR.CloseWithError(err)
			return err
		}
		return nil
	})
	fail := func(err error) (*Manifest, error) {
		ww.fail(err)
		return nil, err
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return fail(fmt.Errorf("backup %s interrupted: %w", id, context.Cause(ctx)))
		}
		return fail(fmt.Errorf("backup %s failed: %w", id, err))
	}
	m := &Manifest{
		FormatVersion: FormatVersion,
		ID:            id,
		Label:         opts.Label,
		StartTime:     start.UTC(),
		EndTime:       now().UTC(),
		Host:          host,
		MybakVersion:  opts.Version,
		Engine:        EngineInfo{Name: opts.Engine.Name(), Version: engRes.Version, ServerVersion: engRes.ServerVersion},
		Type:          "full",
		Compression:   comp,
		Encryption:    enc,
		RawSize:       encRes.RawSize,
		RawSHA256:     encRes.RawSHA256,
		StoredSize:    encRes.StoredSize,
		StoredSHA256:  encRes.StoredSHA256,
		Objects:       []Object{{Name: relName(id), Size: encRes.StoredSize, SHA256: encRes.StoredSHA256}},
		Frames:        encRes.Frames,
		Meta:          engRes.Meta,
	}
	if err := m.Validate(); err != nil {
		return fail(fmt.Errorf("backup %s: %w", id, err))
	}
	if err := ww.finish(m); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	return m, nil
}
