package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/engine/stdin"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/stream"
)

func backupCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.StringFlag{Name: "engine", Value: "stdin", Usage: "stdin (back up standard input as is), or a MySQL engine: " + strings.Join(mysqlEngines(), ", ") + " (auto asks the server)"},
		&cli.StringFlag{Name: "name", Usage: "a label recorded in the manifest and shown by list"},
		&cli.StringFlag{Name: "compress", Value: "gzip", Usage: "gzip, zstd or none"},
		&cli.IntFlag{Name: "compress-level", Usage: "compression level (default: gzip " + fmt.Sprint(stream.DefaultGzipLevel) + ", zstd " + fmt.Sprint(stream.DefaultZstdLevel) + ")"},
		&cli.StringFlag{Name: "compress-block-size", Value: "1M", Usage: "gzip block size compressed by one core"},
		&cli.IntFlag{Name: "compress-concurrency", Usage: "cores used for compression (default: all)"},
		&cli.BoolFlag{Name: "no-encrypt", Usage: "store the backup unencrypted (needed explicitly when no key is configured)"},
		&cli.StringFlag{Name: "encrypt-kdf", Value: "pbkdf2", Usage: "key derivation: pbkdf2, pbkdf2-sha512, sha256 or md5 (as openssl enc -pbkdf2 / -md)"},
		&cli.IntFlag{Name: "encrypt-iter", Value: 10000, Usage: "PBKDF2 iterations"},
		&cli.BoolFlag{Name: "keep-partial", Usage: "keep the objects of a failed backup (it stays incomplete)"},
		&cli.BoolFlag{Name: "allow-empty", Usage: "store a backup whose input is empty (0 bytes); without it an empty input fails"},
		&cli.BoolFlag{Name: "to-stdout", Usage: "write the backup (encoded, with its manifest in-band) to standard output instead of a store, for make-replica --from-stdin"},
		layoutFlag(),
	}
	return &cli.Command{
		Name:      "backup",
		Usage:     "take a backup; prints its ID alone on standard output",
		ArgsUsage: " ",
		Flags:     append(append(append(flags, keyFlags()...), backupMySQLFlags()...), backupSpoolFlags()...),
		Action: func(c *cli.Context) (err error) {
			if id := c.String("resume"); id != "" {
				return resumeBackup(c, e, id)
			}
			if c.Bool("to-stdout") {
				return backupToStdout(c, e)
			}
			if err := defaultEngine(c, e); err != nil {
				return err
			}
			if err := checkScopes(c, e, backupScopes(c.String("engine"))); err != nil {
				return err
			}
			if c.NArg() > 0 && c.String("engine") == "stdin" {
				return usagef("backup takes no arguments (got %q)", c.Args().First())
			}
			enc, err := encodeOptions(c, e)
			if err != nil {
				return err
			}
			var eng backup.Engine
			var parent *backup.Manifest
			relay := &statusRelay{} // the engine's progress, to p once it exists
			switch name := c.String("engine"); {
			case name == "stdin" && c.Bool("incremental"):
				return usagef("--incremental needs a physical engine, not stdin")
			case name == "stdin" && isTerminalReader(e.stdin):
				return usagef("--engine stdin backs up standard input, which is a terminal: pipe or redirect the data (mybak backup < dump.sql), or choose a MySQL --engine")
			case name == "stdin":
				if eng, err = stdinEngine(e); err != nil {
					return err
				}
			case !isMySQLEngine(name):
				return usagef("--engine %q: unknown engine (available: stdin, %s)", name, strings.Join(mysqlEngines(), ", "))
			}
			st, err := openStore(c.Context, c)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := openRepoOn(c, e, st)
			if err != nil {
				return err
			}
			if err := r.PrepareWrite(&enc, repo.WriteOptions{KDFSet: c.IsSet("encrypt-kdf"), Spool: c.String("spool-dir") != ""}); err != nil {
				return asUsage(err)
			}
			if eng == nil {
				var finish func(bool)
				if eng, parent, finish, err = mysqlBackupEngine(c, e, r, relay.report); err != nil {
					return err
				}
				defer func() { finish(err == nil) }()
			}
			total := int64(-1)
			if f, ok := e.stdin.(*os.File); ok && c.String("engine") == "stdin" {
				if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
					total = fi.Size()
				}
			}
			p := newProgress(c.String("progress"), e.stderr, e.log, "backup", total)
			relay.to(p)
			opts := backup.Options{
				Store:       st,
				Engine:      eng,
				Parent:      parent,
				Label:       c.String("name"),
				Encode:      enc,
				KeepPartial: c.Bool("keep-partial"),
				AllowEmpty:  c.Bool("allow-empty"),
				Progress:    p.Add,
				OnID:        p.SetID,
				Log:         e.log,
				Version:     Version,
				// The parent of an incremental (resolveParent, from the
				// repository) is known by now: Trove's writer puts its
				// URL and ETag into the child's Parent-Location and
				// Parent-Checksum.
				Writer: r.Writer(parent),
			}
			if opts.Spool, err = spoolOptions(c, st, total); err != nil {
				return err
			}
			m, err := backup.Run(c.Context, opts)
			p.Done()
			if err != nil {
				return err
			}
			e.log.Info("backup complete", completeFields(m)...)
			e.run.Engine = m.Engine.Name
			e.run.Values = map[string]float64{"raw_bytes": float64(m.RawSize), "stored_bytes": float64(m.StoredSize)}
			if !e.quiet {
				fmt.Fprintln(e.stdout, m.ID)
			}
			return nil
		},
	}
}

