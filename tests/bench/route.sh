#!/usr/bin/env bash
# route.sh - the nearest-hub query at 256, 1,000 and 10,000 hubs (issue 10,
# "scale checks"; not part of the test suite):
#
#   ./tests/bench/route.sh [--bin BUILD_DIR] [route_bench options]
#
# Runs build/route_bench (tests/bench/route_bench.c), which times, on the
# same hubs and the same ship-to points in one run, the brute force (every
# hub measured), the spatial index (common/core/hubindex.c: every covering
# hub, and the nearest one) and whole route calls with and without it. It
# checks that the index and the brute force answer the same. Options after
# --bin go to route_bench: --queries N (20,000), --rounds R (5), --seed S.
# Use a Release or RelWithDebInfo build; on a shared machine read the "min"
# columns (each point's least time over the rounds).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build
if [[ ${1:-} == --bin ]]; then
	BIN=$2
	shift 2
fi
if [[ ${1:-} == --help ]]; then
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi
[[ -x $BIN/route_bench ]] || cmake --build "$BIN" -j2 --target route_bench >/dev/null
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$BIN/route_bench" "$@"
