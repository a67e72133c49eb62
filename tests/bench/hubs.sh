#!/usr/bin/env bash
# hubs.sh - a real coordinator process with 1,000 registered hubs (issue 10,
# "1,000 hubs in a running network"; not part of the test suite):
#
#   ./tests/bench/hubs.sh [--bin BUILD_DIR] [--hubs N] [--buyers B] [--concurrency C]
#
# Starts one coordinator (deploy/local-net.sh with no hubd: --hubs "",
# plaintext, coordinator.hubs_max=N, hub timeout and grace at their 10-minute
# maximum so a hub that synced once stays routable) on ports from
# DROPNET_PORT_BASE (default 7400). Registers N hubs (default 1,000) the way a
# hub registers: its first sync, a HubSyncRequest whose hello carries its id,
# position and radius, with a receipt of stock - built by
# tests/integration/lib/pb.py and sent by rawsend, the integration tests'
# tools; no hubd runs. The hubs sit on a grid over Great Britain (lat 50-58.4,
# lon -6..1.8, rows x columns near N, radius 30 km or what covers a cell);
# every hub receives 100,000 "tee", every 7th one also 100,000 "cap". Then it
# checks that the (N+1)-th hub is refused (INVALID "hub registry full") and
# that `dropctl hubs` lists N; runs loadgen (B buyers, default 20,000, over C
# connections, default 32: ship-to points around UK cities by population,
# SKUs tee and cap in turn) and prints one JSON object: registration time,
# loadgen's figures (orders_per_s, latency percentiles), the coordinator's
# CPU per order and RSS, and how many hubs one order's trace lists in range
# (`dropctl order show`). Run it with --hubs 256 (the old fixed bound) next
# to --hubs 1000 to see what the registry's size costs. Use a Release or
# RelWithDebInfo build.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN="$REPO/build"; HUBS=1000; BUYERS=20000; CONC=32
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--hubs) HUBS=$2; shift 2 ;;
	--buyers) BUYERS=$2; shift 2 ;;
	--concurrency) CONC=$2; shift 2 ;;
	-h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin BUILD_DIR] [--hubs N] [--buyers B] [--concurrency C]" >&2; exit 2 ;;
	esac
done
for p in coordinator dropctl loadgen rawsend; do
	[[ -x $BIN/$p ]] || { echo "bench: $BIN/$p missing; build first" >&2; exit 1; }
done
# shellcheck source=tests/bench/lib.sh
source "$REPO/tests/bench/lib.sh"
bench_net_dir dropnet-hubs

"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" --plaintext --hubs "" \
	--port-base "${DROPNET_PORT_BASE:-7400}" --coord-set "coordinator.hubs_max=$HUBS" \
	--coord-set coordinator.hub_timeout_ms=600000 --coord-set coordinator.hub_grace_ms=600000 >&2
# shellcheck disable=SC1091
source "$NET/net.env"
DC=("$BIN/dropctl" --coordinator "$DROPNET_COORDINATOR" --ingest "$DROPNET_INGEST")

