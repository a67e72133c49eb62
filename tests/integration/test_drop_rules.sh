#!/usr/bin/env bash
# Goal: every rule of a drop (issue 3) on a real network (coordinator with
# coordinator.test_clock = 1, hubs london and leeds), with time moved by the
# test through `dropctl clock set`, and `dropctl audit` clean after each part:
#   A tier windows at their exact edges (NOT_OPEN / CLOSED /
#     TIER_NOT_ALLOWED) and quota roll-over only after the previous tier
#     closes, chained through two tiers;
#   B holdback: held at receipt per hub (rounded down), released by hand
#     (per hub; CONFLICT beyond what is held) and all at once when a
#     release tier opens, each release a ledger movement;
#   C the per-buyer limit under 64 concurrent connections from one
#     customer: exactly the limit accepted, the rest LIMIT_REACHED;
#   D the gift goes only with orders while the hub has gift stock, never
#     blocks an order, and shows as a gift line in the pick queue;
#   E an expiring hold: the lapsed units go back to sale and are sold again
#     exactly once; a late confirm says EXPIRED; release gives units back;
#   F a drop closed mid-flight under load: every order after the close is
#     CLOSED, the books match what was accepted.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
net_start "london leeds" --coord-set coordinator.test_clock=1

# Central London and central Leeds ship-to points.
LON=(--lat 51.5007 --lon -0.1246)
LDS=(--lat 53.7997 --lon -1.5492)

clock_now() { jget "$(dc --json clock)" 'j["clock_ms"]'; }
clock_set() { dc clock set "$1" >/dev/null || fail "clock set $1"; }

# order KEY CUSTOMER DROP TIER SKU QTY [extra submit flags] -> prints the ack JSON
order() {
	local key=$1 cust=$2 drop=$3 tier=$4 sku=$5 qty=$6; shift 6
	dc --json order submit --key "$key" --customer "$cust" --drop "$drop" \
		--tier "$tier" --sku "$sku" --qty "$qty" "${LON[@]}" "$@"
}
# expect STATUS KEY CUSTOMER DROP TIER SKU QTY [flags]: fails unless status matches
expect() {
	local want=$1; shift
	local out
	out=$(order "$@") || fail "submit $1: $out"
	[[ $(jget "$out" 'j["status"]') == "$want" ]] || fail "order $1 ($2, tier $4, qty $6): want $want, got $out"
}
tier_field() { # drop tier field
	jget "$(dc --json drop show "$1")" '[t for t in j["drop"]["tiers"] if t["name"] == "'"$2"'"][0]["'"$3"'"]'
}
drop_field() { jget "$(dc --json drop show "$1")" 'j["drop"]["'"$2"'"]'; }
audit_ok() { audit_clean || fail "audit not clean after $1: $(dc audit 2>&1)"; ok "audit clean after $1"; }

# ---- A: tier windows and roll-over -----------------------------------------
T0=$(clock_now)
A_INS=$((T0 + 60000)); A_PUB=$((T0 + 120000)); A_LAST=$((T0 + 300000)); A_END=$((T0 + 400000))
dc drop create --id rules-a --sku ta-tee:20 --placement london:20 \
	--tier "insider:$A_INS:$A_PUB:5:rollover,insiders" \
	--tier "public:$A_PUB:$A_LAST:3:rollover" \
	--tier "last:$A_LAST:$A_END:1" --insiders alice >/dev/null || fail "create rules-a"
