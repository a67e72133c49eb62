#!/usr/bin/env bash
# skus.sh - the example network with a catalogue of many SKUs (issue 10,
# "10,000 SKUs over 6 hubs" and "one hot SKU with 10 MB of other traffic";
# not part of the test suite):
#
#   ./tests/bench/skus.sh [--bin BUILD_DIR] [--skus "10 1000 10000"]
#                         [--hubs-per-sku K] [--buyers B] [--concurrency C]
#                         [--other-mb M] [--no-hot] [--plaintext]
#
# For each catalogue size N in --skus (default 10, 1,000 and 10,000), on a
# fresh network (deploy/local-net.sh: coordinator + six hubs, TLS unless
# --plaintext, ports from DROPNET_PORT_BASE, default 7400; every hub's
# radius 1,000 km so any hub with the stock can serve any buyer):
#  1. stocks SKUs cat00000 .. cat(N-1) over the hubs, SKU k at K hubs
#     (--hubs-per-sku, default 1: hubs k, k+1, ... mod 6), through each
#     hub's own receipt path - a TermRequest TERM_RECEIVE per (hub, SKU)
#     on its terminal socket, what `pickterm receive` sends, built by
#     tests/integration/lib/pb.py and sent by `rawsend --stream` (one
#     connection per hub, the six hubs at once) - and waits until
#     `dropctl stock` shows every row; a hub's rows cover at most 2,048
#     SKUs (DN_HUB_SKUS_MAX), so N x K / 6 must stay within it;
#  2. runs loadgen over the catalogue (--sku-range: buyer i buys SKU
#     i mod N; B buyers, default 50,000, over C connections, default 32);
#  3. (unless --no-hot) one hot SKU, stocked at every hub: 20,000 buyers
#     of it alone (quiet), then again while a second loadgen sends about
#     --other-mb (default 10) MB of other orders - packed SubmitOrder
#     bytes, over the catalogue, on 32 other connections - at the same
#     time; the hot run's rate and p99 both ways, and how much of the hot
#     run the other traffic covered;
#  4. times the operator's commands (--timeout-ms 600000, to see what
#     takes longer than dropctl's default 5 s): dropctl stock (table and
#     --json), hubs, audit, kpi (of a one-SKU drop that sold 2,000
#     orders), demand, rebalance plan - the last while 2 connections of
#     hot-SKU orders run, to see what the plan costs them.
# Prints one JSON object: per N, stocking time, loadgen's orders/s,
# p50/p99, the coordinator's CPU per order and RSS, each command's time,
# exit code and rows, and the hot-SKU figures. Use a Release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN="$REPO/build"; SIZES="10 1000 10000"; PER=1; BUYERS=50000; CONC=32; OTHER_MB=10
HOT=1; NETOPTS=()
usage="usage: $0 [--bin BUILD_DIR] [--skus \"N ...\"] [--hubs-per-sku K] [--buyers B] [--concurrency C] [--other-mb M] [--no-hot] [--plaintext]"
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--skus) SIZES=$2; shift 2 ;;
	--hubs-per-sku) PER=$2; shift 2 ;;
	--buyers) BUYERS=$2; shift 2 ;;
	--concurrency) CONC=$2; shift 2 ;;
	--other-mb) OTHER_MB=$2; shift 2 ;;
	--no-hot) HOT=0; shift ;;
	--plaintext) NETOPTS+=(--plaintext); shift ;;
	-h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done
for p in coordinator hubd dropctl loadgen rawsend; do
	[[ -x $BIN/$p ]] || { echo "bench: $BIN/$p missing; build first" >&2; exit 1; }
done
# shellcheck source=tests/bench/lib.sh
source "$REPO/tests/bench/lib.sh"
HOT_BUYERS=20000
DROP_BUYERS=2000
# Other traffic: at most this many orders (a SubmitOrder is ~100-200 B).
OTHER_MAX=150000

