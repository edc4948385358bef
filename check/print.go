package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mybak/mybak/internal/textsafe"
)

// Style is how one command spells its results, in text and in --json. The
// spellings are a contract: README.md and docs/ show them, and scripts
// parse them.
type Style struct {
	// Words are the status words of --json (and, upper case, of the text
	// table) that differ from the Status's own.
	Words map[Status]string
	// Bool writes "ok": true|false in --json instead of a status word.
	Bool bool
	// EmptyDetail writes "detail" in --json even when it is empty.
	EmptyDetail bool
	// Seconds writes each result's duration: "seconds" in --json, a
	// SECONDS column in the text table.
	Seconds bool
	// Header is the title of the text table's first column; empty prints
	// one line per result instead: "ok     name: detail", "FAILED name: ...".
	Header string
	// Problems prints, in text, only the failed results, one a
	// line: the name upper case, a colon, the detail ("GAP: db1
	// mysql-bin.000004: bytes from 4 are missing"). Header is then unused.
	Problems bool
}

// The commands' styles.
var (
	// Preflight: a CHECK STATUS DETAIL table; --json "status": "ok", "warn"
	// or "fail", and "detail" always.
	Preflight = Style{Words: map[Status]string{Failed: "fail"}, EmptyDetail: true, Header: "CHECK"}
	// Verify: one line per check; --json "ok": true|false.
	Verify = Style{Bool: true}
	// Drill: a STEP STATUS SECONDS DETAIL table; --json "status": "ok",
	// "warn", "failed" or "skipped", and "seconds".
	Drill = Style{Seconds: true, Header: "STEP"}
	// Archive: binlog verify (verify --pitr) and binlog list print the
	// problems of the binary log archive, one a line, under their own
	// report; --json as verify's ("ok": true|false).
	Archive = Style{Bool: true, Problems: true}
)

// Word returns how s spells status st in --json.
func (s Style) Word(st Status) string {
	if w, ok := s.Words[st]; ok {
		return w
	}
	return string(st)
}

// WriteText prints rs to w for a reader: a table (Header set) or one line
// per result. Names and details come from outside (manifests, servers,
// streams) and are printed escaped, on one line each.
func (s Style) WriteText(w io.Writer, rs []Result) error {
	if s.Problems {
		for _, r := range rs {
			if r.Status != Failed {
				continue
			}
			if _, err := fmt.Fprintf(w, "%s: %s\n", textsafe.Text(strings.ToUpper(r.Name)), textsafe.Text(r.Detail)); err != nil {
				return err
			}
		}
		return nil
	}
	if s.Header == "" {
		for _, r := range rs {
			word := "ok"
			if r.Status != OK {
				word = strings.ToUpper(s.Word(r.Status))
			}
			line := fmt.Sprintf("%-6s %s", word, textsafe.Text(r.Name))
			if r.Detail != "" {
				line += ": " + textsafe.Text(r.Detail)
			}
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if s.Seconds {
		fmt.Fprintf(tw, "%s\tSTATUS\tSECONDS\tDETAIL\n", s.Header)
	} else {
		fmt.Fprintf(tw, "%s\tSTATUS\tDETAIL\n", s.Header)
	}
	for _, r := range rs {
		word := strings.ToUpper(textsafe.Text(s.Word(r.Status)))
		if s.Seconds {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\n", textsafe.Text(r.Name), word, r.Duration.Seconds(), textsafe.Text(r.Detail))
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", textsafe.Text(r.Name), word, textsafe.Text(r.Detail))
		}
	}
	return tw.Flush()
}

// jsonResult is one result in --json; which fields appear is the Style's.
type jsonResult struct {
	Name    string   `json:"name"`
	Status  string   `json:"status,omitempty"`
	OK      *bool    `json:"ok,omitempty"`
	Detail  *string  `json:"detail,omitempty"`
	Seconds *float64 `json:"seconds,omitempty"`
}

// json returns rs as s spells them in --json.
func (s Style) json(rs []Result) []jsonResult {
	out := make([]jsonResult, 0, len(rs))
	for _, r := range rs {
		j := jsonResult{Name: r.Name}
		if s.Bool {
			ok := r.Status != Failed
			j.OK = &ok
		} else {
			j.Status = s.Word(r.Status)
		}
		if r.Detail != "" || s.EmptyDetail {
			d := r.Detail
			j.Detail = &d
		}
		if s.Seconds {
			sec := r.Duration.Seconds()
			j.Seconds = &sec
		}
		out = append(out, j)
	}
	return out
}

// The commands' lists of results, each written in --json in its command's
// Style. They are []Result, so Passed, Failures, Find and Err take them.
type (
	// PreflightResults are preflight's checks.
	PreflightResults []Result
	// VerifyResults are verify's checks (and show's).
	VerifyResults []Result
	// DrillResults are a drill's steps.
	DrillResults []Result
)

// MarshalJSON implements json.Marshaler in the Preflight style.
func (l PreflightResults) MarshalJSON() ([]byte, error) { return marshal(Preflight, l) }

// MarshalJSON implements json.Marshaler in the Verify style.
func (l VerifyResults) MarshalJSON() ([]byte, error) { return marshal(Verify, l) }

// MarshalJSON implements json.Marshaler in the Drill style.
func (l DrillResults) MarshalJSON() ([]byte, error) { return marshal(Drill, l) }

// marshal writes rs in s's spelling; no list at all is null, as a nil
// slice always was.
func marshal(s Style, rs []Result) ([]byte, error) {
	if rs == nil {
		return []byte("null"), nil
	}
	return json.Marshal(s.json(rs))
}

// WriteJSON writes a report (a struct holding one of the result lists) to
// w as indented JSON: the one JSON printer of the checks.
func WriteJSON(w io.Writer, report any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}
