#!/usr/bin/env bash
# run.sh - builds the fuzz harnesses with clang 14's libFuzzer (plus
# AddressSanitizer and UndefinedBehaviorSanitizer) and runs each for a while.
#
#   tests/fuzz/run.sh [--seconds N] [--jobs J] [HARNESS...]
#
# HARNESS is any of: ingest hubsync ops term conf auth (default: all), each
# a decoder/handler entry (tests/fuzz/fuzz_NAME.c). Every harness runs for N
# seconds (default 60) on a scratch copy of its checked-in corpus
# (tests/fuzz/corpus/NAME), then prints its execution count. A crash stops
# that harness: libFuzzer writes the input as build-fuzz/crash-*; fix the
# bug and copy the input into tests/fuzz/corpus/NAME/regress-<what> so the
# suite (ctest fuzz.NAME, built without clang) replays it from then on.
# New coverage found is kept in build-fuzz/corpus/NAME, not checked in:
# merge what is worth keeping by hand (libFuzzer's -merge=1).
#
# Needs: clang-14 (Debian 12; libFuzzer ships in libclang-rt-14-dev).
# Builds into build-fuzz/ next to build/, with -j2.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=60
JOBS=1
ALL="ingest hubsync ops term conf auth"
NAMES=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--seconds) SECONDS_EACH=$2; shift 2 ;;
	--jobs) JOBS=$2; shift 2 ;;
	-h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) NAMES+=("$1"); shift ;;
	esac
done
[[ ${#NAMES[@]} -gt 0 ]] || read -r -a NAMES <<<"$ALL"
CC=$(command -v clang-14 || command -v clang || true)
[[ -n $CC ]] || { echo "run.sh: clang-14 not found: apt-get install clang-14 libclang-rt-14-dev" >&2; exit 2; }

B="$ROOT/build-fuzz"
cmake -S "$ROOT" -B "$B" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DDROPNET_FUZZ=ON -DDROPNET_SANITIZE=ON -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
targets=()
for n in "${NAMES[@]}"; do targets+=("fuzz_$n"); done
cmake --build "$B" -j2 --target "${targets[@]}"

status=0
for n in "${NAMES[@]}"; do
	work="$B/corpus/$n"
	mkdir -p "$work"
	cp -n "$ROOT/tests/fuzz/corpus/$n"/* "$work/" 2>/dev/null || true
	echo "== fuzz_$n: ${SECONDS_EACH}s"
	log="$B/fuzz_$n.log"
	if (cd "$B" && ASAN_OPTIONS=detect_leaks=1 "./fuzz_$n" -max_total_time="$SECONDS_EACH" \
		-jobs="$JOBS" -workers="$JOBS" -max_len=65536 -print_final_stats=1 "$work" >"$log" 2>&1); then
		# The harness's own log has the total when it ran one job (the
		# worker's fuzz-0.log repeats it); with --jobs N, sum the workers'.
		if (( JOBS > 1 )); then
			runs=$(grep -h 'stat::number_of_executed_units' "$B"/fuzz-*.log 2>/dev/null | awk '{s += $2} END {print s + 0}')
		else
			runs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
		fi
		echo "   fuzz_$n: clean, $runs executions"
	else
		status=1
		echo "   fuzz_$n: FAILED (see $log; the input is in $B/crash-* or leak-*)"
		grep -m5 -E 'ERROR|SUMMARY' "$log" || true
	fi
done
exit $status
