#!/usr/bin/env bash
# The Swift part of `make bench` (scripts/bench.sh runs it; BENCH_SWIFT=0
# skips it): mybak against the swift CLI on a Swift of its own, in the same
# run, with the ratios and the memory bounds. Prints a table on stdout.
#
# Everything runs in a network namespace of this script's own (ip netns), so
# the Swift it starts (scripts/swift-sandbox.sh, state under the work dir)
# neither collides with a sandbox of the tests on 127.0.0.1 nor shares its
# /etc/swift/swift.conf: the servers see a private copy bind-mounted over
# /etc/swift inside the namespace's mount namespace. Nothing outside the
# namespace and the work dir is touched; the trap stops every server and the
# delay wire and deletes the namespace on exit.
#
# The stream: a generated corpus (scripts/gencorpus) piped into
# `mybak backup --compress none`, so the corpus size is what crosses the
# wire (plus 16 bytes of header and the padding). The baseline uploads the
# same encoded bytes from a file: mybak's object for that corpus, written to
# a local store.
#
#   loopback   mybak backup (SEGMENT segments, PARALLEL in flight) vs
#              swift upload --use-slo --segment-size SEGMENT --segment-threads PARALLEL,
#              mybak restore --to-stdout vs swift download -o -;
#              peak RSS of both bounded by (PARALLEL+2) x SEGMENT + 64 MiB,
#              also on a stream RSS_X times larger (the corpus piped RSS_X times)
#   wan        mybak with PARALLEL segments in flight vs one at a time (Trove),
#              and vs swift upload / swift download, over an emulated WAN with
#              a 2 x DELAY round trip on every hop: clients <-> proxy, and
#              proxy <-> account, container and object servers and memcached
#              (and object server -> container server):
#              netem  `tc qdisc add dev lo root netem delay DELAY` in the
#                     namespace: every packet on lo is held DELAY;
#              wire   where the kernel has no netem: the same hops through a
#                     userspace delay wire (scripts/netdelay: two TUN devices
#                     in the namespace, MTU 65535 like lo's 65536, every packet
#                     held DELAY). The proxies listen on 10.77.0.1
#                     (MYBAK_SWIFT_BIND_IP), the servers and memcached on
#                     10.77.0.2 (MYBAK_SWIFT_STORAGE_IP), clients connect from
#                     10.77.0.3, all addresses of lo. In the loopback mode
#                     packets between them take lo; for the wan mode one policy
#                     rule (iif lo, to 10.77.0.0/24) sends every locally sent
#                     packet between them out of a wire device instead: to the
#                     proxy out of A, to the servers and the clients out of B.
#                     The wire writes it into the other device DELAY later, and
#                     it is received there (accept_local) as if from a remote
#                     host: each packet crosses the wire once, as it would pass
#                     netem once. (An upload's bytes cross A then B, a
#                     download's A then B: the two devices share the load.)
#                     Without the rule (the loopback mode) it is all plain lo.
#              The report names the emulation and the round trips measured
#              (curl's TCP connect time, median of 5) client -> proxy and
#              proxy -> object server; with the wire, also the bytes that
#              took the wire and lo during the wan runs. Every row shows the
#              CPU the servers (and the wire) used and how busy the host was,
#              and the wan mode the CPU floor of its PARALLEL runs: what the
#              ratios could be on this host.
#
#   BENCH_SWIFT_SIZE=2G        stream size (default 2G)
#   BENCH_SWIFT_RSS_X=4        the RSS check on a stream this many times larger (0: skip)
#   BENCH_SWIFT_SEGMENT=64M    segment size
#   BENCH_SWIFT_PARALLEL=4     segments in flight
#   BENCH_SWIFT_DELAY=10ms     one-way delay of the wan mode (0: skip the mode)
#   BENCH_SWIFT_WAN=auto       the wan mode's emulation: netem where the kernel has it,
#                              else the wire; netem or wire to insist on one
#   BENCH_SWIFT_RUNS=1         runs of each timed transfer; the fastest counts
#   BENCH_DIR=DIR              work dir (default: a temp dir under /tmp, removed at the end)
# Needs root (ip netns, mount), iproute2, tc, curl, and about 5 x SIZE free in
# the work dir; the wire needs /dev/net/tun (CONFIG_TUN).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/deps.sh bench):$PATH"

