#!/usr/bin/env bash
# run.sh - build dropnet and run its whole test suite, from a fresh Debian 12
# machine: installs the build packages when any is missing (apt-get, as root
# or through sudo), configures and builds with CMake (warnings are errors),
# then runs ctest (cmocka unit tests and the multi-process integration tests
# in tests/integration, each on its own free ports and temp folder).
#
#   ./tests/run.sh              build into build/, run every test
#   ./tests/run.sh --sanitize   the same with ASan+UBSan, into build-asan/
#   ./tests/run.sh -R drop      extra arguments go to ctest
#   ./tests/run.sh --build-dir D  build somewhere else than build/ (build-asan/)
#
# The last thing printed is ctest's own summary; the exit code is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="libuv1-dev libnng-dev libmbedtls-dev libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler
libcmocka-dev libncurses-dev cmake pkg-config libinih-dev libjansson-dev python3 tmux
build-essential openssl libraft-dev iproute2"

# Test tools with no build use, installed without their recommends:
# promtool (Debian's prometheus package) checks both daemons' /metrics and
# the alert rules (integration.test_metrics).
TEST_TOOLS="prometheus"

install_missing() {
	local missing=() p
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	echo "run.sh: installing ${missing[*]}"
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || { echo "run.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# promtool comes with a Prometheus server that the package would start
# where systemd runs: a test run must not leave one behind, so the
# install's service starts are refused (policy-rc.d, Debian's own switch).
install_test_tools() {
	local missing=() p
	for p in $TEST_TOOLS; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	echo "run.sh: installing ${missing[*]} (no recommends, no service start)"
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || { echo "run.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	local policy=/usr/sbin/policy-rc.d made=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		made=1
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" || { [[ $made == 1 ]] && "${sudo[@]}" rm -f "$policy"; exit 1; }
	if [[ $made == 1 ]]; then
		"${sudo[@]}" rm -f "$policy"
	fi
}

SANITIZE=0
BUILD_DIR=""
CTEST_ARGS=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--sanitize) SANITIZE=1; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) CTEST_ARGS+=("$1"); shift ;;
	esac
done

if (( SANITIZE )); then
	BUILD=${BUILD_DIR:-build-asan}
	# The simulator runs ~20x slower under the sanitizers: fewer seeds.
	CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Debug -DDROPNET_SANITIZE=ON -DDROPNET_SIM_SEEDS=40
	    -DDROPNET_SIM_WALBUF_SEEDS=20
	    -DDROPNET_REPLICA_CRASH_SEEDS=10)
else
	BUILD=${BUILD_DIR:-build}
	CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDROPNET_SANITIZE=OFF -DDROPNET_SIM_SEEDS=1000
	    -DDROPNET_SIM_WALBUF_SEEDS=300)
fi
install_missing
install_test_tools
# Two jobs by default: the reference machine has 2 cores; DROPNET_JOBS=N for more.
JOBS=${DROPNET_JOBS:-2}
cmake -S . -B "$BUILD" "${CMAKE_ARGS[@]}" >/dev/null
cmake --build "$BUILD" -j"$JOBS"
if (( SANITIZE )); then
	# Abort on the first error so a sanitizer finding fails its test.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
	# Leaks inside libnng's own reaper are nng's, not ours (tests/lsan.supp).
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	# Integration tests' readiness deadlines x3 (tests/integration/lib/net.sh).
	export DROPNET_WAIT_SCALE=${DROPNET_WAIT_SCALE:-3}
	# test_group_kills: 12 leader kills in its drop instead of 50.
	export DROPNET_DROP_KILLS=${DROPNET_DROP_KILLS:-12}
fi
# Tests run side by side, $JOBS at a time (each integration test has its own
# folder, ports and tmux server; readiness deadlines, not sleeps).
exec ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "${CTEST_ARGS[@]}"
