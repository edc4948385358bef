package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/trove"
)

// layoutFlag selects how backups are laid out in the store.
func layoutFlag() cli.Flag {
	return &cli.StringFlag{Name: "layout", Value: "mybak",
		Usage: "mybak, or trove: backups as OpenStack Trove keeps them in Swift (<id>.xbstream.gz.enc or <id>.gz.enc, segments <id>_NNNNNNNN beside them)"}
}

// layoutOf returns the backup.Layout* value of --layout.
func layoutOf(c *cli.Context) (string, error) {
	switch v := c.String("layout"); v {
	case "", "mybak":
		return backup.LayoutMybak, nil
	case "trove":
		return backup.LayoutTrove, nil
	default:
		return "", usagef("--layout %q: use mybak or trove", v)
	}
}

// troveSwift returns st as the Swift store the trove layout needs.
func troveSwift(st storage.Backend) (trove.Swift, error) {
	sw, ok := storage.As[trove.Swift](st)
	if !ok {
		return nil, usagef("--layout trove needs a Swift store (--storage swift://CONTAINER, e.g. swift://database_backups), not %s", st.Location())
	}
	return sw, nil
}

// openCatalogue returns where the command finds backups in st, and the
// store to read their data through.
func openCatalogue(c *cli.Context, st storage.Backend) (restore.Catalogue, storage.Backend, error) {
	layout, err := layoutOf(c)
	if err != nil {
		return nil, nil, err
	}
	if layout == backup.LayoutMybak {
		return restore.MybakCatalogue{Store: st}, st, nil
	}
	sw, err := troveSwift(st)
	if err != nil {
		return nil, nil, err
	}
	cat := trove.NewCatalogue(sw)
	return cat, cat.Store(), nil
}

// listEntries lists the backups in st in the command's layout.
func listEntries(ctx context.Context, c *cli.Context, st storage.Backend) ([]backup.Entry, error) {
	layout, err := layoutOf(c)
	if err != nil {
		return nil, err
	}
	if layout == backup.LayoutMybak {
		return backup.Catalogue(ctx, st)
	}
	sw, err := troveSwift(st)
	if err != nil {
		return nil, err
	}
	return trove.NewCatalogue(sw).Entries(ctx)
}

// troveKDF is the key derivation of `backup --layout trove` unless
// --encrypt-kdf says otherwise: what Trove's Victoria images run
// (openssl enc -aes-256-cbc -md sha512 -pbkdf2 -iter 10000). Older Trove
// releases decrypt md5 (OpenSSL < 1.1.0) or sha256 (1.1.0+): pick the one
// your Trove's restore runs.
var troveKDF = crypto.KDF{Name: "pbkdf2", Digest: "sha512", Iter: crypto.DefaultPBKDF2Iter}

// backupLayout checks the options of `backup --layout trove` and returns
// what to set in backup.Options (nothing for mybak's layout), to be called
// once Options.Parent is set. It sets the Trove default KDF in enc.
func backupLayout(c *cli.Context, e *env, st storage.Backend, enc *stream.EncodeOptions) (func(*backup.Options), error) {
	layout, err := layoutOf(c)
	if err != nil || layout == backup.LayoutMybak {
		return func(*backup.Options) {}, err
	}
	sw, err := troveSwift(st)
	if err != nil {
		return nil, err
	}
	if enc.Compression.Kind != stream.Gzip {
		return nil, usagef("--layout trove needs --compress gzip (Trove's restore runs gzip -d), not %s", enc.Compression.Kind)
	}
	if c.String("spool-dir") != "" {
		// The spool uploads mybak's own segments; Trove's need <id>_%08d.
		return nil, usagef("--layout trove cannot be combined with --spool-dir yet")
	}
	if enc.Pass != nil && !c.IsSet("encrypt-kdf") {
		enc.KDF = troveKDF
	}
	if enc.Pass != nil && enc.KDF.Name == "pbkdf2" && enc.KDF.Iter != crypto.DefaultPBKDF2Iter {
		e.log.Warn("Trove's restore runs openssl with -iter 10000; this backup uses another count", "iter", enc.KDF.Iter)
	}
	if enc.Pass == nil {
		e.log.Warn("the Trove backup is not encrypted: it is stored as <id>.gz / <id>.xbstream.gz, which only Trove releases that stopped encrypting read")
	}
	return func(o *backup.Options) {
		// The parent of an incremental (resolveParent, from the Trove
		// catalogue) is in o by now: its URL and ETag go into the
		// child's Parent-Location and Parent-Checksum.
		w := trove.NewWriter(sw, o.Parent)
		o.Layout = backup.LayoutTrove
		o.PutData = w.PutData
		o.BeforeManifest = w.BeforeManifest
	}, nil
}
