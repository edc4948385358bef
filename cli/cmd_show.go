package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/internal/units"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

func showCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one backup: its manifest, chain, the engine's metadata (server, GTID, binlog position, LSNs), sizes and whether its objects are all there",
		ArgsUsage: "ID|latest",
		Description: "The verification shown is the cheap one: the manifest parses, the chain resolves, and every\n" +
			"object of the chain is present with its recorded size. No data is read: `mybak verify`\n" +
			"checks the hashes, `mybak verify --deep` decodes the stream. A backup still being written\n" +
			"is shown as in progress, with the process that writes it.",
		Flags: []cli.Flag{
			storageFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON: the manifest's fields, with meta as typed values, plus state, chain and verification"},
			layoutFlag(),
		},
		Action: func(c *cli.Context) error {
			ref, err := oneRef(c)
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
				if ref != "latest" && errors.Is(err, backup.ErrNoBackup) {
					// A backup being written (where the layout can tell).
					if mk, why, _, _ := r.Unfinished(c.Context, ref); mk != nil && why != "" {
						return printInProgress(e, c.Bool("json"), mk, why)
					}
				}
				return err
			}
			v := showBackup(c.Context, r, r.Data(), m)
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			return printShow(e.stdout, v)
		},
	}
}

// shownObject is an object in `show --json`: the manifest's fields, and
// the count of its parts (Swift segments) instead of the list.
type shownObject struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	MD5    string `json:"md5,omitempty"`
	Parts  int    `json:"parts,omitempty"`
}

// chainLink is one backup of the chain in `show --json`.
type chainLink struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	StartTime  utcTime `json:"start_time,omitzero"`
	RawSize    *int64  `json:"raw_size,omitempty"`
	StoredSize int64   `json:"stored_size"`
}

// verification is what `show` checked without reading data.
type verification struct {
	// Level says what was checked.
	Level  string              `json:"level"`
	OK     bool                `json:"ok"`
	Checks check.VerifyResults `json:"checks"`
}

// shown is `show --json`: the manifest's own field names (times RFC 3339
// UTC to the second, meta with numbers as numbers and row_counts as an
// object, frames counted), and what show adds: state, duration, chain and
// verification.
type shown struct {
	ID              string             `json:"id"`
	State           string             `json:"state"`
	Label           string             `json:"label,omitempty"`
	Layout          string             `json:"layout,omitempty"`
	StartTime       utcTime            `json:"start_time,omitzero"`
	EndTime         utcTime            `json:"end_time,omitzero"`
	DurationSeconds *float64           `json:"duration_seconds,omitempty"`
	Host            string             `json:"host,omitempty"`
	MybakVersion    string             `json:"mybak_version,omitempty"`
	Engine          backup.EngineInfo  `json:"engine"`
	Type            string             `json:"type"`
	Parent          string             `json:"parent,omitempty"`
	Compression     backup.Compression `json:"compression"`
	Encryption      *backup.Encryption `json:"encryption,omitempty"`
	RawSize         *int64             `json:"raw_size,omitempty"`
	RawSHA256       string             `json:"raw_sha256,omitempty"`
	StoredSize      int64              `json:"stored_size"`
	StoredSHA256    string             `json:"stored_sha256,omitempty"`
	Objects         []shownObject      `json:"objects"`
	Frames          int                `json:"frames"`
	Meta            map[string]any     `json:"meta,omitempty"`
	Chain           []chainLink        `json:"chain,omitempty"`
	// ChainStoredSize adds up the stored sizes of the chain: what a
	// restore reads.
	ChainStoredSize int64        `json:"chain_stored_size,omitempty"`
	ChainError      string       `json:"chain_error,omitempty"`
	Verification    verification `json:"verification"`
}

// numericMeta are the Meta keys whose values are decimal numbers.
var numericMeta = map[string]bool{
	backup.MetaBinlogPos: true, backup.MetaFromLSN: true, backup.MetaToLSN: true, backup.MetaLastLSN: true,
}

// typedMeta returns m's Meta for JSON: decimal numbers as numbers (kept
// exact: an LSN may pass 2^53), row_counts as the object it holds, the
// rest as strings. A value that is not what its key promises stays a
// string.
func typedMeta(meta map[string]string) map[string]any {
	if len(meta) == 0 {
		return nil
	}
	out := make(map[string]any, len(meta))
	for k, v := range meta {
		switch {
		case numericMeta[k]:
			if _, err := strconv.ParseUint(v, 10, 64); err == nil {
				out[k] = json.Number(v)
				continue
			}
		case k == backup.MetaRowCounts && json.Valid([]byte(v)):
			out[k] = json.RawMessage(v)
			continue
		}
		out[k] = v
	}
	return out
}

