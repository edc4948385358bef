package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// FormatVersion is the manifest format this build writes. Readers accept
// every version up to it and refuse newer ones with a clear message.
// Version 2 added authentication (Manifest.Auth, see auth.go): a version 1
// manifest was made before it and is accepted unauthenticated, with a
// warning; a version 2 manifest without an auth block is refused when a key
// is configured (AuthPolicy).
const FormatVersion = 2

// ManifestName is the object name, under a backup's ID, of its manifest.
// It is written last: a backup without one does not exist for restore.
const ManifestName = "manifest.json"

// ErrInvalidManifest is returned (wrapped) when a manifest cannot be parsed
// or contradicts itself.
var ErrInvalidManifest = errors.New("invalid backup manifest")

// Manifest describes one complete backup. It never contains a secret.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	ID            string    `json:"id"`
	Label         string    `json:"label,omitempty"`
	Layout        string    `json:"layout,omitempty"` // "" (mybak) or "trove"
	StartTime     time.Time `json:"start_time"`
	EndTime       time.Time `json:"end_time"`
	Host          string    `json:"host,omitempty"`
	MybakVersion  string    `json:"mybak_version,omitempty"`

	Engine EngineInfo `json:"engine"`
	// Type is "full" or "incremental".
	Type string `json:"type"`
	// Parent is the ID of the backup an incremental applies onto.
	Parent string `json:"parent,omitempty"`

	Compression Compression `json:"compression"`
	// Encryption is nil for an unencrypted backup.
	Encryption *Encryption `json:"encryption,omitempty"`

	// RawSize and RawSHA256 describe the engine's original stream.
	RawSize   int64  `json:"raw_size"`
	RawSHA256 string `json:"raw_sha256"`
	// StoredSize and StoredSHA256 describe the encoded (compressed,
	// encrypted) stream, i.e. the data object's bytes.
	StoredSize   int64  `json:"stored_size"`
	StoredSHA256 string `json:"stored_sha256"`

	// Objects lists the stored objects that make up the data, in stream
	// order; names are relative to the backup's ID.
	Objects []Object `json:"objects"`
	// Frames records where independently decodable pieces start, for
	// parallel restore.
	Frames []stream.Frame `json:"frames,omitempty"`

	// Meta holds engine metadata: LSNs, binlog position, GTID set, ...
	Meta map[string]string `json:"meta,omitempty"`

	// Auth authenticates the manifest (nil: unauthenticated). It must stay
	// the last field: its MAC covers the stored bytes with the MAC's own
	// value emptied at the end of the file (see auth.go).
	Auth *Auth `json:"auth,omitempty"`

	// raw holds the bytes ParseManifest decoded (or Seal produced): what
	// the MAC covers. authOK is set once the MAC matched.
	raw    []byte
	authOK bool
	warned bool // AuthPolicy.Check warned that it is unauthenticated
}

// EngineInfo names the engine that produced the stream.
type EngineInfo struct {
	Name          string `json:"name"`
	Version       string `json:"version,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
}

// Compression records how the stream was compressed.
type Compression struct {
	Kind  string `json:"kind"` // gzip, zstd, none
	Level int    `json:"level,omitempty"`
}

// Encryption records how the stream was encrypted (never the key).
type Encryption struct {
	Cipher string `json:"cipher"` // aes-256-cbc
	// KDF is nil for backups made by tools that did not record it; restore
	// then detects it.
	KDF *crypto.KDF `json:"kdf,omitempty"`
}

// Object is one stored object of a backup.
type Object struct {
	Name   string         `json:"name"`
	Size   int64          `json:"size"`
	SHA256 string         `json:"sha256,omitempty"`
	MD5    string         `json:"md5,omitempty"`
	Parts  []storage.Part `json:"parts,omitempty"`
}

// Incremental reports whether the backup applies onto a parent.
func (m *Manifest) Incremental() bool { return m.Type == "incremental" }

// TimeFormat is how mybak writes a time in JSON, in manifests as in the
// commands' --json output: RFC 3339 in UTC to the millisecond, always the
// same width.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// manifestTime matches the manifest's own times as encoding/json writes
// them (RFC 3339 with as many fraction digits as needed).
var manifestTime = regexp.MustCompile(`(?m)^  "(start_time|end_time)": "([^"]+)"`)

// Marshal encodes the manifest as indented JSON, its times in TimeFormat.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest of %s: %w", m.ID, err)
	}
	b = manifestTime.ReplaceAllFunc(b, func(field []byte) []byte {
		sm := manifestTime.FindSubmatch(field)
		t, err := time.Parse(time.RFC3339Nano, string(sm[2]))
		if err != nil {
			return field
		}
		return []byte(`  "` + string(sm[1]) + `": "` + t.UTC().Format(TimeFormat) + `"`)
	})
	return append(b, '\n'), nil
}

// ParseManifest decodes and validates a manifest. Unknown fields are
// rejected only when the format version is not newer than ours.
func ParseManifest(b []byte) (*Manifest, error) {
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if probe.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%w: format version %d is newer than this mybak understands (%d): upgrade mybak",
			ErrInvalidManifest, probe.FormatVersion, FormatVersion)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.raw = bytes.Clone(b)
	return &m, nil
}

// Validate checks the manifest for internal consistency.
func (m *Manifest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidManifest, m.ID, fmt.Sprintf(format, a...))
	}
	if m.FormatVersion < 1 {
		return bad("missing format_version")
	}
	if err := ValidateLayoutID(m.Layout, m.ID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	switch m.Type {
	case "full":
		if m.Parent != "" {
			return bad("a full backup has a parent %q", m.Parent)
		}
	case "incremental":
		if m.Parent == "" {
			return bad("an incremental backup without a parent")
		}
	default:
		return bad("unknown type %q", m.Type)
	}
	switch m.Compression.Kind {
	case "gzip", "zstd", "none":
	default:
		return bad("unknown compression %q", m.Compression.Kind)
	}
	if m.Encryption != nil {
		if err := m.Encryption.validate(); err != nil {
			return bad("%v", err)
		}
	}
	if m.RawSize < 0 || m.StoredSize < 0 {
		return bad("negative size")
	}
	if len(m.Objects) == 0 {
		return bad("no data objects")
	}
	var total int64
	for _, o := range m.Objects {
		if err := storage.ValidateName(o.Name); err != nil {
			return bad("object: %v", err)
		}
		if o.Size < 0 {
			return bad("object %q has a negative size", o.Name)
		}
		total += o.Size
	}
	if total != m.StoredSize {
		return bad("objects add up to %d bytes but stored_size is %d", total, m.StoredSize)
	}
	for i, f := range m.Frames {
		if f.Raw < 0 || f.Compressed < 0 || (i > 0 && (f.Raw <= m.Frames[i-1].Raw || f.Compressed <= m.Frames[i-1].Compressed)) {
			return bad("frame %d out of order", i)
		}
		if f.Raw > m.RawSize {
			return bad("frame %d starts past the end of the data", i)
		}
	}
	if !m.EndTime.IsZero() && m.EndTime.Before(m.StartTime) {
		return bad("ends before it starts")
	}
	if m.Auth != nil {
		if m.FormatVersion < 2 {
			return bad("an auth block in a format_version %d manifest", m.FormatVersion)
		}
		if err := m.Auth.validate(); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}
