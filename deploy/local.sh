#!/usr/bin/env bash
# deploy/local.sh: the whole suite on this machine (PostgreSQL, migrations,
# the daemons, the nginx gateway), for `make run` and for the tests.
#
#   deploy/local.sh start    start in the background; returns once all is ready
#   deploy/local.sh run      start, print the URL, wait; Ctrl-C/SIGTERM stops all
#   deploy/local.sh stop     stop what start/run left (pid files); idempotent
#   deploy/local.sh status   what is running
#
# For fault tests, on the running suite named by SC_VAR:
#   deploy/local.sh stop-service NAME    stop one daemon (SIGTERM, then
#                                        SIGKILL after 10 s); "signaling"
#                                        stops every instance of it,
#                                        "signaling-1" that one only
#   deploy/local.sh start-service NAME   start it again with the environment
#                                        of `start`; returns once it answers
#                                        GET /health
#   deploy/local.sh restart-db           restart PostgreSQL (pg_ctl restart
#                                        -m fast): every connection drops
#
# Environment:
#   SC_VAR            state folder (default <repo>/var): pg/ keys/ log/ mail/
#                     run/ nginx/; kept between runs, so data persists
#   BUILD             where the binaries are (default build)
#   SC_GATEWAY_PORT   the gateway's port (default 8080)
#   SC_PG_PORT        PostgreSQL's port (default 5433)
#   SC_PORT_BASE      for tests: gateway = base, PostgreSQL = base+1, daemons
#                     base+2.. in the order of ALL_SERVICES; a faster,
#                     non-durable cluster
#   SC_SERVICES       the daemons to start, space separated (default SERVICES)
#   SC_SIGNALING_INSTANCES  signaling instances behind the gateway (default
#                     1; 2 in test mode; at most 5): instance 0 is
#                     "signaling", instance i "signaling-i", each with its
#                     own ports, bus addresses, log and pid file; they
#                     find each other over the bus (SC_SIGNALING_PEERS)
#   SC_START_TIMEOUT  seconds each daemon has to answer /health (default 15)
#   SC_STOP_TIMEOUT   seconds a stopped daemon has before SIGKILL (default 10)
#   SC_DAEMON_WRAPPER a command every daemon runs under, @UNIT@ = its name
#                     (tests/valgrind.sh: valgrind with a log per unit)
# Every other exported SC_* variable reaches the daemons unchanged.
#
# PostgreSQL trusts local connections here (no passwords: it listens on
# 127.0.0.1 and a socket in its own folder only). Production gives each
# schema role a password and puts it in the daemons' SC_DATABASE_URL.
# $SC_VAR/run/suite.env records the ports and bus addresses of this run.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# stop-service, start-service and restart-db act on a running suite with
# the environment its `start` had (run/start.env): the caller's SC_*
# variables are replaced by those, so a daemon started again gets what it
# got the first time, whoever asks.
case ${1:-} in
start-service | stop-service | restart-db)
	START_ENV=${SC_VAR:-$REPO/var}
	case $START_ENV in /*) ;; *) START_ENV=$PWD/$START_ENV ;; esac
	if [ ! -r "$START_ENV/run/start.env" ]; then
		printf 'local: no suite was started in %s\n' "$START_ENV" >&2
		exit 1
	fi
	while IFS= read -r v; do
		case $v in SC_*) unset "$v" ;; esac
	done < <(compgen -e)
	set -a
	# shellcheck source=/dev/null
	. "$START_ENV/run/start.env"
	set +a
	;;
esac

# ---- the suite ------------------------------------------------------------

# The daemons started, in order. A new daemon slots in by adding its name
# here; its port, schema and gateway route are already in the tables below
# and in deploy/nginx/gateway.conf.in.
SERVICES=(auth events matchmaking ratings signaling)

# Every daemon of the suite: its HTTP port for `make run` and the schema
# (migrations/<schema>/, login role sc_<schema>) it owns.
ALL_SERVICES=(auth events matchmaking ratings signaling)
declare -A HTTP_PORT=([auth]=7001 [events]=7002 [matchmaking]=7003
	[ratings]=7004 [signaling]=7005)
declare -A SCHEMA=([auth]=auth [events]=events [matchmaking]=matchmaking
	[ratings]=ratings [signaling]=chat)
# signaling's second listener: the Socket.IO endpoint (its REST API is on
# its HTTP port like every daemon's).
SIO_PORT=7006
# More signaling instances (SC_SIGNALING_INSTANCES): instance i >= 1 has
# HTTP port 7005 + 10 i and Socket.IO port 7006 + 10 i (test mode: base+8
# on, two each).
SIG_MAX=5

if [ -n "${SC_SERVICES+set}" ]; then
	read -ra SERVICES <<<"$SC_SERVICES"
fi

# ---- paths and ports ------------------------------------------------------

VAR=${SC_VAR:-$REPO/var}
case $VAR in /*) ;; *) VAR=$PWD/$VAR ;; esac
# The state folder's paths, from its canonical name (called again once
# `start` has created it, so start and stop agree on every derived name).
set_paths() {
	if [ -d "$VAR" ]; then
		VAR=$(cd "$VAR" && pwd -P)
	fi
	RUN=$VAR/run
	LOG=$VAR/log
	NGX=$VAR/nginx
}
set_paths
BUILD_DIR=${BUILD:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$REPO/$BUILD_DIR ;; esac
START_TIMEOUT=${SC_START_TIMEOUT:-15}
STOP_TIMEOUT=${SC_STOP_TIMEOUT:-10}
# A command each daemon runs under (e.g. valgrind, for tests/valgrind.sh);
# @UNIT@ becomes the unit's name. alive_as then looks further along the
# command line for the daemon's name.
read -ra WRAPPER <<<"${SC_DAEMON_WRAPPER:-}"
ARGS_SEEN=2
[ ${#WRAPPER[@]} -eq 0 ] || ARGS_SEEN=64
TEST_MODE=
if [ -n "${SC_PORT_BASE:-}" ]; then
	TEST_MODE=1
	GATEWAY_PORT=$SC_PORT_BASE
	PG_PORT=$((SC_PORT_BASE + 1))
	i=2
	for s in "${ALL_SERVICES[@]}"; do
		HTTP_PORT[$s]=$((SC_PORT_BASE + i))
		i=$((i + 1))
	done
	SIO_PORT=$((SC_PORT_BASE + i))
else
	GATEWAY_PORT=${SC_GATEWAY_PORT:-8080}
	PG_PORT=${SC_PG_PORT:-5433}
fi
# The signaling instances: unit name (pid and log files, stop-service),
# HTTP and Socket.IO ports.
SIG_N=${SC_SIGNALING_INSTANCES:-}
if [ -z "$SIG_N" ]; then
	SIG_N=1
	[ -n "$TEST_MODE" ] && SIG_N=2
fi
case $SIG_N in
[1-9]) ;;
*) SIG_N=bad ;;
esac
declare -a SIG_UNIT=() SIG_HTTP=() SIG_SIO=()
if [ "$SIG_N" != bad ] && [ "$SIG_N" -le "$SIG_MAX" ]; then
	for ((i = 0; i < SIG_N; i++)); do
		if [ "$i" -eq 0 ]; then
			SIG_UNIT+=(signaling)
			SIG_HTTP+=("${HTTP_PORT[signaling]}")
			SIG_SIO+=("$SIO_PORT")
		elif [ -n "$TEST_MODE" ]; then
			SIG_UNIT+=("signaling-$i")
			SIG_HTTP+=($((SC_PORT_BASE + 8 + 2 * (i - 1))))
			SIG_SIO+=($((SC_PORT_BASE + 9 + 2 * (i - 1))))
		else
			SIG_UNIT+=("signaling-$i")
			SIG_HTTP+=($((7005 + 10 * i)))
			SIG_SIO+=($((7006 + 10 * i)))
		fi
	done
fi
ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/spotlight
PGBIN=${PGBIN:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
IS_ROOT=
[ "$(id -u)" = 0 ] && IS_ROOT=1

say() { printf 'local: %s\n' "$*"; }
die() { printf 'local: %s\n' "$*" >&2; exit 1; }

[ ${#SIG_UNIT[@]} -gt 0 ] || die "invalid SC_SIGNALING_INSTANCES" \
	"'${SC_SIGNALING_INSTANCES:-}': 1 to $SIG_MAX"

# The program a unit (a pid or log file's name) runs: signaling-1 runs
# signaling.
prog_of() { printf '%s' "${1%-[0-9]*}"; }

# The units of a daemon: its own name, or each signaling instance.
units_of() {
	if [ "$1" = signaling ]; then
		printf '%s\n' "${SIG_UNIT[@]}"
	else
		printf '%s\n' "$1"
	fi
}

# The index of a signaling unit (signaling -> 0, signaling-2 -> 2).
sig_index() {
	case $1 in
	signaling) echo 0 ;;
	*) echo "${1##*-}" ;;
	esac
}

# A short hash naming this state folder in /var/tmp and /tmp fallbacks.
var_hash() { printf '%s' "$VAR" | sha256sum | cut -c1-12; }

# True when pid is a live (not zombie) process.
alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# True when pid is alive and runs a program named $2 (guards against a pid
# file outliving its process and the pid being reused). The name may be the
# first argument (a script under its interpreter); nginx retitles itself
# "nginx: master process ...".
alive_as() {
	local arg
	alive "$1" || return 1
	while IFS= read -r arg; do
		arg=${arg%% *}
		case ${arg##*/} in "$2" | "$2":) return 0 ;; esac
	done < <(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n "$ARGS_SEEN")
	return 1
}

