#!/usr/bin/env bash
# sim_rebalance.sh - a drop replayed twice on the six-hub example network
# with a regional demand spike: static placement vs the rebalance planner.
# A separate command (not in the test suite): about three minutes.
#
#   tests/bench/sim_rebalance.sh BUILD_DIR [--units N] [--holdback PCT]
#       [--boost CITY:FACTOR] [--buyers N1,N2] [--seconds S1,S2] [--json]
#
# The drop: one SKU, N units (default 600) placed evenly over the six hubs,
# PCT % (default 40) held back at each, one public tier, no tier that
# releases the holdback. Demand (loadgen, seeded, one unit per order) comes
# in two phases: a normal one (N1 buyers over S1 s, cities by population),
# then a regional spike (N2 buyers over S2 s with --boost, default
# manchester:8: Manchester's weight eightfold).
#
# static:  the holdback stays back (no release tier, no planner; the live
#          spike test is disabled with 1 h buckets, since a declared spike
#          would trigger a rebalance).
# planner: the coordinator plans and applies every 5 s (rebalance.auto_ms)
#          on 5 s demand buckets (history 10 min, horizon 12 = 1 min), and
#          the spike test runs on 2 s buckets (a spike triggers a rebalance
#          too). This script acts as hub staff: every second it picks and
#          ships every transfer in a source hub's queue and receives every
#          in-transit transfer at its destination (pickterm receive
#          --transfer) - vans that take no time, the best case for transfers.
#
# Printed per run: fill within radius (kpi: accepted / orders with a hub in
# range), accepted units, sales lost (SOLD_OUT answers: one unit each, all
# in range of some hub), units released by the planner (coordinator log,
# reason=rebalance), units transferred (received), transfers, and the audit.
source "$(dirname "$0")/../integration/lib/net.sh"
[[ $# -ge 1 ]] || { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
net_setup "$1"; shift
UNITS=600; HOLDBACK=40; BOOST=manchester:8; BUYERS=(200 450); SECS=(20 40); JSON=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--units) UNITS=$2; shift 2 ;;
	--holdback) HOLDBACK=$2; shift 2 ;;
	--boost) BOOST=$2; shift 2 ;;
	--buyers) IFS=, read -r -a BUYERS <<<"$2"; shift 2 ;;
	--seconds) IFS=, read -r -a SECS <<<"$2"; shift 2 ;;
	--json) JSON=1; shift ;;
	*) fail "unknown option $1" ;;
	esac
done
LOADGEN=$(net_prog loadgen)
HUBS="london birmingham manchester leeds bristol glasgow"
SKU=sim-tee
PER_HUB=$((UNITS / 6))
PLACEMENT=$(for h in $HUBS; do printf '%s:%d,' "$h" "$PER_HUB"; done); PLACEMENT=${PLACEMENT%,}
UNITS=$((PER_HUB * 6))

