package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/storage"
)

// minTempAge is the least age of a local store's temporary file that
// prune removes, whatever --grace says: a backup that starts while prune
// runs writes one that no marker protects yet.
const minTempAge = time.Hour

func pruneCommand(e *env) *cli.Command {
	return &cli.Command{
		Name: "prune",
		Usage: "apply a retention policy to each job's complete backups (--keep-last, --keep-daily, ...; chains kept whole) " +
			"and remove stale leftovers of interrupted backups",
		Description: "Each job (--name label and host, as the manifest records them) is counted on its own.\n" +
			"A backup is kept when any --keep-* option keeps it, with every backup its chain needs.\n" +
			"Days, weeks (ISO, from Monday), months and years are UTC, as in the backup IDs.\n" +
			"Incomplete backups are removed once older than --grace, except those still being written.",
		Flags: []cli.Flag{
			storageFlag(),
			&cli.IntFlag{Name: "keep", Usage: "the same as --keep-last"},
			&cli.IntFlag{Name: "keep-last", Usage: "keep the N newest backups of each job"},
			&cli.IntFlag{Name: "keep-daily", Usage: "keep the newest backup of each of the last N days (UTC) that have one"},
			&cli.IntFlag{Name: "keep-weekly", Usage: "keep the newest backup of each of the last N ISO weeks that have one"},
			&cli.IntFlag{Name: "keep-monthly", Usage: "keep the newest backup of each of the last N months that have one"},
			&cli.IntFlag{Name: "keep-yearly", Usage: "keep the newest backup of each of the last N years that have one"},
			&cli.StringFlag{Name: "keep-within", Usage: "keep every backup started within this duration of the job's newest backup: 30d, 2w, 36h, 1w2d12h"},
			&cli.StringFlag{Name: "name", Usage: "apply the policy to the backups of this --name (label) only"},
			&cli.DurationFlag{Name: "grace", Value: 24 * time.Hour, Usage: "incomplete backups younger than this may still be running and are kept (one still being written is always kept)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "only say what would be removed"},
			&cli.BoolFlag{Name: "json", Usage: "print the plan and its summary as JSON"},
			layoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("prune takes no arguments")
			}
			policy, err := prunePolicy(c)
			if err != nil {
				return err
			}
			if c.Duration("grace") < 0 {
				return usagef("--grace %s: a duration cannot be negative", c.Duration("grace"))
			}
			r, err := openRepo(c, e)
			if err != nil {
				return err
			}
			st := r.Store()
			defer st.Close()
			opts := backup.RetentionOptions{Policy: policy, Grace: c.Duration("grace"), Now: time.Now()}
			if c.IsSet("name") {
				name := c.String("name")
				opts.Label = &name
			}
			entries, err := r.Entries(c.Context)
			if err != nil {
				return err
			}
			opts.Live = liveWriters(c.Context, e, st, entries, opts.Now)
			plan, err := r.PlanPrune(entries, opts)
			if err != nil {
				return err
			}
			logPlan(e, c.Bool("dry-run"), r, plan.PrunePlan, entries)
			for _, en := range plan.Damaged {
				e.log.Warn("keeping a damaged backup: its headers describe no backup mybak can read; delete it by its ID if it is garbage",
					"id", en.ID, "error", en.Err)
			}
			if !c.Bool("dry-run") {
				// The repository logs what it removes.
				if _, err := r.Prune(c.Context, plan); err != nil {
					return err
				}
				if err := removeStaleTemp(c.Context, e, st, plan.PrunePlan, opts.Grace); err != nil {
					return err
				}
				// The binary log archive keeps what the oldest backup left
				// needs to roll forward (mybak binlog prune).
				if _, err := pruneArchive(c.Context, e, r, nil, false, false); err != nil {
					return err
				}
			}
			return printPlan(e, c, st, policy, plan.PrunePlan, entries, plan.Damaged)
		},
	}
}

// prunePolicy reads the --keep-* options: at least one is required, none
// is negative, and --keep is --keep-last under its old name.
func prunePolicy(c *cli.Context) (backup.Policy, error) {
	p := backup.Policy{
		Last: c.Int("keep-last"), Daily: c.Int("keep-daily"), Weekly: c.Int("keep-weekly"),
		Monthly: c.Int("keep-monthly"), Yearly: c.Int("keep-yearly"),
	}
	if v := c.String("keep-within"); v != "" {
		d, err := parseWithin(v)
		if err != nil {
			return p, usagef("--keep-within %q: %v", v, err)
		}
		p.Within = d
	}
	if c.IsSet("keep") {
		if c.IsSet("keep-last") {
			return p, usagef("--keep and --keep-last are the same option: keep one")
		}
		if c.Int("keep") < 1 {
			return p, usagef("--keep %d: keep at least 1 backup (to remove every backup, use delete)", c.Int("keep"))
		}
		p.Last = c.Int("keep")
	}
	for _, f := range []string{"keep-last", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"} {
		if c.Int(f) < 0 {
			return p, usagef("--%s %d: a count cannot be negative", f, c.Int(f))
		}
	}
	if p.Empty() {
		return p, usagef("prune needs a retention policy: at least one of --keep-last N (or --keep N), --keep-daily N, " +
			"--keep-weekly N, --keep-monthly N, --keep-yearly N, --keep-within DURATION")
	}
	return p, nil
}

