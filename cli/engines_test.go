package cli

import (
	"testing"

	"github.com/mybak/mybak/engine"
)

// TestEnginesRegistered: the binary registers every engine it offers. The
// stdin engine is also the fallback for unknown names, so a missing
// registration would not fail loudly: a mariabackup backup would be
// restored as a stream of unknown bytes.
func TestEnginesRegistered(t *testing.T) {
	for _, name := range append([]string{"stdin"}, mysqlEngines...) {
		if name == "auto" {
			continue
		}
		if _, err := engine.ByName(name); err != nil {
			t.Errorf("engine %q is not registered in the cli (is engine/all imported?): %v", name, err)
		}
	}
}
