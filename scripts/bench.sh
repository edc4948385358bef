#!/usr/bin/env bash
# make bench: mybak against the baseline tools, measured in the same run on
# the same generated corpus, with the ratios. Prints a table on stdout.
#
#   BENCH_SIZE=512M   corpus size (default 512M)
#   BENCH_RSS_X=4     the peak-RSS check is repeated on a corpus this many times larger (0: skip)
#   BENCH_DIR=DIR     where the corpus and outputs go (default: a temp dir, removed at the end)
#   BENCH_SWIFT=0     skip the Swift section (scripts/bench-swift.sh: its own Swift in a
#                     network namespace, 2 GiB uploads and downloads; needs root; its
#                     BENCH_SWIFT_* settings are described there)
#   BENCH_MYSQL=1     add the MariaDB section (scripts/bench-mysql.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"
make -s build
mybak=$PWD/mybak
size=${BENCH_SIZE:-512M}
rssx=${BENCH_RSS_X:-4}
cores=$(nproc)
work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench.XXXXXX)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
(umask 077 && echo "bench passphrase" >"$work/key")
export KEYFILE="$work/key"

echo "generating a $size mixed corpus (SQL text, mostly-empty 16 KiB pages, random pages)..." >&2
go run ./scripts/gencorpus -size "$size" >"$work/corpus"
bytes=$(stat -c %s "$work/corpus")

# measure NAME CMD: runs CMD in bash under GNU time; records seconds and
# peak RSS (KiB, of the largest process) in $work/NAME.{sec,rss}.
measure() {
  local name=$1 cmd=$2
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  cat "$work/corpus" >/dev/null # same warm page cache for everyone
  /usr/bin/time -f '%e %M' -o "$work/$name.time" bash -c "$cmd"
  read -r sec rss <"$work/$name.time"
  echo "$sec" >"$work/$name.sec"
  echo "$rss" >"$work/$name.rss"
  echo "  $name: ${sec}s" >&2
}
mbps() { awk -v b="$bytes" -v s="$(cat "$work/$1.sec")" 'BEGIN{printf "%.0f", b/1048576/s}'; }
ratio() { awk -v a="$(cat "$work/$1.sec")" -v b="$(cat "$work/$2.sec")" 'BEGIN{printf "%.2f", b/a}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.0f", k/1024}'; }
sz() { stat -c %s "$1"; }

echo "backup pipelines:" >&2
measure gzip_pipe "gzip -6 <'$work/corpus' | openssl enc -aes-256-cbc -salt -pass file:\$KEYFILE >'$work/out.gzip'"
measure pigz_pipe "pigz -p $cores -6 <'$work/corpus' | openssl enc -aes-256-cbc -salt -pass file:\$KEYFILE >'$work/out.pigz'"
rm -rf "$work/store"
measure mybak_gzip "'$mybak' backup --engine stdin --storage '$work/store' --encrypt-key-file \$KEYFILE --progress never --log-level warn <'$work/corpus' >'$work/id.gzip'"
measure mybak_zstd "'$mybak' backup --engine stdin --storage '$work/store' --encrypt-key-file \$KEYFILE --compress zstd --progress never --log-level warn <'$work/corpus' >'$work/id.zstd'"
gz_obj=$(ls "$work/store/$(cat "$work/id.gzip")"/data*)
zs_obj=$(ls "$work/store/$(cat "$work/id.zstd")"/data*)

echo "restore pipelines:" >&2
measure gunzip_pipe "openssl enc -d -aes-256-cbc -pass file:\$KEYFILE <'$work/out.gzip' | gzip -d >/dev/null"
measure mybak_restore "'$mybak' restore --storage '$work/store' --encrypt-key-file \$KEYFILE --progress never --log-level warn $(cat "$work/id.gzip") --to-stdout >/dev/null"
measure mybak_restore_zstd "'$mybak' restore --storage '$work/store' --encrypt-key-file \$KEYFILE --progress never --log-level warn $(cat "$work/id.zstd") --to-stdout >/dev/null"
measure mybak_verify "'$mybak' verify --deep --storage '$work/store' --encrypt-key-file \$KEYFILE --progress never --log-level warn $(cat "$work/id.gzip") >/dev/null"

