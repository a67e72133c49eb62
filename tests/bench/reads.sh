#!/usr/bin/env bash
# reads.sh - do the operators' reads stall the storefronts' orders? (issue
# 10, "reads never stall writes"; not part of the test suite):
#
#   ./tests/bench/reads.sh [--bin BUILD_DIR] [--journal N] [--buyers M]
#                          [--concurrency C] [--runs R]
#
# Starts the example network (deploy/local-net.sh, TLS, ports from
# DROPNET_PORT_BASE, default 7460), opens one drop over a hot SKU and sends
# every order into it, so that `dropctl kpi --drop` and `dropctl audit`
# read the whole journal. It measures loadgen (M buyers, default 50,000,
# over C connections, default 64):
#   1. "empty": on an empty journal;
#   2. then builds a journal of N orders (default 1,000,000);
#   3. then R times (default 3), interleaved: "quiet" (nothing else runs)
#      and "reads" (a loop of `dropctl audit` then `dropctl kpi --drop`
#      runs for the whole of the loadgen run).
# It prints each run, the medians, how many audits and KPIs the loop
# finished and how long each took, and the two ratios the issue sets:
# reads p99 / quiet p99 (target <= 2) and reads orders/s / empty orders/s
# (target >= 0.8). Use a Release build (--bin build-release).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN="$REPO/build"; JOURNAL=1000000; BUYERS=50000; CONC=64; RUNS=3
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--journal) JOURNAL=$2; shift 2 ;;
	--buyers) BUYERS=$2; shift 2 ;;
	--concurrency) CONC=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	-h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin BUILD_DIR] [--journal N] [--buyers M] [--concurrency C] [--runs R]" >&2; exit 2 ;;
	esac
done
for p in coordinator hubd dropctl pickterm loadgen; do
	[[ -x $BIN/$p ]] || { echo "reads: $BIN/$p missing; build first" >&2; exit 1; }