// encodeOptions builds the pipeline options of a backup from its flags.
func encodeOptions(c *cli.Context, e *env) (stream.EncodeOptions, error) {
	var o stream.EncodeOptions
	o.Compression.Kind = c.String("compress")
	switch o.Compression.Kind {
	case "gzip", "zstd", "none":
	default:
		return o, usagef("--compress %q: use gzip, zstd or none", o.Compression.Kind)
	}
	o.Compression.Level = c.Int("compress-level")
	if o.Compression.Level == 0 {
		switch o.Compression.Kind {
		case "gzip":
			o.Compression.Level = stream.DefaultGzipLevel
		case "zstd":
			o.Compression.Level = stream.DefaultZstdLevel
		}
	}
	bs, err := parseSize(c.String("compress-block-size"))
	if err != nil {
		return o, usagef("--compress-block-size: %w", err)
	}
	o.Compression.BlockSize = int(bs)
	o.Compression.Concurrency = c.Int("compress-concurrency")
	if o.Compression.Level < 0 || o.Compression.BlockSize < 0 || o.Compression.Concurrency < 0 {
		return o, usagef("compression level, block size and concurrency must not be negative")
	}

	pass, err := loadKey(c, e)
	if err != nil {
		return o, err
	}
	switch {
	case c.Bool("no-encrypt") && pass != nil:
		return o, usagef("--no-encrypt and an encryption key are both given: keep one")
	case c.Bool("no-encrypt"):
		e.log.Warn("the backup is not encrypted (--no-encrypt)")
		return o, nil
	case pass == nil:
		return o, usagef("no encryption key: give --encrypt-key-file FILE (or set %s), or --no-encrypt to store the backup unencrypted", keyEnv)
	}
	kdf, err := crypto.ParseKDF(c.String("encrypt-kdf"))
	if err != nil {
		return o, usagef("--encrypt-kdf: %w", err)
	}
	if kdf.Name == "pbkdf2" {
		kdf.Iter = c.Int("encrypt-iter")
	} else if c.IsSet("encrypt-iter") {
		return o, usagef("--encrypt-iter applies to pbkdf2 only, not %s", c.String("encrypt-kdf"))
	}
	if err := kdf.Validate(); err != nil {
		return o, usagef("--encrypt-kdf: %w", err)
	}
	o.Pass, o.KDF = pass, kdf
	return o, nil
}

// backupToStdout is `backup --to-stdout`: the backup in the wire format
// (backup/wire.go) on standard output, no store.
func backupToStdout(c *cli.Context, e *env) (err error) {
	switch {
	case c.String("storage") != "":
		return usagef("--to-stdout writes the backup to standard output: drop --storage")
	case c.Bool("incremental"):
		return usagef("--to-stdout streams full backups only: drop --incremental")
	case c.String("spool-dir") != "":
		return usagef("--to-stdout does not spool: drop --spool-dir")
	case c.String("layout") != "mybak" && c.String("layout") != "":
		return usagef("--to-stdout writes mybak's own stream format: drop --layout")
	case isTerminal(e.stdout):
		return usagef("standard output is a terminal: pipe it into `mybak make-replica --from-stdin` (or a file)")
	}
	if err := defaultEngine(c, e); err != nil {
		return err
	}
	if err := checkScopes(c, e, backupScopes(c.String("engine"))); err != nil {
		return err
	}
	enc, err := encodeOptions(c, e)
	if err != nil {
		return err
	}
	var eng backup.Engine
	relay := &statusRelay{}
	switch name := c.String("engine"); {
	case name == "stdin":
		if eng, err = stdinEngine(e); err != nil {
			return err
		}
	case !isMySQLEngine(name):
		return usagef("--engine %q: unknown engine (available: stdin, %s)", name, strings.Join(mysqlEngines(), ", "))
	default:
		var finish func(bool)
		if eng, _, finish, err = mysqlBackupEngine(c, e, nil, relay.report); err != nil {
			return err
		}
		defer func() { finish(err == nil) }()
	}
	p := newProgress(c.String("progress"), e.stderr, e.log, "backup", -1)
	relay.to(p)
	m, err := backup.RunToWriter(c.Context, e.stdout, backup.Options{Engine: eng, Label: c.String("name"),
		Encode: enc, AllowEmpty: c.Bool("allow-empty"), Progress: p.Add, Log: e.log, Version: Version})
	p.Done()
	if err != nil {
		return err
	}
	e.log.Info("backup streamed", "id", m.ID, "raw_bytes", m.RawSize, "stored_bytes", m.StoredSize,
		"seconds", m.EndTime.Sub(m.StartTime).Seconds())
	e.run.Engine = m.Engine.Name
	return nil
}

// stdinEngine is the stdin engine's backup side, reading mybak's standard
// input (backup --engine stdin).
func stdinEngine(e *env) (backup.Engine, error) {
	return stdin.Engine{}.NewBackup(engine.BackupConfig{Stdin: e.stdin})
}
