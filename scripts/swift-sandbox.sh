#!/usr/bin/env bash
# swift-sandbox.sh — a throw-away, single-replica OpenStack Swift on 127.0.0.1
# for mybak's storage/swift tests.
#
#   scripts/swift-sandbox.sh start    install if missing, configure, start, wait
#   scripts/swift-sandbox.sh stop     stop everything this script started (by pid)
#   scripts/swift-sandbox.sh status   exit 0 when the sandbox answers `swift stat`
#   scripts/swift-sandbox.sh env      print export lines:  eval "$(scripts/swift-sandbox.sh env)"
#
# What runs (each in its own process group, pid files under $DIR/run):
#   memcached                 $STORAGE_IP:$MEMCACHED_PORT (tempauth keeps its tokens there)
#   swift-object-server       $STORAGE_IP:$OBJECT_PORT
#   swift-container-server    $STORAGE_IP:$CONTAINER_PORT
#   swift-account-server      $STORAGE_IP:$ACCOUNT_PORT
#   swift-proxy-server        $BIND_IP:$PROXY_PORT        client_timeout=$MYBAK_SWIFT_CLIENT_TIMEOUT (default 60)
#   swift-proxy-server        $BIND_IP:$SHORT_PROXY_PORT  client_timeout=$MYBAK_SWIFT_SHORT_CLIENT_TIMEOUT (default 2)
# ($BIND_IP and $STORAGE_IP are 127.0.0.1 unless MYBAK_SWIFT_BIND_IP and
# MYBAK_SWIFT_STORAGE_IP say otherwise.)
# The second proxy shares the rings and servers; it exists so that a test can
# reproduce "408 Request Timeout" for a request body that trickles in (the
# failure that killed Trove's uploads) without slowing every other test.
#
# Auth is tempauth: account "test", user "tester", key "testing" (.admin).
#
# Environment (all optional):
#   MYBAK_SWIFT_DIR                  state directory (default /tmp/mybak-swift)
#   MYBAK_SWIFT_PORT                 proxy port (default 8080); the other
#                                    ports default to fixed offsets from it
#   MYBAK_SWIFT_CLIENT_TIMEOUT       client_timeout of the main proxy (default 60)
#   MYBAK_SWIFT_SHORT_CLIENT_TIMEOUT client_timeout of the short proxy (default 2)
#   MYBAK_SWIFT_MAX_FILE_SIZE        [swift-constraints] max_file_size (default 5 GiB)
#   MYBAK_SWIFT_SLO_MAX_SEGMENTS     [filter:slo] max_manifest_segments (default 1000)
#   MYBAK_SWIFT_BIND_IP              the IPv4 address the two proxies listen on and
#                                    the printed URLs name (default 127.0.0.1); it
#                                    must be an address of this host (or network
#                                    namespace) when `start` runs. The object,
#                                    container and account servers and memcached
#                                    stay on 127.0.0.1, behind the proxy, as in a
#                                    cluster, unless MYBAK_SWIFT_STORAGE_IP moves them.
#   MYBAK_SWIFT_STORAGE_IP           the IPv4 address the object, container and
#                                    account servers and memcached listen on, which
#                                    the rings and the proxies' memcache_servers name
#                                    (default 127.0.0.1); like MYBAK_SWIFT_BIND_IP, an
#                                    address of this host (or namespace).
#                                    scripts/bench-swift.sh uses the two to route
#                                    every hop (client-proxy, proxy-servers) through
#                                    its delay wire.
#
# Swift (Debian 12: 2.30) reads /etc/swift/swift.conf whatever swift_dir says
# (hash path suffix, constraints, storage policies), so `start` writes that
# file too (after saving a copy of a file it did not write itself). Several
# sandboxes (a developer's, CI's under CI=true scripts/test.sh, another
# user's on other ports) coexist: they all write the same hash path suffix,
# so none makes another's objects unreadable, and each server reads the file
# when it starts, so MYBAK_SWIFT_MAX_FILE_SIZE is per sandbox as long as two
# sandboxes with different values do not start at the same moment.
set -euo pipefail