// showBackup gathers what show prints about m.
func showBackup(ctx context.Context, cat restore.Catalogue, st storage.Backend, m *backup.Manifest) shown {
	v := shown{
		ID: m.ID, State: backup.StateComplete, Label: m.Label, Layout: m.Layout,
		StartTime: utcTime(m.StartTime), EndTime: utcTime(m.EndTime), Host: m.Host, MybakVersion: m.MybakVersion,
		Engine: m.Engine, Type: m.Type, Parent: m.Parent, Compression: m.Compression, Encryption: m.Encryption,
		RawSHA256: m.RawSHA256, StoredSize: m.StoredSize, StoredSHA256: m.StoredSHA256,
		Frames: len(m.Frames), Objects: []shownObject{},
	}
	// A backup Trove made records neither its original size nor how
	// long it took (its times are the object's Last-Modified): unknown.
	byTrove := m.Synthesized()
	if !byTrove {
		raw := m.RawSize
		v.RawSize = &raw
	}
	if !m.EndTime.IsZero() && !m.StartTime.IsZero() && !byTrove {
		d := m.EndTime.Sub(m.StartTime).Seconds()
		v.DurationSeconds = &d
	}
	for _, o := range m.Objects {
		v.Objects = append(v.Objects, shownObject{Name: o.Name, Size: o.Size, SHA256: o.SHA256, MD5: o.MD5, Parts: len(o.Parts)})
	}
	v.Verification = verification{
		Level: "manifest valid, chain complete, every object present with its recorded size; no data read: `mybak verify` checks the hashes",
		OK:    true,
	}
	add := func(name string, err error) {
		v.Verification.Checks = append(v.Verification.Checks, check.FromError(name, err, true))
		v.Verification.OK = v.Verification.OK && err == nil
	}
	add("manifest", nil)
	chain := []*backup.Manifest{m}
	if m.Parent != "" {
		c, err := cat.Chain(ctx, m)
		add("parent chain", err)
		if err != nil {
			v.ChainError = err.Error()
		} else {
			chain = c
		}
	}
	for _, b := range chain {
		link := chainLink{ID: b.ID, Type: b.Type, StartTime: utcTime(b.StartTime), StoredSize: b.StoredSize}
		if !b.Synthesized() {
			raw := b.RawSize
			link.RawSize = &raw
		}
		v.Chain = append(v.Chain, link)
		v.ChainStoredSize += b.StoredSize
		prefix := ""
		if b.ID != m.ID {
			prefix = b.ID + "/"
		}
		for _, o := range b.Objects {
			add("object "+prefix+o.Name, statObject(ctx, st, b.ObjectPath(o.Name), o.Size))
		}
	}
	if len(chain) == 1 {
		v.Chain = nil
		v.ChainStoredSize = 0
	}
	// After Chain, which fills in the from_lsn of a Trove incremental.
	v.Meta = typedMeta(m.Meta)
	return v
}

// statObject checks that an object is stored with the given size, without
// reading it.
func statObject(ctx context.Context, st storage.Backend, name string, size int64) error {
	oi, err := st.Stat(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return errors.New("missing")
	}
	if err != nil {
		return err
	}
	if oi.Size != size {
		return fmt.Errorf("size %d, manifest says %d", oi.Size, size)
	}
	return nil
}