receive_and_wait london ta-tee 20
expect NOT_OPEN a-draft alice rules-a insider ta-tee 1
dc drop open rules-a >/dev/null || fail "open rules-a"
[[ $(drop_field rules-a state) == open ]] || fail "rules-a not open"
expect NOT_OPEN a-early alice rules-a insider ta-tee 1
# The test clock keeps running from where it is set (an offset on the wall
# clock), so the edges are approached EDGE_MS early: wide enough that a
# machine under heavy load (an order taking seconds) cannot cross the edge
# between the set and the order; the exact-millisecond edges are the unit
# test's (tests/unit/test_drop_rules.c).
EDGE_MS=15000
clock_set $((A_INS - EDGE_MS))
expect NOT_OPEN a-early-edge alice rules-a insider ta-tee 1
clock_set "$A_INS"
expect ACCEPTED a-at-open alice rules-a insider ta-tee 1
expect TIER_NOT_ALLOWED a-outsider bob rules-a insider ta-tee 1
expect TIER_NOT_ALLOWED a-no-tier alice rules-a vip ta-tee 1
expect NOT_OPEN a-pub-early bob rules-a public ta-tee 1
expect ACCEPTED a-ins-2 alice rules-a insider ta-tee 1
clock_set $((A_PUB - EDGE_MS))
expect ACCEPTED a-ins-last-edge alice rules-a insider ta-tee 1
[[ $(tier_field rules-a insider sold) == 3 ]] || fail "insider sold $(tier_field rules-a insider sold), want 3"
[[ $(tier_field rules-a public quota_effective) == 3 ]] || fail "public quota rolled before insider closed: $(tier_field rules-a public quota_effective)"
ok "windows: NOT_OPEN until opens ($((EDGE_MS / 1000)) s before too), open at opens and $((EDGE_MS / 1000)) s before closes; insiders only; unknown tier refused"
clock_set "$A_PUB"
expect CLOSED a-ins-closed alice rules-a insider ta-tee 1
[[ $(tier_field rules-a public quota_effective) == 5 ]] || fail "public effective quota $(tier_field rules-a public quota_effective), want 3 + 2 rolled"
for k in 1 2 3 4; do expect ACCEPTED "a-pub-$k" "pub-$k" rules-a public ta-tee 1; done
expect SOLD_OUT a-pub-over pub-x rules-a public ta-tee 2
ok "at insider's close: CLOSED for insider, 2 unsold units roll into public (quota 5)"
clock_set "$A_LAST"
expect CLOSED a-pub-closed pub-y rules-a public ta-tee 1
[[ $(tier_field rules-a last quota_effective) == 2 ]] || fail "last effective quota $(tier_field rules-a last quota_effective), want 1 + 1 rolled through public"
expect ACCEPTED a-last-1 last-1 rules-a last ta-tee 1
expect ACCEPTED a-last-2 last-2 rules-a last ta-tee 1
expect SOLD_OUT a-last-3 last-3 rules-a last ta-tee 1
clock_set "$A_END"
expect CLOSED a-after-end last-4 rules-a last ta-tee 1
[[ $(stock_field london ta-tee allocated) == 9 ]] || fail "ta-tee allocated $(stock_field london ta-tee allocated), want 9"
ok "roll-over chains: insider's unsold unit reaches the last tier through public (quota 2)"
audit_ok "tier windows"

# ---- B: holdback, manual and at a tier's opening ---------------------------
NOW=$(clock_now)
dc drop create --id rules-b --sku hb-tee:100:20 --placement london:60,leeds:40 \
	--tier "main:$NOW:+1h" --tier "restock:$((NOW + 7200000)):+1h::release" >/dev/null || fail "create rules-b"