big_rss=""
if [ "$rssx" -gt 0 ]; then
  echo "peak RSS on a ${rssx}x larger stream (corpus repeated):" >&2
  measure mybak_big "for i in \$(seq $rssx); do cat '$work/corpus'; done | '$mybak' backup --engine stdin --storage '$work/store2' --encrypt-key-file \$KEYFILE --progress never --log-level warn >/dev/null"
  big_rss=$(mib "$(cat "$work/mybak_big.rss")")
  rm -rf "$work/store2"
fi

gz_size=$(sz "$work/out.gzip")
printf '\nmybak bench: %s corpus (%d bytes), %d cores, %s\n\n' "$size" "$bytes" "$cores" "$(date -u +%FT%TZ)"
printf '%-44s %9s %9s %14s %9s\n' "backup (compress + encrypt)" "seconds" "MiB/s" "output bytes" "vs gzip"
for row in "gzip -6 | openssl enc:gzip_pipe:$work/out.gzip" "pigz -p$cores -6 | openssl enc:pigz_pipe:$work/out.pigz" \
  "mybak backup (gzip, pbkdf2):mybak_gzip:$gz_obj" "mybak backup --compress zstd:mybak_zstd:$zs_obj"; do
  IFS=: read -r label name out <<<"$row"
  printf '%-44s %9s %9s %14s %8.3fx\n' "$label" "$(cat "$work/$name.sec")" "$(mbps "$name")" "$(sz "$out")" \
    "$(awk -v a="$(sz "$out")" -v b="$gz_size" 'BEGIN{print a/b}')"
done
printf '\n%-44s %9s %9s\n' "restore (decrypt + decompress)" "seconds" "MiB/s"
for row in "openssl enc -d | gzip -d:gunzip_pipe" "mybak restore --to-stdout (gzip):mybak_restore" "mybak restore --to-stdout (zstd):mybak_restore_zstd" \
  "mybak verify --deep (gzip):mybak_verify"; do
  IFS=: read -r label name <<<"$row"
  printf '%-44s %9s %9s\n' "$label" "$(cat "$work/$name.sec")" "$(mbps "$name")"
done
cat <<TXT

ratios (higher is better for mybak; target in brackets)
  backup gzip vs gzip pipeline:     $(ratio mybak_gzip gzip_pipe)x  [>= 3]
  backup gzip vs pigz pipeline:     $(ratio mybak_gzip pigz_pipe)x  [>= 1.5]
  backup zstd vs gzip pipeline:     $(ratio mybak_zstd gzip_pipe)x  [>= 5, smaller output]
  restore vs openssl -d | gzip -d:  $(ratio mybak_restore gunzip_pipe)x  [>= 1.5]
  verify --deep vs restore pipeline: $(ratio mybak_verify gunzip_pipe)x  (vs mybak restore: $(ratio mybak_verify mybak_restore)x)
  compressed size mybak/gzip -6:    $(awk -v a="$(sz "$gz_obj")" -v b="$gz_size" 'BEGIN{printf "%.3f", a/b}')  [within 2%]
peak RSS (MiB) [< 200]
  mybak backup gzip: $(mib "$(cat "$work/mybak_gzip.rss")")   zstd: $(mib "$(cat "$work/mybak_zstd.rss")")   restore: $(mib "$(cat "$work/mybak_restore.rss")")${big_rss:+   backup of ${rssx}x the corpus: $big_rss}
TXT

# The Swift section: mybak against swift upload / swift download on loopback
# (and with emulated latency where the kernel has netem).
if [ "${BENCH_SWIFT:-1}" = 1 ]; then
  echo
  BENCH_DIR=${BENCH_DIR:+$BENCH_DIR/swift} scripts/bench-swift.sh
fi

# The MariaDB section is opt-in: it loads a ~1 GiB database first.
if [ "${BENCH_MYSQL:-0}" = 1 ]; then
  echo
  scripts/bench-mysql.sh
fi
