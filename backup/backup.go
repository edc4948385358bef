// Package backup knows what a backup is and how one is taken: IDs, the
// manifest, the catalogue of mybak's own layout in a store (list, delete,
// prune), retention, and Run, which streams an engine's output through the
// stream pipeline into a store through a layout's Writer and writes the
// manifest last. How layouts name their objects is the Layout interface:
// mybak's own is built in, others register theirs (package trove); the
// commands reach both through package repo.
package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// Engine produces the raw stream of a backup.
type Engine interface {
	// Name is the engine's name as recorded in the manifest (stdin,
	// mariabackup, xtrabackup, mysqldump, ...).
	Name() string
	// Extension is the name suffix of the raw stream (".xbstream", ".sql",
	// "" for unknown data).
	Extension() string
	// Run writes the whole raw stream to w and returns what the manifest
	// should record. It must return an error, and not nil, whenever the
	// stream is not a complete backup, even when everything was written.
	// parent is the manifest of the parent backup of an incremental, or nil.
	Run(ctx context.Context, w io.Writer, parent *Manifest) (EngineResult, error)
}

// EngineResult is what an engine reports after a successful run.
type EngineResult struct {
	Version       string
	ServerVersion string
	// Incremental is true when the stream is an incremental backup of the
	// parent handed to Run.
	Incremental bool
	Meta        map[string]string
}

// Options configure Run.
type Options struct {
	Store  storage.Backend
	Engine Engine
	Label  string
	// Parent, when set, is the backup an incremental applies onto.
	Parent *Manifest
	Encode stream.EncodeOptions
	// KeepPartial keeps the objects of a failed backup for inspection
	// (they stay incomplete: no manifest is written).
	KeepPartial bool
	// AllowEmpty accepts an engine that yields no byte at all as a
	// backup; otherwise that is ErrEmptyStream (see there).
	AllowEmpty bool
	// Progress, when set, is called with the count of raw bytes each time
	// the engine writes.
	Progress func(n int64)
	Log      *slog.Logger
	// Now returns the current time (tests set it).
	Now func() time.Time
	// Version is mybak's version, recorded in the manifest.
	Version string

	// Writer stores the backup in a repository's layout (see Writer and
	// package repo); nil is mybak's own layout in Store (OwnWriter).
	Writer Writer

	// Spool, when set, spools the encoded stream to local files and
	// uploads it from there (see SpoolOptions and Resume).
	Spool *SpoolOptions
	// OnID, when set, is told the new backup's ID as soon as it is
	// chosen (for progress lines), before any byte is read.
	OnID func(id string)
}

// ErrEmptyStream is returned (wrapped) when the engine yields no byte and
// Options.AllowEmpty is not set: `failing-dump | mybak backup` without
// pipefail gives mybak an empty standard input, which must not count as
// a backup (prune --keep would rotate real ones away for it).
var ErrEmptyStream = errors.New("the backup's input was empty (0 bytes): nothing was stored; if the data that fed it failed, fix that (with set -o pipefail a failing command before | fails the pipeline); give --allow-empty to store an empty backup on purpose")

