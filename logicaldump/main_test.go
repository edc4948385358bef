package logicaldump

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if os.Getenv("MYBAK_TEST_MYSQL") != "1" || os.Getenv("MYBAK_SANDBOX_DIR") == "" {
		return m.Run()
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "mysql-sandbox.sh"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exec.Command(script, "destroy", sandboxName).Run()
	if out, err := exec.Command(script, "start", sandboxName).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "start this package's MariaDB (%s start %s): %v\n%s", script, sandboxName, err, out)
		return 1
	}
	defer exec.Command(script, "destroy", sandboxName).Run()
	out, err := exec.Command(script, "env", sandboxName).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s env %s: %v\n", script, sandboxName, err)
		return 1
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			continue
		}
		os.Setenv(k, strings.Trim(v, "'"))
	}
	if os.Getenv("MYBAK_TEST_MYSQL_NAME") != sandboxName {
		fmt.Fprintf(os.Stderr, "%s env %s did not describe the server:\n%s", script, sandboxName, out)
		return 1
	}
	return m.Run()
}
