#!/usr/bin/env bash
# ingest.sh - the ingest benchmark (not part of the test suite):
#
#   ./tests/bench/ingest.sh [--bin BUILD_DIR] [--buyers N] [--concurrency C] [--units U]
#                           [--plaintext] [--metrics] [--orders-only]
#
# Starts the example network (coordinator + six hubs, deploy/local-net.sh) in
# a temp folder on free-by-default ports 7400-7402 (DROPNET_PORT_BASE moves
# them), stocks one hot SKU (default 50,000 units spread over the hubs),
# runs loadgen (default 200,000 buyers over 64 concurrent connections; acks
# are durable: WAL + synchronous=FULL), prints loadgen's JSON and each
# daemon's RSS (from /proc/PID/status) before and after; then the same
# buyers ask quotes (one SKU, then eight per quote, in a priced drop):
# quotes_per_s next to orders_per_s, coordinator CPU per order and quote.
# TLS is on, as local-net.sh runs it; --plaintext runs tcp:// (to
# measure what TLS costs); --metrics turns on every daemon's /metrics
# (ports from DROPNET_METRICS_PORT_BASE, default 7410) and scrapes the
# coordinator's once a second during the run, as Prometheus would (to
# measure what counting costs: run with and without); --orders-only skips
# the quotes (for interleaved TLS/plaintext runs). Build first (./tests/run.sh, or cmake into build/); use a Release
# or RelWithDebInfo build, not the sanitizer one.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN="$REPO/build"; BUYERS=200000; CONC=64; UNITS=50000; NETOPTS=(); QUOTES=1
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--buyers) BUYERS=$2; shift 2 ;;
	--concurrency) CONC=$2; shift 2 ;;
	--units) UNITS=$2; shift 2 ;;
	--plaintext) NETOPTS+=(--plaintext); shift ;;
	--metrics) NETOPTS+=(--metrics-port-base "${DROPNET_METRICS_PORT_BASE:-7410}"); shift ;;
	--orders-only) QUOTES=0; shift ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin BUILD_DIR] [--buyers N] [--concurrency C] [--units U] [--plaintext] [--metrics] [--orders-only]" >&2; exit 2 ;;
	esac
done
for p in coordinator hubd dropctl pickterm loadgen; do
	[[ -x $BIN/$p ]] || { echo "bench: $BIN/$p missing; build first" >&2; exit 1; }
done
SKU=hot-sku
# shellcheck source=tests/bench/lib.sh
source "$REPO/tests/bench/lib.sh"
bench_net_dir dropnet-bench

"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" --port-base "${DROPNET_PORT_BASE:-7400}" "${NETOPTS[@]}" >&2
# shellcheck disable=SC1091
source "$NET/net.env"

rss() { # prints "name rss_kb" for every daemon
	local n pid
	for n in coordinator $DROPNET_HUBS; do
		pid=$(cat "$NET/run/$n.pid")
		printf '%s %s\n' "$n" "$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
	done
}
rss_before=$(rss)

# Spread the units over the hubs, roughly by the population they serve.
declare -A SHARE=([london]=30 [birmingham]=16 [manchester]=16 [leeds]=14 [bristol]=12 [glasgow]=12)
left=$UNITS
for h in $DROPNET_HUBS; do
	v="DROPNET_HUB_${h^^}"
	q=$(( UNITS * ${SHARE[$h]:-10} / 100 ))
	[[ $h == glasgow ]] && q=$left
	left=$((left - q))
	"$BIN/pickterm" --hub "${!v}" receive "$SKU" "$q" >&2
done
deadline=$(( $(now_ms) + 30000 ))
while :; do
	got=$("$BIN/dropctl" --json stock --sku "$SKU" | python3 -c 'import json,sys; print(sum(r["on_hand"] for r in json.load(sys.stdin)["stock"]))')
	[[ $got == "$UNITS" ]] && break
	(( $(now_ms) < deadline )) || { echo "bench: coordinator sees $got of $UNITS units" >&2; exit 1; }
	sleep 0.1
done
echo "bench: $UNITS x $SKU stocked; loadgen --buyers $BUYERS --concurrency $CONC" >&2

# The coordinator's CPU time so far, ms (utime + stime of /proc/PID/stat).
coord_cpu_ms() { cpu_ms "$(cat "$NET/run/coordinator.pid")"; }

