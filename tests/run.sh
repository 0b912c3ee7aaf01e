#!/usr/bin/env bash
# tests/run.sh: every test of the suite, for `make test` (BUILD=build) and
# `make asan` (BUILD=build/asan). Needs the build done (make does it).
#
#   1. unit: every Check binary $BUILD/test/*_test, against a throwaway
#      PostgreSQL (tests/lib/pg.sh): SC_TEST_DATABASE_URL, SC_TEST_PG_DIR.
#      Then the PWA's unit tests (Vitest, frontend/test/) and every fuzz
#      harness over its checked-in corpus once (tests/fuzz/, when built).
#   2. integration: the whole suite started by deploy/local.sh in a temporary
#      state folder on free ports (tests/lib/suite.sh), a smoke check of the
#      gateway's routes, the end-to-end tests in headless Chromium
#      (tests/e2e/*.test.mjs, against the built frontend/dist), then
#      `node --test tests/integration/*.test.mjs`, one file at a time in name
#      order: zz-faults.test.mjs runs last (it stops daemons and restarts
#      PostgreSQL under the others).
#
# Ends with one line "tests: N passed, M failed" and a non-zero exit when
# anything failed or could not run.
set -uo pipefail

# shellcheck source=tests/lib/suite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"
cd "$SC_REPO" || exit 1
BUILD_DIR=$(sc_build_dir)

# A path the gateway routes to each daemon, for the smoke check: any answer
# but the gateway's own 502/503/504 proves the route reaches the daemon.
declare -A PROBE=([auth]=/api/users/me [events]=/api/events
	[matchmaking]=/api/matches [ratings]=/api/ratings/stats/1
	[signaling]=/api/chat/ice-servers)

passed=0
failed=0
problems=()
started=$SECONDS
OUT=$(mktemp /tmp/spotlight-test-out.XXXXXX)
unit_pg=

problem() {
	problems+=("$*")
	failed=$((failed + 1))
}

cleanup() {
	if [ -n "$unit_pg" ]; then
		tests/lib/pg.sh stop "$unit_pg" || true
	fi
	sc_suite_stop keep || true
	rm -f "$OUT"
}
trap cleanup EXIT
trap 'echo "tests: interrupted"; exit 130' INT
trap 'echo "tests: terminated"; exit 143' TERM

# Sanitizer reports carry a stack trace and fail the test.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

# ---- 1. unit tests --------------------------------------------------------

