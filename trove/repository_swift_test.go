package trove

import (
	"testing"

	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/repo/repotest"
)

// TestRepositorySuite runs repo.Repository's conformance suite on Trove's
// layout in a real Swift container.
func TestRepositorySuite(t *testing.T) {
	repotest.Suite(t, func(t *testing.T) repo.Repository { return NewRepository(testStore(t), nil) })
}
