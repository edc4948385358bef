package restore

import (
	"context"
	"fmt"
	"io"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/stream"
)

// DecodeWire decodes the backup a wire stream carries (`mybak backup
// --to-stdout`, see backup/wire.go) and writes its original bytes to w.
// It returns the stream's manifest once the whole stream was decoded and
// its stored and raw sizes and SHA-256 hashes equal the manifest's; any
// other outcome is an error (wrapping backup.ErrWire, stream.ErrCorrupt,
// crypto.ErrWrongKey or a *backup.WireSenderError), and the bytes already
// written to w must then be thrown away.
func DecodeWire(ctx context.Context, wr *backup.WireReader, w io.Writer, opts Options) (*backup.Manifest, error) {
	h := wr.Header
	d := stream.DecodeOptions{Compression: h.Compression.Kind}
	if h.Encryption != nil {
		if opts.Pass == nil {
			return nil, fmt.Errorf("backup %s: %w", h.ID, ErrNeedKey)
		}
		d.Pass, d.KDF = opts.Pass, h.Encryption.KDF
	}
	if opts.Progress != nil {
		w = &progressWriter{w: w, fn: opts.Progress}
	}
	res, err := stream.Decode(ctx, w, wr, d)
	if err != nil {
		return nil, fmt.Errorf("restore %s from the stream: %w", h.ID, explain(err))
	}
	m := wr.Manifest()
	if m == nil { // Decode stops reading at the end of the compressed data
		if _, err := io.Copy(io.Discard, wr); err != nil {
			return nil, fmt.Errorf("restore %s from the stream: %w", h.ID, err)
		}
		if m = wr.Manifest(); m == nil {
			return nil, fmt.Errorf("restore %s: %w: no manifest at the end", h.ID, backup.ErrWire)
		}
	}
	// The WireReader returns only a manifest that belongs to its header
	// (same ID, engine, type, compression, encryption: backup/wire.go).
	switch {
	case res.StoredSize != m.StoredSize || res.StoredSHA256 != m.StoredSHA256:
		return nil, fmt.Errorf("restore %s: %w: received %d bytes with SHA-256 %s, the manifest says %d bytes, %s",
			h.ID, stream.ErrCorrupt, res.StoredSize, res.StoredSHA256, m.StoredSize, m.StoredSHA256)
	case res.RawSize != m.RawSize || res.RawSHA256 != m.RawSHA256:
		return nil, fmt.Errorf("restore %s: %w: decoded %d bytes with SHA-256 %s, the manifest says %d bytes, %s",
			h.ID, stream.ErrCorrupt, res.RawSize, res.RawSHA256, m.RawSize, m.RawSHA256)
	}
	return m, nil
}
