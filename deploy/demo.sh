#!/usr/bin/env bash
# demo.sh - one command from a fresh Debian 12 machine to a real micro-drop:
#
#   ./deploy/demo.sh [--keep] [--bin BUILD_DIR]
#
# Installs the build packages if any is missing (apt-get, as root or via
# sudo), builds dropnet (CMake, Release, into build/), starts the example
# network (a coordinator and six UK hubs, deploy/local-net.sh) in a temp
# folder, with the coordinator's test clock on so the demo can walk through
# two days of drop in a minute. Then it runs the drop of
# deploy/drops/hoodie.ini: 500 hoodies placed across the hubs, 20% held
# back, at most 2 per buyer, a sticker for first-time buyers;
#   1. the insiders' 30-minute window (insiders only; loadgen),
#   2. the public window: 5,000 buyers over 64 connections in a burst,
#      with repeat buyers, some over the limit, some carts held,
#   3. hub staff pick and ship some orders (time to fulfil),
#   4. day 2: the restock tier opens, the held-back units are released,
#      insiders and a second public wave buy them, lapsed carts sell again,
#   5. a price experiment (50.00 vs 70.00) on a second drop, with buyers
#      whose willingness to pay is drawn from N(60, 10): the readout names
#      the arm that earns more per exposure,
# and prints the KPI table, the live view `dropctl top` shows (every daemon
# serves /metrics on loopback, ports from the port base + 10), the audit and
# one order's journey, then stops
# the network (also on Ctrl-C or failure). --keep keeps the temp folder
# (logs, SQLite files); --bin uses an existing build and skips installing
# and building.
#
# Exit 0 only if exactly 500 units were sold (nothing oversold, nothing left
# over, nothing still held back) and the audit is clean.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

SKU=drop-hoodie
GIFT=drop-sticker
DROP_FILE=deploy/drops/hoodie.ini
DROP=hoodie-fw26
BUYERS=5000
CONCURRENCY=64
# Stickers for first-time buyers, fewer than the buyers: the gift goes only
# while a hub has some.
GIFTS=(london:40 birmingham:20 manchester:20 leeds:20 bristol:20 glasgow:20)
KEEP=0
BIN=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--keep) KEEP=1; shift ;;
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;  # use this build, skip install+build
	-h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--keep] [--bin BUILD_DIR]" >&2; exit 2 ;;
	esac
done

PACKAGES="libuv1-dev libnng-dev libmbedtls-dev libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler
libcmocka-dev libncurses-dev cmake pkg-config libinih-dev libjansson-dev python3 tmux
build-essential openssl libraft-dev"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

