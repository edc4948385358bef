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
#            chown, start the server, SET GLOBAL gtid_slave_pos + CHANGE MASTER + START SLAVE
#            mybak make-replica --backup ID (the same steps, until the replica runs and caught up)
#
#   BENCH_MYSQL_GB=1     database size in GiB (sysbench tables of ~240 MiB per million rows)
#   BENCH_DIR=DIR        keep the work there (default: a temp dir, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"
make -s build
mybak=$PWD/mybak
cores=$(nproc)
gb=${BENCH_MYSQL_GB:-1}
work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench-mysql.XXXXXX)}
mkdir -p "$work"
export MYBAK_SANDBOX_DIR=$work/sandbox
cleanup() {
  testdata/mysql-sandbox.sh stop bench >/dev/null 2>&1 || true
  testdata/mysql-sandbox.sh destroy bench-replica >/dev/null 2>&1 || true
  testdata/mysql-sandbox.sh destroy bench-manual >/dev/null 2>&1 || true
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
(umask 077 && echo "bench passphrase" >"$work/key")
export KEYFILE=$work/key

echo "starting a MariaDB sandbox and loading ~${gb} GiB with sysbench..." >&2
testdata/mysql-sandbox.sh stop bench >/dev/null 2>&1 || true
testdata/mysql-sandbox.sh start bench --innodb-buffer-pool-size=512M --innodb-log-file-size=512M >&2
eval "$(testdata/mysql-sandbox.sh env bench)"
port=$MYBAK_TEST_MYSQL_PORT
# The baselines read the backup user's password from a 0600 option file, as
# mybak does; nothing secret goes on argv.
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_USER" "$(cat "$MYBAK_TEST_MYSQL_PASSWORD_FILE")" "$port" >"$work/client.cnf")
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_ADMIN_USER" "$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" "$port" >"$work/admin.cnf")
mariadb --defaults-extra-file="$work/admin.cnf" -e "CREATE DATABASE IF NOT EXISTS sbtest"
rows=$(awk -v g="$gb" 'BEGIN{printf "%d", g*1024/240*1000000/8}')
# sysbench wants the password as an option: it only runs against this
# throwaway sandbox. A kept BENCH_DIR keeps its database: no second load.
if [ -z "$(mariadb --defaults-extra-file="$work/admin.cnf" -N -B -e "SHOW TABLES FROM sbtest LIKE 'sbtest8'")" ]; then
  sysbench oltp_write_only --db-driver=mysql --mysql-socket="$MYBAK_TEST_MYSQL_SOCKET" \
    --mysql-user="$MYBAK_TEST_MYSQL_ADMIN_USER" --mysql-password="$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" \
    --tables=8 --table-size="$rows" --threads="$cores" prepare >"$work/sysbench.log"
fi
rm -rf "$work/store" "$work/restored" "$work"/tmp.* "$work"/*.enc "$work/replica" "$work/manual"
dbbytes=$(mariadb --defaults-extra-file="$work/admin.cnf" -N -B -e \
  "SELECT SUM(DATA_LENGTH+INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sbtest'")
datadir_bytes=$(du -sb "$MYBAK_TEST_MYSQL_DATADIR" | cut -f1)
echo "sbtest: $(awk -v b="$dbbytes" 'BEGIN{printf "%.2f", b/2^30}') GiB in tables, datadir $(awk -v b="$datadir_bytes" 'BEGIN{printf "%.2f", b/2^30}') GiB" >&2

# measure NAME CMD: seconds and peak RSS (KiB) of CMD, in $work/NAME.{sec,rss}.
measure() {
  local name=$1 cmd=$2
  sync
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f '%e %M' -o "$work/$name.time" bash -c "set -o pipefail; $cmd"
  read -r sec rss <"$work/$name.time"
  echo "$sec" >"$work/$name.sec"
  echo "$rss" >"$work/$name.rss"
  echo "  $name: ${sec}s" >&2
}
sec() { cat "$work/$1.sec"; }
ratio() { awk -v a="$(sec "$1")" -v b="$(sec "$2")" 'BEGIN{printf "%.2f", a/b}'; }
mbps() { awk -v b="$datadir_bytes" -v s="$(sec "$1")" 'BEGIN{printf "%.0f", b/1048576/s}'; }
tmpd() { mktemp -d "$work/tmp.XXXXXX"; }

echo "backup:" >&2
measure raw "mariabackup --defaults-extra-file='$work/client.cnf' --backup --stream=xbstream --target-dir='$(tmpd)' 2>'$work/raw.log' >/dev/null"
measure trove "mariabackup --defaults-extra-file='$work/client.cnf' --backup --stream=xbstream --target-dir='$(tmpd)' 2>'$work/trove.log' | gzip | openssl enc -aes-256-cbc -salt -pass file:\$KEYFILE >'$work/trove.xbstream.gz.enc'"
measure mybak "'$mybak' backup --engine mariabackup --storage '$work/store' --encrypt-key-file \$KEYFILE --host 127.0.0.1 --port $port --user '$MYBAK_TEST_MYSQL_USER' --password-file '$MYBAK_TEST_MYSQL_PASSWORD_FILE' --progress never --log-level warn >'$work/id'"
id=$(cat "$work/id")
obj=$(ls "$work/store/$id"/data*)
measure mybak_zstd "'$mybak' backup --engine mariabackup --compress zstd --storage '$work/store' --encrypt-key-file \$KEYFILE --host 127.0.0.1 --port $port --user '$MYBAK_TEST_MYSQL_USER' --password-file '$MYBAK_TEST_MYSQL_PASSWORD_FILE' --progress never --log-level warn >'$work/id.zstd'"
zobj=$(ls "$work/store/$(cat "$work/id.zstd")"/data*)

echo "restore:" >&2
tdir=$(tmpd)
measure trove_restore "openssl enc -d -aes-256-cbc -pass file:\$KEYFILE <'$work/trove.xbstream.gz.enc' | gzip -d | mbstream -x -C '$tdir' && mariabackup --prepare --target-dir='$tdir' 2>'$work/prepare.log'"
measure mybak_restore "'$mybak' restore '$id' --storage '$work/store' --encrypt-key-file \$KEYFILE --target-dir '$work/restored' --progress never --log-level warn"

echo "replica:" >&2
replpw=$MYBAK_SANDBOX_DIR/credentials/mybak_repl.password
testdata/mysql-sandbox.sh destroy bench-manual >/dev/null 2>&1 || true
testdata/mysql-sandbox.sh destroy bench-replica >/dev/null 2>&1 || true
mkdir -p "$work/manual"
# By hand; the replication password reaches the client on stdin, not argv.
cat >"$work/manual.sh" <<SH
set -euo pipefail
t=\$(mktemp -d '$work/tmp.XXXXXX')
openssl enc -d -aes-256-cbc -pass file:\$KEYFILE <'$work/trove.xbstream.gz.enc' | gzip -d | mbstream -x -C "\$t"
mariabackup --prepare --target-dir="\$t" 2>'$work/manual-prepare.log'
mariabackup --copy-back --target-dir="\$t" --datadir='$work/manual/data' 2>'$work/manual-copy.log'
chown -R mysql: '$work/manual/data' 2>/dev/null || true
testdata/mysql-sandbox.sh start-datadir bench-manual '$work/manual/data' 2>/dev/null
gtid=\$(cut -f3 "\$t/mariadb_backup_binlog_info" 2>/dev/null || cut -f3 "\$t/xtrabackup_binlog_info")
mariadb --defaults-file=/dev/null --protocol=socket --socket='$MYBAK_SANDBOX_DIR/bench-manual/mysqld.sock' -uroot <<SQL
SET GLOBAL gtid_slave_pos='\$gtid';
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$port, MASTER_USER='mybak_repl', MASTER_PASSWORD='\$(cat '$replpw')', MASTER_USE_GTID=slave_pos;
START SLAVE;
SQL
SH
measure manual_replica "bash '$work/manual.sh'"
measure mybak_replica "'$mybak' make-replica --backup '$id' --storage '$work/store' --encrypt-key-file \$KEYFILE --datadir '$work/replica/data' --start-cmd 'testdata/mysql-sandbox.sh start-datadir bench-replica \"\$MYBAK_DATADIR\" 2>/dev/null' --socket '$MYBAK_SANDBOX_DIR/bench-replica/mysqld.sock' --user '$MYBAK_TEST_MYSQL_ADMIN_USER' --password-file '$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE' --primary-host 127.0.0.1 --primary-port $port --replication-user mybak_repl --replication-password-file '$replpw' --progress never --log-level warn >'$work/replica.out'"
testdata/mysql-sandbox.sh destroy bench-manual >/dev/null 2>&1 || true
testdata/mysql-sandbox.sh destroy bench-replica >/dev/null 2>&1 || true

printf '\nmybak bench (MariaDB physical): sbtest %s bytes in tables, datadir %s bytes, %d cores, %s\n\n' \
  "$dbbytes" "$datadir_bytes" "$cores" "$(date -u +%FT%TZ)"
printf '%-66s %9s %9s %14s %9s\n' "backup" "seconds" "MiB/s" "output bytes" "peak RSS"
printf '%-66s %9s %9s %14s %8sM\n' "mariabackup --stream=xbstream > /dev/null (the tool alone)" "$(sec raw)" "$(mbps raw)" "-" "$(($(cat "$work/raw.rss") / 1024))"
printf '%-66s %9s %9s %14s %9s\n' "Trove: mariabackup | gzip | openssl enc -aes-256-cbc" "$(sec trove)" "$(mbps trove)" "$(stat -c %s "$work/trove.xbstream.gz.enc")" "-"
printf '%-66s %9s %9s %14s %8sM\n' "mybak backup --engine mariabackup (gzip, encrypted, local)" "$(sec mybak)" "$(mbps mybak)" "$(stat -c %s "$obj")" "$(($(cat "$work/mybak.rss") / 1024))"
printf '%-66s %9s %9s %14s %8sM\n' "mybak backup --engine mariabackup --compress zstd (encrypted)" "$(sec mybak_zstd)" "$(mbps mybak_zstd)" "$(stat -c %s "$zobj")" "$(($(cat "$work/mybak_zstd.rss") / 1024))"
printf '\n%-66s %9s\n' "restore (decode + extract + prepare)" "seconds"
printf '%-66s %9s\n' "Trove: openssl enc -d | gzip -d | mbstream -x; mariabackup --prepare" "$(sec trove_restore)"
printf '%-66s %9s\n' "mybak restore --target-dir" "$(sec mybak_restore)"
printf '\n%-66s %9s\n' "replica from the stored backup (restore, start, replication running)" "seconds"
printf '%-66s %9s\n' "by hand: openssl|gzip|mbstream, prepare, copy-back, start, CHANGE MASTER" "$(sec manual_replica)"
printf '%-66s %9s\n' "mybak make-replica --backup ID (and waits until caught up)" "$(sec mybak_replica)"
cat <<TXT

ratios (mybak time / other time; lower is better for mybak; target in brackets)
  backup vs Trove pipeline:       $(ratio mybak trove)x  [<= 0.6]
  backup zstd vs Trove pipeline:  $(ratio mybak_zstd trove)x
  backup vs the tool alone:       $(ratio mybak raw)x  (overhead of compressing, encrypting, hashing and storing: $(awk -v a="$(sec mybak)" -v b="$(sec raw)" 'BEGIN{printf "%+.0f%%", (a/b-1)*100}'))
  restore vs Trove pipeline:      $(ratio mybak_restore trove_restore)x
  make-replica vs by hand:        $(ratio mybak_replica manual_replica)x
TXT