// withinRE splits a --keep-within value into weeks, days and the rest.
var withinRE = regexp.MustCompile(`^(?:([0-9]+)w)?(?:([0-9]+)d)?(.*)$`)

// parseWithin parses a --keep-within duration: Go's (36h, 90m) with
// weeks and days in front (2w, 30d, 1w2d12h). It must be positive.
func parseWithin(s string) (time.Duration, error) {
	m := withinRE.FindStringSubmatch(s)
	var d time.Duration
	for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour} {
		if m[i+1] != "" {
			n, err := strconv.Atoi(m[i+1])
			if err != nil || n > 100000 {
				return 0, fmt.Errorf("%s is too large", m[i+1])
			}
			d += time.Duration(n) * unit
		}
	}
	if m[3] != "" {
		r, err := time.ParseDuration(m[3])
		if err != nil {
			return 0, errors.New("not a duration: use e.g. 30d, 2w, 36h or 1w2d12h")
		}
		d += r
	}
	if d <= 0 {
		return 0, errors.New("the duration must be positive")
	}
	return d, nil
}

// liveWriters returns the incomplete backups whose writer is alive
// (backup.WriterAlive). One whose marker cannot be read is counted alive,
// with a warning: removing a running backup costs more than keeping a
// leftover until the next prune.
func liveWriters(ctx context.Context, e *env, st storage.Backend, entries []backup.Entry, now time.Time) map[string]string {
	live := map[string]string{}
	for _, en := range entries {
		if en.State != backup.StateIncomplete {
			continue
		}
		why, err := backup.WriterAlive(ctx, st, en, now)
		if err != nil {
			e.log.Warn("keeping an incomplete backup: could not tell whether it is still being written", "id", en.ID, "err", err)
			why = "its marker could not be read"
		}
		if why != "" {
			live[en.ID] = why
		}
	}
	return live
}

// removeStaleTemp removes a local store's temporary files of writes killed
// mid-way, unless a backup is being written into the store: its temporary
// file may be idle for longer than any grace period while its engine is
// slow. Files younger than minTempAge are never removed.
func removeStaleTemp(ctx context.Context, e *env, st storage.Backend, plan backup.PrunePlan, grace time.Duration) error {
	tr, ok := storage.As[storage.StaleTempRemover](st)
	if !ok {
		return nil
	}
	if len(plan.Live) > 0 {
		e.log.Info("left the temporary files alone: a backup is being written", "ids", strings.Join(plan.Live, ","))
		return nil
	}
	n, err := tr.RemoveStaleTemp(ctx, max(grace, minTempAge))
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if n > 0 {
		e.log.Info("removed temporary files of interrupted writes", "count", n)
	}
	return nil
}

// logPlan logs what prune removes and keeps, one line per backup removed
// (with what r's layout says of it, see repo.Repository.Describe).
func logPlan(e *env, dryRun bool, r repo.Repository, plan backup.PrunePlan, entries []backup.Entry) {
	verb := "removing"
	if dryRun {
		verb = "would remove"
	}
	byID := entryMap(entries)
	for _, id := range append(append([]string(nil), plan.Stale...), plan.Young...) {
		if en := byID[id]; en.State == backup.StateDamaged {
			e.log.Warn("damaged backup: removed as a leftover once older than --grace", "id", id, "error", en.Err)
		}
	}
	for _, id := range plan.Remove {
		attrs := append([]any{"id", id, "job", plan.Groups[id].String()}, r.Describe(byID[id].Manifest)...)
		e.log.Info(verb+" backup past retention", attrs...)
	}
	for _, id := range plan.Stale {
		e.log.Info(verb+" leftover of an interrupted backup", "id", id, "state", byID[id].State,
			"objects", len(byID[id].Objects), "last_modified", byID[id].LastModified.UTC().Format(time.RFC3339))
	}
	for _, id := range plan.Live {
		e.log.Info("keeping a backup that is being written", "id", id, "writer", strings.Join(plan.Reasons[id], ", "))
	}
	if len(plan.Young) > 0 {
		e.log.Info("keeping recent incomplete backups younger than --grace (maybe still running)", "ids", strings.Join(plan.Young, ","))
	}
	for _, id := range plan.Needed {
		e.log.Warn("keeping an incomplete or damaged backup that a kept chain names", "id", id, "state", byID[id].State)
	}
}

func entryMap(entries []backup.Entry) map[string]backup.Entry {
	m := make(map[string]backup.Entry, len(entries))
	for _, en := range entries {
		m[en.ID] = en
	}
	return m
}

