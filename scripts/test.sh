#!/usr/bin/env bash
# The project's test command (make test; CI runs it through .ci/run).
# Installs what is missing (scripts/deps.sh test), starts the real servers
# the tests need on loopback (OpenStack Swift, MariaDB), runs go vet and
# every Go test with them switched on, and stops the servers it started,
# whatever happens.
#
#   scripts/test.sh [go test flags and packages...]
#       e.g. scripts/test.sh -run Swift ./storage/...
#            scripts/test.sh -run Trove ./e2e/   (the end-to-end tests)
#            CI=true scripts/test.sh -shuffle=on
#
# With CI=true (CI, and anyone who wants a run that behaves as on a new
# machine) the servers are always new: a MariaDB sandbox and a Swift
# sandbox in a fresh temporary directory, Swift on free ports, so a
# developer's running servers (or the data earlier runs left in them) are
# neither used nor touched; the directory is removed at exit.
# Without CI, servers that already run (a developer's, under
# $MYBAK_SANDBOX_DIR and $MYBAK_SWIFT_DIR, or their defaults) are used and
# left alone; those this script starts are stopped at exit.
#
# Either way a test that needs a server or tool fails rather than skips
# when it is missing (MYBAK_REQUIRE_TOOLS=1, read by internal/testenv).
set -euo pipefail
cd "$(dirname "$0")/.."

gobin=$(scripts/deps.sh test)
export PATH="$gobin:$PATH"

port_busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_swift_port prints a proxy port whose whole set of sandbox ports is
# free (scripts/swift-sandbox.sh derives the others from it: +1, -1880,
# -1879, -1878, +3231), below the kernel's ephemeral range.
free_swift_port() {
  local p off tries
  for ((tries = 0; tries < 200; tries++)); do
    p=$((14000 + RANDOM % 14000))
    for off in 0 1 -1880 -1879 -1878 3231; do
      port_busy $((p + off)) && continue 2
    done
    echo "$p"
    return 0
  done
  echo "test.sh: no free port for Swift" >&2
  return 1
}

started=()
fresh=""
cleanup() {
  local s
  for s in "${started[@]}"; do
    case $s in
    swift) scripts/swift-sandbox.sh stop >/dev/null 2>&1 || true ;;
    mysql:*)
      if [ -n "$fresh" ]; then
        scripts/mysql-sandbox.sh destroy "${s#mysql:}" >/dev/null 2>&1 || true
      else
        scripts/mysql-sandbox.sh stop "${s#mysql:}" >/dev/null 2>&1 || true
      fi
      ;;
    esac
  done
  if [ -n "$fresh" ]; then
    # Sandboxes a test started and could not destroy (a killed run).
    local pidf
    for pidf in "$fresh"/sandbox/*/mysqld.pid; do
      [ -e "$pidf" ] && scripts/mysql-sandbox.sh destroy "$(basename "$(dirname "$pidf")")" >/dev/null 2>&1 || true
    done
    rm -rf "$fresh"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${CI:-}" = true ]; then
  fresh=$(mktemp -d /tmp/mybak-ci.XXXXXX)
  export MYBAK_SANDBOX_DIR=$fresh/sandbox MYBAK_SWIFT_DIR=$fresh/swift
  MYBAK_SWIFT_PORT=$(free_swift_port)
  export MYBAK_SWIFT_PORT
  echo "== CI=true: new servers under $fresh (Swift on 127.0.0.1:$MYBAK_SWIFT_PORT)" >&2
fi

if [ -n "$fresh" ] || ! scripts/swift-sandbox.sh status >/dev/null 2>&1; then
  echo "== starting OpenStack Swift on 127.0.0.1" >&2
  started+=(swift)
  scripts/swift-sandbox.sh start >&2
fi
eval "$(scripts/swift-sandbox.sh env)"
if [ -n "$fresh" ] || ! scripts/mysql-sandbox.sh status primary >/dev/null 2>&1; then
  echo "== starting MariaDB on 127.0.0.1" >&2
  started+=(mysql:primary)
  scripts/mysql-sandbox.sh start primary >&2
fi
eval "$(scripts/mysql-sandbox.sh env primary)"

# Tests that need a tool or server fail rather than skip when it is missing.
export MYBAK_REQUIRE_TOOLS=1
echo "== go vet" >&2
go vet ./...
# mybak builds for macOS too (platform files: _linux.go / _other.go); the
# end-to-end tests (./e2e/) are Linux only.
echo "== GOOS=darwin go build, go vet (amd64), go build (arm64)" >&2
GOOS=darwin go build ./...
GOOS=darwin go vet ./...
GOOS=darwin GOARCH=arm64 go build ./...
echo "== go test" >&2
# Without a package among the arguments (only flags, e.g. -shuffle=on),
# every package.
args=("$@")
pkgs=0
for a in "${args[@]}"; do
  case $a in ./* | . | github.com/*) pkgs=1 ;; esac
done
[ "$pkgs" = 1 ] || args+=(./...)
go test -count=1 -timeout 25m "${args[@]}"
