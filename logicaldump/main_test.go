package logicaldump

import (
	"os"
	"testing"

	"github.com/mybak/mybak/mysql/mysqltest"
)

// sandboxName is the MariaDB this package's server tests run against.
const sandboxName = "logicaldump"

// TestMain gives the package's server tests a MariaDB of their own,
// started with scripts/mysql-sandbox.sh beside the one the environment
// names (same users): the dumps take BACKUP STAGE / FLUSH TABLES WITH
// READ LOCK and the tests create and drop schemas, which on the shared
// server raced the e2e tests `go test ./...` runs at the same time (a
// fresh CI run saw mysqldump --all-databases fail on a schema dropped
// under it). Without MYBAK_TEST_MYSQL=1 nothing is started; the tests
// skip, or fail under CI=true.
func TestMain(m *testing.M) { os.Exit(mysqltest.Main(m, sandboxName)) }