# Every hub's first sync, and one more hub, as request files.
mkdir -p "$NET/req"
python3 - "$REPO/tests/integration/lib" "$NET/req" "$HUBS" <<'PY'
import math, sys, types
sys.path.insert(0, sys.argv[1])
import pb
out, n = sys.argv[2], int(sys.argv[3])
lat0, lat1, lon0, lon1 = 50.0, 58.4, -6.0, 1.8
# Rows x columns near n with cells about as tall as wide (cos 54 deg).
cols = max(1, round(math.sqrt(n * (lon1 - lon0) * 0.59 / (lat1 - lat0))))
rows = math.ceil(n / cols)
dlat, dlon = (lat1 - lat0) / rows, (lon1 - lon0) / cols
half_diag = 0.5 * math.hypot(dlat * 111.2, dlon * 111.2 * 0.59)
radius = max(30.0, 1.2 * half_diag)
for k in range(n + 1):
    a = types.SimpleNamespace(id="g%05d" % k, lat=lat0 + dlat * (k // cols),
                              lon=lon0 + dlon * (k % cols), radius=radius,
                              cmd_applied=0, event_acked=0,
                              received=["1:tee:100000"] + (["2:cap:100000"] if k % 7 == 0 else []))
    if k == n:  # the one over the cap, next to the first
        a.lat, a.lon = lat0 + dlat / 2, lon0 + dlon / 2
    with open("%s/%05d.bin" % (out, k), "wb") as f:
        f.write(pb.cmd_hubsync(a))
print("bench: grid %d x %d, %.3f x %.3f deg, radius %.1f km" % (rows, cols, dlat, dlon, radius),
      file=sys.stderr)
PY

t0=$(now_ms)
for ((k = 0; k < HUBS; k++)); do
	f=$(printf '%s/req/%05d.bin' "$NET" "$k")
	"$BIN/rawsend" "$DROPNET_HUBSYNC" --timeout-ms 5000 <"$f" >"$f.rep"
	(( k % 100 != 99 )) || echo "bench: $((k + 1)) hubs at $(( $(now_ms) - t0 )) ms" >&2
done
t1=$(now_ms)
# Every reply must be OK (status, field 2 of a HubSyncReply: 11).
python3 - "$REPO/tests/integration/lib" "$NET/req" "$HUBS" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import pb
bad = [k for k in range(int(sys.argv[3]))
       if pb.decode(open("%s/%05d.bin.rep" % (sys.argv[2], k), "rb").read()).get(2) != 11]
if bad:
    sys.exit("bench: %d hubs not registered (first: %d)" % (len(bad), bad[0]))
PY
over=$(printf '%s/req/%05d.bin' "$NET" "$HUBS")
"$BIN/rawsend" "$DROPNET_HUBSYNC" --timeout-ms 5000 <"$over" |
	python3 "$REPO/tests/integration/lib/pb.py" decode >"$NET/over.json"
grep -q '"INVALID"' "$NET/over.json" || { echo "bench: hub $((HUBS + 1)) not refused: $(cat "$NET/over.json")" >&2; exit 1; }
grep -q 'hub registry full' "$NET/over.json" || { echo "bench: refusal without its reason: $(cat "$NET/over.json")" >&2; exit 1; }
listed=$("${DC[@]}" --json hubs | python3 -c 'import json,sys; h=json.load(sys.stdin)["hubs"]; print(sum(1 for x in h if x.get("routable")))')
[[ $listed == "$HUBS" ]] || { echo "bench: dropctl hubs lists $listed routable, not $HUBS" >&2; exit 1; }
echo "bench: $HUBS hubs registered in $((t1 - t0)) ms, all routable; hub $((HUBS + 1)) refused (registry full)" >&2

CPID=$(cat "$NET/run/coordinator.pid")
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$CPID/status"; }
cpu0=$(cpu_ms "$CPID")
lg=$("$BIN/loadgen" --ingest "$DROPNET_INGEST" --sku tee,cap --buyers "$BUYERS" --concurrency "$CONC" \
	--seed 1 --key-prefix hb --json)
cpu1=$(cpu_ms "$CPID")
trace=$("${DC[@]}" --json order show hb-0 --storefront loadgen)
python3 - "$lg" "$trace" "$HUBS" "$((t1 - t0))" "$cpu0 $cpu1" "$(rss_kb)" <<'PY'
import json, sys
lg, tr = json.loads(sys.argv[1]), json.loads(sys.argv[2])
hubs, reg_ms = int(sys.argv[3]), int(sys.argv[4])
c0, c1 = (int(x) for x in sys.argv[5].split())
def find(o, key):
    if isinstance(o, dict):
        if key in o:
            return o[key]
        for v in o.values():
            r = find(v, key)
            if r is not None:
                return r
    if isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r is not None:
                return r
    return None
cand = find(tr, "candidates") or []
# loadgen lists accepted orders per hub: how many hubs took orders instead.
by_hub = lg.pop("by_hub", None) or {}
print(json.dumps({
    "hubs": hubs,
    "register_ms": reg_ms,
    "hubs_that_took_orders": len(by_hub),
    "loadgen": lg,
    "coordinator_cpu_us_per_order": round((c1 - c0) * 1000.0 / lg["sent"], 1) if lg["sent"] else None,
    "coordinator_rss_kb": int(sys.argv[6]),
    "trace_hb-0_hubs_in_range": len(cand),
    "trace_hb-0_first": cand[0] if cand else None,
}, indent=2))
PY
