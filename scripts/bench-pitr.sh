#!/usr/bin/env bash
# make bench-pitr: point-in-time recovery measured on a throwaway MariaDB
# sandbox under a sysbench write load, against the tools by hand, in the
# same run.
#
#   archive lag: mybak binlog archive --flush-interval BENCH_PITR_FLUSH follows the server while
#                sysbench oltp_write_only runs BENCH_PITR_SECONDS; per stored piece, stored minus
#                the time of the oldest and of the newest event it holds (p50, p99).
#                Goal: p99 of the oldest <= flush interval + 2 s.
#   replay:      two new servers get the same backup (mybak restore --to-mysql, binary log off);
#                then the same range, from the backup's position to the end of the load:
#                  mybak binlog replay --backup ID --until-gtid LAST            (from the store)
#                  mariadb-binlog --start-position=POS FILES | mariadb --binary-mode   (by hand, from the server's files)
#                Goal: by hand / mybak >= 1.0. Both servers' CHECKSUM TABLE of every sbtest
#                table must equal the primary's, or the bench fails.
#   bytes:       the archive's stored bytes (zstd, encrypted) against the raw binary log.
#
#   BENCH_PITR_SECONDS=60   sysbench write time
#   BENCH_PITR_FLUSH=5s     --flush-interval
#   BENCH_PITR_ROWS=100000  rows per sysbench table (4 tables)
#   BENCH_DIR=DIR           keep the work there (default: a temp dir, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"
make -s build
mybak=$PWD/mybak
secs=${BENCH_PITR_SECONDS:-60}
flush=${BENCH_PITR_FLUSH:-5s}
rows=${BENCH_PITR_ROWS:-100000}
[[ $secs =~ ^[1-9][0-9]*$ && $rows =~ ^[1-9][0-9]*$ && $flush =~ ^[1-9][0-9]*s$ ]] || {
  echo "bench-pitr: BENCH_PITR_SECONDS and BENCH_PITR_ROWS must be positive integers, BENCH_PITR_FLUSH like 5s" >&2
  exit 2
}
sandbox=scripts/mysql-sandbox.sh
work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench-pitr.XXXXXX)}
mkdir -p "$work"
export MYBAK_SANDBOX_DIR=$work/sandbox
archiver=
cleanup() {
  [ -z "$archiver" ] || kill "$archiver" 2>/dev/null || true
  for s in bpitr bpitr-mybak bpitr-hand; do "$sandbox" destroy "$s" >/dev/null 2>&1 || true; done
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "bench-pitr: FAILED: $*" >&2
  exit 1
}
cnf() { # cnf NAME FILE: an option file for the sandbox's admin (no secret on argv)
  local port
  port=$(cat "$MYBAK_SANDBOX_DIR/$1/port")
  (umask 077 && printf '[client]\nuser=%s\npassword="%s"\nhost=127.0.0.1\nport=%s\nprotocol=tcp\n' \
    mybak_admin "$(cat "$MYBAK_SANDBOX_DIR/credentials/mybak_admin.password")" "$port" >"$2")
}
(umask 077 && echo "bench passphrase" >"$work/key")
started=$(date -u +%FT%TZ)

echo "bench-pitr: starting a sandbox and loading 4 x $rows rows with sysbench..." >&2
"$sandbox" start bpitr --innodb-buffer-pool-size=256M >&2
cnf bpitr "$work/primary.cnf"
primary() { mariadb --defaults-extra-file="$work/primary.cnf" -N -B "$@"; }
(umask 077 && printf 'mysql-password=%s\n' "$(cat "$MYBAK_SANDBOX_DIR/credentials/mybak_admin.password")" >"$work/sysbench.cfg")
sb=(--config-file="$work/sysbench.cfg" --db-driver=mysql --mysql-socket="$MYBAK_SANDBOX_DIR/bpitr/mysqld.sock"
  --mysql-user=mybak_admin --tables=4 --table-size="$rows" --threads=2)
primary -e "CREATE DATABASE sbtest"
sysbench oltp_write_only "${sb[@]}" prepare >/dev/null
store=$work/store
mkdir -p "$store"
id=$("$mybak" backup --engine mysqldump --storage "$store" --encrypt-key-file "$work/key" --defaults-file "$work/primary.cnf" --log-level warn ||
  fail "backup")
read -r bfile bpos < <("$mybak" show --storage "$store" --json "$id" |
  python3 -c 'import json,sys; m=json.load(sys.stdin)["meta"]; print(m["binlog_file"], m["binlog_pos"])')

echo "bench-pitr: archiving (--flush-interval $flush) while sysbench writes for ${secs}s..." >&2
"$mybak" binlog archive --storage "$store" --encrypt-key-file "$work/key" --compress zstd --flush-interval "$flush" \
  --defaults-file "$work/primary.cnf" --log-level warn 2>"$work/archive.log" &
