package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/ops"
	"github.com/mybak/mybak/pitr"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/storage"
)

// binlogCommand is `mybak binlog archive|list|find|verify|replay|prune`: the archive of
// binary logs for point-in-time recovery (package pitr).
func binlogCommand(e *env) *cli.Command {
	subs := []*cli.Command{binlogArchiveCommand(e), binlogListCommand(e), binlogFindCommand(e), binlogVerifyCommand(e), binlogReplayCommand(e), binlogPruneCommand(e)}
	for _, s := range subs {
		wireBinlogSub(s, e, subs)
	}
	return &cli.Command{
		Name:      "binlog",
		Usage:     "archive the server's binary logs into the store (point-in-time recovery), list, search and verify the archive",
		ArgsUsage: "archive|list|find|verify|replay|prune [options]",
		Description: "The archive lives in the backups' store under binlog/, compressed and encrypted like a\n" +
			"backup, one object per piece of a binary log file with a hash and an index record.\n" +
			"Run `mybak binlog COMMAND --help` for each command's options.\n\n" +
			"EXAMPLES:\n" +
			"   mybak binlog archive --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --user mybak_binlog\n" +
			"   mybak binlog archive --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --once\n" +
			"   mybak binlog list --storage /var/backups/mysql\n" +
			"   mybak binlog find --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --statement 'DROP TABLE'\n" +
			"   mybak binlog verify --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --deep",
		Subcommands: subs,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("binlog: unknown command %q (archive, list, find, verify, replay or prune)", c.Args().First())
			}
			return usagef("binlog needs a command: archive, list, find, verify, replay or prune")
		},
	}
}

// wireBinlogSub gives a subcommand what newApp gives every command: the
// Swift and common flags, environment variables (MYBAK_BINLOG_<CMD>_<FLAG>
// for its own flags), the config file, flag checks, logging.
func wireBinlogSub(s *cli.Command, e *env, subs []*cli.Command) {
	for _, f := range s.Flags {
		if f.Names()[0] == "storage" {
			s.Flags = append(s.Flags, swiftFlags()...)
			break
		}
	}
	withOps(s, e)
	s.Flags = append(s.Flags, commonFlags()...)
	s.OnUsageError = onUsageError
	for _, f := range s.Flags {
		setCategory(f, flagCategory(f.Names()[0]))
	}
	withEnv([]*cli.Command{{Name: "binlog-" + s.Name, Flags: s.Flags}})
	action := s.Action
	s.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usagef("binlog %s takes no arguments (got %q)", s.Name, c.Args().First())
		}
		return action(c)
	}
	s.Before = func(c *cli.Context) error {
		if err := applyConfig(c, append(append([]*cli.Command(nil), c.App.Commands...), subs...)); err != nil {
			return err
		}
		if err := checkFlagValues(c); err != nil {
			return err
		}
		if err := setupLogging(c, e); err != nil {
			return err
		}
		c.Context = mysql.WithLog(c.Context, e.log)
		return nil
	}
}

// openArchive is what the binlog commands that read the archive do first:
// load the key, and open the store as a repository that serves
// point-in-time recovery (repo.ForPointInTime; the binlog commands have
// no --layout, so mybak's; verify --pitr has one). The archive is
// r.Archive(); the caller closes r.Store().
func openArchive(c *cli.Context, e *env) (pass []byte, r repo.PointInTime, err error) {
	if pass, err = loadKey(c, e); err != nil {
		return nil, nil, err
	}
	rp, err := openRepo(c, e)
	if err != nil {
		return nil, nil, err
	}
	if r, err = repo.ForPointInTime(rp); err != nil {
		rp.Store().Close()
		return nil, nil, asUsage(err)
	}
	return pass, r, nil
}

func binlogArchiveCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.DurationFlag{Name: "flush-interval", Value: 30 * time.Second, Usage: "store what the server wrote at least this often (the newest writes are at most this far behind)"},
		&cli.BoolFlag{Name: "once", Usage: "catch up to the server's current position, then exit (cron); without it, run until stopped (a service)"},
		&cli.StringFlag{Name: "spool-dir", Usage: "directory for the binary log between receiving and storing (default: $TMPDIR); a private 0700 directory is made in it"},
		&cli.IntFlag{Name: "replica-server-id", Usage: "server_id the archiver presents to the server (default: the tool's); two archivers of one server need two"},
		&cli.StringFlag{Name: "compress", Value: "gzip", Usage: "gzip, zstd or none"},
		&cli.IntFlag{Name: "compress-level", Usage: "compression level (default: gzip's and zstd's as for backup)"},
		&cli.StringFlag{Name: "compress-block-size", Value: "1M", Usage: "gzip block size compressed by one core"},
		&cli.IntFlag{Name: "compress-concurrency", Usage: "cores used for compression (default: all)"},
		&cli.BoolFlag{Name: "no-encrypt", Usage: "store the archive unencrypted (needed explicitly when no key is configured)"},
		&cli.StringFlag{Name: "encrypt-kdf", Value: "pbkdf2", Usage: "key derivation: pbkdf2, pbkdf2-sha512, sha256 or md5"},
		&cli.IntFlag{Name: "encrypt-iter", Value: 10000, Usage: "PBKDF2 iterations"},
	}
	flags = append(append(append(flags, keyFlags()...), connFlags()...), metricsFlag())
	return &cli.Command{
		Name:      "archive",
		Usage:     "follow the server's binary log and store it (compressed, encrypted, hashed) in the store",
		ArgsUsage: " ",
		Description: "Runs mariadb-binlog (mysqlbinlog for MySQL) --read-from-remote-server --raw as a child and\n" +
			"stores what it receives in pieces, at least every --flush-interval. It resumes where the\n" +
			"archive of this server ends, reconnects after a network drop or a server restart, and\n" +
			"archives a new server (a promoted replica) from its oldest binary log. The user needs\n" +
			"REPLICATION SLAVE and BINLOG MONITOR (MySQL: REPLICATION CLIENT).\n\n" +
			"EXAMPLES:\n" +
			"   mybak binlog archive --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --user mybak_binlog --password-file /etc/mybak_binlog.pw\n" +
			"   mybak binlog archive --storage swift://backups/db1 --encrypt-key-file /etc/mybak.key --once",
		Flags: flags,
		Action: func(c *cli.Context) error {
			enc, err := encodeOptions(c, e)
			if err != nil {
				return err
			}
			conn, err := connFromFlags(c)
			if err != nil {
				return err
			}
			if c.Int("replica-server-id") < 0 {
				return usagef("--replica-server-id %d: must be positive", c.Int("replica-server-id"))
			}
			if c.Duration("flush-interval") < time.Second {
				return usagef("--flush-interval %v: want at least 1s", c.Duration("flush-interval"))
			}
			st, err := openStore(c.Context, c)
			if err != nil {
				return err
			}
			defer st.Close()
			opts := pitr.ArchiveOptions{
				Store: st, Conn: conn, Encode: enc, FlushInterval: c.Duration("flush-interval"), Once: c.Bool("once"),
				SpoolDir: c.String("spool-dir"), ReplicaServerID: uint32(c.Int("replica-server-id")), Log: e.log,
			}
			e.run.Command = "binlog-archive"
			if path := c.String("metrics-file"); path != "" {
				opts.OnPiece = archiveMetrics(c, e, st, enc.Pass, path)
			}
			return pitr.Archive(c.Context, opts)
		},
	}
}

// binlogList is what `binlog list --json` prints.
type binlogList struct {
	Servers  []pitr.ServerSummary `json:"servers"`
	Backups  []backupWindow       `json:"backups"`
	Problems []pitr.Problem       `json:"problems"`
}

