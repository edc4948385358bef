#!/usr/bin/env bash
# make bench-mysql (or BENCH_MYSQL=1 make bench): mybak's physical MariaDB
# backup and restore against the Trove pipeline, in the same run, on a
# throwaway sandbox holding a sysbench database of about BENCH_MYSQL_GB GiB.
#
#   backup:  mariabackup --backup --stream=xbstream | gzip | openssl enc -aes-256-cbc > file   (Trove)
#            mybak backup --engine mariabackup (gzip, encrypted, local store)                   target <= 0.6x Trove
#            the same with --compress zstd (for comparison)
#            mariabackup --backup --stream=xbstream > /dev/null                                  (the tool alone: mybak's overhead)
#   restore: openssl enc -d | gzip -d | mbstream -x, then mariabackup --prepare                 (Trove)
#            mybak restore ID --target-dir DIR (extract + prepare)
#   replica: by hand: openssl enc -d | gzip -d | mbstream -x, mariabackup --prepare, --copy-back,
#            chown, start the server, SET GLOBAL gtid_slave_pos + CHANGE MASTER + START SLAVE,
#            then MASTER_GTID_WAIT for the primary's gtid_binlog_pos
#            mybak make-replica --backup ID (the same steps, and it waits until caught up)
#            Between the backups and the replicas the primary runs BENCH_MYSQL_LAG_EVENTS
#            sysbench write transactions, so each replica has the same binlog to catch up;
#            both clocks stop when the replica has applied the primary's gtid_binlog_pos.
#
# Every step runs once as a warm-up and then BENCH_MYSQL_RUNS times (the two
# sides interleaved); the table gives the median and the fastest. Every output
# is checked outside the clock: the Trove file decrypts, decompresses and
# extracts (mbstream checks every chunk's CRC), each mybak backup passes
# verify --deep, both restores report a prepared full backup with the same
# tables, and both replicas run, with CHECKSUM TABLE of every sbtest table
# equal to the primary's. A failed check fails the bench.
#
#   BENCH_MYSQL_GB=1          database size in GiB (sysbench tables of ~240 MiB per million rows)
#   BENCH_MYSQL_RUNS=3        measured runs per step, after one warm-up run
#   BENCH_MYSQL_LAG_EVENTS=2000  write transactions the replicas catch up
#   BENCH_DIR=DIR             keep the work there (default: a temp dir, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"
make -s build
mybak=$PWD/mybak
cores=$(nproc)
gb=${BENCH_MYSQL_GB:-1}
runs=${BENCH_MYSQL_RUNS:-3}
lag=${BENCH_MYSQL_LAG_EVENTS:-2000}
[[ $runs =~ ^[1-9][0-9]*$ && $lag =~ ^[0-9]+$ ]] || {
  echo "bench-mysql: BENCH_MYSQL_RUNS must be a positive integer, BENCH_MYSQL_LAG_EVENTS a number" >&2
  exit 2
}
work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench-mysql.XXXXXX)}
mkdir -p "$work"
export MYBAK_SANDBOX_DIR=$work/sandbox
cleanup() {
  scripts/mysql-sandbox.sh stop bench >/dev/null 2>&1 || true
  scripts/mysql-sandbox.sh destroy bench-replica >/dev/null 2>&1 || true
  scripts/mysql-sandbox.sh destroy bench-manual >/dev/null 2>&1 || true
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "bench-mysql: FAILED: $*" >&2
  exit 1
}
(umask 077 && echo "bench passphrase" >"$work/key")
export KEYFILE=$work/key
started=$(date -u +%FT%TZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

echo "starting a MariaDB sandbox and loading ~${gb} GiB with sysbench..." >&2
scripts/mysql-sandbox.sh stop bench >/dev/null 2>&1 || true
scripts/mysql-sandbox.sh start bench --innodb-buffer-pool-size=512M --innodb-log-file-size=512M >&2
eval "$(scripts/mysql-sandbox.sh env bench)"
port=$MYBAK_TEST_MYSQL_PORT
# The baselines read the backup user's password from a 0600 option file, as
# mybak does; nothing secret goes on argv.
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_USER" "$(cat "$MYBAK_TEST_MYSQL_PASSWORD_FILE")" "$port" >"$work/client.cnf")
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_ADMIN_USER" "$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" "$port" >"$work/admin.cnf")
(umask 077 && printf 'mysql-password=%s\n' "$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" >"$work/sysbench.cfg")
primary() { mariadb --defaults-extra-file="$work/admin.cnf" -N -B "$@"; }
primary -e "CREATE DATABASE IF NOT EXISTS sbtest"
rows=$(awk -v g="$gb" 'BEGIN{printf "%d", g*1024/240*1000000/8}')
sb=(--config-file="$work/sysbench.cfg" --db-driver=mysql --mysql-socket="$MYBAK_TEST_MYSQL_SOCKET"
  --mysql-user="$MYBAK_TEST_MYSQL_ADMIN_USER" --tables=8 --table-size="$rows" --threads="$cores")
# A kept BENCH_DIR keeps its database: no second load.
if [ -z "$(primary -e "SHOW TABLES FROM sbtest LIKE 'sbtest8'")" ]; then
  sysbench oltp_write_only "${sb[@]}" prepare >"$work/sysbench.log" || fail "sysbench prepare (log: $work/sysbench.log)"
fi
rm -rf "$work"/store* "$work"/restored* "$work"/tmp.* "$work"/*.enc "$work/replica" "$work/manual" "$work"/*.runs
dbbytes=$(primary -e "SELECT SUM(DATA_LENGTH+INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sbtest'")
datadir_bytes=$(du -sb "$MYBAK_TEST_MYSQL_DATADIR" | cut -f1)
echo "sbtest: $(awk -v b="$dbbytes" 'BEGIN{printf "%.2f", b/2^30}') GiB in tables, datadir $(awk -v b="$datadir_bytes" 'BEGIN{printf "%.2f", b/2^30}') GiB" >&2
tables=$(primary -e "SELECT GROUP_CONCAT(CONCAT('sbtest.', TABLE_NAME) ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sbtest'")

# run NAME ROUND CMD: wall seconds, CPU seconds and peak RSS (KiB) of CMD
# (bash, pipefail); round 0 is the warm-up, the others append to NAME.runs.
run() {
  local name=$1 round=$2 cmd=$3 e u s m
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c "set -euo pipefail; $cmd" ||
    fail "$name (round $round) exited non-zero: $cmd"
  read -r e u s m <"$work/time"
  if [ "$round" = 0 ]; then echo "  $name: ${e}s (warm-up)" >&2; return 0; fi
  echo "  $name: ${e}s (round $round)" >&2
  echo "$e $(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') $m" >>"$work/$name.runs"
}
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
sec() { awk '{print $1}' "$work/$1.runs" | median; }
secmin() { awk '{print $1}' "$work/$1.runs" | sort -g | head -1; }
cpu() { awk '{print $2}' "$work/$1.runs" | median; }
rssm() { awk '{print $3}' "$work/$1.runs" | sort -g | tail -1 | awk '{printf "%.0f", $1/1024}'; }
ratio() { awk -v a="$(sec "$1")" -v b="$(sec "$2")" 'BEGIN{printf "%.2f", a/b}'; }
mbps() { awk -v b="$datadir_bytes" -v s="$(sec "$1")" 'BEGIN{printf "%.0f", b/1048576/s}'; }
tmpd() { mktemp -d "$work/tmp.XXXXXX"; }
mybak_common="--encrypt-key-file \$KEYFILE --progress never --log-level warn"

# check_trove FILE: decrypts, decompresses and extracts (mbstream checks the
# chunks' CRCs) into a scratch dir, which must hold the sbtest tables.
check_trove() {
  local t
  t=$(tmpd)
  openssl enc -d -aes-256-cbc -pass file:"$KEYFILE" <"$1" 2>/dev/null | gzip -d | mbstream -x -C "$t" ||
    fail "$1 does not decode (openssl enc -d | gzip -d | mbstream -x)"
  # A table whose creation is still in the copied redo log comes as .new
  # (mariabackup --prepare renames it).
  [ -s "$t/sbtest/sbtest8.ibd" ] || [ -s "$t/sbtest/sbtest8.new" ] || fail "$1 holds no sbtest/sbtest8.ibd"
  rm -rf "$t"
}
# check_prepared DIR: a prepared full backup with all eight sbtest tables;
# prints their names and sizes (the two restores are compared on these).
# (MariaDB 10.11's mariabackup --prepare records backup_type = log-applied.)
check_prepared() {
  grep -Eqs '^backup_type = (full-prepared|log-applied)$' "$1/xtrabackup_checkpoints" "$1/mariadb_backup_checkpoints" ||
    fail "$1 is not a prepared full backup"
  (cd "$1" && stat -c '%n %s' sbtest/*.ibd) || fail "$1 holds no sbtest tables"
}
# check_replica NAME: NAME's replication threads run and its sbtest tables
# checksum as the primary's (the primary is quiet meanwhile).
check_replica() {
  local sock=$MYBAK_SANDBOX_DIR/$1/mysqld.sock st want got
  st=$(mariadb --defaults-file=/dev/null --protocol=socket --socket="$sock" -uroot -e 'SHOW SLAVE STATUS\G') ||
    fail "replica $1 does not answer"
  grep -q 'Slave_IO_Running: Yes' <<<"$st" && grep -q 'Slave_SQL_Running: Yes' <<<"$st" ||
    fail "replica $1 does not replicate: $(grep -E 'Running:|Last_.*Error:' <<<"$st" | tr -s ' ')"
  want=$(primary -e "CHECKSUM TABLE $tables EXTENDED")
  got=$(mariadb --defaults-file=/dev/null --protocol=socket --socket="$sock" -uroot -N -B -e "CHECKSUM TABLE $tables EXTENDED")
  [ "$want" = "$got" ] || fail "replica $1's tables differ from the primary's: $got, want $want"
}

echo "backup: warm-up, then $runs rounds" >&2
for ((round = 0; round <= runs; round++)); do
  run raw "$round" "mariabackup --defaults-extra-file='$work/client.cnf' --backup --stream=xbstream --target-dir='$(tmpd)' 2>'$work/raw.log' >/dev/null"
  grep -q 'completed OK!' "$work/raw.log" || fail "mariabackup (alone) did not complete OK: $work/raw.log"
  run trove "$round" "mariabackup --defaults-extra-file='$work/client.cnf' --backup --stream=xbstream --target-dir='$(tmpd)' 2>'$work/trove.log' | gzip | openssl enc -aes-256-cbc -salt -pass file:\$KEYFILE >'$work/trove.xbstream.gz.enc' && sync '$work/trove.xbstream.gz.enc'"
  grep -q 'completed OK!' "$work/trove.log" || fail "mariabackup (Trove) did not complete OK: $work/trove.log"
  check_trove "$work/trove.xbstream.gz.enc"
  for kind in gzip zstd; do
    name=mybak; [ "$kind" = gzip ] || name=mybak_zstd
    rm -rf "$work/store.$kind"
    run "$name" "$round" "'$mybak' backup --engine mariabackup --compress $kind --storage '$work/store.$kind' $mybak_common --host 127.0.0.1 --port $port --user '$MYBAK_TEST_MYSQL_USER' --password-file '$MYBAK_TEST_MYSQL_PASSWORD_FILE' >'$work/id.$kind'"
    "$mybak" verify --deep --storage "$work/store.$kind" --encrypt-key-file "$KEYFILE" --progress never --log-level warn \
      "$(cat "$work/id.$kind")" >/dev/null || fail "mybak verify --deep of the $kind backup"
  done
  rm -rf "$work"/tmp.*
done
id=$(cat "$work/id.gzip")
obj=$(ls "$work/store.gzip/$id"/data*)
zobj=$(ls "$work/store.zstd/$(cat "$work/id.zstd")"/data*)

echo "restore: warm-up, then $runs rounds" >&2
for ((round = 0; round <= runs; round++)); do
  tdir=$(tmpd)
  run trove_restore "$round" "openssl enc -d -aes-256-cbc -pass file:\$KEYFILE <'$work/trove.xbstream.gz.enc' | gzip -d | mbstream -x -C '$tdir' && mariabackup --prepare --target-dir='$tdir' 2>'$work/prepare.log'"
  grep -q 'completed OK!' "$work/prepare.log" || fail "mariabackup --prepare did not complete OK: $work/prepare.log"
  check_prepared "$tdir" >"$work/trove_restore.files"
  rm -rf "$tdir" "$work/restored"
  run mybak_restore "$round" "'$mybak' restore '$id' --storage '$work/store.gzip' $mybak_common --target-dir '$work/restored'"
  check_prepared "$work/restored" >"$work/mybak_restore.files"
  cmp -s "$work/trove_restore.files" "$work/mybak_restore.files" ||
    fail "the two restores hold different tables: $(diff "$work/trove_restore.files" "$work/mybak_restore.files" | tr '\n' ' ')"
  rm -rf "$work/restored"
done

if [ "$lag" -gt 0 ]; then
  echo "the primary runs $lag write transactions after the backups (the replicas catch them up)..." >&2
  sysbench oltp_write_only "${sb[@]}" --events="$lag" --time=0 run >"$work/sysbench-lag.log" ||
    fail "sysbench run (log: $work/sysbench-lag.log)"
fi
echo "replica: warm-up, then $runs rounds" >&2
replpw=$MYBAK_SANDBOX_DIR/credentials/mybak_repl.password
# By hand; the replication password reaches the client on stdin, not argv.
# The clock stops where mybak's does: when the replica has applied the
# primary's gtid_binlog_pos (MASTER_GTID_WAIT; 0 = reached, -1 = timed out).
cat >"$work/manual.sh" <<SH
set -euo pipefail
t=\$(mktemp -d '$work/tmp.XXXXXX')
openssl enc -d -aes-256-cbc -pass file:\$KEYFILE <'$work/trove.xbstream.gz.enc' | gzip -d | mbstream -x -C "\$t"
mariabackup --prepare --target-dir="\$t" 2>'$work/manual-prepare.log'
mariabackup --copy-back --target-dir="\$t" --datadir='$work/manual/data' 2>'$work/manual-copy.log'
chown -R mysql: '$work/manual/data' 2>/dev/null || true
scripts/mysql-sandbox.sh start-datadir bench-manual '$work/manual/data' 2>/dev/null
gtid=\$(cut -f3 "\$t/mariadb_backup_binlog_info" 2>/dev/null || cut -f3 "\$t/xtrabackup_binlog_info")
replica() { mariadb --defaults-file=/dev/null --protocol=socket --socket='$MYBAK_SANDBOX_DIR/bench-manual/mysqld.sock' -uroot -N -B "\$@"; }
replica <<SQL
SET GLOBAL gtid_slave_pos='\$gtid';
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$port, MASTER_USER='mybak_repl', MASTER_PASSWORD='\$(cat '$replpw')', MASTER_USE_GTID=slave_pos;
START SLAVE;
SQL
pos=\$(mariadb --defaults-extra-file='$work/admin.cnf' -N -B -e 'SELECT @@GLOBAL.gtid_binlog_pos')
[ "\$(replica -e "SELECT MASTER_GTID_WAIT('\$pos', 1800)")" = 0 ] || { echo "by-hand replica did not reach \$pos" >&2; exit 1; }
SH
for ((round = 0; round <= runs; round++)); do
  scripts/mysql-sandbox.sh destroy bench-manual >/dev/null 2>&1 || true
  rm -rf "$work/manual" && mkdir -p "$work/manual"
  run manual_replica "$round" "bash '$work/manual.sh'"
  check_replica bench-manual
  scripts/mysql-sandbox.sh destroy bench-manual >/dev/null 2>&1 || true
  rm -rf "$work/manual" "$work"/tmp.*
  scripts/mysql-sandbox.sh destroy bench-replica >/dev/null 2>&1 || true
  rm -rf "$work/replica"
  run mybak_replica "$round" "'$mybak' make-replica --backup '$id' --storage '$work/store.gzip' $mybak_common --datadir '$work/replica/data' --start-cmd 'scripts/mysql-sandbox.sh start-datadir bench-replica \"\$MYBAK_DATADIR\" 2>/dev/null' --socket '$MYBAK_SANDBOX_DIR/bench-replica/mysqld.sock' --user '$MYBAK_TEST_MYSQL_ADMIN_USER' --password-file '$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE' --primary-host 127.0.0.1 --primary-port $port --replication-user mybak_repl --replication-password-file '$replpw' >'$work/replica.out'"
  check_replica bench-replica
  scripts/mysql-sandbox.sh destroy bench-replica >/dev/null 2>&1 || true
  rm -rf "$work/replica"
done

row() { # row LABEL NAME
  printf '%-70s %7s /%7s %8s %7s %6sM\n' "$1" "$(sec "$2")" "$(secmin "$2")" "$(cpu "$2")" "$(mbps "$2")" "$(rssm "$2")"
}
printf '\nmybak bench (MariaDB physical): sbtest %s bytes in tables, datadir %s bytes, %d cores, started %s, finished %s\n' \
  "$dbbytes" "$datadir_bytes" "$cores" "$started" "$(date -u +%FT%TZ)"
printf 'load average %s at the start, %s at the end; median of %d runs after a warm-up (and the fastest); every output checked\n\n' \
  "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$runs"
printf '%-70s %16s %8s %7s %7s %14s\n' "backup" "wall s med/min" "CPU s" "MiB/s" "RSS" "output bytes"
printf '%s %14s\n' "$(row "mariabackup --stream=xbstream > /dev/null (the tool alone)" raw)" "-"
printf '%s %14s\n' "$(row "Trove: mariabackup | gzip | openssl enc -aes-256-cbc" trove)" "$(stat -c %s "$work/trove.xbstream.gz.enc")"
printf '%s %14s\n' "$(row "mybak backup --engine mariabackup (gzip, encrypted, local)" mybak)" "$(stat -c %s "$obj")"
printf '%s %14s\n' "$(row "mybak backup --engine mariabackup --compress zstd (encrypted)" mybak_zstd)" "$(stat -c %s "$zobj")"
printf '\n%-70s %16s %8s %7s %7s\n' "restore (decode + extract + prepare)" "wall s med/min" "CPU s" "MiB/s" "RSS"
row "Trove: openssl enc -d | gzip -d | mbstream -x; mariabackup --prepare" trove_restore
row "mybak restore --target-dir" mybak_restore
printf '\n%-70s %16s %8s %7s %7s\n' "replica, until it applied the primary's gtid_binlog_pos ($lag trx behind)" "wall s med/min" "CPU s" "MiB/s" "RSS"
row "by hand: openssl|gzip|mbstream, prepare, copy-back, start, CHANGE MASTER" manual_replica
row "mybak make-replica --backup ID" mybak_replica
cat <<TXT

ratios (mybak time / other time, medians; lower is better for mybak; target in brackets)
  backup vs Trove pipeline:       $(ratio mybak trove)x  [<= 0.6]
  backup zstd vs Trove pipeline:  $(ratio mybak_zstd trove)x
  backup vs the tool alone:       $(ratio mybak raw)x  (overhead of compressing, encrypting, hashing and storing: $(awk -v a="$(sec mybak)" -v b="$(sec raw)" 'BEGIN{printf "%+.0f%%", (a/b-1)*100}'))
  restore vs Trove pipeline:      $(ratio mybak_restore trove_restore)x
  make-replica vs by hand:        $(ratio mybak_replica manual_replica)x
TXT