archiver=$!
load_from=$(date +%s)
sysbench oltp_write_only "${sb[@]}" --time="$secs" --report-interval=0 run >"$work/sysbench.out"
tps=$(awk '/transactions:/ {gsub(/[()]/,"",$3); print $3}' "$work/sysbench.out")
last=$(primary -e "SELECT @@gtid_binlog_pos")
# The archive catches up within a flush interval or two.
for i in $(seq 1 120); do
  if "$mybak" binlog list --storage "$store" --json | python3 -c "import json,sys; l=json.load(sys.stdin); sys.exit(0 if any(s['last_gtid']=='$last' for s in l['servers']) else 1)"; then
    break
  fi
  [ "$i" != 120 ] || fail "the archive did not reach $last in 60 s (log: $work/archive.log)"
  sleep 0.5
done
kill -TERM "$archiver"
wait "$archiver" || fail "binlog archive exited with an error (log: $work/archive.log)"
archiver=
stats=$(go run ./scripts/benchpitr "$store" "$load_from")
val() { awk -v k="$1" '$1==k {print $2}' <<<"$stats"; }

echo "bench-pitr: replaying ${last} onto two copies of the backup (mybak, and by hand)..." >&2
for s in bpitr-mybak bpitr-hand; do
  "$sandbox" start "$s" --skip-log-bin --innodb-buffer-pool-size=256M >&2
  cnf "$s" "$work/$s.cnf"
  "$mybak" restore "$id" --storage "$store" --encrypt-key-file "$work/key" --to-mysql --force --defaults-file "$work/$s.cnf" --log-level warn ||
    fail "restore into $s"
done
t0=$(date +%s.%N)
"$mybak" binlog replay --storage "$store" --encrypt-key-file "$work/key" --backup "$id" --until-gtid "$last" \
  --defaults-file "$work/bpitr-mybak.cnf" --log-level warn || fail "mybak binlog replay"
t1=$(date +%s.%N)
bindir=$(dirname "$(primary -e 'SELECT @@log_bin_basename')")
files=()
for f in $(primary -e "SHOW BINARY LOGS" | awk '{print $1}'); do
  [[ $f < $bfile ]] || files+=("$bindir/$f")
done
t2=$(date +%s.%N)
mariadb-binlog --start-position="$bpos" "${files[@]}" | mariadb --defaults-extra-file="$work/bpitr-hand.cnf" --binary-mode ||
  fail "mariadb-binlog | mariadb"
t3=$(date +%s.%N)
sums() { mariadb --defaults-extra-file="$1" -N -B -e "CHECKSUM TABLE sbtest.sbtest1, sbtest.sbtest2, sbtest.sbtest3, sbtest.sbtest4"; }
want=$(sums "$work/primary.cnf")
[ "$(sums "$work/bpitr-mybak.cnf")" = "$want" ] || fail "the server replayed by mybak differs from the primary"
[ "$(sums "$work/bpitr-hand.cnf")" = "$want" ] || fail "the server replayed by hand differs from the primary"

mybak_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
hand_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN{printf "%.2f", b-a}')
flush_s=${flush%s}
cat <<OUT

bench-pitr ($started, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); sysbench oltp_write_only 2 threads ${secs}s: $tps tps; MariaDB $(primary -e 'SELECT VERSION()'))

archive lag (stored - event), $(val pieces) pieces, --flush-interval $flush:
  oldest event of a piece  p50 $(val lag_oldest_p50) s   p99 $(val lag_oldest_p99) s   goal p99 <= $((flush_s + 2)) s: $(awk -v p="$(val lag_oldest_p99)" -v g="$((flush_s + 2))" 'BEGIN{print (p<=g) ? "met" : "NOT met"}')
  newest event of a piece  p50 $(val lag_newest_p50) s   p99 $(val lag_newest_p99) s

replay of the load (backup $id at $bfile:$bpos to $last), CHECKSUM TABLE equal to the primary's on both:
  mybak binlog replay (from the store: decrypt, decompress, select)   ${mybak_s} s
  mariadb-binlog FILES | mariadb (by hand, the server's own files)    ${hand_s} s
  ratio by hand / mybak: $(awk -v h="$hand_s" -v m="$mybak_s" 'BEGIN{printf "%.2fx", h/m}')   goal >= 1.0x

archive size: $(val stored_bytes) bytes stored (zstd, AES-256-CBC) for $(val raw_bytes) bytes of binary log: $(awk -v s="$(val stored_bytes)" -v r="$(val raw_bytes)" 'BEGIN{printf "%.3fx", s/r}')
OUT
