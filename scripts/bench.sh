#!/usr/bin/env bash
# make bench: mybak against the baseline tools, measured in the same run on
# the same corpora, with the ratios. Prints the tables on stdout.
#
# Corpora:
#   xbstream   the main one: a real `mariabackup --backup --stream=xbstream` of a
#              sysbench database on a throwaway MariaDB (scripts/bench-xbstream.sh
#              builds it once and caches it under BENCH_CACHE)
#   synthetic  scripts/gencorpus: SQL text, mostly-empty 16 KiB pages, random pages
#
# For each corpus, in one run: `gzip -6 | openssl enc` (Trove's pipeline),
# `pigz -p<cores> -6 | openssl enc`, and `mybak backup` at each gzip level of
# BENCH_LEVELS (encrypted, into a local store); on the main corpus also zstd,
# the restores and verify --deep. Every command runs once as a warm-up and then
# BENCH_RUNS times, the configurations interleaved round by round; the tables
# give the median and the minimum wall time, the median CPU time and the
# largest peak RSS. Every output of every run is checked: it is decrypted and
# decompressed again (`openssl enc -d | gzip -d`, `mybak restore --to-stdout`)
# and its SHA-256 compared with the corpus's; a wrong output fails the bench.
# Both sides end at the same point: the baselines' output file is fsynced
# (`sync FILE`) as mybak's local store fsyncs its object.
#
# The default gzip level (stream.DefaultGzipLevel) is chosen on the main corpus
# by the rule of issue 9: stored size <= gzip -6's + 1%, and wall time at least
# 1.5x faster than `pigz -p<cores> -6 | openssl enc`; the lowest level that
# passes both (the fastest) is the one. The script prints a verdict per level.
#
#   BENCH_TABLES=4     sysbench tables of the main corpus
#   BENCH_ROWS=250000  rows per table (4 x 250k, 1M rows in all: a ~290 MB stream)
#   BENCH_CACHE=DIR    where the main corpus is cached (default ~/.cache/mybak/bench)
#   BENCH_SIZE=256M    synthetic corpus size (0: skip the synthetic corpus)
#   BENCH_LEVELS="5 6 7 8"  gzip levels measured (the default level always is)
#   BENCH_RUNS=3       measured runs per command, after one warm-up run
#   BENCH_RSS_X=4      peak RSS of a backup of the main corpus repeated this many times (0: skip)
#   BENCH_DIR=DIR      where the outputs go (default: a temp dir, removed at the end)
#   BENCH_SWIFT=0      skip the Swift section (scripts/bench-swift.sh: its own Swift in a
#                      network namespace, 2 GiB uploads and downloads; needs root; its
#                      BENCH_SWIFT_* settings are described there)
#   BENCH_MYSQL=1      add the MariaDB section (scripts/bench-mysql.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"
make -s build
mybak=$PWD/mybak
size=${BENCH_SIZE:-256M}
runs=${BENCH_RUNS:-3}
rssx=${BENCH_RSS_X:-4}
cores=$(nproc)
hz=$(getconf CLK_TCK)
default_level=$(sed -n 's/^[[:space:]]*DefaultGzipLevel = \([0-9]\{1,\}\).*/\1/p' stream/encode.go)
[[ $default_level =~ ^[1-9]$ ]] || { echo "bench: no DefaultGzipLevel in stream/encode.go" >&2; exit 1; }
levels=$(printf '%s\n' ${BENCH_LEVELS:-5 6 7 8} "$default_level" | sort -n -u | tr '\n' ' ')
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_RUNS must be a positive integer" >&2; exit 2; }
work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench.XXXXXX)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
rm -rf "$work"/*.runs "$work"/*.size "$work"/*.others "$work"/out.* "$work"/store.* "$work"/restored
(umask 077 && echo "bench passphrase" >"$work/key")
export KEYFILE="$work/key"
started=$(date -u +%FT%TZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

xb=$(scripts/bench-xbstream.sh)
xb_sha=$(cat "$xb.sha256")
if [ "$size" != 0 ]; then
  echo "generating a $size synthetic corpus (SQL text, mostly-empty 16 KiB pages, random pages)..." >&2
  go run ./scripts/gencorpus -size "$size" >"$work/synthetic"
  syn_sha=$(sha256sum <"$work/synthetic" | cut -d' ' -f1)
  syn_bytes=$(stat -c %s "$work/synthetic")
fi

fail() {
  echo "bench: FAILED: $*" >&2
  exit 1
}
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# run NAME ROUND CMD: runs CMD (bash, pipefail) under GNU time. Round 0 is
# the warm-up; the others append "wall cpu rss_kib" to $work/NAME.runs and
# the share of the machine's CPU that other processes used meanwhile (%) to
# $work/NAME.others.
run() {
  local name=$1 round=$2 cmd=$3 b0 b1
  b0=$(busy_ticks)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c "set -euo pipefail; $cmd" ||
    fail "$name (round $round) exited non-zero: $cmd"
  b1=$(busy_ticks)
  local e u s m
  read -r e u s m <"$work/time"
  echo "  $name: ${e}s${round:+ (round $round)}" | sed 's/(round 0)/(warm-up)/' >&2
  [ "$round" = 0 ] && return 0
  echo "$e $(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') $m" >>"$work/$name.runs"
  awk -v b="$((b1 - b0))" -v hz="$hz" -v c="$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')" -v e="$e" -v n="$cores" \
    'BEGIN{o=(b/hz-c)/(e*n)*100; if (o<0) o=0; printf "%.0f\n", o}' >>"$work/$name.others"
}
col() { awk -v c="$2" '{print $c}' "$work/$1.runs"; }
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
wall() { col "$1" 1 | median; }
wallmin() { col "$1" 1 | sort -g | head -1; }
cpu() { col "$1" 2 | median; }
rss() { col "$1" 3 | sort -g | tail -1 | awk '{printf "%.0f", $1/1024}'; }
others() { median <"$work/$1.others"; }
# speedup A B: how many times faster A is than B (median wall times);
# speedup_min: of the fastest runs; speedup_cpu: of the median CPU times
# (what a busy machine distorts least).
speedup() { awk -v a="$(wall "$1")" -v b="$(wall "$2")" 'BEGIN{printf "%.2f", b/a}'; }
speedup_min() { awk -v a="$(wallmin "$1")" -v b="$(wallmin "$2")" 'BEGIN{printf "%.2f", b/a}'; }
speedup_cpu() { awk -v a="$(cpu "$1")" -v b="$(cpu "$2")" 'BEGIN{printf "%.2f", b/a}'; }

# check_gz FILE SHA: FILE decrypts and gunzips to bytes with SHA-256 SHA.
check_gz() {
  local got
  got=$(openssl enc -d -aes-256-cbc -pass file:"$KEYFILE" <"$1" 2>/dev/null | gzip -d | sha256sum | cut -d' ' -f1) ||
    fail "openssl enc -d | gzip -d of $1"
  [ "$got" = "$2" ] || fail "$1 decodes to sha256 $got, want $2"
}
# check_mybak STORE ID SHA: mybak restores backup ID to bytes with SHA-256 SHA.
check_mybak() {
  local got
  got=$("$mybak" restore --storage "$1" --encrypt-key-file "$KEYFILE" --progress never --log-level warn "$2" --to-stdout |
    sha256sum | cut -d' ' -f1) || fail "mybak restore $2 from $1"
  [ "$got" = "$3" ] || fail "mybak backup $2 in $1 restores to sha256 $got, want $3"
}
# mybak_obj STORE ID: the stored data object of a backup.
mybak_obj() {
  local f
  f=$(ls "$1/$2"/data*) || fail "no data object under $1/$2"
  echo "$f"
}

# bench_backups TAG CORPUS SHA [zstd]: the backup rows of one corpus. Keeps
# the last round's outputs of gzip -6 (out.TAG.gzip), the default level
# (store.TAG.g<default>, id in id.TAG.g<default>) and zstd for the restores.
bench_backups() {
  local tag=$1 corpus=$2 sha=$3 zstd=${4:-} round l name
  local names=("$tag.gzip" "$tag.pigz")
  for l in $levels; do names+=("$tag.g$l"); done
  [ -z "$zstd" ] || names+=("$tag.zstd")
  echo "backups of the $tag corpus ($(stat -c %s "$corpus") bytes): warm-up, then $runs rounds" >&2
  for ((round = 0; round <= runs; round++)); do
    for name in "${names[@]}"; do
      local last=$((round == runs))
      case $name in
      *.gzip | *.pigz)
        local comp="gzip -6"
        [[ $name == *.pigz ]] && comp="pigz -p $cores -6"
        local out=$work/out.$name
        run "$name" "$round" "$comp <'$corpus' | openssl enc -aes-256-cbc -salt -pass file:\$KEYFILE >'$out' && sync '$out'"
        check_gz "$out" "$sha"
        stat -c %s "$out" >"$work/$name.size"
        [[ $last == 1 && $name == *.gzip ]] || rm -f "$out"
        ;;
      *)
        local store=$work/store.$name flags="--compress zstd"
        [[ $name == *.zstd ]] || flags="--compress gzip --compress-level ${name##*.g}"
        rm -rf "$store"
        run "$name" "$round" "'$mybak' backup --engine stdin --storage '$store' --encrypt-key-file \$KEYFILE $flags --progress never --log-level warn <'$corpus' >'$work/id.$name'"
        local id
        id=$(cat "$work/id.$name")
        [[ $id =~ ^[0-9A-Za-z-]+$ ]] || fail "mybak backup printed '$id', want an ID"
        check_mybak "$store" "$id" "$sha"
        stat -c %s "$(mybak_obj "$store" "$id")" >"$work/$name.size"
        [[ $last == 1 && ($name == *.zstd || $name == *.g$default_level) ]] || rm -rf "$store"
        ;;
      esac
    done
  done
}

# bench_restores TAG SHA: openssl -d | gzip -d against mybak restore of the
# default level's backup (and zstd's), and verify --deep; every restore goes
# to a file whose SHA-256 is checked after the clock stopped.
bench_restores() {
  local tag=$1 sha=$2 round name gid zid
  gid=$(cat "$work/id.$tag.g$default_level")
  zid=$(cat "$work/id.$tag.zstd")
  echo "restores of the $tag corpus: warm-up, then $runs rounds" >&2
  for ((round = 0; round <= runs; round++)); do
    run "$tag.r.gunzip" "$round" "openssl enc -d -aes-256-cbc -pass file:\$KEYFILE <'$work/out.$tag.gzip' | gzip -d >'$work/restored'"
    [ "$(sha256sum <"$work/restored" | cut -d' ' -f1)" = "$sha" ] || fail "openssl enc -d | gzip -d restored other bytes"
    run "$tag.r.gzip" "$round" "'$mybak' restore --storage '$work/store.$tag.g$default_level' --encrypt-key-file \$KEYFILE --progress never --log-level warn $gid --to-stdout >'$work/restored'"
    [ "$(sha256sum <"$work/restored" | cut -d' ' -f1)" = "$sha" ] || fail "mybak restore (gzip) restored other bytes"
    run "$tag.r.zstd" "$round" "'$mybak' restore --storage '$work/store.$tag.zstd' --encrypt-key-file \$KEYFILE --progress never --log-level warn $zid --to-stdout >'$work/restored'"
    [ "$(sha256sum <"$work/restored" | cut -d' ' -f1)" = "$sha" ] || fail "mybak restore (zstd) restored other bytes"
    run "$tag.r.verify" "$round" "'$mybak' verify --deep --storage '$work/store.$tag.g$default_level' --encrypt-key-file \$KEYFILE --progress never --log-level warn $gid >/dev/null"
  done
  rm -f "$work/restored"
}

bench_backups xbstream "$xb" "$xb_sha" zstd
bench_restores xbstream "$xb_sha"
if [ "$size" != 0 ]; then
  bench_backups synthetic "$work/synthetic" "$syn_sha"
  rm -f "$work/synthetic"
fi

big_rss=""
if [ "$rssx" -gt 0 ]; then
  echo "peak RSS of a backup of the main corpus repeated ${rssx}x:" >&2
  big_sha=$(for i in $(seq "$rssx"); do cat "$xb"; done | sha256sum | cut -d' ' -f1)
  run big 1 "for i in \$(seq $rssx); do cat '$xb'; done | '$mybak' backup --engine stdin --storage '$work/store.big' --encrypt-key-file \$KEYFILE --progress never --log-level warn >'$work/id.big'"
  check_mybak "$work/store.big" "$(cat "$work/id.big")" "$big_sha"
  big_rss=$(rss big)
  rm -rf "$work/store.big"
fi

# The tables.
sz() { cat "$work/$1.size"; }
pct() { awk -v a="$(sz "$1")" -v b="$(sz "$2")" 'BEGIN{printf "%+.1f%%", (a/b-1)*100}'; }
mibs() { awk -v b="$1" -v s="$(wall "$2")" 'BEGIN{printf "%.0f", b/1048576/s}'; }
verdicts=()
table() { # table TAG CORPUS-DESCRIPTION BYTES
  local tag=$1 desc=$2 bytes=$3 l name label
  printf '\n%s corpus: %s, %d bytes\n' "$tag" "$desc" "$bytes"
  printf '%-42s %14s %8s %7s %6s %6s %14s %8s %9s %9s %7s\n' "backup (compress + encrypt)" "wall s med/min" "CPU s" "MiB/s" "RSS M" \
    "others" "stored bytes" "vs gzip" "x gzip|" "x pigz|" "rule"
  local rows=("gzip -6 | openssl enc (Trove):$tag.gzip" "pigz -p$cores -6 | openssl enc:$tag.pigz")
  for l in $levels; do
    label="mybak backup --compress-level $l"
    [ "$l" = "$default_level" ] && label="$label (default)"
    rows+=("$label:$tag.g$l")
  done
  [ ! -s "$work/$tag.zstd.runs" ] || rows+=("mybak backup --compress zstd:$tag.zstd")
  for row in "${rows[@]}"; do
    IFS=: read -r label name <<<"$row"
    local rule=""
    if [[ $name == *.g[0-9] ]]; then
      local ok_size ok_speed
      ok_size=$(awk -v a="$(sz "$name")" -v b="$(sz "$tag.gzip")" 'BEGIN{print (a <= b*1.01) ? 1 : 0}')
      ok_speed=$(awk -v x="$(speedup "$name" "$tag.pigz")" 'BEGIN{print (x >= 1.5) ? 1 : 0}')
      if [[ $ok_size == 1 && $ok_speed == 1 ]]; then rule=pass; else rule=FAIL; fi
      verdicts+=("$tag level ${name##*.g}: size $(pct "$name" "$tag.gzip") vs gzip -6 [<= +1%: $([ "$ok_size" = 1 ] && echo ok || echo FAIL)], $(speedup "$name" "$tag.pigz")x pigz -p$cores pipeline [>= 1.5x: $([ "$ok_speed" = 1 ] && echo ok || echo FAIL)] (fastest runs $(speedup_min "$name" "$tag.pigz")x, CPU $(speedup_cpu "$name" "$tag.pigz")x) -> $rule")
    fi
    printf '%-42s %6s /%6s %8s %7s %6s %5s%% %14s %8s %8sx %8sx %7s\n' "$label" "$(wall "$name")" "$(wallmin "$name")" "$(cpu "$name")" \
      "$(mibs "$bytes" "$name")" "$(rss "$name")" "$(others "$name")" "$(sz "$name")" "$(pct "$name" "$tag.gzip")" \
      "$(speedup "$name" "$tag.gzip")" "$(speedup "$name" "$tag.pigz")" "$rule"
  done
}

printf '\nmybak bench: %d cores, started %s, finished %s; load average %s at the start, %s at the end\n' \
  "$cores" "$started" "$(date -u +%FT%TZ)" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median of %d runs after a warm-up (and the fastest); every output decoded and checked against the corpus SHA-256\n' "$runs"
printf '"others": median share of the 2 cores that other processes used during the runs (noise)\n'
table xbstream "mariabackup --backup --stream=xbstream of sysbench ${BENCH_TABLES:-4} x ${BENCH_ROWS:-250000} rows ($(basename "$xb"))" "$(stat -c %s "$xb")"
printf '\n%-42s %14s %8s %7s %6s %6s %18s\n' "restore (decrypt + decompress) to a file" "wall s med/min" "CPU s" "MiB/s" "RSS M" "others" "x openssl|gzip -d"
for row in "openssl enc -d | gzip -d:xbstream.r.gunzip" "mybak restore --to-stdout (gzip -$default_level):xbstream.r.gzip" \
  "mybak restore --to-stdout (zstd):xbstream.r.zstd" "mybak verify --deep (gzip -$default_level):xbstream.r.verify"; do
  IFS=: read -r label name <<<"$row"
  printf '%-42s %6s /%6s %8s %7s %6s %5s%% %17sx\n' "$label" "$(wall "$name")" "$(wallmin "$name")" "$(cpu "$name")" \
    "$(mibs "$(stat -c %s "$xb")" "$name")" "$(rss "$name")" "$(others "$name")" "$(speedup "$name" xbstream.r.gunzip)"
done
[ "$size" = 0 ] || table synthetic "scripts/gencorpus -size $size" "$syn_bytes"

busy=$(cat "$work"/*.others | median)
[ "$busy" -lt 25 ] || printf '\nTHE MACHINE WAS BUSY: other processes used a median %s%% of the %d cores during the runs; wall-time ratios\nare then distorted (a pipeline of more threads gets more of the contended CPU): re-run on a quiet machine,\nand compare the CPU ratios meanwhile\n' "$busy" "$cores"
printf '\nthe rule (issue 9): stored size <= gzip -6 + 1%%, wall time >= 1.5x faster than pigz -p%d -6 | openssl enc\n' "$cores"
printf '  %s\n' "${verdicts[@]}"
pick=""
for l in $levels; do
  if printf '%s\n' "${verdicts[@]}" | grep -q "^xbstream level $l: .*-> pass$"; then
    pick=$l
    break
  fi
done
if [ -n "$pick" ]; then
  echo "on the xbstream corpus the rule picks level $pick (the lowest that passes); stream.DefaultGzipLevel is $default_level"
else
  echo "on the xbstream corpus no level passes the rule; stream.DefaultGzipLevel is $default_level"
fi
printf 'peak RSS (MiB) [< 200]: backup gzip -%s %s, zstd %s, restore %s%s\n' "$default_level" "$(rss "xbstream.g$default_level")" \
  "$(rss xbstream.zstd)" "$(rss xbstream.r.gzip)" "${big_rss:+, backup of ${rssx}x the corpus $big_rss}"

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