SCRAPER=""
if [[ -n ${DROPNET_METRICS:-} ]]; then
	python3 -c 'import sys, time, urllib.request
while True:
    urllib.request.urlopen(sys.argv[1], timeout=5).read()
    time.sleep(1)' "$DROPNET_METRICS" &
	SCRAPER=$!
fi
cpu0=$(coord_cpu_ms)
lg=$("$BIN/loadgen" --sku "$SKU" --buyers "$BUYERS" --concurrency "$CONC" --seed 1 --key-prefix bench --json)
cpu1=$(coord_cpu_ms)
if [[ -n $SCRAPER ]]; then kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true; fi
rss_after=$(rss)

# Quotes (issue 12): the same buyers each ask one quote for the hot SKU in a
# priced drop, answered from memory; then the same with 8 SKUs per quote
# (a product page listing variants): quote throughput next to orders', and
# the coordinator's CPU per request.
if (( QUOTES )); then
	"$BIN/dropctl" drop create --id bench-drop --sku "$SKU:$UNITS" --placement london:$UNITS \
		--sku bench-v1:1 --placement london:1 --sku bench-v2:1 --placement london:1 \
		--sku bench-v3:1 --placement london:1 --sku bench-v4:1 --placement london:1 \
		--sku bench-v5:1 --placement london:1 --sku bench-v6:1 --placement london:1 \
		--sku bench-v7:1 --placement london:1 \
		--tier public:now:+1d --currency GBP --price "$SKU:public:6000" \
		--price bench-v1:public:6000 --price bench-v2:public:6000 --price bench-v3:public:6000 \
		--price bench-v4:public:6000 --price bench-v5:public:6000 --price bench-v6:public:6000 \
		--price bench-v7:public:6000 >&2
	"$BIN/dropctl" drop open bench-drop >&2
	cpu2=$(coord_cpu_ms)
	lgq=$("$BIN/loadgen" --sku "$SKU" --buyers "$BUYERS" --concurrency "$CONC" --seed 1 --key-prefix benchq \
		--drop bench-drop --tier public --quote-only --json)
	cpu3=$(coord_cpu_ms)
	lgq8=$("$BIN/loadgen" --sku "$SKU" --buyers "$BUYERS" --concurrency "$CONC" --seed 1 --key-prefix benchq8 \
		--drop bench-drop --tier public --quote-only --quote-skus "$SKU,bench-v1,bench-v2,bench-v3,bench-v4,bench-v5,bench-v6,bench-v7" --json)
	cpu4=$(coord_cpu_ms)
else
	lgq='{"orders_per_s": null, "quotes": 0, "errors": 0}'; lgq8=$lgq
	cpu2=$cpu1; cpu3=$cpu1; cpu4=$cpu1
fi
python3 - "$lg" "$rss_before" "$rss_after" "$lgq" "$lgq8" "$cpu0 $cpu1 $cpu2 $cpu3 $cpu4" <<'PY'
import json, sys
lg = json.loads(sys.argv[1])
before = dict(l.split() for l in sys.argv[2].splitlines())
after = dict(l.split() for l in sys.argv[3].splitlines())
lgq, lgq8 = json.loads(sys.argv[4]), json.loads(sys.argv[5])
c = [int(x) for x in sys.argv[6].split()]
answered = lg["accepted"] + lg["rejected"].get("SOLD_OUT", 0)
per = lambda ms, n: round(ms * 1000.0 / n, 1) if n else None
print(json.dumps({
    "loadgen": lg,
    "accepted_or_sold_out_per_s": round(answered / lg["elapsed_s"], 1) if lg["elapsed_s"] else None,
    "orders_per_s": lg["orders_per_s"],
    "quotes_per_s": lgq["orders_per_s"],
    "quotes_8_skus_per_s": lgq8["orders_per_s"],
    "coordinator_cpu_us_per_order": per(c[1] - c[0], lg["sent"]),
    "coordinator_cpu_us_per_quote": per(c[3] - c[2], lgq["quotes"]),
    "coordinator_cpu_us_per_quote_8_skus": per(c[4] - c[3], lgq8["quotes"]),
    "quote_errors": lgq["errors"] + lgq8["errors"],
    "rss_kb_before": {k: int(v) for k, v in before.items()},
    "rss_kb_after": {k: int(v) for k, v in after.items()},
}, indent=2))
PY
