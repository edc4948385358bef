package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOneJSONFormat: list --json and verify --json name what the manifest
// names with the manifest's field names, write times in one fixed-width
// UTC format and durations in seconds, and leave unknown values out.
func TestOneJSONFormat(t *testing.T) {
	store := t.TempDir()
	var so, se bytes.Buffer
	code := Main([]string{"mybak", "backup", "--storage", store, "--no-encrypt", "--quiet", "--name", "job"}, strings.NewReader("data\n"), &so, &se)
	if errs := se.String(); code != 0 {
		t.Fatalf("backup: %d %s", code, errs)
	}
	// A second, unfinished backup: a started marker and no manifest.
	code, out, _ := mainOut("list", "--storage", store, "--json")
	var items []map[string]any
	if err := json.Unmarshal([]byte(out), &items); code != 0 || err != nil || len(items) != 1 {
		t.Fatalf("list --json: %d %v %s", code, err, out)
	}
	id := items[0]["id"].(string)
	mb, err := os.ReadFile(filepath.Join(store, id, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]any
	json.Unmarshal(mb, &manifest)
	for _, k := range []string{"id", "start_time", "end_time", "raw_size", "stored_size", "type", "label"} {
		if _, ok := manifest[k]; !ok {
			t.Fatalf("the manifest has no %s: the test's premise changed", k)
		}
		if _, ok := items[0][k]; !ok {
			t.Errorf("list --json has no %s (the manifest's name)", k)
		}
	}
	for _, k := range []string{"raw_bytes", "stored_bytes", "duration_ns"} {
		if _, ok := items[0][k]; ok {
			t.Errorf("list --json still has %s", k)
		}
	}
	fixed := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	for _, k := range []string{"start_time", "end_time"} {
		if s, _ := manifest[k].(string); !fixed.MatchString(s) {
			t.Errorf("the manifest's %s = %q, not RFC 3339 UTC at a fixed width", k, s)
		}
	}
	for _, k := range []string{"start_time", "end_time", "last_modified"} {
		if s, _ := items[0][k].(string); !fixed.MatchString(s) {
			t.Errorf("list --json %s = %q, not RFC 3339 UTC at a fixed width", k, s)
		}
	}
	code, out, _ = mainOut("show", "--storage", store, "--json", id)
	var shown map[string]any
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil {
		t.Fatalf("show --json: %d %v %s", code, err, out)
	}
	for _, k := range []string{"id", "start_time", "end_time", "raw_size", "stored_size", "type", "label", "engine", "objects"} {
		mv, _ := json.Marshal(manifest[k])
		sv, _ := json.Marshal(shown[k])
		if k == "start_time" || k == "end_time" {
			if s, _ := shown[k].(string); !fixed.MatchString(s) {
				t.Errorf("show --json %s = %q, not RFC 3339 UTC at a fixed width", k, s)
			}
			continue
		}
		if string(mv) != string(sv) {
			t.Errorf("show --json %s = %s, the manifest's is %s", k, sv, mv)
		}
	}
	if items[0]["raw_size"] != shown["raw_size"] || items[0]["start_time"] != shown["start_time"] {
		t.Errorf("list and show disagree: %v %v / %v %v", items[0]["raw_size"], items[0]["start_time"], shown["raw_size"], shown["start_time"])
	}
	code, out, _ = mainOut("verify", "--storage", store, "--json", id)
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("verify --json: %d %v %s", code, err, out)
	}
	if _, ok := rep["duration_seconds"].(float64); !ok || rep["id"] != id {
		t.Errorf("verify --json: %v", rep)
	}
	// An incomplete backup: what is unknown is absent, not false or 0.
	os.MkdirAll(filepath.Join(store, "20261203T010000Z-abcdef"), 0o700)
	os.WriteFile(filepath.Join(store, "20261203T010000Z-abcdef", "started.json"), []byte(`{"id":"20261203T010000Z-abcdef"}`), 0o600)
	_, out, _ = mainOut("list", "--storage", store, "--json")
	items = nil
	json.Unmarshal([]byte(out), &items)
	for _, it := range items {
		if it["state"] == "complete" {
			continue
		}
		for _, k := range []string{"encrypted", "raw_size", "duration_seconds", "end_time"} {
			if v, ok := it[k]; ok {
				t.Errorf("incomplete backup: %s = %v, want it absent", k, v)
			}
		}
	}
	// The text list: UTC with a Z.
	_, out, _ = mainOut("list", "--storage", store)
	if !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).MatchString(out) || strings.Contains(out, "MB ") {
		t.Errorf("list: %s", out)
	}
}
