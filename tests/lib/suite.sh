# tests/lib/suite.sh: shell functions shared by tests/run.sh and
# tests/bench/run.sh (source it). Starts the whole suite through
# deploy/local.sh in a throwaway state folder on free ports, so it never
# clashes with a `make run` on 8080 or with another test run.
# shellcheck shell=bash

SC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The build folder ($BUILD, default build) as an absolute path.
sc_build_dir() {
	local b=${BUILD:-build}
	case $b in /*) ;; *) b=$SC_REPO/$b ;; esac
	printf '%s\n' "$b"
}

# A base port P with P..P+15 all free on 127.0.0.1 (gateway, PostgreSQL,
# the five daemons, signaling's Socket.IO, and two ports for each further
# signaling instance, up to 5; see deploy/local.sh), below the ephemeral
# port range so outgoing connections do not take them meanwhile.
sc_free_port_base() {
	python3 - <<'EOF'
import random, socket, sys
for _ in range(500):
    base = random.randrange(20000, 32000)
    socks = []
    try:
        for port in range(base, base + 16):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free range of 16 ports on 127.0.0.1")
EOF
}

# Node's test runner options this Node supports: one file at a time
# (--test-concurrency since 20.10; older ones run each file by itself).
sc_node_test_opts() {
	if node --test-concurrency=1 -e 0 >/dev/null 2>&1; then
		printf '%s\n' --test-concurrency=1
	fi
	if node --test-reporter=spec -e 0 >/dev/null 2>&1; then
		printf '%s\n' --test-reporter=spec
	fi
}

# npm dependencies of a test folder, installed when its package.json
# exists and node_modules is missing or older than the lock file.
sc_npm_install() {
	local dir=$1
	[ -f "$dir/package.json" ] || return 0
	if [ -d "$dir/node_modules" ] &&
		{ [ ! -f "$dir/package-lock.json" ] ||
			[ "$dir/node_modules/.package-lock.json" -nt \
				"$dir/package-lock.json" ]; }; then
		return 0
	fi
	echo "== npm: installing the packages of ${dir#"$SC_REPO"/}"
	if [ -f "$dir/package-lock.json" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	else
		(cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
	fi
}

SC_SUITE_VAR=

# Start the whole suite (deploy/local.sh start). On success exports, for
# the tests:
#   SC_TEST_GATEWAY_URL    http://127.0.0.1:<gateway>
#   SC_TEST_SERVICES       the daemons running, space separated
#   SC_TEST_<SVC>_URL      each daemon directly (SC_TEST_AUTH_URL, ...)
#   SC_TEST_SIGNALING_SIO_URL  signaling's Socket.IO listener directly
#                          (its first instance)
#   SC_TEST_SIGNALING_INSTANCES  how many signaling instances run (2 unless
#                          SC_SIGNALING_INSTANCES says otherwise)
#   SC_TEST_SIGNALING_SIO_URLS, SC_TEST_SIGNALING_URLS  every instance's
#                          Socket.IO listener / HTTP API, space separated
#   SC_TEST_MAIL_DIR       the mail outbox folder
#   SC_TEST_BUILD          the build folder (absolute)
#   SC_TEST_VAR            the suite's state folder (logs in log/)
#   SC_TEST_DATABASE_URL   superuser URL of the suite's database
#   SC_TEST_PG_DIR         the suite's cluster folder
#   SC_TEST_REPO           the repository (deploy/local.sh stop-service,
#                          start-service, restart-db with SC_VAR=SC_TEST_VAR)
#   SC_BUS_*               the bus addresses the daemons got (for scbus)
# and sets SC_SUITE_VAR. Returns non-zero when the suite did not start
# (local.sh has printed why).
sc_suite_start() {
	local base build line s u v
	build=$(sc_build_dir)
	SC_SUITE_VAR=$(mktemp -d /tmp/spotlight-suite.XXXXXX) || return 1
	# The postgres user and nginx's workers must reach it.
	chmod 755 "$SC_SUITE_VAR"
	base=$(sc_free_port_base) || return 1
	# Every test registers its users from the one gateway address: lift
	# the per-IP registration limit (the login limits stay as shipped).
	SC_LIMIT_REGISTER_PER_HOUR=${SC_LIMIT_REGISTER_PER_HOUR:-100000} \
		SC_VAR=$SC_SUITE_VAR SC_PORT_BASE=$base BUILD=$build \
		"$SC_REPO/deploy/local.sh" start || return 1

	local -A env=()
	while IFS= read -r line; do
		case $line in SC_*=*) ;; *) continue ;; esac
		# suite.env is written with printf %q: undo the quoting.
		eval "v=${line#*=}"
		env[${line%%=*}]=$v
	done <"$SC_SUITE_VAR/run/suite.env"

	export SC_TEST_GATEWAY_URL="http://127.0.0.1:${env[SC_GATEWAY_PORT]}"
	# signaling's Socket.IO listener, for tests that bypass nginx.
	export SC_TEST_SIGNALING_SIO_URL="http://127.0.0.1:${env[SC_SIGNALING_SIO_PORT]}"
	export SC_TEST_SIGNALING_INSTANCES=${env[SC_SIGNALING_INSTANCES]:-1}
	SC_TEST_SIGNALING_SIO_URLS=
	for v in ${env[SC_SIGNALING_SIO_PORTS]:-${env[SC_SIGNALING_SIO_PORT]}}; do
		SC_TEST_SIGNALING_SIO_URLS+="${SC_TEST_SIGNALING_SIO_URLS:+ }http://127.0.0.1:$v"
	done
	SC_TEST_SIGNALING_URLS=
	for v in ${env[SC_SIGNALING_HTTP_PORTS]:-${env[SC_SIGNALING_HTTP_PORT]}}; do
		SC_TEST_SIGNALING_URLS+="${SC_TEST_SIGNALING_URLS:+ }http://127.0.0.1:$v"
	done
	export SC_TEST_SIGNALING_SIO_URLS SC_TEST_SIGNALING_URLS
	for s in ${env[SC_SERVICES]}; do
		u=${s^^}
		export "SC_TEST_${u}_URL=http://127.0.0.1:${env[SC_${u}_HTTP_PORT]}"
	done
	export SC_TEST_MAIL_DIR=${env[SC_MAIL_DIR]}
	export SC_TEST_BUILD=$build
	export SC_TEST_VAR=$SC_SUITE_VAR
	export SC_TEST_DATABASE_URL=${env[SC_ADMIN_DATABASE_URL]}
	export SC_TEST_PG_DIR=${env[SC_PG_DIR]}
	export SC_TEST_REPO=$SC_REPO
	for v in "${!env[@]}"; do
		case $v in SC_BUS_*) export "$v=${env[$v]}" ;; esac
	done
	export SC_TEST_SERVICES=${env[SC_SERVICES]}
}

# Stop the suite, then "remove" its state folder or "keep" it (after a
# failure, for a look at the logs). Returns 1, keeping the folder, when a
# daemon's log has a sanitizer report (make asan: leaks are reported when a
# daemon exits, so only after the stop).
sc_suite_stop() {
	local what=$1 reports rc=0 f
	[ -n "$SC_SUITE_VAR" ] || return 0
	SC_VAR=$SC_SUITE_VAR "$SC_REPO/deploy/local.sh" stop >/dev/null || true
	reports=$(grep -lE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
		"$SC_SUITE_VAR"/log/*.log 2>/dev/null || true)
	if [ -n "$reports" ]; then
		for f in $reports; do
			printf -- '--- sanitizer report in %s\n' "$f"
			grep -E -A 40 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f" |
				head -n 120
		done
		what=keep
		rc=1
	fi
	if [ "$what" = keep ]; then
		echo "== the suite's state (logs in log/) is kept in $SC_SUITE_VAR"
	else
		rm -rf "$SC_SUITE_VAR"
	fi
	SC_SUITE_VAR=
	return "$rc"
}

# The tail of every daemon's log, nginx's error log and PostgreSQL's log.
sc_suite_logs() {
	local f any=
	[ -n "$SC_SUITE_VAR" ] || return 0
	for f in "$SC_SUITE_VAR"/log/*.log "$SC_SUITE_VAR/nginx/logs/error.log"; do
		[ -s "$f" ] || continue
		printf -- '--- last 50 lines of %s\n' "$f"
		tail -n 50 "$f"
		any=1
	done
	if [ -n "$any" ]; then
		printf -- '---\n'
	fi
}