# One pass of hub staff: ship every transfer waiting at a source, receive
# every transfer in transit at its destination.
staff_pass() {
	local h q line oid qty tid to
	for h in $HUBS; do
		q=$(pt "$h" --json queue 2>/dev/null) || continue
		while read -r oid qty; do
			[[ -n $oid ]] || continue
			local scans=()
			for ((i = 0; i < qty; i++)); do scans+=(--scan "$SKU"); done
			pt "$h" pick "$oid" "${scans[@]}" >/dev/null 2>&1 &&
				pt "$h" ship "$oid" --tracking "van-$oid" >/dev/null 2>&1 || true
		done < <(python3 -c 'import json,sys
for o in json.loads(sys.argv[1])["orders"]:
    if o["customer"].startswith("to:") and o["state"] in ("queued", "picking"):
        print(o["order_id"], sum(l["qty"] - l["picked"] for l in o["lines"]))' "$q")
	done
	q=$(dc --json transfers 2>/dev/null) || return 0
	while read -r tid to qty; do
		[[ -n $tid ]] || continue
		pt "$to" receive "$SKU" "$qty" --transfer "$tid" >/dev/null 2>&1 || true
	done < <(python3 -c 'import json,sys
for t in json.loads(sys.argv[1])["transfers"]:
    if t["state"] == "in_transit":
        print(t["id"], t["to_hub"], t["qty"])' "$q")
}

# run NAME [local-net options...]: one whole drop; prints a JSON result line.
run() {
	local name=$1; shift
	NET_DIR="$T/$name"
	net_start "$HUBS" "$@"
	local now
	now=$(jget "$(dc --json clock)" 'j["clock_ms"]')
	dc drop create --id "sim-$name" --sku "$SKU:$UNITS:$HOLDBACK" --placement "$PLACEMENT" \
		--tier "public:$now:+1d" >/dev/null || fail "create drop"
	for h in $HUBS; do receive_and_wait "$h" "$SKU" "$PER_HUB"; done
	dc drop open "sim-$name" >/dev/null || fail "open drop"
	local staff_pid=""
	if [[ $name == planner ]]; then
		( while :; do staff_pass; sleep 1; done ) &
		staff_pid=$!
		NET_BG_PIDS+=("$staff_pid")
	fi
	local lg1 lg2
	lg1=$("$LOADGEN" --buyers "${BUYERS[0]}" --concurrency 8 --sku "$SKU" --drop "sim-$name" \
		--tier public --duration-s "${SECS[0]}" --burst-tau-s 1000 --seed 11 \
		--key-prefix "$name-a-" --json) || fail "loadgen phase 1: $lg1"
	lg2=$("$LOADGEN" --buyers "${BUYERS[1]}" --concurrency 8 --sku "$SKU" --drop "sim-$name" \
		--tier public --duration-s "${SECS[1]}" --burst-tau-s 1000 --seed 12 \
		--region-boost "$BOOST" --key-prefix "$name-b-" --json) || fail "loadgen phase 2: $lg2"
	if [[ -n $staff_pid ]]; then
		kill "$staff_pid" 2>/dev/null; wait "$staff_pid" 2>/dev/null || true
		staff_pass   # what is still in the vans arrives
	fi
	wait_until 30 "streams caught up" streams_caught_up
	local kpi tr audit spikes rel
	kpi=$(dc --json kpi --drop "sim-$name") || fail "kpi"
	tr=$(dc --json transfers) || fail "transfers"
	audit=$(audit_clean && echo clean || echo FINDINGS)
	spikes=$(grep -c "demand.spike" "$NET_DIR/log/coordinator.log" || true)
	rel=$(awk '/holdback.released/ && /reason=rebalance/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^qty=/) s += substr($i, 5) } END {print s + 0}' \
		"$NET_DIR/log/coordinator.log")
	python3 - "$name" "$lg1" "$lg2" "$kpi" "$tr" "$audit" "$spikes" "$rel" "$(stock_sum "$SKU" holdback)" <<'PY'
import json, sys
name, lg1, lg2, kpi, tr, audit, spikes, rel, hold = sys.argv[1:]
lg = [json.loads(lg1), json.loads(lg2)]
kpi, tr = json.loads(kpi)["kpi"], json.loads(tr)["transfers"]
lost = [l["by_status"].get("SOLD_OUT", 0) for l in lg]
acc = [l["accepted"] for l in lg]
print(json.dumps({
    "run": name, "fill_within_radius": kpi["fill_within_radius"],
    "accepted": sum(acc), "accepted_spike_phase": acc[1],
    "sales_lost": sum(lost), "sales_lost_spike_phase": lost[1],
    "no_hub_in_range": sum(l["by_status"].get("NO_HUB_IN_RANGE", 0) for l in lg),
    "released": int(rel), "transfers": len(tr),
    "transferred": sum(t["qty"] for t in tr if t["state"] == "received"),
    "in_flight": sum(t["qty"] for t in tr if t["state"] != "received"),
    "holdback_left": int(hold), "spikes": int(spikes), "audit": audit}))
PY
	"$LOCAL_NET" stop --dir "$NET_DIR" --timeout 10 >/dev/null 2>&1 || true
}

log "drop: $UNITS units of $SKU, $PER_HUB per hub, ${HOLDBACK}% held back; demand ${BUYERS[0]} buyers/${SECS[0]} s, then ${BUYERS[1]} buyers/${SECS[1]} s with $BOOST"
# Not $(run ...): a subshell would hide NET_DIR from the EXIT trap, which
# must stop whichever network is up if a step fails.
run static --coord-set rebalance.spike_bucket_ms=3600000 >"$T/static.json"
run planner --coord-set rebalance.auto_ms=5000 --coord-set rebalance.bucket_ms=5000 \
	--coord-set rebalance.history_buckets=120 --coord-set rebalance.horizon=12 \
	--coord-set rebalance.spike_bucket_ms=2000 >"$T/planner.json"
static=$(cat "$T/static.json"); planner=$(cat "$T/planner.json")
if (( JSON )); then
	echo "$static"; echo "$planner"
	exit 0
fi
python3 - "$static" "$planner" <<'PY'
import json, sys
r = [json.loads(a) for a in sys.argv[1:]]
rows = [
    ("fill within radius", lambda x: "%.3f" % x["fill_within_radius"]),
    ("accepted (units)", lambda x: str(x["accepted"])),
    ("  of which in the spike", lambda x: str(x["accepted_spike_phase"])),
    ("sales lost (SOLD_OUT)", lambda x: str(x["sales_lost"])),
    ("  of which in the spike", lambda x: str(x["sales_lost_spike_phase"])),
    ("units released", lambda x: str(x["released"])),
    ("units transferred", lambda x: "%d in %d trips" % (x["transferred"], x["transfers"])),
    ("holdback left unsold", lambda x: str(x["holdback_left"])),
    ("spikes declared", lambda x: str(x["spikes"])),
    ("audit", lambda x: x["audit"]),
]
print("| | static placement | planner running |")
print("|---|---|---|")
for label, f in rows:
    print("| %s | %s | %s |" % (label, f(r[0]), f(r[1])))
PY
