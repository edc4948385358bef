#!/usr/bin/env bash
# bench-xbstream.sh: prints the path of a real physical backup stream for
# scripts/bench.sh, building it first when it is not cached: a throwaway
# MariaDB sandbox (its own MYBAK_SANDBOX_DIR, destroyed at exit) filled by
# `sysbench oltp_read_write prepare`, then
#
#   mariabackup --backup --stream=xbstream > FILE
#
# The file is cached under BENCH_CACHE, named after what made it (tables,
# rows, recipe, MariaDB and sysbench versions), with FILE.sha256 next to it; a
# second run with the same settings only prints the path. Nothing here is
# committed.
#
#   BENCH_TABLES=4        sysbench tables
#   BENCH_ROWS=250000     rows per table (4 x 250k rows, 1M in all: a ~290 MB stream;
#                         a table takes ~62 MB per 250k rows)
#   BENCH_CACHE=DIR       where the streams are kept (default ~/.cache/mybak/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
tables=${BENCH_TABLES:-4}
rows=${BENCH_ROWS:-250000}
cache=${BENCH_CACHE:-$HOME/.cache/mybak/bench}
[[ $tables =~ ^[1-9][0-9]*$ && $rows =~ ^[1-9][0-9]*$ ]] || {
  echo "bench-xbstream: BENCH_TABLES and BENCH_ROWS must be positive integers" >&2
  exit 2
}
for c in mariadbd mariabackup sysbench; do
  command -v "$c" >/dev/null || { echo "bench-xbstream: $c missing (scripts/deps.sh bench installs it)" >&2; exit 1; }
done
mdb=$(mariadbd --version 2>/dev/null | sed -n 's/.*Ver \([0-9.]*\)-MariaDB.*/\1/p')
sb=$(sysbench --version 2>/dev/null | awk '{print $2}')
# recipe: bump when the way the stream is made changes, so no old one is reused.
recipe=2
file=$cache/sysbench-${tables}x${rows}-r${recipe}-mariadb${mdb:-unknown}-sysbench${sb:-unknown}.xbstream
if [[ -s $file && -s $file.sha256 ]]; then
  echo "$file"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
export MYBAK_SANDBOX_DIR=$work/sandbox
cleanup() {
  scripts/mysql-sandbox.sh destroy benchsrc >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
echo "bench-xbstream: building $file (sysbench ${tables} x ${rows} rows on a throwaway MariaDB; minutes)" >&2
# Loading only: no binary log, no flush per commit. The backup itself is an
# ordinary mariabackup --backup of the loaded datadir.
scripts/mysql-sandbox.sh start benchsrc --skip-log-bin --innodb-buffer-pool-size=1G \
  --innodb-log-file-size=512M --innodb-flush-log-at-trx-commit=0 >&2
eval "$(scripts/mysql-sandbox.sh env benchsrc)"
mariadb --defaults-file=/dev/null --protocol=socket --socket="$MYBAK_TEST_MYSQL_SOCKET" -uroot \
  -e "CREATE DATABASE sbtest"
# sysbench reads the admin password from a 0600 config file, not argv.
(umask 077 && printf 'mysql-password=%s\n' "$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" >"$work/sysbench.cfg")
sysbench oltp_read_write --config-file="$work/sysbench.cfg" --db-driver=mysql \
  --mysql-socket="$MYBAK_TEST_MYSQL_SOCKET" --mysql-user="$MYBAK_TEST_MYSQL_ADMIN_USER" \
  --tables="$tables" --table-size="$rows" --threads="$(nproc)" prepare >"$work/sysbench.log" || {
  tail -n 20 "$work/sysbench.log" >&2
  echo "bench-xbstream: sysbench prepare failed (log above)" >&2
  exit 1
}
got=$(mariadb --defaults-file=/dev/null --protocol=socket --socket="$MYBAK_TEST_MYSQL_SOCKET" -uroot -N -B \
  -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sbtest'")
[[ $got == "$tables" ]] || {
  echo "bench-xbstream: sysbench made $got tables, want $tables" >&2
  exit 1
}
# A clean shutdown and restart checkpoints the loading's redo log: the
# stream then holds the data files and a short redo log, as a backup of a
# quiet server does (not the ~400 MB of redo the load left behind).
scripts/mysql-sandbox.sh stop benchsrc >&2
scripts/mysql-sandbox.sh start benchsrc >&2
eval "$(scripts/mysql-sandbox.sh env benchsrc)"
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_USER" "$(cat "$MYBAK_TEST_MYSQL_PASSWORD_FILE")" "$MYBAK_TEST_MYSQL_PORT" >"$work/client.cnf")
mkdir "$work/target"
mariabackup --defaults-extra-file="$work/client.cnf" --backup --stream=xbstream \
  --target-dir="$work/target" >"$work/stream" 2>"$work/mariabackup.log" || {
  tail -n 20 "$work/mariabackup.log" >&2
  echo "bench-xbstream: mariabackup --backup failed (log above)" >&2
  exit 1
}
grep -q 'completed OK!' "$work/mariabackup.log" || {
  tail -n 20 "$work/mariabackup.log" >&2
  echo "bench-xbstream: mariabackup did not report 'completed OK!'" >&2
  exit 1
}
sha256sum <"$work/stream" | cut -d' ' -f1 >"$work/stream.sha256"
mv "$work/stream.sha256" "$file.sha256.tmp"
mv "$work/stream" "$file"
mv "$file.sha256.tmp" "$file.sha256"
echo "bench-xbstream: $(stat -c %s "$file") bytes" >&2
echo "$file"