size=${BENCH_SWIFT_SIZE:-2G}
rssx=${BENCH_SWIFT_RSS_X:-4}
seg=${BENCH_SWIFT_SEGMENT:-64M}
par=${BENCH_SWIFT_PARALLEL:-4}
delay=${BENCH_SWIFT_DELAY:-10ms}
runs=${BENCH_SWIFT_RUNS:-1}
# The wan mode's qdisc; overridable only to try the mode's plumbing on a
# kernel without netem (e.g. "tbf rate 10gbit burst 16mb latency 100ms").
qdisc=${BENCH_SWIFT_QDISC:-netem delay $delay limit 100000}
wan_want=${BENCH_SWIFT_WAN:-auto}
ns=mybak-bench-$$ # Swift's and the clients'
# The wire's two ends (both in the namespace), and the addresses on lo
# whose traffic the wan mode sends through it.
wire_a=mbd$$a wire_b=mbd$$b
wire_net=10.77.0.0/24 proxy_ip=10.77.0.1 storage_ip=10.77.0.2 client_ip=10.77.0.3

bytes_of() { # 2G -> bytes (binary suffixes, as mybak and the swift CLI read them)
  local v=${1^^}
  case $v in
  *K) echo $((${v%K} << 10)) ;;
  *M) echo $((${v%M} << 20)) ;;
  *G) echo $((${v%G} << 30)) ;;
  *) echo "$v" ;;
  esac
}
# ms_of 10ms: milliseconds of a delay as netem and netdelay read it (us, ms, s)
ms_of() {
  awk -v d="$1" 'BEGIN{match(d, /^[0-9.]+/); n = substr(d, 1, RLENGTH); u = substr(d, RLENGTH + 1)
    printf "%g", n * (u ~ /^us/ ? 0.001 : u ~ /^(s|sec|secs)$/ ? 1000 : 1)}'
}
skip() { printf '\nSwift bench: SKIPPED: %s\n' "$*"; exit 0; }
case $wan_want in auto | netem | wire) ;; *)
  echo "bench-swift: BENCH_SWIFT_WAN=$wan_want: want auto, netem or wire" >&2
  exit 2
  ;;
esac

[ "$(id -u)" -eq 0 ] || skip "needs root for its network namespace (ip netns add); run make bench as root"
command -v ip >/dev/null && command -v tc >/dev/null || skip "needs ip and tc (Debian: apt-get install iproute2)"

make -s build
mybak=$PWD/mybak
sandbox=$PWD/scripts/swift-sandbox.sh
scripts/swift-sandbox.sh env >/dev/null # fails early on a broken script
# Swift packages: the sandbox installs them when missing (outside the namespace).
command -v swift-proxy-server >/dev/null && command -v swift >/dev/null || scripts/deps.sh >/dev/null

