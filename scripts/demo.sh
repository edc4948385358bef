#!/usr/bin/env bash
# make demo: the main job on the embedded default store, start to finish.
# Generates a key file and a sample file, backs the file up with the stdin
# engine into a local store, lists, verifies (fast and deep), restores it and
# compares it with the original. Everything lives in a throwaway directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh):$PATH"
make -s build
mybak=$PWD/mybak
work=$(mktemp -d /tmp/mybak-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "a key file (0600) and 64 MiB of sample data"
(umask 077 && head -c 32 /dev/urandom | base64 >"$work/key")
python3 - "$work/data" <<'PY'
import os, sys, random
random.seed(1)
with open(sys.argv[1], "wb") as f:
    for i in range(1 << 16):
        if i % 16 == 0:
            f.write(os.urandom(1024))
        else:
            f.write((b"INSERT INTO t VALUES (%d,'row %d');\n" % (i, i * 7)).ljust(1024, b"\0"))
PY
store="$work/store"
say "mybak backup --engine stdin --storage $store --encrypt-key-file key"
id=$("$mybak" backup --engine stdin --storage "$store" --encrypt-key-file "$work/key" --name demo <"$work/data")
echo "backup ID: $id" >&2
say "mybak list"
"$mybak" list --storage "$store" >&2
say "mybak verify --deep $id"
"$mybak" verify --deep --storage "$store" --encrypt-key-file "$work/key" "$id" >&2
say "mybak restore --to-stdout latest | cmp"
"$mybak" restore --storage "$store" --encrypt-key-file "$work/key" latest --to-stdout >"$work/restored"
cmp "$work/data" "$work/restored"
echo "restored bytes are identical to the original ($(stat -c %s "$work/data") bytes)" >&2
say "the stored object is what openssl enc and gzip read"
obj=$(ls "$store/$id"/data*)
openssl enc -d -aes-256-cbc -pbkdf2 -pass "file:$work/key" -in "$obj" | gzip -d | cmp - "$work/data"
echo "openssl enc -d -aes-256-cbc -pbkdf2 | gzip -d: identical" >&2
say "demo passed"
