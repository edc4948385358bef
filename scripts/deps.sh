#!/usr/bin/env bash
# Installs what one of mybak's make targets needs on a Debian machine (run
# as root, or with sudo available), and prints the directory of a Go recent
# enough for go.mod on stdout (PATH="$(scripts/deps.sh go):$PATH").
# Idempotent: installs only what is missing.
#
#   scripts/deps.sh [go]   Go only: make build, make fuzz. Installs no Debian
#                          package while a recent Go is there (a database host
#                          gets no database or Swift server from make build).
#   scripts/deps.sh test   Go, and the servers and tools the tests run: MariaDB
#                          (server, client, mariabackup), sysbench, OpenStack
#                          Swift and memcached, openssl, gzip, pigz, zstd, script.
#   scripts/deps.sh demo   Go, MariaDB and openssl/gzip (make demo).
#   scripts/deps.sh bench  what test needs, and the benchmark baselines
#                          (hyperfine, time, mydumper) for make bench*.
set -euo pipefail

want_go="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$(dirname "$0")/../go.mod")"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

mariadb=(mariadb-server mariadb-client mariadb-backup)
tools=(openssl gzip)
test_pkgs=("${mariadb[@]}" "${tools[@]}" sysbench pigz zstd procps iproute2 bsdutils python3
  swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached)
target=${1:-go}
case $target in
go | build | fuzz) pkgs=() ;;
test) pkgs=("${test_pkgs[@]}") ;;
demo) pkgs=("${mariadb[@]}" "${tools[@]}") ;;
bench) pkgs=("${test_pkgs[@]}" hyperfine time mydumper) ;;
*)
  echo "usage: $0 [go|test|demo|bench]" >&2
  exit 2
  ;;
esac

install() { # Debian packages, those missing only
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's packages start services on install where they can; the tests
  # start their own servers on private ports instead. DPkg::Lock::Timeout
  # waits for a concurrent apt instead of failing.
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -q >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}" >&2
}
[ ${#pkgs[@]} -eq 0 ] || install "${pkgs[@]}"

# Go: the one on PATH or in /usr/local/go when recent enough; otherwise the
# toolchain module from the Go module proxy (what GOTOOLCHAIN=auto fetches).
go_ok() { # $1 = go binary
  local v
  v="$("$1" env GOVERSION 2>/dev/null | sed 's/^go//')" || return 1
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$want_go" "$v" | sort -V | head -1)" = "$want_go" ]
}
for g in "$(command -v go || true)" /usr/local/go/bin/go "$HOME/.cache/mybak/go/bin/go"; do
  if [ -n "$g" ] && [ -x "$g" ] && go_ok "$g"; then
    echo "$(dirname "$g")"
    exit 0
  fi
done
echo "deps: Go >= $want_go not found; fetching the Go $want_go toolchain from the Go module proxy" >&2
command -v curl >/dev/null && command -v unzip >/dev/null || install ca-certificates curl unzip
dir="$HOME/.cache/mybak"
mkdir -p "$dir"
zip="$dir/go$want_go.zip"
curl -fsSL -o "$zip" "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go${want_go}.linux-amd64.zip"
rm -rf "$dir/go" "$dir/unz"
unzip -q "$zip" -d "$dir/unz"
mv "$dir/unz/golang.org/toolchain@v0.0.1-go${want_go}.linux-amd64" "$dir/go"
rm -rf "$dir/unz" "$zip"
chmod +x "$dir/go/bin/"* "$dir/go/pkg/tool/"*/* 2>/dev/null || true
echo "$dir/go/bin"
