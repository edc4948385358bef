package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestErr: the one place where failures become damage (ErrDamaged, naming
// every failed result) or an error that says the run could not run.
func TestErr(t *testing.T) {
	notRun := errors.New("no mariadbd found")
	for _, tc := range []struct {
		name    string
		rs      []Result
		what    string
		damaged bool
		want    string // the error's message; "" for nil
		is      error
	}{
		{"all ok", []Result{{Name: "a", Status: OK}, {Name: "b", Status: Warn, Detail: "w"}}, "", false, "", nil},
		{"damage", []Result{{Name: "a", Status: OK}, FromError("object x", errors.New("missing"), true)}, "",
			true, "backup is damaged: object x: missing", nil},
		{"damage names every failure", []Result{
			{Name: "check tables", Status: Failed, Detail: "1 failed", Damage: true},
			{Name: "row counts", Status: Failed, Detail: "differ", Damage: true}}, "restore drill failed",
			true, "backup is damaged: restore drill failed: check tables: 1 failed; row counts: differ", nil},
		{"a could-not-run failure next to damage is still damage", []Result{
			FromError("start server", notRun, false), {Name: "restore", Status: Failed, Detail: "prepare", Damage: true}}, "",
			true, "backup is damaged: start server: no mariadbd found; restore: prepare", nil},
		{"could not run keeps its error", []Result{FromError("server binary", notRun, false)}, "", false, "no mariadbd found", notRun},
		{"could not run without an error", []Result{{Name: "redo", Status: Failed, Detail: "wraps in 5s"}}, "", false, "redo: wraps in 5s", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Err(tc.rs, tc.what)
			if tc.want == "" {
				if err != nil || !Passed(tc.rs) {
					t.Fatalf("Err = %v, Passed = %v; want nil, true", err, Passed(tc.rs))
				}
				return
			}
			if err == nil || err.Error() != tc.want || errors.Is(err, ErrDamaged) != tc.damaged || Passed(tc.rs) {
				t.Fatalf("Err = %v (damaged %v), want %q (damaged %v)", err, errors.Is(err, ErrDamaged), tc.want, tc.damaged)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Err = %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestStyles: each command's results print exactly as its documentation
// and scripts know them (the formats before the report model was shared).
func TestStyles(t *testing.T) {
	rs := []Result{
		{Name: "manifest", Status: OK, Duration: 1500 * time.Millisecond},
		{Name: "redo", Status: Warn, Detail: "wraps\nsoon", Duration: 20 * time.Millisecond},
		{Name: "object \x1b[2K", Status: Failed, Detail: "missing"},
	}
	for _, tc := range []struct {
		name       string
		style      Style
		json, text string
	}{
		{"preflight", Preflight,
			`{"c":[{"name":"manifest","status":"ok","detail":""},{"name":"redo","status":"warn","detail":"wraps\nsoon"},{"name":"object \u001b[2K","status":"fail","detail":"missing"}]}`,
			"CHECK           STATUS  DETAIL\nmanifest        OK      \nredo            WARN    wraps soon\nobject \\x1b[2K  FAIL    missing\n"},
		{"verify", Verify,
			`{"c":[{"name":"manifest","ok":true},{"name":"redo","ok":true,"detail":"wraps\nsoon"},{"name":"object \u001b[2K","ok":false,"detail":"missing"}]}`,
			"ok     manifest\nWARN   redo: wraps soon\nFAILED object \\x1b[2K: missing\n"},
		{"drill", Drill,
			`{"c":[{"name":"manifest","status":"ok","seconds":1.5},{"name":"redo","status":"warn","detail":"wraps\nsoon","seconds":0.02},{"name":"object \u001b[2K","status":"failed","detail":"missing","seconds":0}]}`,
			"STEP            STATUS  SECONDS  DETAIL\nmanifest        OK      1.5      \nredo            WARN    0.0      wraps soon\nobject \\x1b[2K  FAILED  0.0      missing\n"},
		// binlog verify and binlog list: the failed results only, as
		// "GAP: server file: detail" lines always were; --json as verify's.
		{"archive", Archive,
			`{"c":[{"name":"manifest","ok":true},{"name":"redo","ok":true,"detail":"wraps\nsoon"},{"name":"object \u001b[2K","ok":false,"detail":"missing"}]}`,
			"OBJECT \\x1b[2K: missing\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var list any
			switch tc.name {
			case "preflight":
				list = PreflightResults(rs)
			case "verify", "archive":
				list = VerifyResults(rs)
			default:
				list = DrillResults(rs)
			}
			b, err := json.Marshal(map[string]any{"c": list})
			if err != nil || string(b) != tc.json {
				t.Errorf("json: %v\n got %s\nwant %s", err, b, tc.json)
			}
			var w bytes.Buffer
			if err := tc.style.WriteText(&w, rs); err != nil || w.String() != tc.text {
				t.Errorf("text: %v\n got %q\nwant %q", err, w.String(), tc.text)
			}
		})
	}
	// No list at all stays null, as it was.
	var none VerifyResults
	if b, _ := json.Marshal(none); string(b) != "null" {
		t.Errorf("nil list: %s", b)
	}
	var w bytes.Buffer
	WriteJSON(&w, map[string]any{"steps": DrillResults{}})
	if !strings.Contains(w.String(), "\"steps\": []") {
		t.Errorf("WriteJSON: %s", w.String())
	}
}
