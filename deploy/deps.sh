#!/usr/bin/env bash
# deploy/deps.sh: install the Debian 12 packages the suite needs to build,
# run and test. A quick no-op when everything is there (it runs before every
# `make run` and `make test`); otherwise one `apt-get update` and one
# `apt-get install`, as root or through sudo.
set -euo pipefail

# What each package is for.
packages=(
	build-essential pkg-config          # cc, make
	libevent-dev libpq-dev libjson-c-dev libjwt-dev libargon2-dev
	libnng-dev libssl-dev libwslay-dev  # the daemons' libraries
	check libsubunit-dev                # unit tests
	clang libclang-rt-dev               # make asan (the sanitizer runtimes)
	postgresql                          # a local cluster per run
	nginx                               # the gateway
	nodejs npm                          # the PWA's build, integration tests
	chromium                            # end-to-end tests (playwright-core)
	valgrind                            # make valgrind
	wrk                                 # make bench: HTTP load
	openssl python3 curl ca-certificates # keys, free ports, health checks
)

# A package counts as present when dpkg has it installed, or, for these,
# when the command is already on PATH: Node.js from another source (e.g.
# NodeSource's nodejs, which bundles npm and conflicts with Debian's npm)
# must not be replaced.
declare -A satisfied_by_command=([nodejs]=node [npm]=npm)

installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' \
	"${packages[@]}" 2>/dev/null | awk '$1 == "ii" { print $2 }' || true)

missing=()
for p in "${packages[@]}"; do
	if grep -qxF "$p" <<<"$installed"; then
		continue
	fi
	cmd=${satisfied_by_command[$p]:-}
	if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then
		continue
	fi
	missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "deps: missing packages (${missing[*]}) and not root, no sudo:" \
			"install them as root" >&2
		exit 1
	fi
	sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o DPkg::Lock::Timeout=300)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get "${apt_opts[@]}" update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get "${apt_opts[@]}" install -y --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" </dev/null
echo "deps: done"
