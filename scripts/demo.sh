#!/usr/bin/env bash
# make demo: mybak's main jobs, start to finish, on throwaway servers.
# Starts a MariaDB sandbox on 127.0.0.1 with a little data, backs it up
# (physical full + incremental, and logical) into a local store, lists and
# verifies, restores the physical chain into a second server and the dump
# into a third, and compares row counts and CHECKSUM TABLE with the source;
# takes a backup with mybak's own logical engine and restores one table of
# it (--include) into the third after dropping it there; then drills the
# chain (verify --drill), makes a fourth server a replica of the source
# from the dump (make-replica) and prunes to the newest backup of each job.
# A short stdin round trip comes first. Everything it starts is stopped and
# everything it creates lives in one throwaway directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$(scripts/deps.sh demo):$PATH"
make -s build
mybak=$root/mybak
work=$(mktemp -d /tmp/mybak-demo.XXXXXX)
export MYBAK_SANDBOX_DIR=$work/sandbox
sandboxes=()
cleanup() {
  for n in "${sandboxes[@]+"${sandboxes[@]}"}"; do scripts/mysql-sandbox.sh stop "$n" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

say "a key file (0600); a quick stdin round trip"
(umask 077 && head -c 32 /dev/urandom | base64 >"$work/key")
export MYBAK_ENCRYPT_KEY_FILE=$work/key MYBAK_STORAGE=$work/store
head -c 8M /dev/urandom | base64 >"$work/data"
id=$("$mybak" backup --engine stdin --name demo-stdin <"$work/data")
"$mybak" restore "$id" --to-stdout | cmp - "$work/data"
obj=$(ls "$work/store/$id"/data*)
openssl enc -d -aes-256-cbc -pbkdf2 -pass "file:$work/key" -in "$obj" | gzip -d | cmp - "$work/data"
echo "restored bytes identical; openssl enc -d | gzip -d reads the stored object too" >&2

start() { # start NAME [start|start-datadir DIR]: a sandbox; sets port/socket vars
  local name=$1
  shift
  sandboxes+=("$name")
  scripts/mysql-sandbox.sh "${@:-start}" >&2
  eval "$(scripts/mysql-sandbox.sh env "$name")"
}
sql() { # sql PORT QUERY: as the sandbox admin (password through MYSQL_PWD, never argv)
  MYSQL_PWD=$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE") mariadb --defaults-file=/dev/null -h127.0.0.1 -P"$1" \
    -u"$MYBAK_TEST_MYSQL_ADMIN_USER" -N -B -e "$2"
}
fingerprint() { # fingerprint PORT: row count and CHECKSUM TABLE of the demo tables
  local t
  for t in shop.items shop.orders shop.notes; do
    printf '%s rows=%s %s\n' "$t" "$(sql "$1" "SELECT COUNT(*) FROM $t")" "$(sql "$1" "CHECKSUM TABLE $t" | cut -f2)"
  done
}

say "a throwaway MariaDB with a little data"
start demo-src start demo-src
src=$MYBAK_TEST_MYSQL_PORT
conn=(--host 127.0.0.1 --port "$src" --user "$MYBAK_TEST_MYSQL_USER" --password-file "$MYBAK_TEST_MYSQL_PASSWORD_FILE")
sql "$src" "CREATE DATABASE shop;
CREATE TABLE shop.items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64), price DECIMAL(10,2));
CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item INT, qty INT, at DATETIME);
CREATE TABLE shop.notes (id INT PRIMARY KEY, txt TEXT) ENGINE=Aria;
INSERT INTO shop.items (name, price) SELECT CONCAT('item-', seq), seq % 100 FROM shop.seq_1_to_50000;
INSERT INTO shop.orders (item, qty, at) SELECT seq % 50000 + 1, seq % 7, NOW() FROM shop.seq_1_to_100000;
INSERT INTO shop.notes VALUES (1, 'an Aria table'), (2, 'quote '' and backslash \\\\');"

say "preflight: engine, privileges, binlog/GTID, blocking queries, redo headroom, free space"
run "$mybak" preflight "${conn[@]}" --sample 2s

say "physical backups: full, then an incremental after more writes"
full=$(run "$mybak" backup --engine auto "${conn[@]}" --name demo-full --log-level warn)
sql "$src" "INSERT INTO shop.orders (item, qty, at) SELECT seq, 1, NOW() FROM shop.seq_1_to_20000;
UPDATE shop.items SET price = price + 1 WHERE id % 3 = 0; DELETE FROM shop.notes WHERE id = 2;"
inc=$(run "$mybak" backup --engine auto --incremental "${conn[@]}" --name demo-inc --log-level warn)
say "logical backup (mariadb-dump)"
dump=$(run "$mybak" backup --engine mariadb-dump "${conn[@]}" --name demo-dump --log-level warn)
fingerprint "$src" >"$work/source.txt"

