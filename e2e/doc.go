// Package e2e holds mybak's end-to-end tests: TestMain builds the mybak
// binary once per `go test` run, and every test runs it as a user would
// (arguments, environment, standard input), checking its standard output,
// standard error and exit code, against real MariaDB servers and a real
// OpenStack Swift started by scripts/mysql-sandbox.sh and
// scripts/swift-sandbox.sh (scripts/test.sh starts them).
//
// Files are named after the command they drive (backup_*, restore_*,
// verify_test.go, drill_*, make_replica_test.go, prune_test.go, binlog_*
// for the binary log archive (restore_pitr_test.go: point-in-time restores),
// list_show_delete_test.go, preflight_*, trove_* for Trove's layout,
// swift_test.go for the Swift store, cron_test.go and docs_test.go for the
// documentation, commands_* for what every command shares); the shared
// harness is helpers_test.go. Tests that need a server or a tool skip
// without it, and fail instead with CI=true or MYBAK_REQUIRE_TOOLS=1
// (internal/testenv).
//
// The tests are built on Linux only (they read /proc, mount a tmpfs and
// run the Linux packages of MariaDB and Swift); elsewhere TestNeedsLinux
// says so. The package has no code of its own: go test ./e2e/ runs it.
package e2e
