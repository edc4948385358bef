#!/usr/bin/env bash
# Installs what mybak's build, tests, demo and benchmarks need on a Debian
# machine (run as root, or with sudo available). Idempotent: installs only
# what is missing.
#
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh bench      and the benchmark baselines (pigz, hyperfine)
set -euo pipefail

want_go="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$(dirname "$0")/../go.mod")"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

pkgs=(ca-certificates curl unzip git make gcc openssl gzip pigz zstd procps iproute2
  mariadb-server mariadb-client mariadb-backup sysbench
  swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached)
[ "${1:-}" = bench ] && pkgs+=(hyperfine time)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's packages start services on install where they can; the tests
  # start their own servers on private ports instead.
  $SUDO apt-get update -q >&2
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

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
