#!/usr/bin/env bash
# The project's test command (make test; CI runs it through .ci/run).
# Installs what is missing, starts the real servers the tests need on
# loopback (OpenStack Swift, MariaDB), runs every Go test with them
# switched on, and stops the servers again, whatever happens.
#
#   scripts/test.sh [go test flags...]      e.g. scripts/test.sh -run Swift ./storage/...
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

gobin=$(scripts/deps.sh)
export PATH="$gobin:$PATH"

state=${MYBAK_TEST_STATE:-$(mktemp -d /tmp/mybak-test.XXXXXX)}
export MYBAK_SWIFT_DIR="$state/swift" MYBAK_SANDBOX_DIR="$state/mysql"
cleanup() {
  testdata/swift-sandbox.sh stop >/dev/null 2>&1 || true
  for n in $(ls "$MYBAK_SANDBOX_DIR" 2>/dev/null); do
    [ -f "$MYBAK_SANDBOX_DIR/$n/my.cnf" ] && testdata/mysql-sandbox.sh stop "$n" >/dev/null 2>&1 || true
  done
  [ -n "${MYBAK_TEST_STATE:-}" ] || rm -rf "$state"
}
trap cleanup EXIT

echo "== starting OpenStack Swift on 127.0.0.1" >&2
testdata/swift-sandbox.sh start >&2
eval "$(testdata/swift-sandbox.sh env)"
echo "== starting MariaDB on 127.0.0.1" >&2
testdata/mysql-sandbox.sh start primary >&2
eval "$(testdata/mysql-sandbox.sh env primary)"

echo "== go vet" >&2
go vet ./...
echo "== go test" >&2
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(./...)
go test -count=1 -timeout 25m "${args[@]}"
