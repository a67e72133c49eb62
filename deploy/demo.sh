#!/usr/bin/env bash
# demo.sh - one command from a fresh Debian 12 machine to a flash drop:
#
#   ./deploy/demo.sh [--keep] [--bin BUILD_DIR]
#
# Installs the build packages if any is missing (apt-get, as root or via
# sudo), builds dropnet (CMake, Release, into build/), starts the example
# network (a coordinator and six UK hubs, deploy/local-net.sh) in a temp
# folder, stocks a 500-unit drop of "drop-hoodie" across the hubs, runs a
# drop of 5,000 buyers over 64 concurrent connections with loadgen, prints
# what happened, audits the books, follows one order from pick to ship, and
# stops the network (also on Ctrl-C or failure). --keep keeps the temp folder
# (logs, SQLite files) for a look afterwards; --bin uses an existing build
# and skips installing and building.
#
# Exit 0 only if exactly 500 orders were accepted and the audit is clean.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

SKU=drop-hoodie
BUYERS=5000
CONCURRENCY=64
# 500 units, roughly by the population each hub serves.
STOCK=(london:150 birmingham:80 manchester:80 leeds:70 bristol:60 glasgow:60)
KEEP=0
BIN=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--keep) KEEP=1; shift ;;
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;  # use this build, skip install+build
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--keep] [--bin BUILD_DIR]" >&2; exit 2 ;;
	esac
done

PACKAGES="libuv1-dev libnng-dev libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler
libcmocka-dev libncurses-dev cmake pkg-config libinih-dev libjansson-dev python3 tmux
build-essential"

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
	--port-base "${DROPNET_PORT_BASE:-7400}"
# shellcheck disable=SC1091
source "$NET/net.env"
DROPCTL="$BIN/dropctl"; PICKTERM="$BIN/pickterm"; LOADGEN="$BIN/loadgen"
"$DROPCTL" hubs

hub_url() { local v="DROPNET_HUB_${1^^}"; echo "${!v}"; }
json() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

say "stocking the drop: 500 x $SKU"
for s in "${STOCK[@]}"; do
	hub=${s%%:*}; qty=${s##*:}
	"$PICKTERM" --hub "$(hub_url "$hub")" receive "$SKU" "$qty" --bin DROP-A1
done
# The receipts travel to the coordinator on each hub's event stream.
deadline=$(( $(now_ms) + 20000 ))
while :; do
	out=$("$DROPCTL" --json stock --sku "$SKU")
	total=$(json "$out" 'sum(r["sellable"] for r in j["stock"])')
	[[ $total == 500 ]] && break
	(( $(now_ms) < deadline )) || die "coordinator sees $total sellable units, not 500"
	sleep 0.1
done
"$DROPCTL" stock --sku "$SKU"

say "the drop: $BUYERS buyers, $CONCURRENCY concurrent connections"
lg=$("$LOADGEN" --buyers "$BUYERS" --concurrency "$CONCURRENCY" --sku "$SKU" --seed 42 \
	--key-prefix demo --json) || die "loadgen failed: $lg"
python3 - "$lg" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
print("sent          %6d" % j["sent"])
print("accepted      %6d" % j["accepted"])
for hub, n in sorted(j.get("by_hub", {}).items(), key=lambda x: -x[1]):
    print("  at %-10s %6d" % (hub, n))
print("rejected")
for why, n in sorted(j.get("rejected", {}).items(), key=lambda x: -x[1]):
    print("  %-16s %6d" % (why, n))
print("errors        %6d   (retries %d)" % (j["errors"], j.get("retries", 0)))
print("orders/s      %9.0f over %.2f s" % (j["orders_per_s"], j["elapsed_s"]))
print("ack latency   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms"
      % (j["p50_ms"], j["p90_ms"], j["p99_ms"], j["max_ms"]))
PY
accepted=$(json "$lg" 'j["accepted"]')
"$DROPCTL" stock --sku "$SKU"

say "audit"
audit_rc=0
"$DROPCTL" audit || audit_rc=$?

say "one order's journey"
# The first order in London's pick queue: pick it with a scan per unit, ship it.
q=$("$PICKTERM" --hub "$DROPNET_HUB_LONDON" --json queue)
oid=$(json "$q" 'j["orders"][0]["order_id"]')
key=$(json "$q" 'j["orders"][0]["order_key"]')
scans=$(json "$q" '" ".join("--scan " + l["sku"] for l in j["orders"][0]["lines"] for _ in range(l["qty"]))')
echo "london picks order $oid ($key): $scans"
# shellcheck disable=SC2086
"$PICKTERM" --hub "$DROPNET_HUB_LONDON" pick "$oid" $scans
"$PICKTERM" --hub "$DROPNET_HUB_LONDON" ship "$oid" --tracking DEMO-0001
deadline=$(( $(now_ms) + 10000 ))
while :; do
	show=$("$DROPCTL" --json order show "$key" --storefront loadgen)
	[[ $(json "$show" 'j["order"]["shipped_ms"]') != 0 ]] && break
	(( $(now_ms) < deadline )) || die "the coordinator never saw order $key shipped"
	sleep 0.1
done
"$DROPCTL" order show "$key" --storefront loadgen

say "result"
rc=0
if [[ $accepted == 500 ]]; then
	echo "accepted exactly 500 of $BUYERS: nothing oversold, every unit sold"
else
	echo "FAIL: accepted $accepted, want exactly 500"; rc=1
fi
if [[ $audit_rc == 0 ]]; then echo "audit clean"; else echo "FAIL: audit found problems"; rc=1; fi
exit $rc
