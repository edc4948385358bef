package backup

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestWireEngines: the reader takes the engines its caller can restore
// (WireReadOptions.Engines, what the engines declare) and refuses a header
// naming another; without Engines a name must have an engine's form.
func TestWireEngines(t *testing.T) {
	header := func(eng string) []byte {
		return rawStream(`{"format_version":1,"id":"20261121T162435Z-3fa9c1","engine":"` + eng + `","type":"full","compression":{"kind":"gzip"}}`)
	}
	only := func(name string) bool { return name == "mariabackup" }
	for _, tc := range []struct {
		engine  string
		engines func(string) bool
		ok      bool
	}{
		{"mariabackup", only, true},
		{"logical", only, false},
		{"logical", nil, true},
		{"Logical", nil, false},
		{"../../bin/sh", nil, false},
		{"", nil, false},
	} {
		_, err := NewWireReader(bytes.NewReader(header(tc.engine)), WireReadOptions{Engines: tc.engines})
		if tc.ok != (err == nil) {
			t.Errorf("engine %q (Engines set: %v): %v, want accepted %v", tc.engine, tc.engines != nil, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrWire) || !strings.Contains(err.Error(), "unknown engine")) {
			t.Errorf("engine %q: %v, want ErrWire: unknown engine", tc.engine, err)
		}
	}
}