work=${BENCH_DIR:-$(mktemp -d /tmp/mybak-bench-swift.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
seg_bytes=$(bytes_of "$seg")
# The corpus and its encoded copy, and in Swift two objects or the RSS_X run's one.
want=$(($(bytes_of "$size") * (2 + (rssx > 2 ? rssx : 2)) + (1 << 30)))
free=$(($(df --output=avail -k "$work" | tail -1) * 1024))
if [ "$free" -lt "$want" ]; then
  [ -n "${BENCH_DIR:-}" ] || rmdir "$work" 2>/dev/null || true
  skip "needs $((want >> 20)) MiB free in $work (corpus, its encoded copy, what Swift stores), has $((free >> 20)) MiB; set BENCH_DIR or a smaller BENCH_SWIFT_SIZE"
fi

export MYBAK_SWIFT_DIR=$work/swift
# mybak's job locks name the job (backup to swift://bench), not the Swift:
# private ones, so that another run of this bench is not "the same job".
export MYBAK_LOCK_DIR=$work/lock
mkdir -p "$MYBAK_LOCK_DIR"
timed="" # the pid of the GNU time of the command being measured
wire=""  # the pid of the delay wire (scripts/netdelay)
has_ns() { ip netns list | cut -d' ' -f1 | grep -qxF "$1"; }
cleanup() {
  set +e
  [ -z "$timed" ] || kill -TERM "$timed" 2>/dev/null
  "$sandbox" stop >/dev/null 2>&1
  local n p i
  if [ -n "$wire" ]; then # its devices go with it
    kill -TERM "$wire" 2>/dev/null
    for i in $(seq 50); do kill -0 "$wire" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$wire" 2>/dev/null
  fi
  if has_ns "$ns"; then
    # Anything of ours still in the namespace (only we start processes there).
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns"
  fi
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up

# ---- the wan mode's emulation, chosen before Swift starts (the wire puts the
# proxies and the servers on addresses of their own)
wan=""   # why the wan mode is skipped, when it is
emul=""  # netem or wire
no_netem=""
if [ "$delay" = 0 ]; then
  wan="skipped (BENCH_SWIFT_DELAY=0)"
elif [ "$wan_want" != wire ] && no_netem=$(nsx tc qdisc add dev lo root $qdisc 2>&1); then
  nsx tc qdisc del dev lo root # it works; the mode adds it after the loopback runs
  emul=netem
else
  [ "$wan_want" = wire ] || # (else not tried)
    no_netem="this kernel has no netem qdisc (tc: ${no_netem//$'\n'/ }; needs CONFIG_NET_SCH_NETEM / modprobe sch_netem)"
  if [ "$wan_want" = netem ]; then
    wan="SKIPPED: $no_netem"
  elif [ ! -c /dev/net/tun ]; then
    wan="SKIPPED: ${no_netem:+$no_netem, and }no /dev/net/tun for the userspace delay wire (CONFIG_TUN)"
  else
    emul=wire
  fi
fi
[ -z "$wan" ] || echo "wan mode $wan" >&2
if [ "$emul" = wire ]; then
  echo "wan mode: userspace TUN delay wire ($delay each way, every hop) in namespace $ns${no_netem:+ ($no_netem)}" >&2
  go build -o "$work/netdelay" ./scripts/netdelay
  # Started in the namespace, so its devices are made there; ip netns exec
  # execs it, so $! is its pid.
  ip netns exec "$ns" "$work/netdelay" -a "$wire_a" -b "$wire_b" -delay "$delay" >"$work/netdelay.out" 2>"$work/netdelay.log" &
  wire=$!
  for i in $(seq 100); do
    grep -q ready "$work/netdelay.out" && break
    if ! kill -0 "$wire" 2>/dev/null || [ "$i" = 100 ]; then
      echo "bench-swift: the delay wire did not start:" >&2
      cat "$work/netdelay.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  # MTU 65535 (the most a TUN device takes) as lo's 65536: TCP's segments and
  # windows are those of netem on lo.
  for dev in "$wire_a" "$wire_b"; do
    nsx ip link set "$dev" mtu 65535 txqueuelen 1000 up
    # A packet comes in with a source address of the namespace's own: not a
    # martian here (accept_local), and no reverse-path check.
    nsx sysctl -qw "net.ipv4.conf.$dev.accept_local=1" "net.ipv4.conf.$dev.rp_filter=0"
  done
  nsx sysctl -qw net.ipv4.conf.all.rp_filter=0
  for ip in "$proxy_ip" "$storage_ip" "$client_ip"; do nsx ip addr add "$ip/32" dev lo; done
  # Table 77, the wan mode's (the rule that uses it comes with the mode): to
  # the proxy out of A, from the clients' address; to the servers and
  # memcached out of B, from the proxy's; to the clients out of B.
  nsx ip route add "$proxy_ip" dev "$wire_a" src "$client_ip" table 77
  nsx ip route add "$storage_ip" dev "$wire_b" src "$proxy_ip" table 77
  nsx ip route add "$client_ip" dev "$wire_b" table 77
  # The local table (which would take every packet to an address of ours
  # straight to lo) is looked up after the rules that come before 100.
  nsx ip rule add pref 100 lookup local
  nsx ip rule del pref 0
  export MYBAK_SWIFT_BIND_IP=$proxy_ip MYBAK_SWIFT_STORAGE_IP=$storage_ip
fi

(umask 077 && echo "bench passphrase" >"$work/key")
export KEYFILE=$work/key
mkdir -p "$work/etc-swift"
[ -d /etc/swift ] || mkdir -p /etc/swift # the mount point (swift-sandbox.sh creates it too)
echo "starting Swift in network namespace $ns (state in $MYBAK_SWIFT_DIR)..." >&2
# ip netns exec gives the command its own mount namespace (slave of the
# host's), so this bind mount is seen by the servers it starts and by
# nothing outside.
nsx bash -c 'mount --bind "$1" /etc/swift && exec "$2" start' _ "$work/etc-swift" "$sandbox"
eval "$("$sandbox" env)"
export ST_AUTH ST_USER ST_KEY

echo "generating a $size corpus..." >&2
go run ./scripts/gencorpus -size "$size" >"$work/corpus"
bytes=$(stat -c %s "$work/corpus")
# The baseline's bytes: the same corpus encoded as mybak encodes it.
"$mybak" backup --engine stdin --storage "$work/store" --compress none --encrypt-key-file "$KEYFILE" \
  --progress never --log-level warn <"$work/corpus" >"$work/enc.id"
mv "$work/store/$(cat "$work/enc.id")"/data* "$work/enc"
rm -rf "$work/store"
enc_bytes=$(stat -c %s "$work/enc")

common="--storage swift://bench --encrypt-key-file \$KEYFILE --segment-size $seg --progress never --log-level warn"
# srv_ticks: CPU clock ticks (user+sys) used so far by the namespace's
# long-lived processes: the Swift servers, memcached and the wire.
srv_ticks() {
  local p t=0 f
  for p in $(ip netns pids "$ns"); do
    read -ra f 2>/dev/null <"/proc/$p/stat" || continue # (gone meanwhile)
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
# host_ticks: "busy total" clock ticks of all the host's cores (/proc/stat;
# busy is all but idle and iowait, whoever ran)
host_ticks() { awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat; }
hz=$(getconf CLK_TCK)
# measure NAME CMD: runs CMD (bash) in the namespace under GNU time, RUNS
# times; records the fastest run's seconds, its CPU seconds (user+sys of
# everything CMD ran), the CPU seconds the servers (and the wire) used
# meanwhile, how busy the host's cores were (%, whatever ran on them) and
# the largest peak RSS (KiB, of the largest process) in
# $work/NAME.{sec,cpu,srv,busy,rss}. CLEAN (bash) runs before each run when set.
# With LIMIT set (seconds), a run still going after LIMIT is killed and
# recorded as taking LIMIT (NAME.killed: the figures are bounds).
CLEAN="" LIMIT=""
measure() {
  local name=$1 cmd=$2 i sec rss usr sys s0 b0 t0 s1 b1 t1 srv1 busy1 best="" cpu="" srv="" busy="" maxrss=0 rc to=()
  rm -f "$work/$name.killed"
  [ -z "$LIMIT" ] || to=(timeout -k 5 "$LIMIT")
  for i in $(seq "$runs"); do
    [ -z "$CLEAN" ] || nsx bash -c "$CLEAN"
    cat "$work/corpus" "$work/enc" >/dev/null # the same warm page cache for everyone
    rc=0
    s0=$(srv_ticks)
    read -r b0 t0 < <(host_ticks)
    # In the background and waited for, so that a signal runs the trap
    # (cleanup) at once rather than after the command.
    /usr/bin/time -f '%e %M %U %S' -o "$work/$name.time" "${to[@]}" ip netns exec "$ns" bash -c "set -o pipefail; $cmd" &
    timed=$!
    wait "$timed" || rc=$?
    timed=""
    s1=$(srv_ticks)
    read -r b1 t1 < <(host_ticks)
    read -r sec rss usr sys < <(tail -n 1 "$work/$name.time")
    srv1=$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN{printf "%.1f", t/hz}')
    busy1=$(((b1 - b0) * 100 / (t1 > t0 ? t1 - t0 : 1)))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && [ -n "$LIMIT" ]; then
      echo "  $name: killed after ${LIMIT}s" >&2
      touch "$work/$name.killed"
      sec=$LIMIT
    elif [ "$rc" -ne 0 ]; then
      echo "bench-swift: $name failed (exit $rc): $cmd" >&2
      exit 1
    fi
    if [ -z "$best" ] || awk -v a="$sec" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=$sec cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN{printf "%.1f", u+s}')
      srv=$srv1 busy=$busy1
    fi
    [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    echo "  $name: ${sec}s, CPU ${usr}+${sys}s, servers ${srv1}s, host ${busy1}% busy, peak RSS $((rss >> 10)) MiB" >&2
  done
  echo "$best" >"$work/$name.sec"
  echo "$cpu" >"$work/$name.cpu"
  echo "$srv" >"$work/$name.srv"
  echo "$busy" >"$work/$name.busy"
  echo "$maxrss" >"$work/$name.rss"
}
wipe() { nsx swift delete --all >/dev/null 2>&1 || true; }
# rtt URL: the round trip to URL's server from the namespace, measured: the
# median of 5 TCP connects (curl's time_connect: SYN to SYN-ACK), in ms.
rtt() {
  local i
  for i in 1 2 3 4 5; do
    nsx curl -s -o /dev/null -w '%{time_connect}\n' "$1"
  done | sort -n | awk '{t[NR]=$1} END{printf "%.1f", t[3]*1000}'
}
proxy_url=${ST_AUTH%/auth/*}/healthcheck
# The object server's, from its config; with the wire, curl's connections to
# it come from the proxy's address (table 77), so they take the proxy's path.
object_url=$(sed -n 's/^bind_ip = //p; s/^bind_port = //p' "$MYBAK_SWIFT_DIR/etc/object-server.conf" | paste -sd:)
object_url=http://$object_url/healthcheck
# tx_bytes DEV: the bytes the namespace has sent through DEV
tx_bytes() { nsx cat "/sys/class/net/$1/statistics/tx_bytes"; }
ids=() # mybak's backups in the current mode, by name
up_mybak() { # NAME PARALLEL
  CLEAN="swift delete bench >/dev/null 2>&1; swift delete bench_segments >/dev/null 2>&1; true"
  measure "$1" "cat '$work/corpus' | '$mybak' backup --engine stdin $common --compress none --upload-parallel $2 >'$work/$1.id'"
  CLEAN=""
}
up_swift() { # NAME
  CLEAN="swift delete base >/dev/null 2>&1; swift delete base_segments >/dev/null 2>&1; true"
  measure "$1" "swift upload --use-slo --segment-size $seg --segment-threads $par --object-name enc base '$work/enc' >/dev/null"
  CLEAN=""
}
down_mybak() { # NAME PARALLEL ID [restore flags]
  # exec: mybak itself gets LIMIT's signal, stops cleanly and is reaped
  # by timeout, so GNU time still sees its CPU and peak RSS.
  measure "$1" "exec '$mybak' restore $common --upload-parallel $2 ${4:-} '$3' --to-stdout >/dev/null"
}
down_swift() { # NAME
  measure "$1" "exec swift download base enc -o - >/dev/null"
}
sec() { cat "$work/$1.sec"; }
killed() { [ -e "$work/$1.killed" ]; }
# bytes of NAME's stream: the RSS_X runs move RSS_X times more
nbytes() { case $1 in *_big) echo $((enc_bytes * rssx)) ;; *) echo "$enc_bytes" ;; esac; }
mibs() { awk -v b="$(nbytes "$1")" -v s="$(sec "$1")" 'BEGIN{printf "%.0f", b/1048576/s}'; }
mb() { awk -v b="$(nbytes "$1")" -v s="$(sec "$1")" 'BEGIN{printf "%.0f", b/1e6/s}'; }
# ratio A B: how many times faster A is than B ("<" when A was killed)
ratio() { printf '%s%s' "$(killed "$1" && echo '<')" "$(awk -v a="$(sec "$1")" -v b="$(sec "$2")" 'BEGIN{printf "%.2f", b/a}')"; }
# cpu_all NAME: CPU seconds of the client and the servers (and the wire) in NAME
cpu_all() { awk -v c="$(cat "$work/$1.cpu")" -v s="$(cat "$work/$1.srv")" 'BEGIN{printf "%.1f", c+s}'; }
# cpu_floor NAME: the fewest seconds that CPU takes on all the host's cores
cpu_floor() { awk -v t="$(cpu_all "$1")" -v n="$(nproc)" 'BEGIN{printf "%.1f", t/n}'; }
# floor_ratio A B: B's seconds over A's CPU floor
floor_ratio() { awk -v f="$(cpu_floor "$1")" -v b="$(sec "$2")" 'BEGIN{printf "%.2f", b/f}'; }
verdict() { awk -v r="${1#<}" -v t="$2" 'BEGIN{print (r+0 >= t+0) ? "PASS" : "FAIL"}'; }
row() {
  local k=""
  killed "$2" && k="<"
  printf '  %-62s %8s %7s %6s %7s %8s %6s %6s\n' "$1" "$(killed "$2" && echo '>')$(sec "$2")" "$k$(mibs "$2")" "$k$(mb "$2")" \
    "$(cat "$work/$2.cpu")" "$(($(cat "$work/$2.rss") >> 10))" "$(cat "$work/$2.srv")" "$(cat "$work/$2.busy")"
}
header() { printf '  %-62s %8s %7s %6s %7s %8s %6s %6s\n' "$1" seconds "MiB/s" "MB/s" "CPU s" "RSS MiB" "srv s" "busy%"; }
rss_limit_kib=$((((par + 2) * seg_bytes + (64 << 20)) >> 10))
rss_check() { # NAME LABEL
  local r
  r=$(cat "$work/$1.rss")
  printf '  %-50s %5d MiB  [<= %d MiB] %s\n' "$2" $((r >> 10)) $((rss_limit_kib >> 10)) \
    "$([ "$r" -le "$rss_limit_kib" ] && echo PASS || echo FAIL)"
}

# ---- loopback -----------------------------------------------------------
lo_rtt=$(rtt "$proxy_url")
lo_rtt_obj=$(rtt "$object_url")
echo "loopback (namespace lo, no delay; round trip client->proxy ${lo_rtt} ms, proxy->object server ${lo_rtt_obj} ms):" >&2
wipe
up_mybak lo_up_mybak "$par"
up_swift lo_up_swift
down_swift lo_down_swift
down_mybak lo_down_mybak_p1 "$par" "$(cat "$work/lo_up_mybak.id")" "--parallel 1"
# The default restore (frames decoded in parallel) is bounded: it has been
# many times slower than swift download from Swift, and a bench that never
# ends reports nothing.
LIMIT=$(awk -v s="$(sec lo_down_swift)" 'BEGIN{l=int(s*6)+1; print (l < 60) ? 60 : l}')
down_mybak lo_down_mybak "$par" "$(cat "$work/lo_up_mybak.id")"
LIMIT=""
if [ "$rssx" -gt 0 ]; then
  echo "peak RSS on a ${rssx}x larger stream (the corpus piped ${rssx} times):" >&2
  wipe
  measure lo_up_big "for i in \$(seq $rssx); do cat '$work/corpus'; done | '$mybak' backup --engine stdin $common --compress none --upload-parallel $par >'$work/big.id'"
  down_mybak lo_down_big "$par" "$(cat "$work/big.id")" "--parallel 1"
  wipe
fi

# ---- wan (netem, or the delay wire) -------------------------------------
if [ -n "$emul" ]; then
  if [ "$emul" = netem ]; then
    nsx tc qdisc add dev lo root $qdisc
    emul_desc="netem delay $delay on lo, every hop (clients<->proxy, proxy<->account/container/object servers and memcached): tc qdisc add dev lo root $qdisc"
    [ -z "${BENCH_SWIFT_QDISC:-}" ] || emul_desc="BENCH_SWIFT_QDISC on lo (every hop): tc qdisc add dev lo root $qdisc"
  else
    nsx ip rule add pref 10 iif lo to "$wire_net" lookup 77
    emul_desc="userspace TUN delay wire (scripts/netdelay), $delay each way on every hop: clients ($client_ip) <-> proxy ($proxy_ip) <-> account/container/object servers and memcached ($storage_ip), policy-routed through the wire in one namespace"
  fi
  wan_rtt=$(rtt "$proxy_url")
  wan_rtt_obj=$(rtt "$object_url")
  echo "wan ($emul_desc; round trip client->proxy ${wan_rtt} ms, proxy->object server ${wan_rtt_obj} ms):" >&2
  if [ "$emul" = wire ]; then
    lo0=$(tx_bytes lo) a0=$(tx_bytes "$wire_a") b0=$(tx_bytes "$wire_b")
  fi
  wipe
  up_mybak wan_up_1 1
  up_mybak wan_up_n "$par"
  up_swift wan_up_swift
  down_mybak wan_down_n "$par" "$(cat "$work/wan_up_n.id")" "--parallel 1"
  down_mybak wan_down_1 1 "$(cat "$work/wan_up_n.id")" "--parallel 1"
  down_swift wan_down_swift
  if [ "$emul" = wire ]; then
    lo_d=$(($(tx_bytes lo) - lo0)) a_d=$(($(tx_bytes "$wire_a") - a0)) b_d=$(($(tx_bytes "$wire_b") - b0))
    nsx ip rule del pref 10
  else
    nsx tc qdisc del dev lo root
  fi
  wipe
fi

# ---- report -------------------------------------------------------------
printf '\nmybak Swift bench: %s stream (%d bytes; %d encoded), --compress none, %s segments, %d in flight, %d cores, load %s, %s\n' \
  "$size" "$bytes" "$enc_bytes" "$seg" "$par" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%FT%TZ)"
printf 'Swift %s (single node, workers=0) in network namespace %s; fastest of %d run(s)\n' \
  "$(dpkg-query -W -f='${Version}' swift 2>/dev/null || echo ?)" "$ns" "$runs"
printf "(CPU s: the client's; srv s: the Swift servers', memcached's and the delay wire's meanwhile;\n busy%%: of all %d cores, whatever ran on them, other work on the host included)\n\n" "$(nproc)"
echo "loopback (round trips measured: client->proxy ${lo_rtt} ms, proxy->object server ${lo_rtt_obj} ms)"
header "upload"
row "cat corpus | mybak backup --compress none --upload-parallel $par" lo_up_mybak
row "swift upload --use-slo -S $seg --segment-threads $par (file)" lo_up_swift
header "download"
row "mybak restore --to-stdout --upload-parallel $par" lo_down_mybak
row "mybak restore --to-stdout --upload-parallel $par --parallel 1" lo_down_mybak_p1
row "swift download -o -" lo_down_swift
[ "$rssx" -gt 0 ] && row "mybak backup, ${rssx}x stream" lo_up_big && row "mybak restore --parallel 1, ${rssx}x stream" lo_down_big
up=$(ratio lo_up_mybak lo_up_swift)
down=$(ratio lo_down_mybak lo_down_swift)
down1=$(ratio lo_down_mybak_p1 lo_down_swift)
cat <<TXT

  upload   mybak / swift upload:                  ${up}x  [>= 0.95] $(verdict "$up" 0.95)
  download mybak / swift download:                ${down}x  [>= 0.95] $(verdict "$down" 0.95)
  download mybak --parallel 1 / swift download:   ${down1}x  [>= 0.95] $(verdict "$down1" 0.95)
peak RSS of mybak
TXT
rss_check lo_up_mybak "backup, $size stream"
rss_check lo_down_mybak "restore, $size stream"
rss_check lo_down_mybak_p1 "restore --parallel 1, $size stream"
if [ "$rssx" -gt 0 ]; then
  rss_check lo_up_big "backup, ${rssx}x stream"
  rss_check lo_down_big "restore --parallel 1, ${rssx}x stream"
fi
if killed lo_down_mybak; then
  echo "  (the default restore was killed after $(sec lo_down_mybak)s: the ratio and MiB/s are upper bounds, the RSS a lower one)"
fi
echo
if [ -n "$wan" ]; then
  echo "wan ($delay each way): $wan"
else
  echo "wan: $emul_desc"
  [ -z "$no_netem" ] || echo "  (the wire because $no_netem)"
  printf '  round trips measured (median of 5 TCP connects): client->proxy %s ms, proxy->object server %s ms\n    [>= 2 x %s each] %s\n' \
    "$wan_rtt" "$wan_rtt_obj" "$delay" "$(awk -v a="$wan_rtt" -v b="$wan_rtt_obj" -v d="$(ms_of "$delay")" 'BEGIN{print (a >= 2*d && b >= 2*d) ? "PASS" : "FAIL"}')"
  if [ "$emul" = wire ]; then
    printf "  bytes sent during the wan runs: through the wire %d MiB (%d MiB to the proxy, %d MiB to the\n   servers and the clients); on lo, undelayed, %d KiB (no hop: Swift's log lines as syslog datagrams\n   to 127.0.0.1 where there is no /dev/log, the object server's in-process eventlet wake-ups)\n" \
      $(((a_d + b_d) >> 20)) $((a_d >> 20)) $((b_d >> 20)) $((lo_d >> 10))
    read -ra st <"/proc/$wire/stat" # utime and stime: fields 14 and 15, in clock ticks
    printf '  (the wire used %s s user, %s s system CPU over all runs; the system time includes\n   the receiving TCP stack, which runs in its writes)\n' \
      "$(awk -v t="${st[13]}" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t/hz}')" \
      "$(awk -v t="${st[14]}" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t/hz}')"
  fi
  header "upload"
  row "mybak backup --upload-parallel 1 (one segment at a time, Trove)" wan_up_1
  row "mybak backup --upload-parallel $par" wan_up_n
  row "swift upload --use-slo -S $seg --segment-threads $par (file)" wan_up_swift
  header "download"
  row "mybak restore --parallel 1 --upload-parallel 1" wan_down_1
  row "mybak restore --parallel 1 --upload-parallel $par" wan_down_n
  row "swift download -o -" wan_down_swift
  wu=$(ratio wan_up_n wan_up_1)
  wd=$(ratio wan_down_n wan_down_1)
  cat <<TXT

  upload   $par in flight / 1:           ${wu}x  [>= 2.5] $(verdict "$wu" 2.5)
  download $par ahead / 1:               ${wd}x  [>= 2.5] $(verdict "$wd" 2.5)
  upload   mybak / swift upload:    $(ratio wan_up_n wan_up_swift)x
  download mybak / swift download:  $(ratio wan_down_n wan_down_swift)x
  (for scale, loopback / wan with 1 in flight: upload $(ratio lo_up_mybak wan_up_1)x, download $(ratio lo_down_mybak_p1 wan_down_1)x)
  (CPU: with $par in flight the client, the servers$([ "$emul" = wire ] && echo " and the wire") used $(cpu_all wan_up_n) CPU-s uploading, $(cpu_all wan_down_n)
   downloading: on $(nproc) cores no less than $(cpu_floor wan_up_n) s and $(cpu_floor wan_down_n) s, so at most $(floor_ratio wan_up_n wan_up_1)x and $(floor_ratio wan_down_n wan_down_1)x here)
TXT
  rss_check wan_up_n "backup, $size stream"
  rss_check wan_down_n "restore, $size stream"
fi
