#!/usr/bin/env bash
# make bench-logical: mybak's own logical engine against Trove's logical
# pipeline and against mydumper/myloader, in the same run, on a throwaway
# MariaDB sandbox holding a sysbench database of about BENCH_LOGICAL_GB GiB.
#
#   backup:  mariadb-dump --single-transaction sbtest | gzip | openssl enc -aes-256-cbc > file  (Trove)
#            mybak backup --engine logical --dump-threads N (gzip, encrypted, local store)  goal >= 2x Trove
#            mydumper --threads N --compress (when installed: apt-get install mydumper)     goal >= 1x
#   restore: openssl enc -d | gzip -d | mariadb                                             (Trove)
#            mybak restore ID --to-mysql --parallel N                                       goal >= 2x Trove
#            mybak restore ID --to-mysql --parallel N --defer-indexes
#            myloader --threads N                                                           goal >= 1x
#
# Every restore starts from a dropped sbtest and is checked outside the clock:
# CHECKSUM TABLE of every sbtest table must equal the source's (a failed check
# fails the bench), and the mybak backup passes verify --deep. Each step runs
# BENCH_LOGICAL_RUNS times (the sides interleaved); the table gives the median.
# The "server s" column is the CPU time mariadbd spent during each step: with
# the server on the same machine, (CPU s + server s) / cores bounds how fast a
# step can be.
#
#   BENCH_LOGICAL_GB=1        database size in GiB (sysbench tables, ~240 MiB per million rows)
#   BENCH_LOGICAL_THREADS=N   threads of mybak and mydumper/myloader (default: the cores)
#   BENCH_LOGICAL_RUNS=1      measured runs per step
#   BENCH_DIR=DIR             keep the work there (default: a temp dir, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"
make -s build
mybak=$PWD/mybak
cores=$(nproc)
gb=${BENCH_LOGICAL_GB:-1}
threads=${BENCH_LOGICAL_THREADS:-$cores}
runs=${BENCH_LOGICAL_RUNS:-1}
[[ $runs =~ ^[1-9][0-9]*$ && $threads =~ ^[1-9][0-9]*$ ]] || {
  echo "bench-logical: BENCH_LOGICAL_RUNS and BENCH_LOGICAL_THREADS must be positive integers" >&2
  exit 2
}
work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench-logical.XXXXXX)}
mkdir -p "$work"
sandboxes=$PWD/testdata/mysql-sandbox.sh
[ -x scripts/mysql-sandbox.sh ] && sandboxes=$PWD/scripts/mysql-sandbox.sh
export MYBAK_SANDBOX_DIR=$work/sandbox
cleanup() {
  "$sandboxes" stop bench-logical >/dev/null 2>&1 || true
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "bench-logical: FAILED: $*" >&2
  exit 1
}
(umask 077 && echo "bench passphrase" >"$work/key")
export KEYFILE=$work/key
started=$(date -u +%FT%TZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

echo "starting a MariaDB sandbox and loading ~${gb} GiB with sysbench..." >&2
"$sandboxes" start bench-logical --innodb-buffer-pool-size=512M --innodb-log-file-size=512M >&2
eval "$("$sandboxes" env bench-logical)"
port=$MYBAK_TEST_MYSQL_PORT
# Every client reads its password from a 0600 option file, as mybak does;
# nothing secret goes on argv.
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_USER" "$(cat "$MYBAK_TEST_MYSQL_PASSWORD_FILE")" "$port" >"$work/client.cnf")
(umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
  "$MYBAK_TEST_MYSQL_ADMIN_USER" "$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" "$port" >"$work/admin.cnf")
(umask 077 && printf 'mysql-password=%s\n' "$(cat "$MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")" >"$work/sysbench.cfg")
admin() { mariadb --defaults-extra-file="$work/admin.cnf" -N -B "$@"; }
admin -e "CREATE DATABASE IF NOT EXISTS sbtest"
rows=$(awk -v g="$gb" 'BEGIN{printf "%d", g*1024/240*1000000/8}')
if [ -z "$(admin -e "SHOW TABLES FROM sbtest LIKE 'sbtest8'")" ]; then
  sysbench oltp_read_only --config-file="$work/sysbench.cfg" --db-driver=mysql --mysql-socket="$MYBAK_TEST_MYSQL_SOCKET" \
    --mysql-user="$MYBAK_TEST_MYSQL_ADMIN_USER" --tables=8 --table-size="$rows" --threads="$cores" prepare \
    >"$work/sysbench.log" || fail "sysbench prepare (log: $work/sysbench.log)"
fi
rm -rf "$work"/store "$work"/mydumper "$work"/*.enc "$work"/*.runs
tables=$(admin -e "SELECT GROUP_CONCAT(CONCAT('sbtest.', TABLE_NAME) ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sbtest'")
dbbytes=$(admin -e "SELECT SUM(DATA_LENGTH+INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sbtest'")
want=$(admin -e "CHECKSUM TABLE $tables")
echo "sbtest: $(awk -v b="$dbbytes" 'BEGIN{printf "%.2f", b/2^30}') GiB in tables ($tables)" >&2

# server_ticks: the CPU time mariadbd has used (user+system, clock ticks).
server_ticks() { awk '{print $14+$15}' "/proc/$(cat "$MYBAK_TEST_MYSQL_DATADIR/../mysqld.pid")/stat"; }
hz=$(getconf CLK_TCK)
# run NAME CMD: wall seconds, CPU seconds of CMD (the processes the shell
# waits for), peak RSS of CMD, and the CPU seconds the server spent
# meanwhile, appended to NAME.runs. On a 2-core machine with the server on
# it, wall time cannot go below (client CPU + server CPU) / 2.
run() {
  local name=$1 cmd=$2 e u s m s0 s1
  s0=$(server_ticks)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c "set -euo pipefail; $cmd" ||
    fail "$name exited non-zero: $cmd"
  s1=$(server_ticks)
  read -r e u s m <"$work/time"
  echo "  $name: ${e}s" >&2
  echo "$e $(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') $m $(awk -v a="$s0" -v b="$s1" -v hz="$hz" 'BEGIN{printf "%.1f", (b-a)/hz}')" >>"$work/$name.runs"
}
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
sec() { awk '{print $1}' "$work/$1.runs" | median; }
cpu() { awk '{print $2}' "$work/$1.runs" | median; }
rssm() { awk '{print $3}' "$work/$1.runs" | sort -g | tail -1 | awk '{printf "%.0f", $1/1024}'; }
srv() { awk '{print $4}' "$work/$1.runs" | median; }
tot() { awk -v a="$(cpu "$1")" -v b="$(srv "$1")" 'BEGIN{printf "%.1f", a+b}'; }
ratio() { awk -v a="$(sec "$1")" -v b="$(sec "$2")" 'BEGIN{printf "%.2f", a/b}'; }
has() { [ -f "$work/$1.runs" ]; }
fresh() { admin -e "DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS mybak_progress"; }
same() {
  [ "$(admin -e "CHECKSUM TABLE $tables")" = "$want" ] || fail "$1: the restored sbtest tables differ from the source's"
}
mybak_common="--storage $work/store --encrypt-key-file \$KEYFILE --progress never --log-level warn"
conn_backup="--host 127.0.0.1 --port $port --user $MYBAK_TEST_MYSQL_USER --password-file $MYBAK_TEST_MYSQL_PASSWORD_FILE"
conn_admin="--host 127.0.0.1 --port $port --user $MYBAK_TEST_MYSQL_ADMIN_USER --password-file $MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE"
mydumper=$(command -v mydumper || true)
myloader=$(command -v myloader || true)
[ -n "$mydumper" ] && [ -n "$myloader" ] || echo "mydumper/myloader not installed (apt-get install mydumper): their rows are left out" >&2

echo "backup: $runs rounds, $threads threads" >&2
for r in $(seq "$runs"); do
  run trove "mariadb-dump --defaults-extra-file=$work/client.cnf --single-transaction --routines --triggers --events --hex-blob --quick --master-data=2 --gtid --databases sbtest | gzip | openssl enc -aes-256-cbc -salt -pass file:\$KEYFILE 2>/dev/null > $work/trove.sql.gz.enc"
  rm -rf "$work/store"
  run mybak "$mybak backup --engine logical --dump-threads $threads --include sbtest $conn_backup $mybak_common > $work/id"
  if [ -n "$mydumper" ]; then
    rm -rf "$work/mydumper"
    run mydumper "$mydumper --defaults-file=$work/client.cnf --threads $threads --compress --database sbtest --outputdir $work/mydumper --rows 500000 --trx-consistency-only 2>>$work/mydumper.log"
  fi
done
id=$(cat "$work/id")
"$mybak" verify --deep "$id" --storage "$work/store" --encrypt-key-file "$KEYFILE" --log-level warn >/dev/null ||
  fail "mybak's backup does not pass verify --deep"

echo "restore: $runs rounds" >&2
for r in $(seq "$runs"); do
  fresh
  run trove_restore "openssl enc -d -aes-256-cbc -pass file:\$KEYFILE < $work/trove.sql.gz.enc 2>/dev/null | gzip -d | mariadb --defaults-extra-file=$work/admin.cnf"
  same "Trove's restore"
  fresh
  run mybak_restore "$mybak restore $id --to-mysql --parallel $threads $conn_admin $mybak_common"
  same "mybak restore --to-mysql"
  fresh
  run mybak_restore_defer "$mybak restore $id --to-mysql --parallel $threads --defer-indexes $conn_admin $mybak_common"
  same "mybak restore --to-mysql --defer-indexes"
  if [ -n "$myloader" ]; then
    fresh
    run myloader "$myloader --defaults-file=$work/admin.cnf --threads $threads --directory $work/mydumper 2>>$work/myloader.log"
    same "myloader"
  fi
done

row() { printf '%-72s %8s %8s %7s %8s\n' "$1" "$(sec "$2")" "$(cpu "$2")" "$(rssm "$2")" "$(srv "$2")"; }
printf '\nmybak bench (logical engine): sbtest %s bytes in tables, %d cores, %d threads, started %s, finished %s\n' \
  "$dbbytes" "$cores" "$threads" "$started" "$(date -u +%FT%TZ)"
printf 'load average %s at the start, %s at the end; median of %d runs; every restore checked (CHECKSUM TABLE)\n\n' \
  "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$runs"
printf '%-72s %8s %8s %7s %8s\n' "backup" "wall s" "CPU s" "RSS MiB" "server s"
row "Trove: mariadb-dump --single-transaction | gzip | openssl enc" trove
row "mybak backup --engine logical --dump-threads $threads (gzip, encrypted)" mybak
has mydumper && row "mydumper --threads $threads --compress" mydumper
printf '\n%-72s %8s %8s %7s %8s\n' "restore" "wall s" "CPU s" "RSS MiB" "server s"
row "Trove: openssl enc -d | gzip -d | mariadb" trove_restore
row "mybak restore --to-mysql --parallel $threads" mybak_restore
row "mybak restore --to-mysql --parallel $threads --defer-indexes" mybak_restore_defer
has myloader && row "myloader --threads $threads" myloader
cat <<EOF

ratios (higher is better for mybak):
  backup  vs Trove:      $(ratio trove mybak)x   (goal >= 2)
  restore vs Trove:      $(ratio trove_restore mybak_restore)x   (--defer-indexes: $(ratio trove_restore mybak_restore_defer)x; goal >= 2)
  restore CPU, client + server: Trove $(tot trove_restore) s, mybak $(tot mybak_restore) s: on $cores cores mybak's
    restore cannot take less than $(awk -v t="$(tot mybak_restore)" -v c="$cores" 'BEGIN{printf "%.1f", t/c}') s, $(awk -v a="$(sec trove_restore)" -v t="$(tot mybak_restore)" -v c="$cores" 'BEGIN{printf "%.2f", a/(t/c)}')x Trove's time at best
EOF
if has mydumper; then
  cat <<EOF
  backup  vs mydumper:   $(ratio mydumper mybak)x   (goal >= 1)
  restore vs myloader:   $(ratio myloader mybak_restore)x   (--defer-indexes: $(ratio myloader mybak_restore_defer)x; goal >= 1)
EOF
fi
