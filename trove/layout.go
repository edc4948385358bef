package trove

import (
	"crypto/rand"
	"fmt"
	"regexp"

	"github.com/mybak/mybak/backup"
)

// Layout is the name of Trove's layout, as backup.Manifest.Layout records
// it and --layout selects it.
const Layout = backup.LayoutTrove

// ManifestSuffix ends the name of the manifest mybak writes beside a
// backup in Trove's layout (<id>.mybak.json), which Trove ignores.
const ManifestSuffix = ".mybak.json"

// MarkerSuffix ends the name of the marker of a backup mybak is writing in
// Trove's layout (<id>.mybak.started.json); it is removed once the backup
// is complete.
const MarkerSuffix = ".mybak.started.json"

// idPattern is what mybak accepts as a Trove backup ID: Trove uses UUIDs,
// and names its objects "<id><ext>" and its segments
// "file.split('.')[0]_%08d", so an ID has no dot and no slash.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)

// ValidateID reports whether id has the form of a Trove backup ID (a UUID,
// or any name without dots, slashes or spaces).
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%q is not a Trove backup ID (expected a UUID such as 0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90, or latest)", id)
	}
	return nil
}

// NewID returns a random (version 4) UUID, the form of Trove's backup IDs.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// troveLayout is Trove's backup.Layout: the data object and mybak's files at
// the root of the container, named after the backup.
type troveLayout struct{}

func (troveLayout) Name() string                        { return Layout }
func (troveLayout) ValidateID(id string) error          { return ValidateID(id) }
func (troveLayout) ObjectPath(_, name string) string    { return name }
func (troveLayout) ManifestPath(id string) string       { return id + ManifestSuffix }
func (troveLayout) MarkerPath(id string) string         { return id + MarkerSuffix }
func (troveLayout) Synthesized(m *backup.Manifest) bool { return m.RawSHA256 == "" }
func (troveLayout) ListArgs() string                    { return " --layout " + Layout }

func init() { backup.RegisterLayout(troveLayout{}) }