done
NET=$(mktemp -d /tmp/dropnet-reads.XXXXXX)
LOOP_PID=""
cleanup() {
	local rc=$?
	set +e
	[[ -n $LOOP_PID ]] && kill "$LOOP_PID" 2>/dev/null
	[[ -f $NET/net.conf ]] && "$REPO/deploy/local-net.sh" stop --dir "$NET" >&2
	rm -rf "$NET"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" --port-base "${DROPNET_PORT_BASE:-7460}" >&2
# shellcheck disable=SC1091
source "$NET/net.env"
SKU=hot-sku
# Enough units at every hub that every order of every run is accepted
# where a hub is in range: no run is made cheaper by SOLD_OUT answers (a
# receive takes at most 1,000,000 units).
TOTAL=$(( JOURNAL + (2 * RUNS + 1) * BUYERS ))
PER_HUB=$TOTAL
for h in $DROPNET_HUBS; do
	v="DROPNET_HUB_${h^^}"
	left=$PER_HUB
	while (( left > 0 )); do
		q=$(( left > 1000000 ? 1000000 : left ))
		"$BIN/pickterm" --hub "${!v}" receive "$SKU" "$q" >/dev/null
		left=$(( left - q ))
	done
done
want=$(( PER_HUB * $(wc -w <<<"$DROPNET_HUBS") ))
for _ in $(seq 300); do
	got=$("$BIN/dropctl" --json stock --sku "$SKU" | python3 -c 'import json,sys; print(sum(r["on_hand"] for r in json.load(sys.stdin)["stock"]))')
	[[ $got == "$want" ]] && break
	sleep 0.1
done
[[ $got == "$want" ]] || { echo "reads: coordinator sees $got of $want units" >&2; exit 1; }
DROP_UNITS=$(( want - 1 < 10000000 ? want - 1 : 10000000 ))  # a drop SKU's most
"$BIN/dropctl" drop create --id reads-drop --sku "$SKU:$DROP_UNITS" --tier public:now:+7d >&2
"$BIN/dropctl" drop open reads-drop >&2

SEED=1
# run LABEL BUYERS: one loadgen run into the drop; prints its JSON line.
run() {
	SEED=$((SEED + 1))
	"$BIN/loadgen" --sku "$SKU" --buyers "$2" --concurrency "$CONC" --seed "$SEED" \
		--key-prefix "$1-$SEED" --drop reads-drop --tier public --json
}
reads_loop() { # audit then KPI, forever; one line per read: kind ms
	while :; do
		local t0 t1
		t0=$(date +%s%N)
		"$BIN/dropctl" --timeout-ms 120000 audit >/dev/null 2>&1 || echo "audit_failed 0"
		t1=$(date +%s%N)
		echo "audit $(( (t1 - t0) / 1000000 ))"
		"$BIN/dropctl" --timeout-ms 120000 kpi --drop reads-drop >/dev/null 2>&1 || echo "kpi_failed 0"
		t0=$(date +%s%N)
		echo "kpi $(( (t0 - t1) / 1000000 ))"
	done
}

RES="$NET/results"
: >"$RES"
echo "reads: empty journal, $BUYERS buyers" >&2
echo "empty $(run empty "$BUYERS")" >>"$RES"
echo "reads: building a journal of $JOURNAL orders" >&2
run journal "$JOURNAL" >/dev/null
for r in $(seq "$RUNS"); do
	echo "reads: run $r of $RUNS: quiet, then with audit + kpi in a loop" >&2
	echo "quiet $(run quiet "$BUYERS")" >>"$RES"
	reads_loop >"$NET/loop.$r" &
	LOOP_PID=$!
	echo "reads $(run reads "$BUYERS")" >>"$RES"
	kill "$LOOP_PID"; wait "$LOOP_PID" 2>/dev/null || true
	LOOP_PID=""
done
cat "$NET"/loop.* >"$NET/loop.all" 2>/dev/null || : >"$NET/loop.all"
python3 - "$RES" "$NET/loop.all" "$JOURNAL" "$BUYERS" "$CONC" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kind, js = line.split(" ", 1)
    runs.setdefault(kind, []).append(json.loads(js))
reads = {}
for line in open(sys.argv[2]):
    k, ms = line.split()
    reads.setdefault(k, []).append(int(ms))
med = lambda v: statistics.median(v) if v else float("nan")
print(f"journal {sys.argv[3]} orders; {sys.argv[4]} buyers per run over {sys.argv[5]} connections")
print(f"{'run':<7} {'orders/s (each)':<36} {'median':>9} {'p99 ms (each)':<30} {'median':>8}")
fig = {}
for k in ("empty", "quiet", "reads"):
    r = runs.get(k, [])
    ops = [x["orders_per_s"] for x in r]
    p99 = [x["p99_ms"] for x in r]
    fig[k] = (med(ops), med(p99))
    print(f"{k:<7} {' '.join(f'{v:,.0f}' for v in ops):<36} {fig[k][0]:>9,.0f} "
          f"{' '.join(f'{v:.1f}' for v in p99):<30} {fig[k][1]:>8.1f}")
    sold_out = sum(x["rejected"].get("SOLD_OUT", 0) for x in r)
    if sold_out:
        print(f"  ({k}: {sold_out} SOLD_OUT answers: a hub ran out)")
for k in ("audit", "kpi"):
    v = reads.get(k, [])
    if v:
        print(f"{k}: {len(v)} done during the reads runs, median {med(v):.0f} ms, max {max(v)} ms")
for k in ("audit_failed", "kpi_failed"):
    if reads.get(k):
        print(f"{k.replace('_', ' ')} {len(reads[k])} times")
print(f"reads p99 / quiet p99 = {fig['reads'][1] / fig['quiet'][1]:.2f} (target <= 2)")
print(f"reads orders/s / empty orders/s = {fig['reads'][0] / fig['empty'][0]:.2f} (target >= 0.8)")
print(f"quiet orders/s / empty orders/s = {fig['quiet'][0] / fig['empty'][0]:.2f}")
PY
