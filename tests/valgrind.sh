#!/usr/bin/env bash
# tests/valgrind.sh: `make valgrind`. Every daemon of the suite runs under
# valgrind's memcheck while integration tests drive it; then the daemons are
# stopped (SIGTERM: each exits normally and valgrind writes its leak check)
# and every report is read. Fails on any invalid read or write, use of
# uninitialised memory, bad free, or definitely lost block.
#
# The daemons are 20-50x slower under memcheck, so the tests' own timing
# assertions may fail: their results are printed but do not decide the
# outcome; valgrind's reports do. The files: $SC_VALGRIND_TESTS (names in
# tests/integration/, default below; the fault tests that kill -9 are left
# out: a killed process writes no leak check).
set -uo pipefail

# shellcheck source=tests/lib/suite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"
cd "$SC_REPO" || exit 1

tests=${SC_VALGRIND_TESTS:-auth bus events matchmaking ratings authz journey signaling metrics}
reports=$(mktemp -d /tmp/spotlight-valgrind.XXXXXX)
chmod 755 "$reports"

export SC_DAEMON_WRAPPER="valgrind --tool=memcheck --leak-check=full \
--show-leak-kinds=definite --errors-for-leak-kinds=definite \
--num-callers=30 --log-file=$reports/@UNIT@.%p.log"
export SC_START_TIMEOUT=${SC_START_TIMEOUT:-180}
export SC_STOP_TIMEOUT=${SC_STOP_TIMEOUT:-180}
# Slow peers: give bus calls room before they count as a timeout.
export SC_BUS_TIMEOUT_MS=${SC_BUS_TIMEOUT_MS:-15000}

trap 'sc_suite_stop keep >/dev/null 2>&1 || true' EXIT
echo "== valgrind: starting the suite under memcheck (reports in $reports)"
if ! sc_suite_start; then
	sc_suite_logs
	echo "valgrind: the suite did not start"
	exit 1
fi
sc_npm_install tests/integration || exit 1

mapfile -t opts < <(sc_node_test_opts)
started=$SECONDS
for t in $tests; do
	f=tests/integration/$t.test.mjs
	[ -f "$f" ] || { echo "valgrind: no $f" >&2; exit 1; }
	echo "== valgrind: $f"
	timeout -k 10 900 node --test "${opts[@]}" "$f" 2>&1 |
		grep -E '^ℹ (pass|fail)|^✖' | head -n 20
done
echo "== valgrind: tests took $((SECONDS - started)) s; stopping the suite"
sc_suite_stop remove >/dev/null 2>&1 || true
trap - EXIT

# One line per process: its errors and definitely lost bytes.
bad=0
n=0
for f in "$reports"/*.log; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	errors=$(sed -nE 's/.*ERROR SUMMARY: ([0-9]+) errors.*/\1/p' "$f" | tail -n 1)
	lost=$(sed -nE 's/.*definitely lost: ([0-9,]+) bytes.*/\1/p' "$f" | tail -n 1)
	lost=${lost//,/}
	unit=$(basename "$f" .log)
	if [ -z "$errors" ]; then
		echo "valgrind $unit: no summary (killed?)"
		continue
	fi
	echo "valgrind $unit: ${errors} errors, ${lost:-0} bytes definitely lost"
	if [ "$errors" -ne 0 ] || [ "${lost:-0}" -ne 0 ]; then
		bad=$((bad + 1))
		grep -E -A 25 'Invalid|uninitialised|definitely lost in|Mismatched|free\(\)' "$f" |
			head -n 80
	fi
done
if [ "$n" -eq 0 ]; then
	echo "valgrind: no reports in $reports"
	exit 1
fi
if [ "$bad" -ne 0 ]; then
	echo "valgrind: $bad of $n processes have errors (reports kept in $reports)"
	exit 1
fi
rm -rf "$reports"
echo "valgrind: $n processes, no errors, no definite leaks"