// backupWindow is the recoverable window from one backup, as far as the
// archive's records show it.
type backupWindow struct {
	ID   string `json:"id"`
	GTID string `json:"gtid,omitempty"`
	// From is when the backup ended; To the archive's newest event.
	From utcTime `json:"from"`
	To   utcTime `json:"to,omitempty"`
	// Note says why there is no window ("" when there is one).
	Note string `json:"note,omitempty"`
}

func binlogListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "the archive per server, the recoverable window from each backup, and any gap, named",
		ArgsUsage: " ",
		Description: "Read from the archive's index records alone (no data is read: `mybak binlog verify` does).\n\n" +
			"EXAMPLES:\n   mybak binlog list --storage /var/backups/mysql\n   mybak binlog list --storage swift://backups/db1 --json",
		Flags: append([]cli.Flag{storageFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}}, keyFlags()...),
		Action: func(c *cli.Context) error {
			pass, r, err := openArchive(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			ix, err := pitr.LoadIndex(c.Context, r.Archive(), pass)
			if err != nil {
				return err
			}
			rep := pitr.Summarize(ix)
			out := binlogList{Servers: rep.Servers, Problems: rep.Problems}
			entries, err := r.Entries(c.Context)
			if err != nil {
				return err
			}
			var first, last time.Time
			for _, s := range rep.Servers {
				if first.IsZero() || s.First.Before(first) {
					first = s.First
				}
				if s.Last.After(last) {
					last = s.Last
				}
			}
			out.Backups = []backupWindow{}
			for _, en := range entries {
				if en.State != backup.StateComplete {
					continue
				}
				m := en.Manifest
				w := backupWindow{ID: m.ID, GTID: m.Meta[backup.MetaGTID], From: utcTime(m.EndTime)}
				switch {
				case w.GTID == "":
					w.Note = "the backup recorded no GTID position"
				case len(rep.Servers) == 0:
					w.Note = "nothing archived"
				case m.EndTime.Before(first):
					w.Note = "older than the archive (it starts at " + first.UTC().Format(time.RFC3339) + ")"
				case len(rep.Gaps()) > 0:
					w.To = utcTime(last)
					w.Note = "the archive has gaps (below): a target past one fails"
				default:
					w.To = utcTime(last)
				}
				out.Backups = append(out.Backups, w)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return printBinlogList(e.stdout, out)
		},
	}
}

