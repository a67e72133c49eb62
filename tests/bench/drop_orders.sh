#!/usr/bin/env bash
# drop_orders.sh - orders in an open priced drop, for the price and
# availability feed's cost (not part of the test suite):
#
#   ./tests/bench/drop_orders.sh REPO BUILD_DIR PORT_BASE [BUYERS]
#
# Starts REPO's example network (deploy/local-net.sh, coordinator + six
# hubs, TLS, /metrics on PORT_BASE+20..) from BUILD_DIR's binaries, stocks
# BUYERS units of one SKU over the hubs, creates and opens a priced drop
# of it (placement proportional, one tier open now), runs loadgen
# --concurrency 32 --drop, and prints orders/s, the coordinator's CPU per
# order (utime+stime from /proc) and the feed counters from /metrics
# ("n/a" for a build without the feed). REPO and BUILD_DIR may be another
# checkout (a commit before the feed) to compare; run them interleaved.
set -euo pipefail
REPO=$1; BIN=$2; PORT=$3; BUYERS=${4:-20000}; UNITS=$BUYERS; SKU=hot-sku
NET=$(mktemp -d /tmp/dropnet-bench.XXXXXX)
cleanup() { "$REPO/deploy/local-net.sh" stop --dir "$NET" >/dev/null 2>&1 || true; rm -rf "$NET"; }
trap cleanup EXIT
"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" --port-base "$PORT" --metrics-port-base $((PORT + 20)) >/dev/null 2>&1
source "$NET/net.env"
declare -A SHARE=([london]=30 [birmingham]=16 [manchester]=16 [leeds]=14 [bristol]=12 [glasgow]=12)
left=$UNITS
for h in $DROPNET_HUBS; do
	v="DROPNET_HUB_${h^^}"; q=$(( UNITS * ${SHARE[$h]:-10} / 100 )); [[ $h == glasgow ]] && q=$left; left=$((left - q))
	"$BIN/pickterm" --hub "${!v}" receive "$SKU" "$q" >/dev/null
done
for i in $(seq 300); do
	got=$("$BIN/dropctl" --json stock --sku "$SKU" | python3 -c 'import json,sys; print(sum(r["on_hand"] for r in json.load(sys.stdin)["stock"]))')
	[[ $got == "$UNITS" ]] && break; sleep 0.1
done
"$BIN/dropctl" drop create --id bd --sku "$SKU:$UNITS" --placement proportional --tier public:now:+1d --currency GBP --price "$SKU:public:6000" >/dev/null
"$BIN/dropctl" drop open bd >/dev/null
TICKS=$(getconf CLK_TCK)
cpu() { awk -v t="$TICKS" '{print int(($14 + $15) * 1000 / t)}' "/proc/$(cat "$NET/run/coordinator.pid")/stat"; }
c0=$(cpu)
lg=$("$BIN/loadgen" --sku "$SKU" --buyers "$BUYERS" --concurrency 32 --seed 1 --key-prefix b --drop bd --tier public --json)
c1=$(cpu)
feedn=$(python3 -c 'import sys,urllib.request; t=urllib.request.urlopen(sys.argv[1]).read().decode(); print(" ".join(l for l in t.splitlines() if l.startswith(("dropnet_feed_changes_total","dropnet_pub_dropped_total"))) or "n/a")' "$DROPNET_METRICS")
echo "feed: $feedn"
python3 -c 'import json,sys; lg=json.loads(sys.argv[1]); c=int(sys.argv[2]); print("orders_per_s=%s accepted=%s sent=%s cpu_us_per_order=%.1f rejected=%s" % (lg["orders_per_s"], lg["accepted"], lg["sent"], c*1000.0/lg["sent"], lg["rejected"]))' "$lg" "$((c1 - c0))"