receive_and_wait london hb-tee 60
receive_and_wait leeds hb-tee 40
wait_until 10 "london holds back 12 hb-tee" stock_is london hb-tee holdback 12
[[ $(stock_field leeds hb-tee holdback) == 8 ]] || fail "leeds holdback $(stock_field leeds hb-tee holdback), want 8"
[[ $(stock_field london hb-tee sellable) == 48 ]] || fail "london sellable not 48"
[[ $(drop_field rules-b held_back) == 20 ]] || fail "drop held_back $(drop_field rules-b held_back), want 20"
ok "20% held back at receipt: london 12 of 60, leeds 8 of 40"
# 7 units at a hub with 20%: 1.4 rounds down to 1.
receive_and_wait leeds hb-tee 7 47
wait_until 10 "leeds holds back 9" stock_is leeds hb-tee holdback 9
ok "a later receipt of 7 holds back 1 more (9 of 47, rounded down)"
dc drop open rules-b >/dev/null || fail "open rules-b"
dc holdback release --drop rules-b --hub leeds --sku hb-tee --qty 3 >/dev/null || fail "manual release"
[[ $(stock_field leeds hb-tee holdback) == 6 ]] || fail "leeds holdback after release $(stock_field leeds hb-tee holdback), want 6"
[[ $(stock_field leeds hb-tee sellable) == 41 ]] || fail "leeds sellable after release $(stock_field leeds hb-tee sellable), want 41"
[[ $(stock_field london hb-tee holdback) == 12 ]] || fail "manual release at leeds touched london"
set +e
msg=$(dc holdback release --drop rules-b --hub leeds --sku hb-tee --qty 7 2>&1); rc=$?
set -e
[[ $rc == 1 && $msg == *CONFLICT* ]] || fail "release beyond holdback: exit $rc, $msg"
[[ $(stock_field leeds hb-tee holdback) == 6 ]] || fail "refused release changed holdback"
ok "manual release of 3 at leeds; releasing 7 of 6 is CONFLICT and changes nothing"
expect ACCEPTED b-main-1 b1 rules-b main hb-tee 2
clock_set $((NOW + 7200000 - 30000))
sleep 0.6  # a negative check: two coordinator ticks (250 ms) must release nothing
[[ $(stock_field london hb-tee holdback) == 12 ]] || fail "holdback released before the restock opened"
clock_set $((NOW + 7200000))
wait_until 10 "restock opening releases london's holdback" stock_is london hb-tee holdback 0
wait_until 10 "restock opening releases leeds' holdback" stock_is leeds hb-tee holdback 0
[[ $(drop_field rules-b released) == 21 ]] || fail "drop released $(drop_field rules-b released), want 3 + 18"
[[ $(drop_field rules-b held_back) == 0 ]] || fail "drop still holds back $(drop_field rules-b held_back)"
[[ $(stock_sum hb-tee sellable) == $((107 - 2)) ]] || fail "sellable $(stock_sum hb-tee sellable), want 105"
ok "restock opening released the remaining 18 (12 london + 6 leeds); released total 21"
audit_ok "holdback"

# ---- C: per-buyer limit under 64 concurrent connections --------------------
# (64 TLS handshakes at once: on a loaded host some connections are reset and
# resent - same keys, answered once - so loadgen may retry more than usual.)
NOW=$(clock_now)
dc drop create --id rules-c --sku lim-tee:500:0:2 --placement london:500 \
	--tier "pub:$NOW:+1h" >/dev/null || fail "create rules-c"