// Run takes one backup and returns its manifest. On failure, and on
// cancellation of ctx, no manifest is written and the objects stored so far
// are deleted (unless KeepPartial), so a failed backup never looks complete.
func Run(ctx context.Context, opts Options) (m *Manifest, err error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := now()
	w := opts.Writer
	if w == nil {
		w = OwnWriter(opts.Store)
	}
	layout := w.Layout()
	id := w.NewID(start)
	if opts.OnID != nil {
		opts.OnID(id)
	}
	host, _ := os.Hostname()
	relName, err := w.DataName(id, opts.Engine.Extension(), opts.Encode)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	dataName := layout.ObjectPath(id, relName)
	if opts.Parent != nil && opts.Encode.Pass != nil {
		// An incremental starts from its parent's LSN: a parent whose
		// manifest fails its MAC is refused before anything is taken (an
		// unauthenticated one is left to the restore's policy).
		if _, err := (AuthPolicy{Pass: opts.Encode.Pass, AllowUnauthenticated: true, Warn: log.Warn}).Check(opts.Parent); err != nil {
			return nil, fmt.Errorf("backup %s: parent %s: %w", id, opts.Parent.ID, err)
		}
	}
	log.Info("backup started", "id", id, "engine", opts.Engine.Name(), "storage", opts.Store.Location())

	var sp *spooler
	defer func() {
		if err == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if sp != nil && sp.failed(cctx, opts.KeepPartial, log, id) {
			return // resumable: keep what is stored
		}
		if opts.KeepPartial {
			log.Warn("backup failed; partial objects kept (no manifest: the backup stays incomplete)", "id", id)
			return
		}
		if derr := w.RemoveFailed(cctx, id, dataName); derr != nil {
			log.Warn("could not remove the objects of the failed backup; `mybak prune` removes them later",
				"id", id, "err", derr)
		}
	}()

	// The marker makes a backup that dies from here on visible to list (as
	// incomplete) and to prune, even where the store keeps nothing else of
	// it under its ID (a Swift upload killed before its manifest).
	// It is rewritten while the backup runs, and says who writes it, so
	// that prune leaves a backup in progress alone (WriterAlive).
	mk := newMarker(id, start, opts)
	if err := putMarker(ctx, opts.Store, layout, mk); err != nil {
		return nil, err
	}
	stopHeartbeat := heartbeat(ctx, opts.Store, layout, mk, log)
	defer stopHeartbeat() // before the deferred clean-up above
	if opts.Spool != nil {
		if sp, err = startSpool(ctx, opts, id, dataName, log); err != nil {
			return nil, err
		}
	}

	if w.ChecksParts() {
		// The store checks every part by its MD5 (see storage.ChecksParts).
		opts.Encode.NoStoredHash = true
	}
	encR, encW := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	var engRes EngineResult
	var encRes stream.Result
	var info storage.ObjectInfo
	g.Go(func() error {
		var err error
		engRes, encRes, err = produce(gctx, opts, opts.Parent, encW)
		if err != nil {
			encW.CloseWithError(err)
			return err
		}
		return encW.Close()
	})
	g.Go(func() error {
		put := w.PutData
		if sp != nil {
			put = sp.put
		}
		var err error
		info, err = put(gctx, dataName, encR)
		if err != nil {
			err = fmt.Errorf("store %s: %w", dataName, err)
			encR.CloseWithError(err)
			return err
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("backup %s interrupted: %w", id, context.Cause(ctx))
		}
		return nil, fmt.Errorf("backup %s failed: %w", id, err)
	}
	if info.Size != encRes.StoredSize {
		return nil, fmt.Errorf("backup %s failed: store kept %d bytes of %s but %d were written",
			id, info.Size, dataName, encRes.StoredSize)
	}

	m = newManifest(opts, id, start, now(), host, relName, engRes, encRes)
	m.Layout = layout.Name()
	m.Objects[0].MD5, m.Objects[0].Parts = info.MD5, info.Parts
	if engRes.Incremental {
		if opts.Parent == nil {
			return nil, errors.New("engine reported an incremental backup without a parent")
		}
		m.Type, m.Parent = "incremental", opts.Parent.ID
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	if sp != nil {
		if err := sp.finish(ctx, m); err != nil {
			return nil, err
		}
	}
	if err := w.BeforeManifest(ctx, m); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	if opts.Encode.Pass != nil {
		if err := m.Seal(opts.Encode.Pass); err != nil {
			return nil, fmt.Errorf("backup %s: %w", id, err)
		}
	}
	stopHeartbeat()
	if err := WriteManifest(ctx, opts.Store, m); err != nil {
		if sp != nil && sp.resumable {
			return nil, &ResumableError{ID: id, SpoolDir: sp.opt.Dir, Location: opts.Store.Location(), Err: err}
		}
		return nil, err
	}
	if sp != nil {
		sp.done(log)
	}
	w.Committed(ctx, m, log)
	return m, nil
}

// produce runs the engine and encodes its stream into dst: the engine
// writes into a pipe that stream.Encode reads. It returns when both are
// done, with the first error of either; dst is not closed.
func produce(ctx context.Context, opts Options, parent *Manifest, dst io.Writer) (EngineResult, stream.Result, error) {
	rawR, rawW := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	var engRes EngineResult
	var encRes stream.Result
	g.Go(func() error {
		var w io.Writer = rawW
		var check *streamCheck
		if opts.Engine.Extension() == ".xbstream" {
			check = startStreamCheck(gctx)
			w = io.MultiWriter(rawW, check)
		}
		var raw int64
		w = &progressWriter{w: w, fn: func(n int64) {
			raw += n
			if opts.Progress != nil {
				opts.Progress(n)
			}
		}}
		var err error
		engRes, err = opts.Engine.Run(gctx, w, parent)
		if err == nil && check != nil {
			err = check.finish(opts.Engine.Name())
		} else if check != nil {
			check.abort(err)
		}
		if err == nil && raw == 0 && !opts.AllowEmpty {
			err = ErrEmptyStream
		}
		if err != nil {
			err = fmt.Errorf("%s engine: %w", opts.Engine.Name(), err)
			rawW.CloseWithError(err)
			return err
		}
		return rawW.Close()
	})
	g.Go(func() error {
		var err error
		encRes, err = stream.Encode(gctx, dst, rawR, opts.Encode)
		if err != nil {
			err = fmt.Errorf("encode: %w", err)
			rawR.CloseWithError(err)
			return err
		}
		return nil
	})
	err := g.Wait()
	return engRes, encRes, err
}

// newManifest describes a full backup of one data object from what the
// engine and the encoder reported.
func newManifest(opts Options, id string, start, end time.Time, host, object string, engRes EngineResult, encRes stream.Result) *Manifest {
	m := &Manifest{
		FormatVersion: FormatVersion,
		ID:            id,
		Label:         opts.Label,
		StartTime:     start.UTC(),
		EndTime:       end.UTC(),
		Host:          host,
		MybakVersion:  opts.Version,
		Engine: EngineInfo{
			Name:          opts.Engine.Name(),
			Version:       engRes.Version,
			ServerVersion: engRes.ServerVersion,
		},
		Type:         "full",
		Compression:  opts.compression(),
		Encryption:   opts.encryption(),
		RawSize:      encRes.RawSize,
		RawSHA256:    encRes.RawSHA256,
		StoredSize:   encRes.StoredSize,
		StoredSHA256: encRes.StoredSHA256,
		Objects:      []Object{{Name: object, Size: encRes.StoredSize, SHA256: encRes.StoredSHA256}},
		Frames:       encRes.Frames,
		Meta:         engRes.Meta,
	}
	return m
}

// compression is what the manifest records of opts' compression.
func (opts Options) compression() Compression {
	c := Compression{Kind: opts.Encode.Compression.Kind, Level: opts.Encode.Compression.Level}
	if c.Kind == "none" {
		c.Level = 0
	}
	return c
}

// encryption is what the manifest records of opts' encryption (never the
// key), or nil.
func (opts Options) encryption() *Encryption {
	if opts.Encode.Pass == nil {
		return nil
	}
	kdf := opts.Encode.KDF
	if kdf == (crypto.KDF{}) {
		kdf = crypto.DefaultKDF // what stream.Encode uses then
	}
	return &Encryption{Cipher: "aes-256-cbc", KDF: &kdf}
}

// MarkerName is the object, under a backup's ID, written first when a
// backup starts: who started it, where and when.
const MarkerName = "started.json"

// WriteManifest stores m as the last object of its backup, which makes the
// backup complete. An authenticated m (Seal) is stored as Seal encoded it,
// and refused when it changed since.
func WriteManifest(ctx context.Context, st storage.Backend, m *Manifest) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if m.Auth != nil && !bytes.Equal(b, m.raw) {
		return fmt.Errorf("write manifest of %s: it changed after it was sealed (Seal it again)", m.ID)
	}
	if _, err := st.Put(ctx, ManifestPath(m.Layout, m.ID), bytesReader(b)); err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.ID, err)
	}
	return nil
}

func compressionExt(kind string) string {
	switch kind {
	case "gzip":
		return ".gz"
	case "zstd":
		return ".zst"
	}
	return ""
}

type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}
