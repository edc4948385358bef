#!/usr/bin/env bash
# mysql-sandbox.sh: throwaway MariaDB servers for mybak's integration tests.
#
#   mysql-sandbox.sh start NAME [extra mariadbd options...]
#       Create (first time: mariadb-install-db + users) and start sandbox NAME.
#       Extra options go to mariadbd's command line, e.g. --innodb-log-file-size=4M.
#       Starting a sandbox that already runs is an error; one that was stopped
#       is started again on its own datadir.
#   mysql-sandbox.sh start-datadir NAME DIR [extra mariadbd options...]
#       Start sandbox NAME on an existing datadir DIR (a restored backup). DIR is
#       chowned to the server's user; no users are created: a datadir restored
#       from another sandbox holds the same users with the same passwords,
#       because all sandboxes under one MYBAK_SANDBOX_DIR share credentials.
#   mysql-sandbox.sh stop NAME      Stop NAME by its pid file (never by process name).
#   mysql-sandbox.sh env NAME       Print shell exports for the tests (eval "$(... env NAME)").
#   mysql-sandbox.sh status NAME    Exit 0 when NAME answers.
#   mysql-sandbox.sh destroy NAME   Stop NAME and delete its state directory.
#
# State lives in ${MYBAK_SANDBOX_DIR:-/tmp/mybak-sandbox}/NAME: datadir, binlogs,
# socket, pid file, error log, my.cnf. Servers listen on 127.0.0.1 only, on a
# free port. Binary log and GTID are on (log_bin, binlog_format=ROW,
# gtid_strict_mode, server_id derived from NAME).
#
# Users (passwords are random, 0600 files under $MYBAK_SANDBOX_DIR/credentials):
#   mybak       backup user, only what mariabackup and mariadb-dump need
#   mybak_repl  replication user (REPLICATION SLAVE)
#   mybak_admin everything, for test set-up (ALL PRIVILEGES WITH GRANT OPTION)
#   root        unix_socket only (OS root through the socket)
#
# Works as root without systemd (CI: clean Debian 12, 2 cores): mariadbd runs
# with --user=mysql and every directory it needs is made reachable for mysql.
# Missing packages (mariadb-server mariadb-client mariadb-backup sysbench) are
# installed with apt-get, waiting for the dpkg lock of a concurrent apt run.
set -euo pipefail

BASE=${MYBAK_SANDBOX_DIR:-/tmp/mybak-sandbox}
PACKAGES=(mariadb-server mariadb-client mariadb-backup sysbench)
RUN_USER=mysql

die() { echo "mysql-sandbox: $*" >&2; exit 1; }
log() { echo "mysql-sandbox: $*" >&2; }