say "list and verify --deep"
run "$mybak" list >&2
for b in "$full" "$inc" "$dump"; do run "$mybak" verify --deep "$b" >&2; done
echo "manifest of the incremental (engine metadata):" >&2
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps({"type": m["type"], "parent": m["parent"], "meta": m["meta"]}, indent=1))' \
  "$work/store/$inc/manifest.json" >&2

say "restore the physical chain (full + incremental) into a new datadir; start a second server on it"
run "$mybak" restore "$inc" --target-dir "$work/prepared" --copy-back --datadir "$work/restored/data" --log-level warn
start demo-phys start-datadir demo-phys "$work/restored/data"
fingerprint "$MYBAK_TEST_MYSQL_PORT" >"$work/physical.txt"

say "restore the dump --to-mysql into a third, empty server"
start demo-logical start demo-logical
lport=$MYBAK_TEST_MYSQL_PORT
run "$mybak" restore "$dump" --to-mysql --host 127.0.0.1 --port "$MYBAK_TEST_MYSQL_PORT" \
  --user "$MYBAK_TEST_MYSQL_ADMIN_USER" --password-file "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE" --log-level warn
fingerprint "$MYBAK_TEST_MYSQL_PORT" >"$work/logical.txt"

say "compare row counts and CHECKSUM TABLE with the source"
cat "$work/source.txt" >&2
diff "$work/source.txt" "$work/physical.txt" && echo "physical restore: identical" >&2
diff "$work/source.txt" "$work/logical.txt" && echo "logical restore: identical" >&2

say "mybak's own logical engine: a parallel, chunked backup; a table dropped by mistake on the third server, restored alone"
lg=$(run "$mybak" backup --engine logical --dump-threads 2 "${conn[@]}" --name demo-logical --log-level warn)
run "$mybak" verify --deep "$lg" >&2
sql "$lport" "DROP TABLE shop.orders"
run "$mybak" restore "$lg" --to-mysql --include shop.orders --parallel 2 --host 127.0.0.1 --port "$lport" \
  --user "$MYBAK_TEST_MYSQL_ADMIN_USER" --password-file "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE" --log-level warn
fingerprint "$lport" >"$work/include.txt"
diff "$work/source.txt" "$work/include.txt" && echo "single-table restore (--include shop.orders): identical" >&2

say "restore drill: the chain into a throwaway server on 127.0.0.1, CHECK TABLE, row counts"
mkdir -p "$work/drill"
chmod 711 "$work" "$work/drill" # the scratch server runs as mysql
run "$mybak" verify --drill "$inc" --scratch-dir "$work/drill" >&2

say "a replica of the source, from the stored dump, in a fourth (empty) server"
start demo-replica start demo-replica
replica=$MYBAK_TEST_MYSQL_PORT
run "$mybak" make-replica --backup "$dump" --host 127.0.0.1 --port "$replica" \
  --user "$MYBAK_TEST_MYSQL_ADMIN_USER" --password-file "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE" \
  --primary-host 127.0.0.1 --primary-port "$src" --replication-user "$MYBAK_TEST_MYSQL_REPL_USER" \
  --replication-password-file "$MYBAK_TEST_MYSQL_REPL_PASSWORD_FILE" --wait-timeout 120s --log-level warn >&2
sql "$src" "INSERT INTO shop.notes VALUES (3, 'written on the source after the replica was made')"
for _ in $(seq 1 300); do
  [ "$(sql "$replica" "SELECT COUNT(*) FROM shop.notes WHERE id = 3")" = 1 ] && break
  sleep 0.1
done
[ "$(sql "$replica" "SELECT COUNT(*) FROM shop.notes WHERE id = 3")" = 1 ] || { echo "the replica did not receive the new row" >&2; exit 1; }
echo "the replica replicates: a row written on the source arrived" >&2

say "retention: a second dump, then keep only the newest backup of each job"
dump2=$(run "$mybak" backup --engine mariadb-dump "${conn[@]}" --name demo-dump --log-level warn)
run "$mybak" prune --keep-last 1 --dry-run >&2
run "$mybak" prune --keep-last 1 >&2
run "$mybak" list >&2
"$mybak" show "$dump2" >/dev/null
if "$mybak" show "$dump" >/dev/null 2>&1; then echo "prune kept the older dump" >&2; exit 1; fi
say "demo passed"
