#!/usr/bin/env bash
# Runs every `go test -fuzz` target of the project for FUZZTIME each
# (default 10s): the decrypting reader, the stream decoder, the manifest
# parser and the engines' output parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh go):$PATH"
fuzztime=${FUZZTIME:-10s}
n=0
while read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing.F).*/\1/p' "$file"); do
    echo "== $pkg $target ($fuzztime)" >&2
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    n=$((n + 1))
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sed 's|^\./||' | sort)
echo "fuzz: $n targets ran for $fuzztime each" >&2
[ "$n" -gt 0 ]