DIR=${MYBAK_SWIFT_DIR:-/tmp/mybak-swift}
PROXY_PORT=${MYBAK_SWIFT_PORT:-8080}
SHORT_PROXY_PORT=$((PROXY_PORT + 1))
OBJECT_PORT=$((PROXY_PORT - 1880))     # 6200 for the default 8080
CONTAINER_PORT=$((PROXY_PORT - 1879))  # 6201
ACCOUNT_PORT=$((PROXY_PORT - 1878))    # 6202
MEMCACHED_PORT=$((PROXY_PORT + 3231))  # 11311 (not memcached's usual 11211)
CLIENT_TIMEOUT=${MYBAK_SWIFT_CLIENT_TIMEOUT:-60}
SHORT_CLIENT_TIMEOUT=${MYBAK_SWIFT_SHORT_CLIENT_TIMEOUT:-2}
MAX_FILE_SIZE=${MYBAK_SWIFT_MAX_FILE_SIZE:-5368709122}
SLO_MAX_SEGMENTS=${MYBAK_SWIFT_SLO_MAX_SEGMENTS:-1000}
BIND_IP=${MYBAK_SWIFT_BIND_IP:-127.0.0.1}
STORAGE_IP=${MYBAK_SWIFT_STORAGE_IP:-127.0.0.1}
ETC_SWIFT_CONF=/etc/swift/swift.conf
# The marker keeps the script's old path (it lived in testdata/): it is
# how this script recognises the /etc/swift/swift.conf it wrote, also one
# written by an older copy that another sandbox on this host still runs.
MARKER="# written by mybak testdata/swift-sandbox.sh"
RUN="$DIR/run"
LOG="$DIR/log"
CONF="$DIR/etc"
SERVICES=(memcached object container account proxy proxy-short)

ST_AUTH_URL="http://$BIND_IP:$PROXY_PORT/auth/v1.0"
SHORT_AUTH_URL="http://$BIND_IP:$SHORT_PROXY_PORT/auth/v1.0"

log() { echo "swift-sandbox: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root for: $* (run as root or install sudo)"
	fi
}

install_if_missing() {
	local missing=()
	command -v swift-proxy-server >/dev/null || missing+=(swift swift-proxy)
	command -v swift-account-server >/dev/null || missing+=(swift-account)
	command -v swift-container-server >/dev/null || missing+=(swift-container)
	command -v swift-object-server >/dev/null || missing+=(swift-object)
	command -v swift >/dev/null || missing+=(python3-swiftclient)
	command -v swift-ring-builder >/dev/null || missing+=(swift)
	command -v memcached >/dev/null || missing+=(memcached)
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install OpenStack Swift and memcached"
	log "installing ${missing[*]} (waiting for the dpkg lock if another apt runs)"
	# DPkg::Lock::Timeout waits for a concurrent apt/dpkg instead of failing.
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -y -q)
	if ! as_root "${apt[@]}" install --no-install-recommends "${missing[@]}"; then
		as_root "${apt[@]}" update
		as_root "${apt[@]}" install --no-install-recommends "${missing[@]}"
	fi
}

