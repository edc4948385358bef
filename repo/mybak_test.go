package repo_test

import (
	"testing"

	"github.com/mybak/mybak/repo"
	"github.com/mybak/mybak/repo/repotest"
	"github.com/mybak/mybak/storage/local"
)

func TestMybakSuite(t *testing.T) {
	repotest.Suite(t, func(t *testing.T) repo.Repository {
		st, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return repo.NewMybak(st, nil)
	})
}