read_pid() {
	if [ -r "$1" ]; then
		tr -dc '0-9' <"$1"
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_log() {
	local f=$1 n=${2:-40}
	[ -s "$f" ] || return 0
	printf -- '--- last %s lines of %s\n' "$n" "$f" >&2
	tail -n "$n" "$f" >&2
	printf -- '---\n' >&2
}

# ---- PostgreSQL -----------------------------------------------------------

# Run a PostgreSQL tool as the postgres user when root (initdb refuses
# root), from / so it never trips over an unreadable working directory.
as_pg() {
	if [ -n "$IS_ROOT" ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# Sets PG_DIR: the cluster's folder (data/ inside, its socket and log beside
# it). Normally $SC_VAR/pg; as root, when the postgres user cannot reach
# $SC_VAR (e.g. the repo lives under /root), a folder in /var/tmp instead.
PG_FALLBACK=
pg_locate() {
	local alt
	alt=/var/tmp/spotlight-$(var_hash)/pg
	PG_FALLBACK=
	if [ -f "$VAR/pg/data/PG_VERSION" ]; then
		PG_DIR=$VAR/pg
	elif [ -f "$alt/data/PG_VERSION" ]; then
		PG_DIR=$alt
		PG_FALLBACK=1
	elif [ -n "$IS_ROOT" ] && [ -d "$VAR" ] &&
		! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
		PG_DIR=$alt
		PG_FALLBACK=1
	else
		PG_DIR=$VAR/pg
	fi
}

pg_running() {
	[ -f "$PG_DIR/data/PG_VERSION" ] &&
		as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

pg_psql() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
		-U postgres "$@"
}

pg_start() {
	local want have opts sock
	[ -x "$PGBIN/initdb" ] || die "PostgreSQL is not installed (make deps)"
	pg_locate
	if [ -n "$PG_FALLBACK" ]; then
		say "the postgres user cannot reach $VAR: the cluster lives in $PG_DIR"
	fi
	mkdir -p "$PG_DIR"
	[ -n "$IS_ROOT" ] && chown postgres:postgres "$PG_DIR"
	ln -sfn "$PG_DIR/postgres.log" "$LOG/postgresql.log"

	want=$(basename "$(dirname "$PGBIN")")
	if [ -f "$PG_DIR/data/PG_VERSION" ]; then
		have=$(cat "$PG_DIR/data/PG_VERSION")
		[ "$have" = "$want" ] || die "the cluster in $PG_DIR is" \
			"PostgreSQL $have, this machine has $want: remove $PG_DIR"
	else
		say "creating a PostgreSQL $want cluster in $PG_DIR"
		as_pg "$PGBIN/initdb" -D "$PG_DIR/data" -U postgres \
			--auth=trust -E UTF8 --locale=C.UTF-8 \
			>"$PG_DIR/initdb.log" 2>&1 || {
			show_log "$PG_DIR/initdb.log"
			die "initdb failed"
		}
	fi

	if pg_running; then
		have=$(sed -n 4p "$PG_DIR/data/postmaster.pid")
		if [ "$have" = "$PG_PORT" ]; then
			say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
			pg_create_db
			return 0
		fi
		say "PostgreSQL left running on port $have: restarting on $PG_PORT"
		as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
	fi
	port_in_use "$PG_PORT" &&
		die "port $PG_PORT is in use: set SC_PG_PORT to a free port"

	# The unix socket sits in the cluster's folder, unless that path is too
	# long for a socket (108 bytes): then TCP only.
	sock=$PG_DIR
	if [ $((${#sock} + 20)) -ge 108 ]; then
		sock=
	fi
	opts="-p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200"
	opts+=" -c unix_socket_directories='$sock'"
	if [ -n "$TEST_MODE" ]; then
		# Throwaway data: durability off for speed.
		opts+=" -c fsync=off -c synchronous_commit=off"
		opts+=" -c full_page_writes=off"
	fi
	as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
		-w -t 60 -o "$opts" start >/dev/null || {
		show_log "$PG_DIR/postgres.log"
		die "cannot start PostgreSQL on port $PG_PORT"
	}
	# tests/lib/pg.sh restart finds the port here.
	echo "$PG_PORT" >"$PG_DIR/port"
	say "PostgreSQL on 127.0.0.1:$PG_PORT (${PG_DIR})"
	pg_create_db
}

pg_create_db() {
	local found
	found=$(pg_psql -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'spotlight'")
	if [ "$found" != 1 ]; then
		pg_psql -d postgres -c "CREATE DATABASE spotlight"
	fi
}

pg_stop() {
	pg_locate
	if pg_running; then
		as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop \
			>/dev/null
		say "stopped PostgreSQL"
		STOPPED=1
	fi
}

# ---- keys, bus, environment ------------------------------------------------

# An ES256 key pair for access tokens: PKCS#8 private key (mode 600, read by
# auth only) and its public key (read by every daemon).
make_keys() {
	local dir=$VAR/keys
	[ -s "$dir/jwt.key" ] && [ -s "$dir/jwt.pub" ] && return 0
	mkdir -p "$dir"
	chmod 700 "$dir"
	(
		umask 077
		openssl ecparam -name prime256v1 -genkey -noout |
			openssl pkey -out "$dir/jwt.key.new"
		openssl pkey -in "$dir/jwt.key.new" -pubout -out "$dir/jwt.pub"
		mv "$dir/jwt.key.new" "$dir/jwt.key"
	)
	chmod 600 "$dir/jwt.key"
	chmod 644 "$dir/jwt.pub"
	say "made a new JWT key pair in $dir"
}

# The bus is on unix sockets in run/ (nothing clashes with another run). A
# socket path must fit in 108 bytes; a long $SC_VAR gets a /tmp folder.
bus_dir() {
	local d=$RUN
	if [ $((${#d} + 32)) -ge 108 ]; then
		d=/tmp/spotlight-bus-$(var_hash)
	fi
	printf '%s' "$d"
}

BUS_ENV=()
bus_env() {
	local d s u
	d=$(bus_dir)
	BUS_ENV=()
	for s in "${ALL_SERVICES[@]}"; do
		u=${s^^}
		BUS_ENV+=("SC_BUS_${u}_REQ=ipc://$d/bus-$s-req.ipc"
			"SC_BUS_${u}_PUB=ipc://$d/bus-$s-pub.ipc")
	done
}

# A signaling instance's own bus addresses (instance 0 has the suite's
# SC_BUS_SIGNALING_*) and, with several instances, its id, its peers' PUB
# addresses and its session id prefix for the gateway.
SIG_ENV=()
sig_env() {
	local i=$1 d j unit peers=
	d=$(bus_dir)
	unit=${SIG_UNIT[$i]}
	SIG_ENV=("SC_BUS_SIGNALING_REQ=ipc://$d/bus-$unit-req.ipc"
		"SC_BUS_SIGNALING_PUB=ipc://$d/bus-$unit-pub.ipc")
	[ "$SIG_N" -gt 1 ] || return 0
	for ((j = 0; j < SIG_N; j++)); do
		[ "$j" -eq "$i" ] && continue
		peers+=${peers:+,}ipc://$d/bus-${SIG_UNIT[$j]}-pub.ipc
	done
	SIG_ENV+=("SC_SIGNALING_INSTANCE=$unit" "SC_SIGNALING_PEERS=$peers"
		"SC_SIO_SID_PREFIX=s$i")
}

# The environment of this start (every exported SC_* variable, and where
# the binaries and PostgreSQL are), for start-service (sourceable shell;
# private: it may hold passwords).
write_start_env() {
	local v
	(
		umask 077
		{
			printf '# written by deploy/local.sh start\n'
			while IFS= read -r v; do
				case $v in
				SC_VAR) ;;
				SC_*) printf '%s=%q\n' "$v" "${!v}" ;;
				esac
			done < <(compgen -e)
			printf 'SC_VAR=%q\n' "$VAR"
			printf 'BUILD=%q\n' "$BUILD_DIR"
			printf 'PGBIN=%q\n' "$PGBIN"
		} >"$RUN/start.env"
	)
}

# What this run is, for the tests and `status` (sourceable shell).
write_env() {
	local s kv
	{
		printf '# written by deploy/local.sh start\n'
		printf 'SC_SERVICES=%q\n' "${SERVICES[*]}"
		printf 'SC_VAR=%q\n' "$VAR"
		printf 'SC_GATEWAY_PORT=%q\n' "$GATEWAY_PORT"
		printf 'SC_PG_PORT=%q\n' "$PG_PORT"
		printf 'SC_PG_DIR=%q\n' "$PG_DIR"
		printf 'SC_ADMIN_DATABASE_URL=%q\n' "$ADMIN_URL"
		printf 'SC_MAIL_DIR=%q\n' "${SC_MAIL_OUTBOX_DIR:-$VAR/mail}"
		for s in "${ALL_SERVICES[@]}"; do
			printf 'SC_%s_HTTP_PORT=%q\n' "${s^^}" "${HTTP_PORT[$s]}"
		done
		printf 'SC_SIGNALING_SIO_PORT=%q\n' "$SIO_PORT"
		printf 'SC_SIGNALING_INSTANCES=%q\n' "$SIG_N"
		printf 'SC_SIGNALING_HTTP_PORTS=%q\n' "${SIG_HTTP[*]}"
		printf 'SC_SIGNALING_SIO_PORTS=%q\n' "${SIG_SIO[*]}"
		for kv in "${BUS_ENV[@]}"; do
			printf '%s=%q\n' "${kv%%=*}" "${kv#*=}"
		done
	} >"$RUN/suite.env"
}

# ---- events seed ----------------------------------------------------------

# The events every suite starts with (an upsert: importing again changes
# nothing but what the seed file changed).
SEED=$REPO/services/events/seed/events.json
seed_import() {
	[ -r "$SEED" ] || die "$SEED is missing"
	say "importing the events seed"
	SC_DATABASE_URL=postgresql://sc_events@127.0.0.1:$PG_PORT/spotlight \
		"$BUILD_DIR/events" import "$SEED" 2>&1 </dev/null |
		tee -a "$LOG/events-import.log" | sed 's/^/events: /'
}

# True when $1 is one of the daemons started.
in_services() {
	local s
	for s in "${SERVICES[@]}"; do
		[ "$s" = "$1" ] && return 0
	done
	return 1
}

# ---- daemons --------------------------------------------------------------

# daemon_start NAME [INSTANCE]: a daemon, or signaling's instance INSTANCE.
daemon_start() {
	local s=$1 i=${2:-0} bin=$BUILD_DIR/$1 port=${HTTP_PORT[$1]} pid u=$1
	if [ "$s" = signaling ]; then
		u=${SIG_UNIT[$i]}
		port=${SIG_HTTP[$i]}
	fi
	local -a env=(
		SC_HTTP_ADDR=127.0.0.1
		"SC_HTTP_PORT=$port"
		"SC_DATABASE_URL=postgresql://sc_${SCHEMA[$s]}@127.0.0.1:$PG_PORT/spotlight"
		"SC_JWT_PUBLIC_KEY_FILE=${SC_JWT_PUBLIC_KEY_FILE:-$VAR/keys/jwt.pub}"
		"SC_MAIL_OUTBOX_DIR=${SC_MAIL_OUTBOX_DIR:-$VAR/mail}"
		"SC_PUBLIC_URL=${SC_PUBLIC_URL:-http://localhost:$GATEWAY_PORT}"
		"${BUS_ENV[@]}"
	)
	if [ "$s" = auth ]; then
		env+=("SC_JWT_PRIVATE_KEY_FILE=${SC_JWT_PRIVATE_KEY_FILE:-$VAR/keys/jwt.key}")
	fi
	if [ "$s" = signaling ]; then
		port_in_use "${SIG_SIO[$i]}" &&
			die "port ${SIG_SIO[$i]} (for $u's Socket.IO) is in use"
		sig_env "$i"
		env+=("SC_SIO_PORT=${SIG_SIO[$i]}" "${SIG_ENV[@]}")
	fi
	port_in_use "$port" && die "port $port (for $u) is in use"
	printf '\n=== %s start %s\n' "$(date -u +%FT%TZ)" "$u" >>"$LOG/$u.log"
	# In a session of its own: a Ctrl-C at the terminal reaches `run`,
	# which stops everything in order, not each daemon at once. (The
	# subshell is not a group leader, so setsid execs in place: $! is the
	# daemon's pid.)
	(cd "$REPO" && exec setsid env "${env[@]}" "${WRAPPER[@]//@UNIT@/$u}" \
		"$bin" >>"$LOG/$u.log" 2>&1 </dev/null) &
	pid=$!
	echo "$pid" >"$RUN/$u.pid"

	local deadline=$((SECONDS + START_TIMEOUT))
	while ! curl -fsS -o /dev/null --max-time 1 \
		"http://127.0.0.1:$port/health" 2>/dev/null; do
		if ! alive "$pid"; then
			show_log "$LOG/$u.log"
			die "$u exited during start-up (log: $LOG/$u.log)"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			show_log "$LOG/$u.log"
			die "$u did not answer GET /health on port $port" \
				"within ${START_TIMEOUT}s (log: $LOG/$u.log)"
		fi
		sleep 0.1
	done
	say "$u on 127.0.0.1:$port (pid $pid)"
}

# Every unit of daemon s (each signaling instance).
daemon_start_all() {
	local i
	if [ "$1" = signaling ]; then
		for ((i = 0; i < SIG_N; i++)); do
			daemon_start signaling "$i"
		done
	else
		daemon_start "$1"
	fi
}

# SIGTERM every daemon that has a pid file, wait up to STOP_TIMEOUT s, then
# SIGKILL.
daemons_stop() {
	local f s pid n
	local -a pids=() names=()
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		s=$(basename "$f" .pid)
		pid=$(read_pid "$f")
		if alive_as "$pid" "$(prog_of "$s")"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
			names+=("$s")
		fi
		rm -f "$f"
	done
	[ ${#pids[@]} -eq 0 ] && return 0
	for n in $(seq $((STOP_TIMEOUT * 10))); do
		local any=
		for pid in "${pids[@]}"; do
			alive "$pid" && any=1
		done
		[ -z "$any" ] && break
		[ "$n" -eq $((STOP_TIMEOUT * 10)) ] && break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		if alive "$pid"; then
			say "pid $pid did not stop within $STOP_TIMEOUT s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	say "stopped ${names[*]}"
	STOPPED=1
}

# ---- nginx ----------------------------------------------------------------

nginx_conf() {
	local tpl=$REPO/deploy/nginx/gateway.conf.in pwa user ipv6 nofile s
	local -A sub
	command -v nginx >/dev/null || die "nginx is not installed (make deps)"
	[ -r /etc/nginx/mime.types ] ||
		die "/etc/nginx/mime.types is missing (make deps)"
	mkdir -p "$NGX/logs" "$NGX/tmp"/{body,proxy,fastcgi,uwsgi,scgi}

	pwa=$REPO/frontend/dist
	if [ ! -f "$pwa/index.html" ]; then
		pwa=$REPO/deploy/nginx/placeholder
		say "frontend/dist is not built: serving a placeholder page"
	fi

	# As root, the workers run as nobody when nobody can read the files;
	# otherwise (the repo under /root) as root, on loopback only.
	if [ -n "$IS_ROOT" ]; then
		if runuser -u nobody -- test -r "$pwa/index.html" 2>/dev/null &&
			runuser -u nobody -- test -x "$NGX/tmp" 2>/dev/null; then
			user="user nobody nogroup;"
			chown nobody:nogroup "$NGX/tmp"/*
		else
			user="user root root;"
			say "nobody cannot read $pwa or $NGX: nginx workers run as root"
		fi
	else
		user="# not root: the workers run as $(id -un)"
	fi

	ipv6="# IPv6 loopback: not used"
	if [ -z "$TEST_MODE" ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6 \
		2>/dev/null; then
		ipv6="listen [::1]:$GATEWAY_PORT;"
	fi

	nofile=$(ulimit -Hn)
	if [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ]; then
		nofile=20000
	fi

	sub=(
		[USER_DIRECTIVE]=$user
		[NOFILE]=$nofile
		[NGINX_VAR]=$NGX
		[MIME_TYPES]=/etc/nginx/mime.types
		[DEPLOY_NGINX]=$REPO/deploy/nginx
		[GATEWAY_PORT]=$GATEWAY_PORT
		[LISTEN_IPV6]=$ipv6
		[PWA_ROOT]=$pwa
	)
	for s in "${ALL_SERVICES[@]}"; do
		sub[PORT_${s^^}]=${HTTP_PORT[$s]}
	done
	sub[PORT_SIGNALING_SIO]=$SIO_PORT
	# every signaling instance; with several, an upstream per instance
	# for the sessions pinned to it by their sid's prefix (s<i>.).
	# max_fails=0: a refused connection moves the request to the next
	# instance but never marks one down for fail_timeout, so a restarted
	# instance takes traffic at once, and killing the other one meanwhile
	# does not leave "no live upstreams" (503) for 10 s.
	local i servers='' sio='' pins='' map=''
	for ((i = 0; i < SIG_N; i++)); do
		servers+="server 127.0.0.1:${SIG_HTTP[$i]} max_fails=0; "
		sio+="server 127.0.0.1:${SIG_SIO[$i]} max_fails=0; "
		if [ "$SIG_N" -gt 1 ]; then
			pins+="upstream signaling_sio_$i { server 127.0.0.1:${SIG_SIO[$i]}; keepalive 8; }"$'\n\t'
			map+="\"~^s$i\\.\" signaling_sio_$i;"$'\n\t\t'
		fi
	done
	sub[SIGNALING_SERVERS]=$servers
	sub[SIGNALING_SIO_SERVERS]=$sio
	sub[SIGNALING_SIO_PINS]=${pins:-# one instance: nothing to pin}
	sub[SIGNALING_SIO_MAP]=${map:-# one instance}

	local conf k left
	conf=$(<"$tpl")
	for k in "${!sub[@]}"; do
		conf=${conf//"@$k@"/"${sub[$k]}"}
	done
	left=$(grep -o '@[A-Z0-9_]*@' <<<"$conf" | sort -u | tr '\n' ' ' ||
		true)
	[ -z "$left" ] || die "names left unfilled in $tpl: $left"
	printf '%s\n' "$conf" >"$NGX/nginx.conf"
	nginx -t -q -p "$NGX/" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" ||
		die "nginx rejects $NGX/nginx.conf"
}

nginx_start() {
	local pid deadline=$((SECONDS + 10))
	nginx_conf
	port_in_use "$GATEWAY_PORT" &&
		die "port $GATEWAY_PORT is in use: set SC_GATEWAY_PORT to a free port"
	nginx -p "$NGX/" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" \
		</dev/null >/dev/null 2>"$NGX/logs/startup.log" || {
		show_log "$NGX/logs/startup.log"
		show_log "$NGX/logs/error.log"
		die "cannot start nginx"
	}
	until port_in_use "$GATEWAY_PORT"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			show_log "$NGX/logs/error.log"
			die "nginx did not listen on port $GATEWAY_PORT"
		fi
		sleep 0.1
	done
	pid=$(read_pid "$NGX/nginx.pid")
	say "gateway on http://localhost:$GATEWAY_PORT (nginx pid $pid)"
}

nginx_stop() {
	local pid n
	pid=$(read_pid "$NGX/nginx.pid")
	alive_as "$pid" nginx || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for n in $(seq 100); do
		alive "$pid" || break
		[ "$n" -eq 100 ] && kill -KILL "$pid" 2>/dev/null
		sleep 0.1
	done
	rm -f "$NGX/nginx.pid"
	say "stopped nginx"
	STOPPED=1
}

# ---- commands -------------------------------------------------------------

running_pids() {
	local f pid
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(read_pid "$f")
		alive_as "$pid" "$(prog_of "$(basename "$f" .pid)")" && echo "$pid"
	done
	pid=$(read_pid "$NGX/nginx.pid")
	alive_as "$pid" nginx && echo "$pid"
	return 0
}

# EXIT trap while starting: on failure, stop whatever was started.
start_failed() {
	local rc=$?
	trap - EXIT
	if [ "$rc" -ne 0 ]; then
		say "start failed: stopping what was started" >&2
		cmd_stop >/dev/null 2>&1 || true
	fi
	exit "$rc"
}

cmd_start() {
	local s
	for s in "${SERVICES[@]}"; do
		[ -n "${SCHEMA[$s]:-}" ] || die "unknown service '$s'"
		[ -x "$BUILD_DIR/$s" ] ||
			die "$BUILD_DIR/$s is missing: build it first (make)"
	done
	[ -x "$BUILD_DIR/migrate" ] ||
		die "$BUILD_DIR/migrate is missing: build it first (make)"
	mkdir -p "$VAR"
	set_paths
	mkdir -p "$RUN" "$LOG" "$VAR/mail"
	if [ -n "$(running_pids)" ]; then
		die "the suite in $VAR is already running: deploy/local.sh stop" \
			"(make stop) first"
	fi
	rm -f "$RUN"/*.stopped

	# From here on, a failure stops whatever was started.
	trap start_failed EXIT

	pg_start
	say "applying migrations"
	"$BUILD_DIR/migrate" --dir "$REPO/migrations" --database "$ADMIN_URL" \
		2>&1 | tee -a "$LOG/migrate.log" | sed 's/^/migrate: /'
	if in_services events; then
		seed_import
	fi
	make_keys
	bus_env
	mkdir -p "$(bus_dir)"
	chmod 700 "$(bus_dir)"
	rm -f "$(bus_dir)"/bus-*.ipc
	write_env
	write_start_env
	for s in "${SERVICES[@]}"; do
		daemon_start_all "$s"
	done
	nginx_start
	trap - EXIT
}

STOPPED=
cmd_stop() {
	local runner deadline
	# A foreground `run` owns the suite: ask it to stop (it stops
	# everything and exits 0, as after Ctrl-C) and wait for it.
	runner=$(read_pid "$RUN/run.pid" 2>/dev/null || true)
	if [ -n "$runner" ] && [ "$runner" != $$ ] && alive "$runner"; then
		kill -TERM "$runner" 2>/dev/null || true
		deadline=$((SECONDS + 30))
		while alive "$runner" && [ $SECONDS -lt $deadline ]; do
			sleep 0.2
		done
		say "stopped the suite run by pid $runner"
		return 0
	fi
	if [ -d "$VAR" ]; then
		nginx_stop
		daemons_stop
		pg_stop
		rm -f "$(bus_dir)"/bus-*.ipc 2>/dev/null || true
	fi
	if [ -z "$STOPPED" ]; then
		say "nothing was running in $VAR"
	fi
}

# The first daemon (or nginx) of a running suite that is gone, if any (one
# stopped on purpose by stop-service is not gone).
first_dead() {
	local s u
	for s in "${SERVICES[@]}"; do
		for u in $(units_of "$s"); do
			[ -e "$RUN/$u.stopped" ] && continue
			if ! alive "$(read_pid "$RUN/$u.pid")"; then
				echo "$u"
				return 0
			fi
		done
	done
	if ! alive "$(read_pid "$NGX/nginx.pid")"; then
		echo nginx
	fi
}

cmd_run() {
	local dead='' stop=''
	cmd_start
	say "spotlight.cam is running: http://localhost:$GATEWAY_PORT"
	say "logs in $LOG; Ctrl-C stops everything"
	trap 'stop=1' INT TERM
	echo $$ >"$RUN/run.pid"
	while [ -z "$stop" ]; do
		dead=$(first_dead)
		[ -n "$dead" ] && [ -z "$stop" ] && break
		sleep 1 &
		wait $! || true
	done
	# A second Ctrl-C must not cut the stop short.
	trap '' INT TERM
	rm -f "$RUN/run.pid"
	if [ -n "$stop" ]; then
		echo
		say "stopping"
		cmd_stop
		exit 0
	fi
	if [ "$dead" = nginx ]; then
		show_log "$NGX/logs/error.log"
	else
		show_log "$LOG/$dead.log"
	fi
	say "$dead exited: stopping everything" >&2
	cmd_stop
	exit 1
}

cmd_status() {
	local f pid s
	[ -d "$RUN" ] || { say "not running"; return 0; }
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		s=$(basename "$f" .pid)
		pid=$(read_pid "$f")
		if alive_as "$pid" "$(prog_of "$s")"; then
			say "$s running (pid $pid)"
		else
			say "$s not running (stale pid file)"
		fi
	done
	for f in "$RUN"/*.stopped; do
		[ -e "$f" ] || continue
		say "$(basename "$f" .stopped) stopped by stop-service"
	done
	pid=$(read_pid "$NGX/nginx.pid")
	if alive_as "$pid" nginx; then
		say "nginx running (pid $pid)"
	fi
	pg_locate
	if pg_running; then
		say "PostgreSQL running ($PG_DIR)"
	fi
	if [ -r "$RUN/suite.env" ]; then
		sed -n 's/^SC_GATEWAY_PORT=/gateway port: /p' "$RUN/suite.env"
	fi
}

# ---- one daemon, the database (fault tests) --------------------------------

# Sets UNITS to what NAME names: a daemon this suite started (every
# instance of signaling) or one signaling instance (signaling-1); dies
# otherwise.
UNITS=()
need_service() {
	local u
	[ -n "$1" ] || die "which service? (${SERVICES[*]})"
	UNITS=()
	if in_services "$1"; then
		mapfile -t UNITS < <(units_of "$1")
		return 0
	fi
	if in_services signaling; then
		for u in "${SIG_UNIT[@]}"; do
			[ "$u" = "$1" ] && UNITS=("$u") && return 0
		done
	fi
	die "'$1' is not a daemon of this suite (${SERVICES[*]}" \
		"${SIG_UNIT[*]:1})"
}

cmd_stop_service() {
	local u pid n any
	local -a pids=() names=()
	need_service "$1"
	[ -d "$RUN" ] || die "no suite was started in $VAR"
	# SIGTERM to every unit at once, then wait for all of them.
	for u in "${UNITS[@]}"; do
		# Marked first: a foreground `run` must not take it for a crash.
		: >"$RUN/$u.stopped"
		pid=$(read_pid "$RUN/$u.pid")
		if alive_as "$pid" "$(prog_of "$u")"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
			names+=("$u")
		else
			say "$u was not running"
		fi
	done
	for n in $(seq $((STOP_TIMEOUT * 10))); do
		any=
		for pid in "${pids[@]}"; do
			alive "$pid" && any=1
		done
		[ -z "$any" ] && break
		if [ "$n" -eq $((STOP_TIMEOUT * 10)) ]; then
			for pid in "${pids[@]}"; do
				alive "$pid" || continue
				say "pid $pid did not stop within $STOP_TIMEOUT s: killing it"
				kill -KILL "$pid" 2>/dev/null || true
				while alive "$pid"; do sleep 0.05; done
			done
		fi
		sleep 0.1
	done
	for ((n = 0; n < ${#pids[@]}; n++)); do
		say "stopped ${names[$n]} (pid ${pids[$n]})"
	done
	for u in "${UNITS[@]}"; do
		rm -f "$RUN/$u.pid"
	done
}

cmd_start_service() {
	local u pid s started=
	need_service "$1"
	s=$(prog_of "${UNITS[0]}")
	[ -r "$RUN/suite.env" ] || die "the suite in $VAR is not running"
	[ -x "$BUILD_DIR/$s" ] || die "$BUILD_DIR/$s is missing"
	bus_env
	for u in "${UNITS[@]}"; do
		pid=$(read_pid "$RUN/$u.pid")
		if alive_as "$pid" "$s"; then
			[ ${#UNITS[@]} -eq 1 ] &&
				die "$u is already running (pid $pid)"
			continue
		fi
		if [ "$s" = signaling ]; then
			daemon_start signaling "$(sig_index "$u")"
		else
			daemon_start "$s"
		fi
		rm -f "$RUN/$u.stopped"
		started=1
	done
	[ -n "$started" ] || die "$1 is already running"
}

cmd_restart_db() {
	pg_locate
	pg_running || die "the PostgreSQL of the suite in $VAR is not running"
	# pg_ctl restart starts it again with the options it had
	# (postmaster.opts); -l keeps its output in the log.
	as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
		-m fast -w -t 60 restart >/dev/null || {
		show_log "$PG_DIR/postgres.log"
		die "cannot restart PostgreSQL"
	}
	say "restarted PostgreSQL on 127.0.0.1:$PG_PORT"
}

case ${1:-} in
start) cmd_start ;;
run) cmd_run ;;
stop) cmd_stop ;;
status) cmd_status ;;
stop-service) cmd_stop_service "${2:-}" ;;
start-service) cmd_start_service "${2:-}" ;;
restart-db) cmd_restart_db ;;
*)
	echo "usage: deploy/local.sh start|run|stop|status" \
		"| stop-service NAME | start-service NAME | restart-db" >&2
	exit 2
	;;
esac