receive_and_wait london lim-tee 500
dc drop open rules-c >/dev/null || fail "open rules-c"
lg=$("$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 64 --concurrency 64 --sku lim-tee --qty 1 \
	--drop rules-c --tier pub --customer same-buyer --ship-to 51.5007,-0.1246 \
	--key-prefix lim --retries 10 --json) || fail "loadgen: $lg"
log "loadgen: $lg"
[[ $(jget "$lg" 'j["accepted"]') == 2 ]] || fail "same customer over 64 connections: accepted $(jget "$lg" 'j["accepted"]'), want exactly 2"
[[ $(jget "$lg" 'j["by_status"].get("LIMIT_REACHED", 0)') == 62 ]] || fail "want 62 LIMIT_REACHED: $lg"
[[ $(stock_field london lim-tee allocated) == 2 ]] || fail "allocated $(stock_field london lim-tee allocated), want 2"
# The same with 2-unit orders from 64 parallel dropctl processes and another buyer.
seq 1 64 | xargs -P 64 -I{} "$DROPCTL" --coordinator "$DROPNET_COORDINATOR" --ingest "$DROPNET_INGEST" \
	--json order submit --key lim2-{} --customer other-buyer --sku lim-tee --qty 1 \
	--drop rules-c --tier pub "${LON[@]}" >"$T/lim2.out" 2>&1 || true
acc=$(grep -c '"status":"ACCEPTED"' "$T/lim2.out" || true)
lim=$(grep -c '"status":"LIMIT_REACHED"' "$T/lim2.out" || true)
[[ $acc == 2 && $lim == 62 ]] || fail "64 parallel dropctl: $acc accepted, $lim LIMIT_REACHED (want 2, 62)"
expect LIMIT_REACHED lim-over over-buyer rules-c pub lim-tee 3
ok "per-buyer limit 2: exactly 2 accepted of 64 concurrent (loadgen and 64 processes); 3 at once refused"
audit_ok "limits"

# ---- D: gift only while gift stock lasts -----------------------------------
NOW=$(clock_now)
dc drop create --id rules-d --sku gf-tee:50 --placement london:50 --tier "pub:$NOW:+1h" \
	--gift gf-stk:first_order >/dev/null || fail "create rules-d"
receive_and_wait london gf-tee 50
receive_and_wait london gf-stk 3
dc drop open rules-d >/dev/null || fail "open rules-d"
gifted=0
for k in 1 2 3 4 5 6; do
	out=$(order "d-$k" "gift-buyer-$k" rules-d pub gf-tee 1)
	[[ $(jget "$out" 'j["status"]') == ACCEPTED ]] || fail "gift order $k not accepted: $out"
	g=$(jget "$out" 'j["gift_sku"]')
	if (( k <= 3 )); then
		[[ $g == gf-stk ]] || fail "order $k (gift stock left) got no gift: $out"
		gifted=$((gifted + 1))
	else
		[[ -z $g ]] || fail "order $k got a gift with no gift stock: $out"
	fi
done
# A repeat buyer is not a first-time buyer.
out=$(order d-repeat gift-buyer-1 rules-d pub gf-tee 1)
[[ $(jget "$out" 'j["status"]') == ACCEPTED && -z $(jget "$out" 'j["gift_sku"]') ]] || fail "repeat buyer: $out"
[[ $(stock_field london gf-stk allocated) == 3 ]] || fail "gift allocated $(stock_field london gf-stk allocated), want 3"
[[ $(stock_field london gf-stk sellable) == 0 ]] || fail "gift sellable not 0"
[[ $(drop_field rules-d gifts_given) == 3 ]] || fail "gifts_given $(drop_field rules-d gifts_given), want 3"
gift_in_queue() {
	local q
	q=$(pt london --json queue) || return 1
	python3 -c 'import json,sys
o = [o for o in json.loads(sys.argv[1])["orders"] if o["order_key"] == "d-1"]
sys.exit(0 if o and any(l.get("gift") and l["sku"] == "gf-stk" for l in o[0]["lines"]) else 1)' "$q"
}
wait_until 10 "order d-1 in london's queue with its gift line" gift_in_queue
ok "gift for the first 3 first-time buyers (3 in stock), then orders go through without one; pick queue shows the gift line"
audit_ok "gifts"

# ---- E: expiring holds ------------------------------------------------------
NOW=$(clock_now)
dc drop create --id rules-e --sku ho-tee:2 --placement london:2 --tier "pub:$NOW:+1h" >/dev/null || fail "create rules-e"
receive_and_wait london ho-tee 2
dc drop open rules-e >/dev/null || fail "open rules-e"
out=$(order e-hold holder rules-e pub ho-tee 2 --hold 60)
[[ $(jget "$out" 'j["status"]') == HELD ]] || fail "hold: $out"
exp=$(jget "$out" 'j["hold_expires_ms"]')
(( exp >= NOW + 60000 && exp <= NOW + 90000 )) || fail "hold_expires_ms $exp not ~60 s after $NOW"
expect SOLD_OUT e-while-held buyer-x rules-e pub ho-tee 1
[[ $(stock_field london ho-tee sellable) == 0 ]] || fail "held units still sellable"
clock_set $((exp + 1))
order_status() { jget "$(dc --json order show "$1")" 'j["order"]["status"]'; }
status_is() { [[ $(order_status "$1") == "$2" ]]; }
wait_until 10 "hold e-hold lapses" status_is e-hold EXPIRED
[[ $(stock_field london ho-tee sellable) == 2 ]] || fail "lapsed units not back: sellable $(stock_field london ho-tee sellable)"
out=$(dc --json order confirm --key e-hold)
[[ $(jget "$out" 'j["status"]') == EXPIRED ]] || fail "confirm after lapse: $out"
expect ACCEPTED e-again-1 buyer-1 rules-e pub ho-tee 1
expect ACCEPTED e-again-2 buyer-2 rules-e pub ho-tee 1
expect SOLD_OUT e-again-3 buyer-3 rules-e pub ho-tee 1
[[ $(stock_field london ho-tee allocated) == 2 ]] || fail "allocated $(stock_field london ho-tee allocated), want 2 (sold again exactly once)"
out=$(dc --json order confirm --key e-hold)
[[ $(jget "$out" 'j["status"]') == EXPIRED ]] || fail "second confirm: $out"
ok "lapsed hold: units back to sale once, sold again exactly once (2 of 2), late confirm EXPIRED"
receive_and_wait london ho-tee 1 3
out=$(order e-hold2 holder2 rules-e pub ho-tee 1 --hold 60)
[[ $(jget "$out" 'j["status"]') == HELD ]] || fail "hold 2: $out"
[[ $(stock_field london ho-tee sellable) == 0 ]] || fail "hold 2 did not take the unit"
out=$(dc --json order release --key e-hold2)
[[ $(jget "$out" 'j["status"]') == EXPIRED ]] || fail "release: $out"
[[ $(stock_field london ho-tee sellable) == 1 ]] || fail "released unit not back"
out=$(order e-hold3 holder3 rules-e pub ho-tee 1 --hold 60)
out=$(dc --json order confirm --key e-hold3)
[[ $(jget "$out" 'j["status"]') == ACCEPTED ]] || fail "confirm in time: $out"
[[ $(stock_field london ho-tee allocated) == 3 ]] || fail "allocated after confirm $(stock_field london ho-tee allocated), want 3"
ok "release gives the unit back at once; a confirm in time is ACCEPTED"
audit_ok "holds"

# ---- F: a drop closed mid-flight -------------------------------------------
NOW=$(clock_now)
dc drop create --id rules-f --sku cl-tee:300 --placement london:300 --tier "pub:$NOW:+1h" >/dev/null || fail "create rules-f"
receive_and_wait london cl-tee 300
dc drop open rules-f >/dev/null || fail "open rules-f"
"$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 400 --concurrency 8 --sku cl-tee --qty 1 \
	--drop rules-f --tier pub --ship-to 51.5007,-0.1246 --duration-s 4 --burst-tau-s 8 \
	--key-prefix close --json >"$T/close.json" 2>"$T/close.err" &
LG_PID=$!
NET_BG_PIDS+=("$LG_PID")
some_sold() { (( $(drop_field rules-f accepted_orders) >= 20 )); }
wait_until 20 "20 orders accepted in rules-f" some_sold
dc drop close rules-f >/dev/null || fail "close rules-f"
at_close=$(drop_field rules-f accepted_orders)
wait "$LG_PID" || fail "loadgen failed: $(cat "$T/close.err")"
lg=$(cat "$T/close.json")
log "loadgen: $lg"
acc=$(jget "$lg" 'j["accepted"]'); closed=$(jget "$lg" 'j["by_status"].get("CLOSED", 0)')
(( acc + closed == 400 )) || fail "accepted $acc + CLOSED $closed != 400: $lg"
(( closed > 0 && acc < 300 )) || fail "the close came too late to test anything: $lg"
# Orders in flight at the close may land just before it; none after it.
(( acc >= at_close && acc <= at_close + 8 )) || fail "accepted $acc, $at_close at the close (8 in flight at most)"
[[ $(drop_field rules-f accepted_orders) == "$acc" ]] || fail "drop counts $(drop_field rules-f accepted_orders), loadgen $acc"
[[ $(stock_field london cl-tee allocated) == "$acc" ]] || fail "allocated $(stock_field london cl-tee allocated) != accepted $acc"
expect CLOSED f-after cust-f rules-f pub cl-tee 1
[[ $(drop_field rules-f state) == closed ]] || fail "rules-f not closed"
set +e
dc drop open rules-f >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 1 ]] || fail "re-opening a closed drop: exit $rc, want 1 (CONFLICT)"
ok "closed mid-flight: $acc accepted ($at_close at the close), $closed CLOSED, ledger matches; closed stays closed"
audit_ok "close mid-flight"
