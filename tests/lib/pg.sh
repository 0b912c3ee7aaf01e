#!/usr/bin/env bash
# tests/lib/pg.sh: a throwaway PostgreSQL 15 cluster for tests.
#   tests/lib/pg.sh start DIR [PORT]   initdb + start; prints the superuser URL
#   tests/lib/pg.sh restart DIR        restart (fast), same options as start
#   tests/lib/pg.sh stop DIR           stop (fast) and remove DIR
# initdb refuses root, so the cluster runs as the `postgres` user in a
# folder it owns. Listens on 127.0.0.1 only, trust auth (throwaway).
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_opts() { echo "-p $1 -k $2 -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

cmd=${1:?usage: pg.sh start|restart|stop DIR [PORT]}
dir=${2:?usage: pg.sh start|restart|stop DIR [PORT]}
case $cmd in
start)
	port=${3:-$(free_port)}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
		-o "$(pg_opts "$port" "$dir")" \
		start >/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
	as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres spotlight
	echo "$port" >"$dir/port"
	echo "postgresql://postgres@127.0.0.1:$port/spotlight"
	;;
restart)
	dir=$(cd "$dir" && pwd)
	port=$(cat "$dir/port")
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w \
		-t 30 -o "$(pg_opts "$port" "$dir")" restart >/dev/null ||
		{ cat "$dir/postgres.log" >&2; exit 1; }
	;;
stop)
	if [ -d "$dir/data" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*) echo "usage: pg.sh start|restart|stop DIR [PORT]" >&2; exit 2 ;;
esac
