#!/usr/bin/env bash
# run.sh - the forecast evaluation (docs/forecast.md):
#   1. the README protocol on both shared datasets (last 6 periods held out,
#      service 0.9; MASE, RMSSE, fill at own stock, fill at a 1.0x stock
#      budget, cover) for every method, with the adaptive model's choices;
#   2. the harder evaluation (issue 11): both datasets and the synthetic
#      families at origins 0, 3, 6 and horizons 3, 6, 12, the adaptive model
#      against the best baseline in every cell;
#   3. the speed figure (10,000 series x 84 periods, one core) at H 3, 6, 12.
#
# Usage: tests/eval/run.sh [BUILD_DIR] [extra forecast_eval flags, e.g. --json]
#   BUILD_DIR defaults to <repo>/build; it must hold a built forecast_eval:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
#   cmake --build build --target forecast_eval
# The datasets are looked for in $FORECAST_DATA, else ../shared/data/forecast
# next to the repository (or two levels up, for a git worktree under wt/).
# Not part of the test suite: it needs the datasets (research data we may not
# copy into the repository).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${FORECAST_DATA:-$repo/../shared/data/forecast}"
[ -r "$data/auto.csv" ] || data="$repo/../../shared/data/forecast"
build="${1:-$repo/build}"
[ $# -gt 0 ] && shift
bin="$build/forecast_eval"
if [ ! -x "$bin" ]; then
	echo "run.sh: $bin not found; build the forecast_eval target first" >&2
	exit 2
fi
for f in auto raf; do
	if [ ! -r "$data/$f.csv" ]; then
		echo "run.sh: $data/$f.csv not found (set FORECAST_DATA)" >&2
		exit 2
	fi
done
for f in auto raf; do
	"$bin" --input "$data/$f.csv" --holdout 6 --service 0.9 --explain "$@"
	echo
done
"$bin" --grid --input "$data/auto.csv" --input "$data/raf.csv" --service 0.9 "$@"
echo
for h in 3 6 12; do
	"$bin" --bench --holdout "$h"
done
