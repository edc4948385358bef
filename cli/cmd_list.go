package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/units"
	"github.com/urfave/cli/v2"
)

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
