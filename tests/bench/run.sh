#!/usr/bin/env bash
# tests/bench/run.sh: the benchmarks, for `make bench`. Starts the whole
# suite as tests/run.sh does (tests/lib/suite.sh: temporary state, free
# ports, the same SC_TEST_* variables), runs every tests/bench/*.bench.mjs
# with node, one at a time, printing what each prints, and stops the suite.
# Exits non-zero when the suite did not start or a benchmark failed.
set -uo pipefail

# shellcheck source=tests/lib/suite.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
cd "$SC_REPO" || exit 1

failed=()
trap 'sc_suite_stop keep || true' EXIT
trap 'echo "bench: interrupted"; exit 130' INT
trap 'echo "bench: terminated"; exit 143' TERM

mapfile -t files < <(compgen -G "tests/bench/*.bench.mjs" | sort)
# SC_BENCH_ONLY=events (a substring of the file name) runs only the matching
# benchmarks: `SC_BENCH_ONLY=sio make bench`.
if [ -n "${SC_BENCH_ONLY:-}" ]; then
	only=()
	for f in "${files[@]}"; do
		case "$(basename "$f")" in *"$SC_BENCH_ONLY"*) only+=("$f") ;; esac
	done
	files=("${only[@]}")
fi
if [ ${#files[@]} -eq 0 ]; then
	echo "bench: no tests/bench/*.bench.mjs yet: nothing to run"
	exit 0
fi
sc_npm_install tests/bench || exit 1
# The express + pg reference events.bench.mjs measures against.
sc_npm_install tests/bench/reference || exit 1
# The socket.io reference sio.bench.mjs measures signaling against.
sc_npm_install tests/bench/sio-reference || exit 1
# playwright-core (tests/e2e/browser.mjs) for transfer.bench.mjs's Chromium.
sc_npm_install tests/e2e || exit 1

# sio.bench.mjs's senders send as fast as acks allow: lift signaling's
# per-socket event and message buckets (unless the caller set them).
export SC_RATE_EVENTS_PER_S=${SC_RATE_EVENTS_PER_S:-1000000}
export SC_RATE_EVENTS_BURST=${SC_RATE_EVENTS_BURST:-1000000}
export SC_RATE_MESSAGES_PER_S=${SC_RATE_MESSAGES_PER_S:-1000000}
export SC_RATE_MESSAGES_BURST=${SC_RATE_MESSAGES_BURST:-1000000}

echo "== bench: starting the suite"
if ! sc_suite_start; then
	sc_suite_logs
	echo "bench: the suite did not start"
	exit 1
fi

for f in "${files[@]}"; do
	echo
	echo "== bench: $f"
	if ! timeout -k 10 "${SC_BENCH_TIMEOUT:-3600}" node "$f"; then
		failed+=("$f")
	fi
done

echo
if [ ${#failed[@]} -ne 0 ]; then
	sc_suite_logs
	echo "bench: failed: ${failed[*]}"
	exit 1
fi
if ! sc_suite_stop remove; then
	echo "bench: a daemon's log has a sanitizer report"
	exit 1
fi
echo "bench: ${#files[@]} benchmark(s) done"
