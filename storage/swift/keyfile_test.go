package swift

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mybak/mybak/internal/secretfile"
)

// TestLoadKeyFileRule: the Swift key is a password: a key file the group
// or others may read or write is refused.
func TestLoadKeyFileRule(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	os.WriteFile(p, []byte("s3cret\n"), 0o600)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o602} {
		os.Chmod(p, mode)
		var c Config
		if err := c.LoadKeyFile(p); !errors.Is(err, secretfile.ErrInsecure) || c.Key != "" {
			t.Errorf("mode %v: key %q, %v; want refused", mode, c.Key, err)
		}
	}
}