// pruneItem is one backup in `prune --json`.
type pruneItem struct {
	ID string `json:"id"`
	// Action is "keep" or "remove".
	Action      string   `json:"action"`
	State       string   `json:"state"`
	Label       string   `json:"label,omitempty"`
	Host        string   `json:"host,omitempty"`
	StartTime   utcTime  `json:"start_time,omitzero"`
	Type        string   `json:"type,omitempty"`
	Parent      string   `json:"parent,omitempty"`
	StoredBytes int64    `json:"stored_size"`
	Reasons     []string `json:"reasons,omitempty"`
}

// pruneReport is `prune --json`.
type pruneReport struct {
	Storage string              `json:"storage"`
	DryRun  bool                `json:"dry_run"`
	Policy  map[string]any      `json:"policy"`
	Label   *string             `json:"label,omitempty"`
	Summary backup.PruneSummary `json:"summary"`
	Backups []pruneItem         `json:"backups"`
}

// printPlan prints the plan, one backup a line, and its summary (or, with
// --json, both as one document) on standard output: what was done, or with
// --dry-run what would be. Backups outside --name are not listed.
func printPlan(e *env, c *cli.Context, st storage.Backend, p backup.Policy, plan backup.PrunePlan, entries []backup.Entry, damaged []backup.Entry) error {
	dry := c.Bool("dry-run")
	if e.quiet && !dry {
		return nil
	}
	byID := entryMap(entries)
	action := map[string]string{}
	reasons := map[string][]string{}
	for _, id := range plan.Keep {
		action[id], reasons[id] = "keep", plan.Reasons[id]
	}
	for _, id := range plan.Remove {
		action[id], reasons[id] = "remove", []string{"not kept by " + p.String()}
	}
	for _, id := range plan.Stale {
		action[id], reasons[id] = "remove", []string{fmt.Sprintf("%s leftover older than --grace %s", byID[id].State, c.Duration("grace"))}
	}
	for _, id := range plan.Live {
		action[id], reasons[id] = "keep", []string{"being written: " + strings.Join(plan.Reasons[id], ", ")}
	}
	for _, id := range plan.Young {
		action[id], reasons[id] = "keep", []string{"incomplete, younger than --grace " + c.Duration("grace").String() + ": maybe still running"}
	}
	for _, id := range plan.Needed {
		action[id], reasons[id] = "keep", []string{byID[id].State + ", but a kept chain names it"}
	}
	for _, en := range damaged {
		action[en.ID], reasons[en.ID] = "keep", []string{"damaged: " + en.Err.Error()}
	}
	rep := pruneReport{Storage: st.Location(), DryRun: dry, Policy: policyJSON(p), Summary: plan.Summary(entries), Backups: []pruneItem{}}
	if c.IsSet("name") {
		name := c.String("name")
		rep.Label = &name
	}
	for _, en := range entries {
		a, ok := action[en.ID]
		if !ok {
			continue
		}
		it := pruneItem{ID: en.ID, Action: a, State: en.State, StoredBytes: en.StoredBytes, Reasons: reasons[en.ID]}
		if m := en.Manifest; m != nil {
			it.Label, it.Host, it.Type, it.Parent = m.Label, m.Host, m.Type, m.Parent
			it.StartTime = utcTime(m.StartTime)
		} else if t, ok := backup.IDTime(en.ID); ok {
			it.StartTime = utcTime(t)
		}
		rep.Backups = append(rep.Backups, it)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	remove := "remove"
	if dry {
		remove = "would remove"
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tID\tSTARTED\tJOB\tSTORED\tWHY")
	for _, it := range rep.Backups {
		a := it.Action
		if a == "remove" {
			a = remove
		}
		job := "-"
		if it.State == backup.StateComplete {
			job = backup.Group{Label: it.Label, Host: it.Host}.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a, printable(it.ID), textTime(it.StartTime), printable(job),
			units.Bytes(it.StoredBytes), dash(printableText(strings.Join(it.Reasons, ", "))))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := rep.Summary
	removed, freed := "removed", "freed"
	if dry {
		removed, freed = "would remove", "would free"
	}
	fmt.Fprintf(e.stdout, "%s: kept %s (%s), %s %s and %s, %s %s; %s left alone (being written or younger than --grace)\n",
		p, plural(s.Kept, "backup"), units.Bytes(s.KeptBytes), removed,
		plural(s.Removed, "backup"), plural(s.Leftovers, "leftover"), freed, units.Bytes(s.RemovedBytes),
		plural(s.Pending, "incomplete backup"))
	return nil
}

// policyJSON is the policy as `prune --json` reports it: the options set,
// counts as numbers and --keep-within in seconds.
func policyJSON(p backup.Policy) map[string]any {
	out := map[string]any{}
	for k, v := range map[string]int{"keep_last": p.Last, "keep_daily": p.Daily, "keep_weekly": p.Weekly,
		"keep_monthly": p.Monthly, "keep_yearly": p.Yearly} {
		if v > 0 {
			out[k] = v
		}
	}
	if p.Within > 0 {
		out["keep_within_seconds"] = p.Within.Seconds()
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// textTime is t as text output prints it (timeFormat), "-" when unknown.
func textTime(t utcTime) string {
	if t.IsZero() {
		return "-"
	}
	return time.Time(t).UTC().Format(timeFormat)
}
