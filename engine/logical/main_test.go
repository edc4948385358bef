package logical

import (
	"os"
	"testing"

	"github.com/mybak/mybak/mysql/mysqltest"
)

// TestMain gives the package's server tests a MariaDB of their own (as
// logicaldump's have): they take BACKUP STAGE and create and drop
// schemas, which on the shared server can race the e2e tests that
// `go test ./...` runs at the same time (a whole-server dump there sees
// a schema dropped under it). Without MYBAK_TEST_MYSQL=1 nothing is
// started; the tests skip, or fail under CI=true.
func TestMain(m *testing.M) { os.Exit(mysqltest.Main(m, "enginelogical")) }