# One catalogue size: prints its JSON object on stdout.
run_size() {
	local n=$1
	bench_net_dir dropnet-skus
	"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" \
		--port-base "${DROPNET_PORT_BASE:-7400}" --hub-set hub.radius_km=1000 \
		"${NETOPTS[@]}" >&2
	# shellcheck disable=SC1091
	source "$NET/net.env"
	local DC=("$BIN/dropctl")
	local CPID
	CPID=$(cat "$NET/run/coordinator.pid")
	local units=$(( (BUYERS + OTHER_MAX) / n + 10 ))

	# 1. Receipts, one request file per hub.
	mkdir -p "$NET/req"
	python3 - "$REPO/tests/integration/lib" "$NET/req" "$n" "$PER" "$units" \
		"$((HOT_BUYERS * 3))" "$DROP_BUYERS" $DROPNET_HUBS <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
import pb
out, n, per, units, hot, drop = sys.argv[2], *map(int, sys.argv[3:8])
hubs = sys.argv[8:]
if n * per > 2048 * len(hubs):
    sys.exit("bench: %d SKUs at %d hubs each is more than %d hubs hold (2,048 SKUs each)"
             % (n, per, len(hubs)))
def receive(sku, qty):  # TermRequest: version 1, kind TERM_RECEIVE (1), sku, qty
    m = pb.f_varint(1, 1) + pb.f_varint(2, 1) + pb.f_bytes(3, sku) + pb.f_varint(4, qty)
    return struct.pack(">I", len(m)) + m
reqs = {h: [] for h in hubs}
for k in range(n):
    for j in range(per):
        reqs[hubs[(k + j) % len(hubs)]].append(receive("cat%05d" % k, units))
for h in hubs:
    reqs[h].append(receive("hot", hot // len(hubs) + 1))
reqs[hubs[0]].append(receive("dropsku", drop))
for h in hubs:
    with open("%s/%s.bin" % (out, h), "wb") as f:
        f.write(b"".join(reqs[h]))
PY
	local t0 t1 h v pids=()
	t0=$(now_ms)
	for h in $DROPNET_HUBS; do
		v="DROPNET_HUB_${h^^}"
		"$BIN/rawsend" "${!v}" --timeout-ms 10000 --stream <"$NET/req/$h.bin" >"$NET/req/$h.rep" &
		pids+=($!)
	done
	for v in "${pids[@]}"; do wait "$v" || { echo "bench: a hub did not answer every receipt" >&2; exit 1; }; done
	t1=$(now_ms)
	python3 - "$REPO/tests/integration/lib" "$NET/req" $DROPNET_HUBS <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
import pb
for h in sys.argv[3:]:
    buf, i, n = open("%s/%s.rep" % (sys.argv[2], h), "rb").read(), 0, 0
    while i < len(buf):
        (l,) = struct.unpack(">I", buf[i:i + 4])
        f = pb.decode(buf[i + 4:i + 4 + l])
        if f.get(2) != 11:
            sys.exit("bench: hub %s refused receipt %d: %s" % (h, n, f))
        i, n = i + 4 + l, n + 1
PY
	# The coordinator has every row once the hubs' streams caught up.
	local rows=$(( n * PER + 6 + 1 )) got deadline=$(( $(now_ms) + 120000 ))
	while :; do
		got=$("${DC[@]}" --json stock | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["stock"] if r["on_hand"] > 0))')
		[[ $got == "$rows" ]] && break
		(( $(now_ms) < deadline )) || { echo "bench: coordinator shows $got of $rows stock rows" >&2; exit 1; }
		sleep 0.2
	done
	local t2
	t2=$(now_ms)
	echo "bench: $n SKUs x $PER hubs: receipts answered in $((t1 - t0)) ms, on the coordinator's books in $((t2 - t0)) ms" >&2

	# A one-SKU drop that sells, for the KPIs.
	"${DC[@]}" drop create --id skus-drop --sku "dropsku:$DROP_BUYERS" \
		--placement "${DROPNET_HUBS%% *}:$DROP_BUYERS" --tier public:now:+1d >&2
	"${DC[@]}" drop open skus-drop >&2
	"$BIN/loadgen" --sku dropsku --drop skus-drop --tier public --buyers "$DROP_BUYERS" \
		--concurrency 16 --seed 2 --key-prefix dr --json >"$NET/drop.json"

	# 2. Orders over the catalogue.
	local cpu0 cpu1 lg rss
	cpu0=$(cpu_ms "$CPID")
	lg=$("$BIN/loadgen" --sku-range "cat:$n" --buyers "$BUYERS" --concurrency "$CONC" \
		--seed 1 --key-prefix sk --json)
	cpu1=$(cpu_ms "$CPID")
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$CPID/status")

	# 3. The hot SKU, quiet and under other traffic.
	local hq='null' hl='null' other='null' span='null'
	if (( HOT )); then
		hq=$("$BIN/loadgen" --sku hot --buyers "$HOT_BUYERS" --concurrency "$CONC" --seed 3 \
			--key-prefix hq --json)
		local per_order other_n
		per_order=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["request_bytes"] / j["sent"])' "$lg")
		other_n=$(python3 -c 'import math,sys; print(min(int(sys.argv[3]), math.ceil(float(sys.argv[1]) * 1e6 / float(sys.argv[2]))))' \
			"$OTHER_MB" "$per_order" "$OTHER_MAX")
		local o0 o1 h0 h1 opid
		o0=$(now_ms)
		"$BIN/loadgen" --sku-range "cat:$n" --buyers "$other_n" --concurrency 32 --seed 4 \
			--key-prefix ot --json >"$NET/other.json" &
		opid=$!
		h0=$(now_ms)
		hl=$("$BIN/loadgen" --sku hot --buyers "$HOT_BUYERS" --concurrency "$CONC" --seed 5 \
			--key-prefix hl --json)
		h1=$(now_ms)
		wait "$opid"
		o1=$(now_ms)
		other=$(cat "$NET/other.json")
		span="[$o0, $o1, $h0, $h1]"
	fi
	# 4. The operator's commands, timed: "name ms exit bytes". With a long
	# --timeout-ms, to measure what takes longer than dropctl's default 5 s.
	local ops="$NET/ops.txt"
	: >"$ops"
	timed() { # name cmd...
		local name=$1 a b rc=0; shift
		a=$(now_ms)
		"$@" >"$NET/op.out" 2>"$NET/op.err" || rc=$?
		b=$(now_ms)
		printf '%s %s %s %s %s\n' "$name" "$((b - a))" "$rc" "$(wc -c <"$NET/op.out")" \
			"$(head -c 300 "$NET/op.err" | tr '\n' ' ' | base64 -w0)" >>"$ops"
		cp "$NET/op.out" "$NET/op.$name"
	}
	DC+=(--timeout-ms 600000)
	timed stock "${DC[@]}" stock
	timed stock_json "${DC[@]}" --json stock
	timed hubs "${DC[@]}" hubs
	timed audit "${DC[@]}" --json audit
	timed kpi "${DC[@]}" --json kpi --drop skus-drop
	timed demand "${DC[@]}" --json demand
	# The plan runs on the coordinator's loop: orders (of the hot SKU, on
	# other connections) wait meanwhile. Their latency while it runs: the
	# answers (wall ms, latency us) of a loadgen that was already answered
	# before the plan started, up to its end.
	"$BIN/loadgen" --sku hot --buyers 2000000 --concurrency 2 --seed 6 --key-prefix pl \
		--answers-file "$NET/plan_answers.txt" --json >/dev/null &
	local lpid=$! pa pb
	deadline=$(( $(now_ms) + 60000 ))
	until [[ -s $NET/plan_answers.txt ]]; do
		(( $(now_ms) < deadline )) || { echo "bench: loadgen during the plan never answered" >&2; exit 1; }
		sleep 0.05
	done
	pa=$(now_ms)
	timed rebalance_plan "${DC[@]}" --json rebalance plan
	pb=$(now_ms)
	kill -USR1 "$lpid"
	wait "$lpid" || true
	awk -v a="$pa" -v b="$pb" '$1 >= a && $1 - $2 / 1000 <= b { n++; if ($2 > m) m = $2 }
		END { printf "{\"answers\": %d, \"max_ms\": %.1f}\n", n, m / 1000 }' \
		"$NET/plan_answers.txt" >"$NET/plan_orders.json"
	local stock_rows plan_skus demand_rows
	stock_rows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["stock"]))' "$NET/op.stock_json" 2>/dev/null || echo null)
	demand_rows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["demand"]))' "$NET/op.demand" 2>/dev/null || echo null)
	plan_skus=$(python3 -c 'import json,sys
p = json.load(open(sys.argv[1]))
p = p.get("plan", p)
print(len({f["sku"] for f in p.get("forecasts", [])}))' "$NET/op.rebalance_plan" 2>/dev/null || echo null)

	python3 - "$n" "$PER" "$((t1 - t0))" "$((t2 - t0))" "$lg" "$cpu0 $cpu1" "$rss" "$ops" \
		"$stock_rows" "$demand_rows" "$plan_skus" "$hq" "$hl" "$other" "$span" \
		"$(cat "$NET/plan_orders.json")" <<'PY'
import base64, json, sys
a = sys.argv
lg = json.loads(a[5])
c0, c1 = (int(x) for x in a[6].split())
ops = {}
for line in open(a[8]):
    name, ms, rc, size, err = (line.split() + [""])[:5]
    ops[name] = {"ms": int(ms), "exit": int(rc), "bytes": int(size)}
    if int(rc) != 0:
        ops[name]["stderr"] = base64.b64decode(err).decode(errors="replace").strip()
num = lambda s: None if s == "null" else int(s)
ops["stock_json"]["rows"] = num(a[9])
ops["demand"]["rows"] = num(a[10])
ops["rebalance_plan"]["skus_planned"] = num(a[11])
po = json.loads(a[16])
# Orders answered between the plan's start and end (or waiting through
# it), and the longest wait among them.
ops["rebalance_plan"]["orders_meanwhile"] = po
hq, hl, other = (json.loads(x) for x in a[12:15])
pick = lambda j: None if j is None else {k: j.get(k) for k in
    ("sent", "accepted", "errors", "orders_per_s", "p50_ms", "p99_ms", "max_ms", "request_bytes")}
hot = None
if hq is not None:
    o0, o1, h0, h1 = json.loads(a[15])
    hot = {"quiet": pick(hq), "with_other": pick(hl), "other": pick(other),
           "other_mb": round(other["request_bytes"] / 1e6, 2),
           # Share of the hot run's wall time the other loadgen was running.
           "overlap": round(max(0, min(o1, h1) - max(o0, h0)) / max(1, h1 - h0), 2),
           "p99_ratio": round(hl["p99_ms"] / hq["p99_ms"], 2) if hq["p99_ms"] else None,
           "rate_ratio": round(hl["orders_per_s"] / hq["orders_per_s"], 2) if hq["orders_per_s"] else None}
print(json.dumps({
    "skus": int(a[1]), "hubs_per_sku": int(a[2]),
    "receipts_ms": int(a[3]), "stocked_on_coordinator_ms": int(a[4]),
    "loadgen": pick(lg), "rejected": lg.get("rejected"),
    "coordinator_cpu_us_per_order": round((c1 - c0) * 1000.0 / lg["sent"], 1) if lg["sent"] else None,
    "coordinator_rss_kb": int(a[7]),
    "ops": ops, "hot": hot,
}))
PY
	"$REPO/deploy/local-net.sh" stop --dir "$NET" >&2
	rm -rf "$NET"
	trap - EXIT
}

results=()
for n in $SIZES; do
	results+=("$(run_size "$n")")
done
python3 - "${results[@]}" <<'PY'
import json, sys
runs = [json.loads(x) for x in sys.argv[1:]]
print(json.dumps({"runs": runs}, indent=2))
cols = ["skus", "orders/s", "p50 ms", "p99 ms", "cpu us/order", "rss MB", "stock ms", "audit ms",
        "kpi ms", "plan ms", "hot p99 quiet/other"]
print(" | ".join(cols), file=sys.stderr)
for r in runs:
    h = r["hot"] or {}
    print(" | ".join(str(x) for x in [
        r["skus"], r["loadgen"]["orders_per_s"], r["loadgen"]["p50_ms"], r["loadgen"]["p99_ms"],
        r["coordinator_cpu_us_per_order"], round(r["coordinator_rss_kb"] / 1024, 1),
        r["ops"]["stock"]["ms"], r["ops"]["audit"]["ms"], r["ops"]["kpi"]["ms"],
        r["ops"]["rebalance_plan"]["ms"],
        "%s/%s" % ((h.get("quiet") or {}).get("p99_ms"), (h.get("with_other") or {}).get("p99_ms"))]),
        file=sys.stderr)
PY
