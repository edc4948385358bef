package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/verify"
)

func backupCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.StringFlag{Name: "engine", Value: "stdin", Usage: "stdin (back up standard input as is), or a MySQL engine: " + strings.Join(mysqlEngines, ", ") + " (auto asks the server)"},
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
				return usagef("--engine %q: unknown engine (available: stdin, %s)", name, strings.Join(mysqlEngines, ", "))
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
				if eng, parent, finish, err = mysqlBackupEngine(c, e, r); err != nil {
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

// oneRef returns the command's single ID|latest argument.
func oneRef(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s needs one backup ID (or latest)", c.Command.Name)
	}
	ref := c.Args().First()
	if err := validateRef(c, ref); err != nil {
		return "", err
	}
	return ref, nil
}

func restoreCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.BoolFlag{Name: "to-stdout", Usage: "write the backup's original bytes to standard output"},
		&cli.IntFlag{Name: "parallel", Usage: "pieces decoded at once (default: all cores)"},
		layoutFlag(),
	}
	return &cli.Command{
		Name:  "restore",
		Usage: "restore a backup: to standard output, into a directory (physical), or into a server (dump)",
		Description: "Three modes, one per restore:\n" +
			"  --to-stdout                 the backup's original bytes (any engine), to a file or a pipe\n" +
			"  --target-dir DIR            a physical backup and its chain, extracted and prepared in DIR;\n" +
			"                              with --copy-back or --move-back --datadir D, then put into a stopped server's datadir\n" +
			"  --to-mysql                  a dump, applied with the mysql/mariadb client to a running server",
		ArgsUsage: "ID|latest",
		Flags:     append(append(append(flags, keyFlags()...), authFlags()...), restoreMySQLFlags()...),
		Action: func(c *cli.Context) error {
			ref, err := oneRef(c)
			if err != nil {
				return err
			}
			if err := oneMode("say where to restore, once", map[string]bool{"--to-stdout": c.Bool("to-stdout"),
				"--to-mysql": c.Bool("to-mysql"), "--target-dir": c.String("target-dir") != ""}); err != nil {
				return err
			}
			if err := checkScopes(c, e, restoreScopes()); err != nil {
				return err
			}
			if !c.Bool("to-stdout") {
				return restoreMySQL(c, e, ref)
			}
			if isTerminal(e.stdout) {
				return usagef("standard output is a terminal: redirect it to a file or a pipe")
			}
			pass, err := loadKey(c, e)
			if err != nil {
				return err
			}
			r, err := openRepo(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			m, err := r.Resolve(c.Context, ref)
			if err != nil {
				return err
			}
			e.log.Info("restore started", "id", m.ID, "bytes", m.RawSize)
			p := newProgress(c.String("progress"), e.stderr, e.log, "restore", m.RawSize)
			ropts := readOptions(c, e, pass)
			ropts.Progress = p.Add
			_, err = restore.ToWriter(c.Context, r.Data(), m, e.stdout, ropts)
			p.Done()
			if err != nil {
				return err
			}
			e.log.Info("restore complete", "id", m.ID, "bytes", m.RawSize)
			return nil
		},
	}
}

func verifyCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.BoolFlag{Name: "deep", Usage: "also decrypt, decompress and hash the whole stream, and check its content (xbstream chunk CRCs, dump trailer)"},
		&cli.BoolFlag{Name: "list", Usage: "with --deep: list the files of a physical backup (path, size)"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		&cli.IntFlag{Name: "parallel", Usage: "pieces decoded at once with --deep (default: all cores)"},
		layoutFlag(),
	}
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a backup without restoring it, or with --drill by restoring it into a throwaway server (exit 3 when damaged)",
		ArgsUsage: "ID|latest",
		Flags:     append(append(append(flags, keyFlags()...), authFlags()...), drillFlags()...),
		Action: func(c *cli.Context) error {
			ref, err := oneRef(c)
			if err != nil {
				return err
			}
			if c.Bool("list") && !c.Bool("deep") && !c.Bool("drill") {
				return usagef("--list needs --deep: the files are read from the decoded stream")
			}
			if err := checkScopes(c, e, verifyScopes()); err != nil {
				return err
			}
			pass, err := loadKey(c, e)
			if err != nil {
				return err
			}
			r, err := openRepo(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			if c.Bool("drill") {
				return runDrill(c, e, ref, r.Data(), r, pass)
			}
			rep, err := verify.Run(c.Context, r.Data(), ref, verify.Options{
				Catalogue: r,
				Deep:      c.Bool("deep"),
				List:      c.Bool("list"),
				Options:   readOptions(c, e, pass),
			})
			if rep != nil && len(rep.Checks) > 0 && !(e.quiet && err == nil) {
				if c.Bool("json") {
					check.WriteJSON(e.stdout, rep)
				} else {
					check.Verify.WriteText(e.stdout, rep.Checks)
					printFiles(e, rep, c.Bool("list"))
				}
			}
			if err == nil {
				e.log.Info("backup verified", "id", rep.ID, "deep", rep.Deep, "seconds", rep.Duration.Seconds())
			}
			if rep != nil {
				if rep.Deep {
					e.run.Command = "verify-deep"
				}
				e.run.Values = map[string]float64{"damaged": map[bool]float64{true: 0, false: 1}[rep.OK]}
			}
			return err
		},
	}
}

// listItem is one line of `list --json`.
type listItem struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Label        string   `json:"label,omitempty"`
	Start        utcTime  `json:"start_time,omitzero"`
	End          utcTime  `json:"end_time,omitzero"`
	Seconds      *float64 `json:"duration_seconds,omitempty"`
	Engine       string   `json:"engine,omitempty"`
	Type         string   `json:"type,omitempty"`
	Parent       string   `json:"parent,omitempty"`
	RawBytes     *int64   `json:"raw_size,omitempty"`
	StoredBytes  int64    `json:"stored_size"`
	Compression  string   `json:"compression,omitempty"`
	Encrypted    *bool    `json:"encrypted,omitempty"`
	LastModified utcTime  `json:"last_modified,omitzero"`
	Error        string   `json:"error,omitempty"`
}

func listCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "list the backups in a store",
		Flags: []cli.Flag{
			storageFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			layoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("list takes no arguments")
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
			entries, err := r.Entries(c.Context)
			if err != nil {
				return err
			}
			items := make([]listItem, 0, len(entries))
			for _, en := range entries {
				it := listItem{ID: en.ID, State: en.State, StoredBytes: en.StoredBytes, LastModified: utcTime(en.LastModified)}
				if t, ok := backup.IDTime(en.ID); ok {
					it.Start = utcTime(t)
				}
				if en.Err != nil {
					it.Error = en.Err.Error()
				}
				if m := en.Manifest; m != nil {
					it.Label, it.Start, it.End = m.Label, utcTime(m.StartTime), utcTime(m.EndTime)
					if !m.EndTime.IsZero() {
						secs := m.EndTime.Sub(m.StartTime).Seconds()
						it.Seconds = &secs
					}
					it.Engine, it.Type, it.Parent = m.Engine.Name, m.Type, m.Parent
					raw, enc := m.RawSize, m.Encryption != nil
					it.RawBytes, it.StoredBytes = &raw, m.StoredSize
					it.Compression, it.Encrypted = m.Compression.Kind, &enc
				}
				items = append(items, it)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTARTED\tENGINE\tTYPE\tRAW\tSTORED\tDURATION\tSTATE\tLABEL")
			for _, it := range items {
				typ := printable(it.Type)
				if it.Parent != "" {
					typ += " of " + printable(it.Parent)
				}
				raw, dur := "-", "-"
				if it.State == backup.StateComplete && it.RawBytes != nil && it.Seconds != nil {
					raw = units.Bytes(*it.RawBytes)
					dur = time.Duration(*it.Seconds * float64(time.Second)).Round(time.Second).String()
				}
				state := printable(it.State)
				if it.Error != "" {
					state += " (" + printableText(it.Error) + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(it.ID),
					time.Time(it.Start).UTC().Format(timeFormat), dash(printable(it.Engine)), dash(typ), raw,
					units.Bytes(it.StoredBytes), dur, state, printable(it.Label))
			}
			return tw.Flush()
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
