package trove

import (
	"context"
	"log/slog"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

func init() {
	repo.Register(repo.Kind{Name: Layout, Layout: troveLayout{}, Open: func(st storage.Backend, log *slog.Logger) (repo.Repository, error) {
		sw, ok := storage.As[Swift](st)
		if !ok {
			return nil, repo.Usagef("--layout trove needs a Swift store (--storage swift://CONTAINER, e.g. swift://database_backups), not %s", st.Location())
		}
		r := NewRepository(sw, log)
		r.st = st // what the command opened (maybe a wrapper around sw)
		return r, nil
	}})
}

// Repository is the repo.Repository of Trove's layout in a Swift store:
// the Catalogue, with its Delete and Prune logging what they remove, and
// the Writer for `backup --layout trove`.
type Repository struct {
	*Catalogue
	log *slog.Logger
	// st is the store the repository was opened on: sw, or a store
	// that wraps it.
	st storage.Backend
}

// NewRepository returns the repository of the Trove backups in sw; log
// (nil: discard) receives what Delete and Prune remove.
func NewRepository(sw Swift, log *slog.Logger) *Repository {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Repository{Catalogue: NewCatalogue(sw), log: log, st: sw}
}

var _ repo.Repository = (*Repository)(nil)

// Layout implements repo.Repository: Trove's.
func (r *Repository) Layout() backup.Layout { return troveLayout{} }

// Location implements repo.Repository.
func (r *Repository) Location() string { return r.sw.Location() }

// Store implements repo.Repository: the store it was opened on (the Swift
// store, or one that wraps it).
func (r *Repository) Store() storage.Backend { return r.st }

// Data implements repo.Repository: Store, which checks each segment as it
// streams.
func (r *Repository) Data() storage.Backend { return r.Catalogue.Store() }

// Unfinished implements repo.Repository: Trove's layout does not say
// whether a backup without a data object is being written (prune asks its
// marker, through backup.WriterAlive).
func (r *Repository) Unfinished(context.Context, string) (*backup.Marker, string, int, error) {
	return nil, "", 0, nil
}

// Describe implements repo.Repository: who made the backup, "trove" or
// "mybak" (MadeByTrove).
func (r *Repository) Describe(m *backup.Manifest) []any {
	if m == nil {
		return nil
	}
	return []any{"made_by", map[bool]string{true: "trove", false: "mybak"}[MadeByTrove(m)]}
}

// Delete implements repo.Repository with Catalogue.DeleteIDs, which looks
// at the container again; it logs each removal.
func (r *Repository) Delete(ctx context.Context, _ []backup.Entry, ids []string, cascade bool) ([]repo.Removal, error) {
	removed, err := r.DeleteIDs(ctx, ids, cascade)
	for _, rm := range removed {
		logRemoval(r.log, "deleted", rm)
	}
	return removed, err
}

// PlanPrune implements repo.Repository with PlanPrune.
func (r *Repository) PlanPrune(entries []backup.Entry, opts backup.RetentionOptions) (*repo.PrunePlan, error) {
	plan, err := PlanPrune(entries, opts)
	if err != nil {
		return nil, err
	}
	return &plan, nil
}

// Prune implements repo.Repository with Catalogue.Prune; it logs each
// removal.
func (r *Repository) Prune(ctx context.Context, plan *repo.PrunePlan) ([]repo.Removal, error) {
	removed, err := r.Catalogue.Prune(ctx, *plan)
	for _, rm := range removed {
		logRemoval(r.log, "removed", rm)
	}
	return removed, err
}

// DefaultKDF is the key derivation of `backup --layout trove` unless
// --encrypt-kdf says otherwise: what Trove's Victoria images run
// (openssl enc -aes-256-cbc -md sha512 -pbkdf2 -iter 10000). Older Trove
// releases decrypt md5 (OpenSSL < 1.1.0) or sha256 (1.1.0+): pick the one
// your Trove's restore runs.
var DefaultKDF = crypto.KDF{Name: "pbkdf2", Digest: "sha512", Iter: crypto.DefaultPBKDF2Iter}

// PrepareWrite implements repo.Repository: Trove's restore runs gzip -d,
// the spool uploads mybak's own segments (Trove's need <id>_%08d), and the
// key derivation is DefaultKDF unless chosen. It warns about what only
// some Trove releases read.
func (r *Repository) PrepareWrite(enc *stream.EncodeOptions, o repo.WriteOptions) error {
	if enc.Compression.Kind != stream.Gzip {
		return repo.Usagef("--layout trove needs --compress gzip (Trove's restore runs gzip -d), not %s", enc.Compression.Kind)
	}
	if o.Spool {
		return repo.Usagef("--layout trove cannot be combined with --spool-dir yet")
	}
	if enc.Pass != nil && !o.KDFSet {
		enc.KDF = DefaultKDF
	}
	if enc.Pass != nil && enc.KDF.Name == "pbkdf2" && enc.KDF.Iter != crypto.DefaultPBKDF2Iter {
		r.log.Warn("Trove's restore runs openssl with -iter 10000; this backup uses another count", "iter", enc.KDF.Iter)
	}
	if enc.Pass == nil {
		r.log.Warn("the Trove backup is not encrypted: it is stored as <id>.gz / <id>.xbstream.gz, which only Trove releases that stopped encrypting read")
	}
	return nil
}

// Writer implements repo.Repository: a Writer whose incremental's
// Parent-Location and Parent-Checksum are parent's URL and ETag.
func (r *Repository) Writer(parent *backup.Manifest) backup.Writer {
	return NewWriter(r.sw, parent)
}

// logRemoval logs what Delete or Prune did with one backup: who made it
// (a backup Trove made has a record in Trove's database that mybak does
// not touch), how many objects went, and the segments left in place
// because they are not the backup's own.
func logRemoval(log *slog.Logger, verb string, r repo.Removal) {
	if r.Skipped != "" {
		log.Info("kept a leftover: "+r.Skipped, "id", r.ID)
		return
	}
	msg, attrs := verb, []any{"id", r.ID, "objects", r.Objects}
	switch {
	case r.State != backup.StateComplete:
		attrs = append(attrs, "state", r.State)
	case r.Synthesized:
		msg += " a backup made by Trove (Trove's own record of it is not touched)"
		attrs = append(attrs, "made_by", "trove")
	default:
		attrs = append(attrs, "made_by", "mybak")
	}
	log.Info(msg, attrs...)
	if len(r.Foreign) > 0 {
		log.Warn("left in place the segments its manifest joined that are not its own (<id>_NNNNNNNN in this container)",
			"id", r.ID, "segments", strings.Join(r.Foreign, ","))
	}
}
