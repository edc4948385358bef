// Package testenv holds what the tests of several packages share about
// their environment: switching on the tests that need a real server (and
// refusing to skip them in CI), and watching the host's processes for
// leaked secrets.
package testenv

import (
	"os"
	"testing"
)

// Need returns when ok; otherwise it skips t saying why, or, when CI=true,
// fails it: a test that needs a server must not pass in CI by skipping.
func Need(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: not skipping)")
	}
	t.Skip(why)
}

// NeedSwift switches on a test that talks to the Swift sandbox
// (testdata/swift-sandbox.sh, whose `env` sets MYBAK_TEST_SWIFT=1 and
// ST_AUTH/ST_USER/ST_KEY).
func NeedSwift(t testing.TB) {
	t.Helper()
	Need(t, os.Getenv("MYBAK_TEST_SWIFT") == "1" || os.Getenv("ST_AUTH") != "",
		`needs OpenStack Swift: run testdata/swift-sandbox.sh start && eval "$(testdata/swift-sandbox.sh env)"`)
}