pid_alive() { # pidfile
	[ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# The hash path suffix of every sandbox: a cluster keeps its suffix secret so
# that clients cannot aim objects at a partition; a sandbox on loopback has
# nothing to hide, and one suffix for all lets sandboxes share the file.
SUFFIX=mybak-sandbox-0b5e1d2c

write_etc_swift_conf() {
	local suffix_file="$DIR/hash_path_suffix"
	if [ -s "$suffix_file" ] && [ "$(cat "$suffix_file")" != "$SUFFIX" ]; then
		# A state dir of an older version of this script, with its own random
		# suffix: its objects would be unreadable with ours.
		log "note: $DIR holds objects stored under another hash path suffix: removing them"
		rm -rf "$DIR/srv"
	fi
	echo "$SUFFIX" >"$suffix_file"
	local suffix=$SUFFIX
	local want
	want=$(
		cat <<EOF
$MARKER
# Swift reads this file whatever swift_dir says. Original saved as swift.conf.mybak-orig.
[swift-hash]
swift_hash_path_suffix = $suffix
swift_hash_path_prefix = mybak

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
max_file_size = $MAX_FILE_SIZE
EOF
	)
	if [ -f "$ETC_SWIFT_CONF" ] && [ "$(cat "$ETC_SWIFT_CONF")" = "$want" ]; then
		return 0
	fi
	as_root mkdir -p /etc/swift
	if [ -f "$ETC_SWIFT_CONF" ] && ! grep -qF "$MARKER" "$ETC_SWIFT_CONF" &&
		[ ! -f "$ETC_SWIFT_CONF.mybak-orig" ]; then
		as_root cp -p "$ETC_SWIFT_CONF" "$ETC_SWIFT_CONF.mybak-orig"
	fi
	if [ -f "$ETC_SWIFT_CONF" ] && grep -qF "$MARKER" "$ETC_SWIFT_CONF" &&
		! grep -qF "swift_hash_path_suffix = $suffix" "$ETC_SWIFT_CONF"; then
		# Written by an older version of this script: a sandbox running with
		# that suffix keeps it until it restarts (and then loses its objects).
		log "note: replacing the per-sandbox hash path suffix of an older sandbox in $ETC_SWIFT_CONF"
	fi
	# Written whole by rename: a server starting meanwhile reads the old
	# file or the new one, never half of one.
	printf '%s\n' "$want" | as_root tee "$ETC_SWIFT_CONF.tmp.$$" >/dev/null
	as_root chmod 0644 "$ETC_SWIFT_CONF.tmp.$$"
	as_root mv -f "$ETC_SWIFT_CONF.tmp.$$" "$ETC_SWIFT_CONF"
}

write_configs() {
	local user
	user=$(id -un)
	mkdir -p "$CONF" "$RUN" "$LOG" "$DIR/srv/d1" "$DIR/cache"
	local common
	common=$(
		cat <<EOF
[DEFAULT]
swift_dir = $CONF
devices = $DIR/srv
mount_check = false
disable_fallocate = true
bind_ip = $STORAGE_IP
user = $user
workers = 0
log_level = INFO
log_name = %NAME%
recon_cache_path = $DIR/cache
EOF
	)
	local name port
	for name in object container account; do
		case $name in
		object) port=$OBJECT_PORT ;;
		container) port=$CONTAINER_PORT ;;
		account) port=$ACCOUNT_PORT ;;
		esac
		{
			echo "${common//%NAME%/$name-server}"
			echo "bind_port = $port"
			cat <<EOF

[pipeline:main]
pipeline = healthcheck $name-server

[app:$name-server]
use = egg:swift#$name

[filter:healthcheck]
use = egg:swift#healthcheck

[$name-replicator]
[$name-auditor]
[$name-updater]
EOF
			[ "$name" = container ] && echo "[container-sync]" && echo "[container-sharder]"
			[ "$name" = account ] && echo "[account-reaper]"
			true
		} >"$CONF/$name-server.conf"
	done
	local variant ct
	for variant in proxy proxy-short; do
		case $variant in
		proxy) port=$PROXY_PORT ct=$CLIENT_TIMEOUT ;;
		proxy-short) port=$SHORT_PROXY_PORT ct=$SHORT_CLIENT_TIMEOUT ;;
		esac
		{
			# (tempauth names the storage URL after the Host the client asked.)
			local pcommon=${common/bind_ip = $STORAGE_IP/bind_ip = $BIND_IP}
			echo "${pcommon//%NAME%/$variant-server}"
			echo "bind_port = $port"
			echo "client_timeout = $ct"
			cat <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = $STORAGE_IP:$MEMCACHED_PORT

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo
max_manifest_segments = $SLO_MAX_SEGMENTS

[filter:dlo]
use = egg:swift#dlo
EOF
		} >"$CONF/$variant-server.conf"
	done
}

build_rings() {
	local ring port
	for ring in object container account; do
		case $ring in
		object) port=$OBJECT_PORT ;;
		container) port=$CONTAINER_PORT ;;
		account) port=$ACCOUNT_PORT ;;
		esac
		# Rebuild when missing or when the address or port changed.
		if [ -s "$CONF/$ring.ring.gz" ] && [ -s "$CONF/$ring.builder" ] &&
			swift-ring-builder "$CONF/$ring.builder" 2>/dev/null | grep -qF " $STORAGE_IP:$port "; then
			continue
		fi
		rm -f "$CONF/$ring.builder" "$CONF/$ring.ring.gz"
		# 2^8 partitions, 1 replica, min_part_hours 1
		swift-ring-builder "$CONF/$ring.builder" create 8 1 1 >/dev/null
		swift-ring-builder "$CONF/$ring.builder" add "r1z1-$STORAGE_IP:$port/d1" 100 >/dev/null
		swift-ring-builder "$CONF/$ring.builder" rebalance >/dev/null || true
		[ -s "$CONF/$ring.ring.gz" ] || die "building the $ring ring failed"
	done
}