func printBinlogList(w io.Writer, l binlogList) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tFILES\tFIRST FILE\tLAST FILE\tFIRST EVENT\tLAST EVENT\tLAST GTID\tSTORED")
	for _, s := range l.Servers {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(s.Server), s.Files, printable(s.FirstLog), printable(s.LastLog),
			s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339), dash(printable(s.LastGTID)), units.Bytes(s.Stored))
	}
	if len(l.Servers) == 0 {
		fmt.Fprintln(tw, "(nothing archived)")
	}
	if l.Backups == nil {
		if err := tw.Flush(); err != nil {
			return err
		}
		return printProblems(w, l.Problems)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "BACKUP\tGTID\tRECOVERABLE FROM\tTO\tNOTE")
	for _, b := range l.Backups {
		to := "-"
		if !time.Time(b.To).IsZero() {
			to = time.Time(b.To).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.ID, dash(printable(b.GTID)), time.Time(b.From).UTC().Format(time.RFC3339), to, dash(printable(b.Note)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printProblems(w, l.Problems)
}

// printProblems prints the archive's problems as the check results they
// are, in the archive's style ("GAP: server file: detail").
func printProblems(w io.Writer, problems []pitr.Problem) error {
	return check.Archive.WriteText(w, pitr.ProblemResults(problems))
}

// verifyReport is what `binlog verify --json` prints: the report and the
// window it checked.
type verifyReport struct {
	*pitr.Report
	// FromBackup is the oldest backup the continuity is checked from ("":
	// none, from the archive's first transaction); From its end time.
	FromBackup string  `json:"from_backup,omitempty"`
	From       utcTime `json:"window_from,omitempty"`
	// To is the newest archived event.
	To utcTime `json:"window_to,omitempty"`
}

func binlogFindCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.StringFlag{Name: "statement", Usage: "a regular expression (Go syntax) that statements must match: DDL, statement-based DML, and the statement MariaDB annotates row events with"},
		&cli.StringFlag{Name: "table", Usage: "DB.TABLE: transactions that change it (row events) or name it"},
		&cli.StringFlag{Name: "since", Usage: "only transactions at or after this time (RFC 3339, or 2006-01-02 15:04:05 in UTC)"},
		&cli.StringFlag{Name: "until", Usage: "only transactions at or before this time"},
		&cli.IntFlag{Name: "limit", Value: 1000, Usage: "stop after this many matches"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON"},
	}
	return &cli.Command{
		Name:      "find",
		Usage:     "the archived transactions that match (time, GTID, file:position, first line of the statement), to choose a recovery target",
		ArgsUsage: " ",
		Description: "EXAMPLES:\n" +
			"   mybak binlog find --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --statement '(?i)^DROP TABLE'\n" +
			"   mybak binlog find --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key --table shop.orders --since '2026-12-03 09:00:00' --json",
		Flags: append(flags, keyFlags()...),
		Action: func(c *cli.Context) error {
			var o pitr.FindOptions
			if s := c.String("statement"); s != "" {
				re, err := regexp.Compile(s)
				if err != nil {
					return usagef("--statement: %w", err)
				}
				o.Statement = re
			}
			o.Table = c.String("table")
			if (o.Statement == nil) == (o.Table == "") {
				return usagef("give --statement REGEX or --table DB.TABLE (one of them)")
			}
			if o.Table != "" && !strings.Contains(o.Table, ".") {
				return usagef("--table %q: want DB.TABLE", o.Table)
			}
			var err error
			if o.Since, err = parseWhen(c, "since"); err != nil {
				return err
			}
			if o.Until, err = parseWhen(c, "until"); err != nil {
				return err
			}
			if c.Int("limit") < 1 {
				return usagef("--limit %d: want at least 1", c.Int("limit"))
			}
			o.Limit = c.Int("limit")
			pass, r, err := openArchive(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			o.Pass = pass
			st := r.Archive()
			ix, err := pitr.LoadIndex(c.Context, st, o.Pass)
			if err != nil {
				return err
			}
			hits, err := pitr.Find(c.Context, st, ix, o)
			if errors.Is(err, pitr.ErrFindLimit) {
				e.log.Warn("more transactions match: only the first --limit are printed", "limit", o.Limit)
				err = nil
			}
			if err != nil {
				return err
			}
			if hits == nil {
				hits = []*pitr.TxnRef{}
			}
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(hits)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tGTID\tSERVER\tFILE:POSITION\tSTATEMENT")
			for _, h := range hits {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%d\t%s\n", h.Time.UTC().Format(time.RFC3339), dash(h.GTID), printable(h.Server),
					printable(h.File), h.Start, printable(h.Statement))
			}
			return tw.Flush()
		},
	}
}

// parseWhen reads a time flag: RFC 3339, or "2006-01-02 15:04:05" (UTC).
func parseWhen(c *cli.Context, name string) (time.Time, error) {
	s := c.String(name)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("--%s %q: want a time like 2026-12-03T09:30:00Z or '2026-12-03 09:30:00' (UTC)", name, s)
}

func binlogVerifyCommand(e *env) *cli.Command {
	flags := []cli.Flag{
		storageFlag(),
		&cli.BoolFlag{Name: "deep", Usage: "also decode every event (CRC32, transactions) and check that the GTIDs follow each other"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
	}
	return &cli.Command{
		Name:      "verify",
		Usage:     "check the archive: every piece's hash, no gap in any file or between files; exit 3 on a gap or damage",
		ArgsUsage: " ",
		Description: "EXAMPLES:\n" +
			"   mybak binlog verify --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key\n" +
			"   mybak binlog verify --storage swift://backups/db1 --encrypt-key-file /etc/mybak.key --deep --json",
		Flags: append(flags, keyFlags()...),
		Action: func(c *cli.Context) error {
			return runBinlogVerify(c, e)
		},
	}
}

// archiveMetrics returns the archiver's OnPiece that updates the metrics
// file after every stored piece (the command runs for ever): the newest
// archived event's time, how far behind the server the store was when it
// stored it (the archive lag), and where the archive's window starts.
func archiveMetrics(c *cli.Context, e *env, st storage.Backend, pass []byte, path string) func(*pitr.Piece) {
	var start time.Time
	location := st.Location()
	if ix, err := pitr.LoadIndex(c.Context, st, pass); err == nil {
		for _, s := range pitr.Summarize(ix).Servers {
			if start.IsZero() || s.First.Before(start) {
				start = s.First
			}
		}
	}
	return func(p *pitr.Piece) {
		if start.IsZero() {
			start = p.FirstTime
		}
		vals := map[string]float64{
			"binlog_last_event_timestamp_seconds":   float64(p.LastTime.Unix()),
			"binlog_archive_lag_seconds":            p.Archived.Sub(p.LastTime).Seconds(),
			"binlog_window_start_timestamp_seconds": float64(start.Unix()),
			"binlog_stored_bytes":                   float64(p.StoredSize),
		}
		e.run.Gauges = vals
		run := ops.Run{Command: "binlog-archive", Storage: location, Success: true, Start: p.Archived, End: p.Archived, Gauges: vals}
		if err := ops.WriteMetrics(path, run); err != nil {
			e.log.Warn("could not write the metrics file", "err", err)
		}
	}
}

func binlogPruneCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "prune",
		Usage:     "remove the archived binary logs that no backup in the store can need (older than the oldest backup's GTID position)",
		ArgsUsage: " ",
		Description: "A closed file goes when the oldest complete backup holds every transaction in it (the next\n" +
			"file's starting GTID state says so: no data is read). Run it after mybak prune.\n\n" +
			"EXAMPLES:\n   mybak binlog prune --storage /var/backups/mysql --dry-run\n   mybak binlog prune --storage swift://backups/db1 --json",
		Flags: append([]cli.Flag{storageFlag(), &cli.BoolFlag{Name: "dry-run", Usage: "say what would go, remove nothing"},
			&cli.BoolFlag{Name: "json", Usage: "print the removed files as JSON"}}, keyFlags()...),
		Action: func(c *cli.Context) error {
			pass, r, err := openArchive(c, e)
			if err != nil {
				return err
			}
			defer r.Store().Close()
			out, err := pruneArchive(c.Context, e, r, pass, c.Bool("dry-run"), true)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return nil
		},
	}
}

