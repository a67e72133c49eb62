#!/usr/bin/env bash
# run.sh - the forecast evaluation on both shared datasets (README protocol:
# last 6 periods held out; MASE, RMSSE, fill at own stock, fill at a 1.0x
# stock budget) for every method, plus the model's speed.
#
# Usage: tests/eval/run.sh [BUILD_DIR] [extra forecast_eval flags, e.g. --json]
#   BUILD_DIR defaults to <repo>/build; it must hold a built forecast_eval:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
#   cmake --build build --target forecast_eval
# Not part of the test suite: it needs the datasets in ../shared/data/forecast
# (research data we may not copy into the repository).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="$here/../../../shared/data/forecast"
build="${1:-$repo/build}"
[ $# -gt 0 ] && shift
bin="$build/forecast_eval"
if [ ! -x "$bin" ]; then
	echo "run.sh: $bin not found; build the forecast_eval target first" >&2
	exit 2
fi
for f in auto raf; do
	if [ ! -r "$data/$f.csv" ]; then
		echo "run.sh: $data/$f.csv not found" >&2
		exit 2
	fi
	"$bin" --input "$data/$f.csv" --holdout 6 --service 0.9 "$@"
	echo
done
