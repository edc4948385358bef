package backup

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/stream"
)

func validManifest() *Manifest {
	start := time.Date(2026, 11, 21, 16, 24, 35, 0, time.UTC)
	return &Manifest{
		FormatVersion: FormatVersion,
		ID:            "20261121T162435Z-3fa9c1",
		StartTime:     start,
		EndTime:       start.Add(time.Minute),
		Engine:        EngineInfo{Name: "stdin"},
		Type:          "full",
		Compression:   Compression{Kind: "gzip", Level: 7},
		Encryption:    &Encryption{Cipher: "aes-256-cbc", KDF: &crypto.KDF{Name: "pbkdf2", Digest: "sha256", Iter: 10000}},
		RawSize:       100,
		RawSHA256:     strings.Repeat("a", 64),
		StoredSize:    80,
		StoredSHA256:  strings.Repeat("b", 64),
		Objects:       []Object{{Name: "data.gz.enc", Size: 80}},
		Frames:        []stream.Frame{{Raw: 0, Compressed: 0}, {Raw: 50, Compressed: 40}},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := validManifest()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(b)), "pass") {
		t.Errorf("manifest mentions a passphrase: %s", b)
	}
	got, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := got.Marshal()
	if string(b) != string(b2) {
		t.Errorf("round trip changed the manifest:\n%s\n%s", b, b2)
	}
}

func TestManifestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m *Manifest)
		want   string
	}{
		{"no version", func(m *Manifest) { m.FormatVersion = 0 }, "format_version"},
		{"bad id", func(m *Manifest) { m.ID = "../etc" }, "not a backup ID"},
		{"full with parent", func(m *Manifest) { m.Parent = "20261120T000000Z-000000" }, "full backup has a parent"},
		{"incremental without parent", func(m *Manifest) { m.Type = "incremental" }, "without a parent"},
		{"unknown type", func(m *Manifest) { m.Type = "diff" }, "unknown type"},
		{"unknown compression", func(m *Manifest) { m.Compression.Kind = "lz4" }, "unknown compression"},
		{"unknown cipher", func(m *Manifest) { m.Encryption.Cipher = "rot13" }, "unknown cipher"},
		{"bad kdf", func(m *Manifest) { m.Encryption.KDF.Name = "scrypt" }, "encryption"},
		{"no objects", func(m *Manifest) { m.Objects = nil }, "no data objects"},
		{"escaping object", func(m *Manifest) { m.Objects[0].Name = "../x" }, "invalid object name"},
		{"sizes disagree", func(m *Manifest) { m.Objects[0].Size = 79 }, "add up to 79"},
		{"frames out of order", func(m *Manifest) { m.Frames[1].Compressed = 0 }, "frame 1 out of order"},
		{"frame past end", func(m *Manifest) { m.Frames[1].Raw = 101 }, "past the end"},
		{"negative size", func(m *Manifest) { m.RawSize = -1 }, "negative size"},
		{"time travel", func(m *Manifest) { m.EndTime = m.StartTime.Add(-time.Second) }, "ends before it starts"},
	}
	if err := validManifest().Validate(); err != nil {
		t.Fatalf("valid manifest rejected: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			tt.modify(m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidManifest mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseManifestRejects(t *testing.T) {
	good, _ := validManifest().Marshal()
	var generic map[string]any
	json.Unmarshal(good, &generic)
	generic["format_version"] = FormatVersion + 1
	newer, _ := json.Marshal(generic)
	generic["format_version"] = FormatVersion
	generic["surprise"] = true
	unknown, _ := json.Marshal(generic)
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"not json":      {[]byte("{"), "invalid backup manifest"},
		"newer version": {newer, "upgrade mybak"},
		"unknown field": {unknown, "surprise"},
		"empty":         {nil, "invalid backup manifest"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseManifest(tc.in)
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseManifest = %v, want ErrInvalidManifest mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	good, _ := validManifest().Marshal()
	f.Add(good)
	f.Add([]byte(`{"format_version":1}`))
	f.Add([]byte(`{"format_version":1,"objects":[{"name":"..","size":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		// Whatever parses must be valid and survive a round trip.
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed manifest does not validate: %v", err)
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(out); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func TestID(t *testing.T) {
	at := time.Date(2026, 11, 21, 16, 24, 35, 0, time.FixedZone("x", 3600))
	id := NewID(at)
	if err := ValidateID(id); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "20261121T152435Z-") {
		t.Errorf("NewID = %s, want UTC time first", id)
	}
	if got, ok := IDTime(id); !ok || !got.Equal(at) {
		t.Errorf("IDTime(%s) = %v, %v", id, got, ok)
	}
	if NewID(at) == id {
		t.Error("two IDs in the same second collide")
	}
	later := NewID(at.Add(time.Second))
	if later <= id {
		t.Errorf("IDs do not sort by time: %s <= %s", later, id)
	}
	for _, bad := range []string{"", "latest", "20261121T152435Z", "20261121T152435Z-3FA9C1", "../20261121T152435Z-3fa9c1"} {
		if ValidateID(bad) == nil {
			t.Errorf("ValidateID(%q) accepted", bad)
		}
	}
}