# Run one Check binary; count its checks from its summary line(s)
# ("100%: Checks: N, Failures: F, Errors: E").
run_check() {
	local t=$1 rc n=0 f=0 e=0 a b c
	echo "== unit: ${t#"$SC_REPO"/}"
	timeout -k 10 600 "$t" 2>&1 | tee "$OUT"
	rc=${PIPESTATUS[0]}
	while read -r a b c; do
		n=$((n + a)) f=$((f + b)) e=$((e + c))
	done < <(sed -nE 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/p' "$OUT")
	passed=$((passed + n - f - e))
	failed=$((failed + f + e))
	if [ "$n" -eq 0 ]; then
		problem "${t#"$SC_REPO"/}: no Check summary (exit $rc)"
	elif [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
		# All checks passed, yet it failed: a crash after the run, a
		# sanitizer report at exit (leaks), a timeout.
		problem "${t#"$SC_REPO"/}: exit $rc after its checks passed"
	elif [ "$rc" -ne 0 ]; then
		problems+=("${t#"$SC_REPO"/}: $((f + e)) of $n checks failed")
	fi
}

unit_stage() {
	local url t
	local -a bins=()
	mapfile -t bins < <(compgen -G "$BUILD_DIR/test/*_test" | sort)
	if [ ${#bins[@]} -eq 0 ]; then
		echo "== unit: no Check binaries in ${BUILD_DIR#"$SC_REPO"/}/test"
		if compgen -G 'common/*_test.c' >/dev/null ||
			compgen -G 'services/*/*_test.c' >/dev/null; then
			problem "unit: the unit tests are not built (make)"
		fi
		return 0
	fi
	unit_pg=$(mktemp -d /tmp/spotlight-unit-pg.XXXXXX)
	if ! url=$(tests/lib/pg.sh start "$unit_pg"); then
		problem "unit: cannot start the throwaway PostgreSQL"
		return 0
	fi
	echo "== unit: PostgreSQL at $url ($unit_pg)"
	# The integration stage points these at the suite's cluster later.
	export SC_TEST_DATABASE_URL=$url SC_TEST_PG_DIR=$unit_pg
	export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-30}
	for t in "${bins[@]}"; do
		run_check "$t"
	done
	tests/lib/pg.sh stop "$unit_pg" || true
	unit_pg=
}

# The PWA's logic (Vitest, in node). Counts from its summary line
# ("Tests  2 failed | 40 passed (42)").
frontend_stage() {
	local rc p f
	compgen -G 'frontend/test/*.test.*' >/dev/null || return 0
	echo "== unit: frontend (vitest)"
	# No colours (CI=true makes vitest colour its output even into a pipe),
	# and any left stripped before the summary is read.
	(cd frontend && NO_COLOR=1 FORCE_COLOR=0 timeout -k 10 300 \
		npx vitest run --reporter=default) 2>&1 | tee "$OUT"
	rc=${PIPESTATUS[0]}
	sed -i 's/\x1b\[[0-9;]*m//g' "$OUT"
	p=$(sed -nE 's/^ *Tests .* ([0-9]+) passed.*/\1/p' "$OUT" | tail -n 1)
	f=$(sed -nE 's/^ *Tests .* ([0-9]+) failed.*/\1/p' "$OUT" | tail -n 1)
	p=${p:-0} f=${f:-0}
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		problem "frontend: vitest exited $rc"
	elif [ "$rc" -ne 0 ]; then
		problems+=("frontend: $f vitest tests failed")
	fi
}

# Every fuzz harness once over its checked-in corpus (a regression test of
# every input that ever crashed): one "fuzz <name>: N inputs ok" line each.
fuzz_stage() {
	local rc n
	[ -f tests/fuzz/fuzz.mk ] || return 0
	echo "== unit: fuzz corpora (tests/fuzz/)"
	make --no-print-directory fuzz-regress 2>&1 | tee "$OUT"
	rc=${PIPESTATUS[0]}
	n=$(grep -cE '^fuzz [^ ]+: [0-9]+ inputs ok' "$OUT")
	passed=$((passed + n))
	if [ "$rc" -ne 0 ]; then
		problem "fuzz: a corpus input fails (make fuzz-regress exited $rc)"
	fi
}

# ---- 2. integration tests -------------------------------------------------

# The PWA end to end in headless Chromium, against the suite's gateway.
e2e_stage() {
	local rc
	local -a files=() opts=()
	mapfile -t files < <(compgen -G "tests/e2e/*.test.mjs" | sort)
	[ ${#files[@]} -gt 0 ] || return 0
	if [ ! -f frontend/dist/index.html ]; then
		problem "e2e: frontend/dist is not built (make frontend)"
		return 0
	fi
	if ! command -v "${SC_TEST_CHROMIUM:-/usr/bin/chromium}" >/dev/null; then
		problem "e2e: no Chromium at ${SC_TEST_CHROMIUM:-/usr/bin/chromium} (make deps)"
		return 0
	fi
	if ! sc_npm_install tests/e2e; then
		problem "e2e: npm install failed"
		return 0
	fi
	mapfile -t opts < <(sc_node_test_opts)
	echo "== e2e: node --test ${opts[*]} (${#files[@]} files, screenshots in build/e2e)"
	rm -rf build/e2e
	timeout -k 10 900 node --test "${opts[@]}" "${files[@]}" 2>&1 | tee "$OUT"
	rc=${PIPESTATUS[0]}
	node_counts "$rc" e2e
}

smoke_check() {
	local what=$1 url=$2 want=$3 code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url")
	if [[ $code =~ ^($want)$ ]]; then
		echo "ok: $what ($code)"
		passed=$((passed + 1))
	else
		echo "FAIL: $what: HTTP $code, want $want"
		problem "smoke: $what: HTTP $code"
	fi
}

integration_stage() {
	local s gw rc a f f0=$failed
	local -a files=() opts=()
	echo "== integration: starting the suite"
	if ! sc_suite_start; then
		problem "integration: the suite did not start (see above)"
		sc_suite_logs
		sc_suite_stop keep || true
		return 0
	fi

	gw=$SC_TEST_GATEWAY_URL
	echo "== integration: smoke checks through $gw"
	smoke_check "the gateway serves the app" "$gw/" 200
	smoke_check "the gateway hides /health" "$gw/health" 404
	for s in $SC_TEST_SERVICES; do
		a=SC_TEST_${s^^}_URL
		smoke_check "$s answers /health" "${!a}/health" 200
		smoke_check "the gateway routes ${PROBE[$s]} to $s" \
			"$gw${PROBE[$s]}" '[1-4][0-9][0-9]|500'
	done

	e2e_stage

	mapfile -t files < <(compgen -G "tests/integration/*.test.mjs" | sort)
	if [ ${#files[@]} -eq 0 ]; then
		echo "== integration: no tests/integration/*.test.mjs yet: skipped"
	elif ! sc_npm_install tests/integration; then
		problem "integration: npm install failed"
	else
		mapfile -t opts < <(sc_node_test_opts)
		echo "== integration: node --test ${opts[*]} (${#files[@]} files)"
		if printf '%s\n' "${opts[@]}" | grep -q concurrency; then
			timeout -k 10 900 node --test "${opts[@]}" "${files[@]}" \
				2>&1 | tee "$OUT"
			rc=${PIPESTATUS[0]}
		else
			rc=0
			: >"$OUT"
			for f in "${files[@]}"; do
				timeout -k 10 900 node --test "${opts[@]}" "$f" 2>&1 |
					tee -a "$OUT"
				[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
			done
		fi
		node_counts "$rc"
	fi

	local keep=remove
	if [ "$failed" -gt "$f0" ]; then
		sc_suite_logs
		keep=keep
	fi
	if ! sc_suite_stop "$keep"; then
		problem "integration: a daemon's log has a sanitizer report"
	fi
}

# Count node's "pass N" / "fail N" / "cancelled N" summary lines (spec:
# "ℹ pass 3", TAP: "# pass 3"); cancelled tests count as failed, and a
# failing run with no failed test counts as one failure.
node_counts() {
	local rc=$1 what=${2:-integration} p=0 f=0 n
	while read -r n; do p=$((p + n)); done < <(sed -nE 's/^(ℹ|#) pass ([0-9]+)$/\2/p' "$OUT")
	while read -r n; do f=$((f + n)); done < <(sed -nE 's/^(ℹ|#) (fail|cancelled) ([0-9]+)$/\3/p' "$OUT")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		problem "$what: node --test exited $rc"
	elif [ "$rc" -ne 0 ]; then
		problems+=("$what: $f node tests failed")
	fi
}

unit_stage
frontend_stage
fuzz_stage
integration_stage

echo
echo "== finished in $((SECONDS - started)) s (${BUILD_DIR#"$SC_REPO"/})"
for p in "${problems[@]}"; do
	echo "   - $p"
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#problems[@]} -eq 0 ]