install_missing() {
	local missing=() p
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	say "installing ${missing[*]}"
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "need root or sudo to install ${missing[*]}"
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

if [[ -z $BIN ]]; then
	say "packages"
	install_missing
	echo "all build packages present"

	say "build (CMake, Release, build/)"
	JOBS=$(nproc 2>/dev/null || echo 2)
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j"$JOBS" --target coordinator hubd dropctl pickterm loadgen
	BIN="$REPO/build"
fi

NET=$(mktemp -d /tmp/dropnet-demo.XXXXXX)
cleanup() {
	local rc=$?
	set +e
	if [[ -f $NET/net.conf ]]; then
		say "stopping the network"
		"$REPO/deploy/local-net.sh" stop --dir "$NET"
	fi
	if (( KEEP )); then
		echo "kept $NET (logs in $NET/log)"
	else
		rm -rf "$NET"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the example network in $NET"
"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" \
	--port-base "${DROPNET_PORT_BASE:-7400}" --coord-set coordinator.test_clock=1 \
	--metrics-port-base "$(( ${DROPNET_PORT_BASE:-7400} + 10 ))"
# shellcheck disable=SC1091
source "$NET/net.env"
DROPCTL="$BIN/dropctl"; PICKTERM="$BIN/pickterm"; LOADGEN="$BIN/loadgen"
"$DROPCTL" hubs

hub_url() { local v="DROPNET_HUB_${1^^}"; echo "${!v}"; }
json() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

say "the drop: $DROP_FILE"
"$DROPCTL" drop create --file "$DROP_FILE"
dj=$("$DROPCTL" --json drop show "$DROP")
tier_opens() { json "$dj" '[t["opens_ms"] for t in j["drop"]["tiers"] if t["name"] == "'"$1"'"][0]'; }
clock_to() { # tier: move the coordinator's test clock to the tier's opening
	"$DROPCTL" clock set "$(tier_opens "$1")" >/dev/null
	echo "clock moved to the $1 window: $("$DROPCTL" clock)"
}

say "stocking the hubs per the drop's placement (20% is held back on receipt)"
for s in $(json "$dj" '" ".join("%s:%d" % (p["hub"], p["units"]) for k in j["drop"]["skus"] for p in k["placement"])'); do
	hub=${s%%:*}; qty=${s##*:}
	"$PICKTERM" --hub "$(hub_url "$hub")" receive "$SKU" "$qty" --bin DROP-A1 >/dev/null
done
for s in "${GIFTS[@]}"; do
	hub=${s%%:*}; qty=${s##*:}
	"$PICKTERM" --hub "$(hub_url "$hub")" receive "$GIFT" "$qty" --bin GIFT-1 >/dev/null
done
# The receipts travel to the coordinator on each hub's event stream.
deadline=$(( $(now_ms) + 20000 ))
while :; do
	out=$("$DROPCTL" --json stock --sku "$SKU")
	total=$(json "$out" 'sum(r["on_hand"] for r in j["stock"])')
	held=$(json "$out" 'sum(r["holdback"] for r in j["stock"])')
	[[ $total == 500 && $held == 100 ]] && break
	(( $(now_ms) < deadline )) || die "coordinator sees $total on hand, $held held back; want 500, 100"
	sleep 0.1
done
"$DROPCTL" stock --sku "$SKU"
"$DROPCTL" drop open "$DROP"

report() { # loadgen JSON -> a few lines
	python3 - "$1" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
print("sent %d, accepted %d (%d with a gift), %.0f orders/s, ack p50 %.2f ms p99 %.2f ms"
      % (j["sent"], j["accepted"], j["gifts"], j["orders_per_s"], j["p50_ms"] or 0, j["p99_ms"] or 0))
print("answers: " + ", ".join("%s %d" % kv for kv in sorted(j["by_status"].items(), key=lambda x: -x[1])))
if j["held"]:
    print("carts held %d: %d confirmed, %d left to lapse" % (j["held"], j["confirmed"], j["lapsed"]))
PY
}
lg() { "$LOADGEN" --sku "$SKU" --drop "$DROP" --json "$@" || die "loadgen failed"; }

say "1. insiders' window (30 min): 30 tries from the 20 insiders, 30 from outsiders"
out=$(lg --tiers insider:0.5:insiders,insider:0.5 --insiders 20 --buyers 60 --concurrency 8 \
	--duration-s 1 --seed 41 --key-prefix ins)
report "$out"

say "2. public window: $BUYERS buyers, $CONCURRENCY connections, a burst over 5 s"
clock_to public
out=$(lg --tier public --buyers "$BUYERS" --concurrency "$CONCURRENCY" --duration-s 5 \
	--repeat-share 0.1 --over-limit-share 0.05 --limit 2 --hold-share 0.05 --hold-seconds 120 \
	--seed 42 --key-prefix pub)
report "$out"
"$DROPCTL" stock --sku "$SKU"

say "3. hub staff pick and ship (London and Leeds, 5 orders each)"
ship_some() { # hub n
	local url q n=$2 k oid scans
	url=$(hub_url "$1")
	q=$("$PICKTERM" --hub "$url" --json queue)
	for (( k = 0; k < n; k++ )); do
		oid=$(json "$q" 'j["orders"]['$k']["order_id"] if len(j["orders"]) > '$k' else ""')
		[[ -n $oid ]] || break
		[[ -n $SHIPPED_KEY ]] || SHIPPED_KEY=$(json "$q" 'j["orders"]['$k']["order_key"]')
		scans=$(json "$q" '" ".join("--scan " + l["sku"] for l in j["orders"]['$k']["lines"] for _ in range(l["qty"]))')
		# shellcheck disable=SC2086
		"$PICKTERM" --hub "$url" pick "$oid" $scans >/dev/null
		"$PICKTERM" --hub "$url" ship "$oid" --tracking "DEMO-$1-$k" >/dev/null 2>&1 ||
			{ "$PICKTERM" --hub "$url" pack "$oid" $scans >/dev/null &&
			  "$PICKTERM" --hub "$url" ship "$oid" --tracking "DEMO-$1-$k" >/dev/null; }
	done
	echo "$1 shipped $k orders"
}
SHIPPED_KEY=""
ship_some london 5
ship_some leeds 5

say "4. day 2: the restock opens for insiders and releases the holdback"
clock_to restock
deadline=$(( $(now_ms) + 10000 ))
while :; do
	held=$(json "$("$DROPCTL" --json stock --sku "$SKU")" 'sum(r["holdback"] for r in j["stock"])')
	[[ $held == 0 ]] && break
	(( $(now_ms) < deadline )) || die "holdback not released at the restock's opening ($held left)"
	sleep 0.1
done
echo "holdback released: $(json "$("$DROPCTL" --json drop show "$DROP")" 'j["drop"]["released"]') units back on sale"
out=$(lg --tier restock:insiders --insiders 20 --buyers 60 --concurrency 8 --seed 43 --key-prefix rst)
report "$out"
echo "day-2 public wave:"
out=$(lg --tier public --buyers 2000 --concurrency 32 --duration-s 2 --seed 44 --key-prefix day2)
report "$out"
"$DROPCTL" drop show "$DROP"

say "5. a price experiment: 50.00 or 70.00 for a tee, 800 buyers willing to pay ~N(60, 10)"
# A second drop (its own SKU, stocked at London) so the hoodie's 500 stay exact.
"$PICKTERM" --hub "$(hub_url london)" receive demo-tee 1000 >/dev/null
deadline=$(( $(now_ms) + 10000 ))
until [[ $(json "$("$DROPCTL" --json stock --sku demo-tee)" 'sum(r["on_hand"] for r in j["stock"])') == 1000 ]]; do
	(( $(now_ms) < deadline )) || die "demo-tee stock did not arrive"
	sleep 0.1
done
"$DROPCTL" drop create --id demo-tees --sku demo-tee:1000 --placement london:1000 \
	--tier public:now:+1d --currency GBP --price demo-tee:public:6000 \
	--bounds demo-tee:4000:8000 >/dev/null
"$DROPCTL" drop open demo-tees >/dev/null
"$DROPCTL" experiment create --id tee-price --drop demo-tees --sku demo-tee \
	--arm low:5000 --arm high:7000 >/dev/null
out=$("$LOADGEN" --sku demo-tee --drop demo-tees --tier public --buyers 800 --concurrency 8 \
	--seed 45 --key-prefix exp --wtp 6000:1000 --ship-to 51.50,-0.12 --json) || die "loadgen failed"
echo "quotes $(json "$out" 'j["quotes"]'), bought $(json "$out" 'j["accepted"]'), declined $(json "$out" 'j["declined"]'), revenue $(json "$out" 'j["revenue_minor"]') pence"
"$DROPCTL" experiment show tee-price
"$DROPCTL" experiment stop tee-price >/dev/null

say "KPIs"
"$DROPCTL" kpi --drop "$DROP"
sold=$(json "$("$DROPCTL" --json kpi --drop "$DROP")" 'j["kpi"]["accepted_units"]')
st=$("$DROPCTL" --json stock --sku "$SKU")
booked=$(json "$st" 'sum(r["allocated"] + r["shipped"] for r in j["stock"])')
left=$(json "$st" 'sum(r["sellable"] + r["holdback"] for r in j["stock"])')
"$DROPCTL" stock

say "the live view: dropctl top --plain (full screen without --plain; $DROPNET_METRICS)"
"$DROPCTL" top --plain --count 1 || true

say "audit"
audit_rc=0
"$DROPCTL" audit || audit_rc=$?

say "one order's journey"
"$DROPCTL" order show "$SHIPPED_KEY" --storefront "${DROPNET_STOREFRONT_AUTH_NAME:-loadgen}" || true


say "result"
rc=0
if [[ $sold == 500 && $booked == 500 && $left == 0 ]]; then
	echo "sold exactly 500 units: nothing oversold, nothing left, nothing held back"
else
	echo "FAIL: sold $sold units ($booked booked, $left unsold or held back), want exactly 500"; rc=1
fi
if [[ $audit_rc == 0 ]]; then echo "audit clean"; else echo "FAIL: audit found problems"; rc=1; fi
exit $rc
