package repo_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/trove"
)

// TestForPointInTime: mybak's layout serves point-in-time recovery, its
// archive in the backups' store; Trove's does not, and the error is a
// usage error that says which layout it needs.
func TestForPointInTime(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := repo.ForPointInTime(repo.NewMybak(st, nil))
	if err != nil || p.Archive() != st {
		t.Fatalf("mybak's layout: %v, %v; want its store as the archive", p, err)
	}
	_, err = repo.ForPointInTime(trove.NewRepository(nil, nil))
	var ue repo.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "needs mybak's layout (--layout mybak)") ||
		!strings.Contains(err.Error(), "the trove layout") {
		t.Errorf("Trove's layout: %v; want a usage error naming mybak's layout", err)
	}
}
