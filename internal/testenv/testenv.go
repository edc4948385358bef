// Package testenv holds what the tests of several packages share about
// their environment: switching on the tests that need a real server or an
// external tool (and refusing to skip them when the run requires them),
// mounting a small file system to fill, waiting on observable state, and
// watching the host's processes for leaked secrets.
//
// One switch decides whether a missing server or tool skips a test or
// fails it: Required. scripts/test.sh (make test, CI) sets it, so
// `make test` never passes a test it skipped for a missing server or tool.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Required reports whether tests must fail rather than skip when a server,
// a tool or a privilege they need is missing: when CI=true or
// MYBAK_REQUIRE_TOOLS is set and not 0 (scripts/test.sh sets it for make
// test and CI).
func Required() bool {
	v := os.Getenv("MYBAK_REQUIRE_TOOLS")
	return os.Getenv("CI") == "true" || (v != "" && v != "0")
}

// Need returns when ok; otherwise it skips t saying why, or, when
// Required, fails it: a test that needs a server must not pass by skipping.
func Need(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if Required() {
		t.Fatal(why + " (CI=true or MYBAK_REQUIRE_TOOLS=1: not skipping)")
	}
	t.Skip(why)
}

// NeedSwift switches on a test that talks to the Swift sandbox
// (scripts/swift-sandbox.sh, whose `env` sets MYBAK_TEST_SWIFT=1 and
// ST_AUTH/ST_USER/ST_KEY).
func NeedSwift(t testing.TB) {
	t.Helper()
	Need(t, os.Getenv("MYBAK_TEST_SWIFT") == "1" || os.Getenv("ST_AUTH") != "",
		`needs OpenStack Swift: run scripts/swift-sandbox.sh start && eval "$(scripts/swift-sandbox.sh env)"`)
}

// packages names the Debian package of the tools the tests run.
var packages = map[string]string{
	"openssl": "openssl", "gzip": "gzip", "pigz": "pigz", "zstd": "zstd",
	"mbstream": "mariadb-backup", "xbstream": "percona-xtrabackup-80", "mariabackup": "mariadb-backup",
	"mariadbd": "mariadb-server", "mariadb": "mariadb-client", "mariadb-dump": "mariadb-client",
	"sysbench": "sysbench", "swift": "python3-swiftclient", "script": "bsdutils",
	"python3": "python3", "split": "coreutils", "mount": "mount",
}

// NeedTool returns the path of the first of names found on PATH; when
// none is, it skips t, or fails it when Required, saying what to install.
func NeedTool(t testing.TB, names ...string) string {
	t.Helper()
	var pkgs []string
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if pkg := packages[n]; pkg != "" {
			pkgs = append(pkgs, pkg)
		}
	}
	why := "needs " + strings.Join(names, " or ") + " on PATH"
	if len(pkgs) > 0 {
		why += " (apt-get install " + strings.Join(pkgs, " or ") + ")"
	}
	Need(t, false, why)
	return ""
}

// WaitFor polls cond every 10 ms until it holds, and fails t (saying what
// it waited for) when it does not within timeout. It is for waiting on
// state another process or goroutine changes: a file, a lock, a log line.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