// runBinlogVerify is `binlog verify` (and `verify --pitr`): it uses the
// command's --storage, --deep, --json and key options (and verify's
// --layout). The report is the archive's check results (pitr.Report),
// printed as binlog verify always printed it: the archive, its problems,
// the window, what was read.
func runBinlogVerify(c *cli.Context, e *env) error {
	pass, r, err := openArchive(c, e)
	if err != nil {
		return err
	}
	defer r.Store().Close()
	st := r.Archive()
	ix, err := pitr.LoadIndex(c.Context, st, pass)
	if err != nil {
		return err
	}
	// Continuity matters from the oldest backup on: what comes
	// before it is never replayed.
	vo := pitr.VerifyOptions{Pass: pass, Deep: c.Bool("deep")}
	var out verifyReport
	entries, err := r.Entries(c.Context)
	if err != nil {
		return err
	}
	if m := pitr.OldestBackup(entries); m != nil {
		if vo.From, err = pitr.ParseState(m.Meta[backup.MetaGTID]); err != nil {
			return fmt.Errorf("backup %s: recorded GTID position: %w", m.ID, err)
		}
		e.log.Info("binlog verify: GTID continuity from the oldest backup", "backup", m.ID, "gtid", vo.From.String())
		out.FromBackup, out.From = m.ID, utcTime(m.EndTime)
	}
	rep, err := pitr.Verify(c.Context, st, ix, vo)
	if err != nil {
		return err
	}
	out.Report = rep
	var newest time.Time
	for _, s := range rep.Servers {
		if s.Last.After(newest) {
			newest = s.Last
		}
		if out.FromBackup == "" && (time.Time(out.From).IsZero() || s.First.Before(time.Time(out.From))) {
			out.From = utcTime(s.First)
		}
	}
	out.To = utcTime(newest)
	if c.Bool("json") {
		if err := check.WriteJSON(e.stdout, out); err != nil {
			return err
		}
	} else if !e.quiet || !rep.OK {
		printBinlogList(e.stdout, binlogList{Servers: rep.Servers, Problems: rep.Problems})
		from := "the archive's first event"
		if out.FromBackup != "" {
			from = "backup " + out.FromBackup
		}
		if !newest.IsZero() {
			fmt.Fprintf(e.stdout, "window: %s to %s (from %s to the newest archived event)\n",
				time.Time(out.From).UTC().Format(time.RFC3339), newest.UTC().Format(time.RFC3339), from)
		}
		fmt.Fprintf(e.stdout, "%d pieces checked", rep.Checked)
		if c.Bool("deep") {
			fmt.Fprintf(e.stdout, ", %d transactions decoded", rep.Txns)
		}
		fmt.Fprintln(e.stdout)
	}
	if len(ix.Pieces) == 0 && len(ix.Damaged) == 0 {
		return fmt.Errorf("no binary log is archived in %s: nothing to verify (run mybak binlog archive)", st.Location())
	}
	return rep.Err()
}