valid_name() {
	[[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad sandbox name '$1' (letters, digits, _ . - only)"
}

need_packages() {
	local missing=() p
	command -v mariadbd >/dev/null || missing+=(mariadb-server)
	command -v mariadb >/dev/null || missing+=(mariadb-client)
	command -v mariabackup >/dev/null || missing+=(mariadb-backup)
	command -v sysbench >/dev/null || missing+=(sysbench)
	((${#missing[@]} == 0)) && return 0
	[[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run as root or: sudo apt-get install ${PACKAGES[*]}"
	log "installing ${missing[*]} (waiting for the dpkg lock if another apt runs)"
	local i
	for i in 1 2 3; do
		if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${missing[@]}" >&2; then
			return 0
		fi
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update >&2 || true
	done
	die "apt-get install ${missing[*]} failed"
}

# as_server runs a command as the user mariadbd runs as.
as_server() {
	if [[ $(id -u) == 0 ]]; then runuser -u "$RUN_USER" -- "$@"; else "$@"; fi
}

# reachable makes every ancestor of $1 enterable by the server user: test
# harnesses create their directories with mktemp (0700, owned by root).
reachable() {
	[[ $(id -u) == 0 ]] || return 0
	local d
	d=$(dirname "$(readlink -f "$1")")
	while [[ $d != / ]]; do
		if ! runuser -u "$RUN_USER" -- test -x "$d"; then
			chmod o+x "$d"
		fi
		d=$(dirname "$d")
	done
}

# server_id: a stable number in [2, 2^31) derived from the name.
server_id() {
	local c
	c=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
	echo $(((c % 2147483000) + 2))
}

port_busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port picks a port below the kernel's ephemeral range (32768+ by
# default), where outgoing client connections could already hold it.
free_port() {
	local p tries=0
	p=$((12000 + ($(printf '%s' "$1" | cksum | cut -d' ' -f1) + RANDOM) % 20000))
	while port_busy "$p"; do
		p=$((12000 + (p - 12000 + 7919) % 20000))
		tries=$((tries + 1))
		((tries < 200)) || die "no free port found"
	done
	echo "$p"
}

credentials() {
	local c=$BASE/credentials u
	mkdir -p "$c"
	chmod 0700 "$c"
	for u in mybak mybak_repl mybak_admin; do
		if [[ ! -s $c/$u.password ]]; then
			(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$c/$u.password.tmp")
			mv "$c/$u.password.tmp" "$c/$u.password"
		fi
	done
}
password() { cat "$BASE/credentials/$1.password"; }

pid_of() {
	local dir=$1 pid
	[[ -s $dir/mysqld.pid ]] || return 1
	pid=$(cat "$dir/mysqld.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	# The pid file may be stale and its pid reused: it must be our mariadbd,
	# started with this sandbox's my.cnf.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--defaults-file=$dir/my.cnf" || return 1
	echo "$pid"
}

client() { # client DIR [mariadb args...]: as root through the socket
	local dir=$1
	shift
	mariadb --defaults-file=/dev/null --protocol=socket --socket="$dir/mysqld.sock" -uroot "$@"
}

write_cnf() {
	local name=$1 dir=$2 datadir=$3 port=$4
	cat >"$dir/my.cnf" <<EOF
# generated by mysql-sandbox.sh for sandbox $name
[mariadbd]
datadir=$datadir
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
port=$port
bind-address=127.0.0.1
skip-name-resolve
server-id=$(server_id "$name")
log-bin=$dir/binlog/$name-bin
log-slave-updates
binlog-format=ROW
gtid-strict-mode=1
relay-log=$dir/binlog/$name-relay
innodb-buffer-pool-size=64M
innodb-log-file-size=48M
performance-schema=OFF
max-connections=100
secure-file-priv=$dir/tmp
tmpdir=$dir/tmp
EOF
	echo "$port" >"$dir/port"
	echo "$datadir" >"$dir/datadir"
}

launch() { # launch NAME DIR [extra...]: start mariadbd and wait until it answers
	local name=$1 dir=$2
	shift 2
	local args=(--defaults-file="$dir/my.cnf")
	[[ $(id -u) == 0 ]] && args+=(--user="$RUN_USER")
	args+=("$@")
	printf '%s\n' "$@" >"$dir/extra-options"
	: >>"$dir/error.log"
	local from
	from=$(wc -c <"$dir/error.log")
	setsid mariadbd "${args[@]}" </dev/null >>"$dir/console.log" 2>&1 &
	local child=$! i
	for ((i = 0; i < 1200; i++)); do
		if client "$dir" -e 'SELECT 1' >/dev/null 2>&1; then
			log "$name up on 127.0.0.1:$(cat "$dir/port") (pid $(cat "$dir/mysqld.pid"))"
			return 0
		fi
		if ! kill -0 "$child" 2>/dev/null; then
			if tail -c +"$((from + 1))" "$dir/error.log" | grep -q 'Address already in use' && ((${LAUNCH_RETRY:-0} < 5)); then
				log "port $(cat "$dir/port") taken meanwhile: trying another"
				sed -i "s/^port=.*/port=$(free_port "$name")/" "$dir/my.cnf"
				sed -n 's/^port=//p' "$dir/my.cnf" >"$dir/port"
				LAUNCH_RETRY=$((${LAUNCH_RETRY:-0} + 1)) launch "$name" "$dir" "$@"
				return
			fi
			tail -c +"$((from + 1))" "$dir/error.log" | tail -n 30 >&2
			tail -n 10 "$dir/console.log" >&2
			die "mariadbd for $name exited during start-up (log: $dir/error.log)"
		fi
		sleep 0.1
	done
	tail -n 30 "$dir/error.log" >&2
	die "mariadbd for $name did not answer within 120 s (log: $dir/error.log)"
}

prepare_dir() { # prepare_dir DIR: state dir layout, owned by the server user
	local dir=$1
	mkdir -p "$dir/binlog" "$dir/tmp"
	reachable "$dir/binlog"
	chmod 0755 "$dir"
	if [[ $(id -u) == 0 ]]; then chown "$RUN_USER:" "$dir" "$dir/binlog" "$dir/tmp"; fi
	chmod 0750 "$dir/binlog" "$dir/tmp"
}

create_users() {
	local dir=$1
	# mariabackup 10.11 (https://mariadb.com/kb/en/mariabackup-overview/#authentication-and-privileges):
	#   RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR (REPLICATION CLIENT before 10.5);
	#   SLAVE MONITOR for --safe-slave-backup / --slave-info.
	# mariadb-dump --single-transaction --routines --triggers --events --master-data=2 --gtid:
	#   SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD (FLUSH TABLES WITH READ LOCK
	#   for a consistent binlog position), BINLOG MONITOR (SHOW MASTER STATUS).
	# The probe (SHOW ENGINE INNODB STATUS, the processlist) needs PROCESS.
	client "$dir" <<EOF
SET sql_log_bin=0;
DELETE FROM mysql.global_priv WHERE User='';
CREATE OR REPLACE USER 'mybak'@'localhost' IDENTIFIED BY '$(password mybak)';
CREATE OR REPLACE USER 'mybak'@'127.0.0.1' IDENTIFIED BY '$(password mybak)';
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT, SHOW VIEW, TRIGGER, EVENT ON *.* TO 'mybak'@'localhost', 'mybak'@'127.0.0.1';
CREATE OR REPLACE USER 'mybak_repl'@'127.0.0.1' IDENTIFIED BY '$(password mybak_repl)';
CREATE OR REPLACE USER 'mybak_repl'@'localhost' IDENTIFIED BY '$(password mybak_repl)';
GRANT REPLICATION SLAVE ON *.* TO 'mybak_repl'@'127.0.0.1', 'mybak_repl'@'localhost';
CREATE OR REPLACE USER 'mybak_admin'@'localhost' IDENTIFIED BY '$(password mybak_admin)';
CREATE OR REPLACE USER 'mybak_admin'@'127.0.0.1' IDENTIFIED BY '$(password mybak_admin)';
GRANT ALL PRIVILEGES ON *.* TO 'mybak_admin'@'localhost', 'mybak_admin'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
EOF
}

cmd_start() {
	local name=$1
	shift
	valid_name "$name"
	need_packages
	local dir=$BASE/$name
	mkdir -p "$BASE"
	credentials
	if pid_of "$dir" >/dev/null; then die "sandbox $name already runs (pid $(pid_of "$dir"))"; fi
	prepare_dir "$dir"
	local datadir=$dir/data fresh=0
	if [[ ! -d $datadir/mysql ]]; then
		fresh=1
		rm -rf "$datadir"
		mkdir -p "$datadir"
		[[ $(id -u) == 0 ]] && chown "$RUN_USER:" "$datadir"
		write_cnf "$name" "$dir" "$datadir" "$(free_port "$name")"
		local inst=(--defaults-file="$dir/my.cnf" --datadir="$datadir" --skip-test-db
			--auth-root-authentication-method=socket)
		[[ $(id -u) == 0 ]] && inst+=(--user="$RUN_USER")
		mariadb-install-db "${inst[@]}" >"$dir/install.log" 2>&1 ||
			{ tail -n 30 "$dir/install.log" >&2; die "mariadb-install-db failed (log: $dir/install.log)"; }
	else
		port_busy "$(cat "$dir/port")" && write_cnf "$name" "$dir" "$datadir" "$(free_port "$name")"
	fi
	launch "$name" "$dir" "$@"
	if ((fresh)); then create_users "$dir"; fi
}

cmd_start_datadir() {
	local name=$1 datadir=$2
	shift 2
	valid_name "$name"
	need_packages
	[[ -d $datadir ]] || die "datadir $datadir does not exist"
	datadir=$(readlink -f "$datadir")
	local dir=$BASE/$name
	mkdir -p "$BASE"
	credentials
	if pid_of "$dir" >/dev/null; then die "sandbox $name already runs (pid $(pid_of "$dir"))"; fi
	prepare_dir "$dir"
	reachable "$datadir/x"
	if [[ $(id -u) == 0 ]]; then chown -R "$RUN_USER:" "$datadir"; fi
	write_cnf "$name" "$dir" "$datadir" "$(free_port "$name")"
	launch "$name" "$dir" "$@"
}

cmd_stop() {
	local name=$1 dir=$BASE/$1 pid i
	valid_name "$name"
	if ! pid=$(pid_of "$dir"); then
		log "$name is not running"
		return 0
	fi
	kill -TERM "$pid"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || { log "$name stopped"; return 0; }
		sleep 0.1
	done
	log "$name did not stop within 60 s: SIGKILL $pid"
	kill -KILL "$pid" 2>/dev/null || true
}

cmd_env() {
	local name=$1 dir=$BASE/$1
	valid_name "$name"
	[[ -s $dir/port ]] || die "no sandbox $name under $BASE (start it first)"
	cat <<EOF
export MYBAK_TEST_MYSQL=1
export MYBAK_SANDBOX_DIR='$BASE'
export MYBAK_TEST_MYSQL_NAME='$name'
export MYBAK_TEST_MYSQL_HOST=127.0.0.1
export MYBAK_TEST_MYSQL_PORT=$(cat "$dir/port")
export MYBAK_TEST_MYSQL_SOCKET='$dir/mysqld.sock'
export MYBAK_TEST_MYSQL_DATADIR='$(cat "$dir/datadir")'
export MYBAK_TEST_MYSQL_CNF='$dir/my.cnf'
export MYBAK_TEST_MYSQL_USER=mybak
export MYBAK_TEST_MYSQL_PASSWORD_FILE='$BASE/credentials/mybak.password'
export MYBAK_TEST_MYSQL_REPL_USER=mybak_repl
export MYBAK_TEST_MYSQL_REPL_PASSWORD_FILE='$BASE/credentials/mybak_repl.password'
export MYBAK_TEST_MYSQL_ADMIN_USER=mybak_admin
export MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE='$BASE/credentials/mybak_admin.password'
EOF
}

cmd_destroy() {
	local name=$1
	valid_name "$name"
	cmd_stop "$name"
	rm -rf "${BASE:?}/$name"
}

usage() {
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

(($# >= 2)) || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
start-datadir) (($# >= 2)) || usage; cmd_start_datadir "$@" ;;
stop) cmd_stop "$1" ;;
env) cmd_env "$1" ;;
status) valid_name "$1"; client "$BASE/$1" -e 'SELECT 1' >/dev/null 2>&1 ;;
destroy) cmd_destroy "$1" ;;
*) usage ;;
esac