start_one() { # name command...
	local name=$1
	shift
	local pidfile="$RUN/$name.pid"
	if pid_alive "$pidfile"; then
		return 0
	fi
	# setsid: own session and process group, so stop can signal exactly
	# this group by the pid we record.
	setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
}

answers() { # auth url
	swift -A "$1" -U test:tester -K testing stat >/dev/null 2>&1
}

do_status() {
	local s
	for s in "${SERVICES[@]}"; do
		pid_alive "$RUN/$s.pid" || return 1
	done
	answers "$ST_AUTH_URL" && answers "$SHORT_AUTH_URL"
}

do_start() {
	install_if_missing
	mkdir -p "$DIR"
	if do_status 2>/dev/null; then
		# Running with other settings? Restart so the requested ones apply.
		if [ -s "$RUN/settings" ] && [ "$(cat "$RUN/settings")" = "$(settings)" ]; then
			log "already running ($ST_AUTH_URL)"
			return 0
		fi
		do_stop
	fi
	do_stop >/dev/null 2>&1 || true
	write_etc_swift_conf
	write_configs
	build_rings
	settings >"$RUN/settings"
	local memcached_user=()
	[ "$(id -u)" -eq 0 ] && memcached_user=(-u root)
	start_one memcached memcached -l "$STORAGE_IP" -p "$MEMCACHED_PORT" -U 0 -m 64 "${memcached_user[@]}"
	start_one object swift-object-server "$CONF/object-server.conf" -v
	start_one container swift-container-server "$CONF/container-server.conf" -v
	start_one account swift-account-server "$CONF/account-server.conf" -v
	start_one proxy swift-proxy-server "$CONF/proxy-server.conf" -v
	start_one proxy-short swift-proxy-server "$CONF/proxy-short-server.conf" -v
	local i
	for i in $(seq 1 120); do
		if answers "$ST_AUTH_URL" && answers "$SHORT_AUTH_URL"; then
			log "started in $DIR ($ST_AUTH_URL, short-timeout proxy $SHORT_AUTH_URL)"
			return 0
		fi
		local s
		for s in "${SERVICES[@]}"; do
			if ! pid_alive "$RUN/$s.pid"; then
				log "$s exited; last lines of $LOG/$s.log:"
				tail -n 30 "$LOG/$s.log" >&2 || true
				do_stop
				exit 1
			fi
		done
		sleep 0.25
	done
	log "Swift did not answer within 30 s; logs in $LOG"
	tail -n 20 "$LOG"/*.log >&2 || true
	do_stop
	exit 1
}

settings() {
	# The addresses only when not the default: a default sandbox keeps the
	# settings it had, so one that is running is not restarted for them.
	local ip=""
	[ "$BIND_IP" = 127.0.0.1 ] || ip=" ip=$BIND_IP"
	[ "$STORAGE_IP" = 127.0.0.1 ] || ip+=" storage_ip=$STORAGE_IP"
	echo "port=$PROXY_PORT ct=$CLIENT_TIMEOUT sct=$SHORT_CLIENT_TIMEOUT mfs=$MAX_FILE_SIZE slo=$SLO_MAX_SEGMENTS$ip"
}

do_stop() {
	local s pid i
	for s in "${SERVICES[@]}"; do
		[ -s "$RUN/$s.pid" ] || continue
		pid=$(cat "$RUN/$s.pid")
		# The group led by our pid: the server and any child it forked.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for s in "${SERVICES[@]}"; do
		[ -s "$RUN/$s.pid" ] || continue
		pid=$(cat "$RUN/$s.pid")
		for i in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$RUN/$s.pid"
	done
	rm -f "$RUN/settings"
}

do_env() {
	cat <<EOF
export ST_AUTH=$ST_AUTH_URL
export ST_USER=test:tester
export ST_KEY=testing
export MYBAK_TEST_SWIFT=1
export MYBAK_SWIFT_SHORT_TIMEOUT_AUTH=$SHORT_AUTH_URL
export MYBAK_SWIFT_SHORT_CLIENT_TIMEOUT=$SHORT_CLIENT_TIMEOUT
EOF
}

case ${1:-} in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
env) do_env ;;
restart)
	do_stop
	do_start
	;;
*)
	echo "usage: $0 start|stop|status|env|restart" >&2
	exit 2
	;;
esac