// prunedFile is one file binlog prune removes (or would).
type prunedFile struct {
	Server string `json:"server"`
	File   string `json:"file"`
	Pieces int    `json:"pieces"`
}

// pruneArchive removes the archived binary logs the oldest complete
// backup of rp with a GTID position does not need (dryRun: says so only).
// With required, a store without such a backup, or a layout without an
// archive, is an error; without (mybak prune), nothing is removed then.
func pruneArchive(ctx context.Context, e *env, rp repo.Repository, pass []byte, dryRun, required bool) ([]prunedFile, error) {
	r, err := repo.ForPointInTime(rp)
	if err != nil {
		if !required {
			// A layout without an archive (mybak prune --layout
			// trove): nothing to prune.
			return nil, nil
		}
		return nil, asUsage(err)
	}
	st := r.Archive()
	entries, err := r.Entries(ctx)
	if err != nil {
		return nil, err
	}
	oldest := pitr.OldestBackup(entries)
	if oldest == nil {
		if !required {
			return nil, nil
		}
		return nil, fmt.Errorf("no complete backup with a GTID position in %s: nothing says which binary logs are needed, so none is removed", st.Location())
	}
	keep, _, err := pitr.BackupState(oldest)
	if err != nil {
		return nil, err
	}
	ix, err := pitr.LoadIndex(ctx, st, pass)
	if err != nil {
		return nil, err
	}
	if len(ix.Pieces) == 0 {
		return []prunedFile{}, nil
	}
	plan, err := pitr.PrunePlan(ix, keep)
	if err != nil {
		return nil, err
	}
	out := []prunedFile{}
	verb := "removing"
	if dryRun {
		verb = "would remove"
	}
	for _, f := range plan {
		out = append(out, prunedFile{f.Server, f.Name, len(f.Pieces)})
		e.log.Info("binlog prune: "+verb, "server", f.Server, "file", f.Name, "pieces", len(f.Pieces))
	}
	e.log.Info("binlog prune: keeping what the oldest backup needs", "backup", oldest.ID, "gtid", keep.String(), "files", len(plan))
	if dryRun {
		return out, nil
	}
	return out, pitr.DeleteFiles(ctx, st, plan)
}
