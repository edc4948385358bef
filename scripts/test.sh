#!/usr/bin/env bash
# The project's test command (make test; CI runs it through .ci/run).
# Installs what is missing, starts the real servers the tests need on
# loopback (OpenStack Swift, MariaDB), runs every Go test with them
# switched on, and stops the servers it started, whatever happens.
# Servers that were already running (a developer's) are used and left alone.
#
#   scripts/test.sh [go test flags and packages...]   e.g. scripts/test.sh -run Swift ./storage/...
set -euo pipefail
cd "$(dirname "$0")/.."

gobin=$(scripts/deps.sh)
export PATH="$gobin:$PATH"

started=()
cleanup() {
  for s in "${started[@]}"; do
    case $s in
      swift) testdata/swift-sandbox.sh stop >/dev/null 2>&1 || true ;;
      mysql:*) testdata/mysql-sandbox.sh stop "${s#mysql:}" >/dev/null 2>&1 || true ;;
    esac
  done
}
trap cleanup EXIT

if ! testdata/swift-sandbox.sh status >/dev/null 2>&1; then
  echo "== starting OpenStack Swift on 127.0.0.1" >&2
  started+=(swift)
  testdata/swift-sandbox.sh start >&2
fi
eval "$(testdata/swift-sandbox.sh env)"
if ! testdata/mysql-sandbox.sh status primary >/dev/null 2>&1; then
  echo "== starting MariaDB on 127.0.0.1" >&2
  started+=(mysql:primary)
  testdata/mysql-sandbox.sh start primary >&2
fi
eval "$(testdata/mysql-sandbox.sh env primary)"

# Tests that need a tool or server fail rather than skip when it is missing.
export MYBAK_REQUIRE_TOOLS=1
echo "== go vet" >&2
go vet ./...
echo "== go test" >&2
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(./...)
go test -count=1 -timeout 25m "${args[@]}"