// printShow prints v as a two-column table.
func printShow(w io.Writer, v shown) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// Values come from the manifest: printed escaped (see printable).
	row := func(k, format string, a ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", printable(k), printableText(fmt.Sprintf(format, a...)))
	}
	row("backup", "%s", v.ID)
	row("state", "%s", v.State)
	for _, f := range []struct{ k, v string }{{"label", v.Label}, {"layout", v.Layout}} {
		if f.v != "" { // optional fields
			row(f.k, "%s", f.v)
		}
	}
	row("host", "%s", dash(v.Host))
	typ := v.Type
	if v.Parent != "" {
		typ += " of " + v.Parent
	}
	row("type", "%s", typ)
	eng := v.Engine.Name
	if v.Engine.Version != "" {
		eng += " " + v.Engine.Version
	}
	row("engine", "%s", eng)
	if v.Engine.ServerVersion != "" {
		row("server", "%s", v.Engine.ServerVersion)
	}
	row("started", "%s", textTime(v.StartTime))
	if !v.EndTime.IsZero() {
		row("finished", "%s", textTime(v.EndTime))
	}
	if v.DurationSeconds != nil {
		row("duration", "%s", time.Duration(*v.DurationSeconds*float64(time.Second)).Round(time.Second/10))
	}
	if v.RawSize != nil {
		row("raw size", "%s (%d bytes)", units.Bytes(*v.RawSize), *v.RawSize)
	} else {
		row("raw size", "not recorded (a backup Trove made)")
	}
	row("stored size", "%s (%d bytes)", units.Bytes(v.StoredSize), v.StoredSize)
	comp := v.Compression.Kind
	if v.Compression.Level != 0 {
		comp += fmt.Sprintf(" level %d", v.Compression.Level)
	}
	row("compression", "%s", comp)
	enc := "none"
	if v.Encryption != nil {
		enc = v.Encryption.Cipher
		if k := v.Encryption.KDF; k != nil {
			enc += ", key derived by " + k.Name
			if k.Digest != "" {
				enc += "-" + k.Digest
			}
			if k.Iter > 0 {
				enc += fmt.Sprintf(", %d iterations", k.Iter)
			}
		} else {
			enc += ", key derivation not recorded"
		}
	}
	row("encryption", "%s", enc)
	if v.MybakVersion != "" {
		row("mybak", "%s", v.MybakVersion)
	}
	for _, o := range v.Objects {
		note := ""
		if o.Parts > 0 {
			note = fmt.Sprintf(", %d segments", o.Parts)
		}
		row("object", "%s (%d bytes%s)", o.Name, o.Size, note)
	}
	if v.Meta != nil {
		printMeta(row, v.Meta)
	}
	if len(v.Chain) > 0 {
		var links []string
		for _, l := range v.Chain {
			links = append(links, l.ID+" ("+l.Type+")")
		}
		row("chain", "%s", strings.Join(links, " -> "))
		row("chain size", "%s stored (what a restore reads)", units.Bytes(v.ChainStoredSize))
	}
	if v.ChainError != "" {
		row("chain", "BROKEN: %s", v.ChainError)
	}
	status := "ok"
	var bad []string
	for _, ch := range v.Verification.Checks {
		if ch.Status == check.Failed {
			bad = append(bad, ch.Name+": "+ch.Detail)
		}
	}
	if len(bad) > 0 {
		status = "FAILED: " + strings.Join(bad, "; ")
	}
	row("verification", "%s (%s)", status, v.Verification.Level)
	return tw.Flush()
}

// printMeta prints the engine's metadata: the replication coordinates and
// LSNs first, by name, then the other keys; row counts summed up.
func printMeta(row func(k, format string, a ...any), meta map[string]any) {
	get := func(k string) string {
		if v, ok := meta[k]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	if f := get(backup.MetaBinlogFile); f != "" {
		row("binlog position", "%s:%s", f, dash(get(backup.MetaBinlogPos)))
	}
	if g := get(backup.MetaGTID); g != "" {
		row("gtid", "%s", g)
	}
	if from, to := get(backup.MetaFromLSN), get(backup.MetaToLSN); from != "" || to != "" {
		lsn := fmt.Sprintf("from %s to %s", dash(from), dash(to))
		if last := get(backup.MetaLastLSN); last != "" {
			lsn += ", last " + last
		}
		row("lsn", "%s", lsn)
	}
	if rc, ok := meta[backup.MetaRowCounts].(json.RawMessage); ok {
		var r backup.RowCountRecord
		if err := json.Unmarshal(rc, &r); err == nil {
			var rows int64
			for _, t := range r.Tables {
				rows += t.Rows
			}
			exact := "approximate"
			if r.Exact {
				exact = "exact"
			}
			row("row counts", "%d tables, %d rows (%s, mode %s)", len(r.Tables), rows, exact, r.Mode)
		}
	}
	shownKeys := map[string]bool{backup.MetaBinlogFile: true, backup.MetaBinlogPos: true, backup.MetaGTID: true,
		backup.MetaFromLSN: true, backup.MetaToLSN: true, backup.MetaLastLSN: true, backup.MetaRowCounts: true}
	var keys []string
	for k := range meta {
		if !shownKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		row("meta "+k, "%v", meta[k])
	}
}

// inProgressView is `show --json` of a backup being written: what its
// marker says.
type inProgressView struct {
	ID        string  `json:"id"`
	State     string  `json:"state"`
	Writer    string  `json:"writer"`
	Label     string  `json:"label,omitempty"`
	Host      string  `json:"host,omitempty"`
	PID       int     `json:"pid,omitempty"`
	Engine    string  `json:"engine,omitempty"`
	StartTime utcTime `json:"start_time,omitzero"`
}

func printInProgress(e *env, asJSON bool, mk *backup.Marker, why string) error {
	v := inProgressView{ID: mk.ID, State: "in progress", Writer: why, Label: mk.Label, Host: mk.Host, PID: mk.PID,
		Engine: mk.Engine, StartTime: utcTime(mk.StartTime)}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "backup\t%s\nstate\tin progress (%s)\nengine\t%s\nstarted\t%s\n", printable(v.ID), printableText(why),
		dash(printable(v.Engine)), textTime(v.StartTime))
	if v.Label != "" {
		fmt.Fprintf(tw, "label\t%s\n", printable(v.Label))
	}
	return tw.Flush()
}
