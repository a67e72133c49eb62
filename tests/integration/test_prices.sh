#!/usr/bin/env bash
# Goal: prices over a real network (issue 12), coordinator with
# coordinator.test_clock = 1 and hubs london and leeds, time moved by
# `dropctl clock set`:
#   A a priced drop is created from flags and `drop show` shows its prices,
#     bounds and currency; prices that break their bounds are refused;
#   B the early bird price in the tier's first minutes, then the base;
#   C quote -> order with its token at the quoted price (rule "quote") even
#     after the price moved; a lapsed token and a tampered one pay the
#     current price; a token is the customer's own;
#   D a retry with the same key returns the first price, after it moved;
#   E a live price starts when set and ends on time (test clock), is
#     refused outside floor..ceiling, and `--end` ends it at once;
#   F the last units are priced by their rule;
#   G an unknown drop or a bad field gets a clear status; an address out
#     of every hub's range is SOLD_OUT_HERE. (That a quote writes nothing
#     is tests/machine/test_prices.c's: hubs write the file all the time);
#   H money KPIs: revenue, units and AOV per tier and hub add up to the acks;
#   I a price experiment: arms within the bounds only, a buyer sticks to one
#     arm from quote to order, exposures and outcomes counted, the readout
#     says "not significant yet" on a handful, stop returns the base price.
#     (The 50/50 split over 10,000 customers is tests/machine/test_prices.c's
#     and tests/unit/test_experiment.c's: 10,000 TLS quotes take minutes.)
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london leeds" --coord-set coordinator.test_clock=1

LON=(--lat 51.5007 --lon -0.1246)
clock_now() { jget "$(dc --json clock)" 'j["clock_ms"]'; }
clock_set() { dc clock set "$1" >/dev/null || fail "clock set $1"; }
# order KEY CUSTOMER SKU QTY [flags] -> the ack JSON
order() {
	local key=$1 cust=$2 sku=$3 qty=$4; shift 4
	dc --json order submit --key "$key" --customer "$cust" --drop px --tier public \
		--sku "$sku" --qty "$qty" "${LON[@]}" "$@"
}
# price_of ACK_JSON -> "STATUS UNIT RULE TOTAL CURRENCY"
price_of() {
	jget "$1" '"%s %s %s %s %s" % (j["status"], j["prices"][0]["unit_minor"] if j["prices"] else "-", j["prices"][0]["rule"] if j["prices"] else "-", j["total_minor"], j["currency"])'
}
expect_price() { # want ACK_JSON what
	local got; got=$(price_of "$2")
	[[ $got == "$1" ]] || fail "$3: want '$1', got '$got' ($2)"
}
quote() { # CUSTOMER SKU -> quote JSON
	dc --json quote --customer "$1" --drop px --tier public --sku "$2" "${LON[@]}"
}

# ---- A: a priced drop ---------------------------------------------------------
T0=$(clock_now)
OPENS=$((T0 + 60000)); CLOSES=$((T0 + 86400000))
out=$(dc drop create --id bad-px --sku bx-tee:5 --placement london:5 \
	--tier "public:$OPENS:$CLOSES" --currency GBP --price bx-tee:public:6000 \
	--bounds bx-tee:6500:9000 2>&1) && fail "price below its floor accepted: $out"
[[ $out == *"within floor and ceiling"* ]] || fail "bad bounds refused without the reason: $out"
out=$(dc drop create --id bad-px2 --sku bx-tee:5 --placement london:5 \
	--tier "public:$OPENS:$CLOSES" --price bx-tee:public:6000 2>&1) && fail "prices without a currency accepted"
[[ $out == *currency* ]] || fail "missing currency refused without the reason: $out"
ok "prices outside their bounds, or without a currency, are refused with the reason"

dc drop create --id px --sku px-hoodie:40 --placement london:40 \
	--sku px-cap:10 --placement london:10 \
	--tier "public:$OPENS:$CLOSES" --currency GBP \
	--price px-hoodie:public:6000 --bounds px-hoodie:4500:9000 \
	--rule px-hoodie:early_bird:30:10 \
	--price px-cap:public:2000 --bounds px-cap:2000:3000 \
	--rule px-cap:last_units:3:50 >"$T/create.out" 2>&1 || fail "create px: $(cat "$T/create.out")"
show=$(dc --json drop show px)
[[ $(jget "$show" 'j["drop"]["currency"]') == GBP ]] || fail "currency not shown: $show"
[[ $(jget "$show" '[s for s in j["drop"]["skus"] if s["sku"]=="px-hoodie"][0]["prices"]["public"]') == 6000 ]] || fail "price not shown: $show"
[[ $(jget "$show" '[s for s in j["drop"]["skus"] if s["sku"]=="px-hoodie"][0]["floor_minor"]') == 4500 ]] || fail "floor not shown"
[[ $(jget "$show" '[s for s in j["drop"]["skus"] if s["sku"]=="px-cap"][0]["last_units_pct"]') == 50 ]] || fail "rule not shown"
dc drop show px | grep -q "^prices (GBP" || fail "drop show has no prices table"
receive_and_wait london px-hoodie 40
receive_and_wait london px-cap 10
dc drop open px >/dev/null || fail "open px"
ok "drop show: prices, bounds, rules, currency"

# ---- B: early bird, then base --------------------------------------------------
clock_set "$OPENS"
expect_price "ACCEPTED 5400 early_bird 5400 GBP" "$(order b-1 bea px-hoodie 1)" "early bird"
# Quotes 5 minutes before the early bird ends: their tokens (10 minutes,
# prices.quote_ttl_ms) outlive the early-bird price.
clock_set $((OPENS + 25 * 60000))
q=$(quote carol px-hoodie)
[[ $(jget "$q" 'j["status"]') == OK && $(jget "$q" 'j["prices"][0]["unit_minor"]') == 5400 ]] || fail "early quote: $q"
[[ $(jget "$q" 'j["prices"][0]["availability"]') == IN_STOCK ]] || fail "availability: $q"
TOKEN=$(jget "$q" 'j["prices"][0]["token"]')
q2=$(quote dave px-hoodie)
TOKEN_DAVE=$(jget "$q2" 'j["prices"][0]["token"]')
q3=$(quote erin px-hoodie)
TOKEN_ERIN=$(jget "$q3" 'j["prices"][0]["token"]')
EXPIRES_ERIN=$(jget "$q3" 'j["prices"][0]["expires_ms"]')
clock_set $((OPENS + 30 * 60000))
expect_price "ACCEPTED 6000 base 12000 GBP" "$(order b-2 bea px-hoodie 2)" "after the early bird"
ok "early bird for the first 30 minutes (5400), then the base price (6000)"

# ---- C: price locks -------------------------------------------------------------
first=$(order c-1 carol px-hoodie 1 --token "px-hoodie:$TOKEN")
expect_price "ACCEPTED 5400 quote 5400 GBP" "$first" "quoted price after the price moved"
expect_price "ACCEPTED 6000 base 6000 GBP" "$(order c-2 carol px-hoodie 1 --token "px-hoodie:$TOKEN_DAVE")" \
	"another customer's token"
TAMPERED=$(echo "$TOKEN_DAVE" | sed 's/^1\.5400\./1.4600./')
[[ $TAMPERED != "$TOKEN_DAVE" ]] || fail "token format changed: $TOKEN_DAVE"
expect_price "ACCEPTED 6000 base 6000 GBP" "$(order c-3 dave px-hoodie 1 --token "px-hoodie:$TAMPERED")" "tampered token"
clock_set "$EXPIRES_ERIN"
expect_price "ACCEPTED 6000 base 6000 GBP" "$(order c-4 erin px-hoodie 1 --token "px-hoodie:$TOKEN_ERIN")" "lapsed token"
grep -q "price.quote_refused.*why=lapsed" "$NET_DIR/log/coordinator.log" || fail "lapsed token not logged"
grep -q "price.quote_refused.*why=invalid" "$NET_DIR/log/coordinator.log" || fail "tampered token not logged"
# /metrics: another buyer's and the tampered token invalid, erin's lapsed.
tokens_counted() {
	scrape "$DROPNET_METRICS" >"$T/m-tokens.txt" &&
		[[ $(metric "$T/m-tokens.txt" dropnet_quote_tokens_refused_total why=invalid) == 2 ]] &&
		[[ $(metric "$T/m-tokens.txt" dropnet_quote_tokens_refused_total why=lapsed) == 1 ]]
}
wait_until 10 "dropnet_quote_tokens_refused_total invalid 2, lapsed 1" tokens_counted
ok "a valid token pays the quote (5400 after the move); tampered, lapsed or another buyer's pays 6000"

# ---- D: a retry keeps its first price ----------------------------------------
again=$(order c-1 carol px-hoodie 1 --token "px-hoodie:$TOKEN")
[[ $(jget "$again" 'str(j["duplicate"]).lower()') == true ]] || fail "retry not a duplicate: $again"
expect_price "ACCEPTED 5400 quote 5400 GBP" "$again" "retry after the token lapsed"
ok "a retry returns the first price (5400) though the token has lapsed and the price is 6000"

# ---- E: live price --------------------------------------------------------------
out=$(dc price live --drop px --sku px-hoodie --price 100 --minutes 5 2>&1) && fail "live below floor accepted"
[[ $out == *"floor and ceiling"* ]] || fail "live below floor refused without reason: $out"
L0=$(clock_now)
dc price live --drop px --sku px-hoodie --price 5000 --minutes 5 >/dev/null || fail "price live"
expect_price "ACCEPTED 5000 live 5000 GBP" "$(order e-1 frank px-hoodie 1)" "live price"
[[ $(jget "$(dc --json price show --drop px)" '[p for p in j["prices"] if p["sku"]=="px-hoodie"][0]["rule"]') == live ]] || fail "price show without live"
clock_set $((L0 + 5 * 60000 - 2000))
expect_price "ACCEPTED 5000 live 5000 GBP" "$(order e-2 frank px-hoodie 1)" "live price 2 s before its end"
clock_set $((L0 + 5 * 60000 + 1000))
expect_price "ACCEPTED 6000 base 6000 GBP" "$(order e-3 frank px-hoodie 1)" "after the live price"
dc price live --drop px --sku px-hoodie --price 7000 --minutes 60 >/dev/null || fail "price live 2"
expect_price "ACCEPTED 7000 live 7000 GBP" "$(order e-4 gina px-hoodie 1)" "second live price"
dc price live --drop px --sku px-hoodie --end >/dev/null || fail "price live --end"
expect_price "ACCEPTED 6000 base 6000 GBP" "$(order e-5 gina px-hoodie 1)" "after --end"
ok "live price: refused below the floor; on from when set, still on 2 s before its end, off after; --end ends it"

# ---- F: last units ----------------------------------------------------------------
expect_price "ACCEPTED 2000 base 14000 GBP" "$(order f-1 hal px-cap 7)" "cap with 10 left"
expect_price "ACCEPTED 3000 last_units 3000 GBP" "$(order f-2 hal px-cap 1)" "cap with 3 left"
ok "last units: base while more than 3 are left, +50% for the last 3"

# ---- G: quotes write nothing; refusals ----------------------------------------
for i in 1 2 3 4 5; do
	[[ $(jget "$(quote "ivan$i" px-hoodie)" 'j["status"]') == OK ]] || fail "quote $i"
done
q=$(dc --json quote --customer zed --drop nope --tier public --sku px-cap "${LON[@]}") && fail "unknown drop quoted"
[[ $(jget "$q" 'j["status"]') == NOT_FOUND ]] || fail "unknown drop: $q"
q=$(dc --json quote --customer zed --drop px --tier public --sku px-cap --lat 91 --lon 0) && fail "bad lat quoted"
[[ $(jget "$q" 'j["status"]') == INVALID && $(jget "$q" 'j["field"]') == lat ]] || fail "bad lat: $q"
q=$(dc --json quote --customer zed --drop px --tier public --sku px-cap --lat 55.95 --lon -3.19)
[[ $(jget "$q" 'j["prices"][0]["availability"]') == SOLD_OUT_HERE ]] || fail "Edinburgh should be out of range: $q"
# /metrics: carol's, dave's, erin's, ivan1..5's and Edinburgh's quotes OK.
quotes_counted() {
	scrape "$DROPNET_METRICS" >"$T/m-quotes.txt" &&
		[[ $(metric "$T/m-quotes.txt" dropnet_quotes_total status=OK) == 9 ]] &&
		[[ $(metric "$T/m-quotes.txt" dropnet_quotes_total status=NOT_FOUND) == 1 ]] &&
		[[ $(metric "$T/m-quotes.txt" dropnet_quotes_total status=INVALID) == 1 ]]
}
wait_until 10 "dropnet_quotes_total OK 9, NOT_FOUND 1, INVALID 1" quotes_counted
ok "quotes answer OK; unknown drop NOT_FOUND, bad lat INVALID, out of range SOLD_OUT_HERE; all counted"

# ---- H: money KPIs ---------------------------------------------------------------
# Every accepted order above: 5400 + 12000 + 5400 + 3 x 6000 + 2 x 5000 +
# 6000 + 7000 + 6000 + 14000 + 3000 = 86800 over 13 orders of 20 units.
k=$(dc --json kpi --drop px)
[[ $(jget "$k" 'j["kpi"]["revenue_minor"]') == 86800 ]] || fail "revenue: $k"
[[ $(jget "$k" 'j["kpi"]["currency"]') == GBP ]] || fail "kpi currency: $k"
row=$(jget "$k" '"%(key)s %(orders)d %(units)d %(revenue_minor)d %(aov_minor)d" % j["kpi"]["money_by_tier"][0]')
[[ $row == "public 13 20 86800 6676" ]] || fail "money by tier: $row"
row=$(jget "$k" '"%(key)s %(revenue_minor)d" % j["kpi"]["money_by_hub"][0]')
[[ $row == "london 86800" ]] || fail "money by hub: $row"
# Every order came from London, nearest to the london hub: its region.
row=$(jget "$k" '" ".join("%(key)s %(orders)d %(units)d %(revenue_minor)d" % r for r in j["kpi"]["money_by_region"])')
[[ $row == "london 13 20 86800" ]] || fail "money by region: $row"
dc kpi --drop px | grep -q "^revenue *86800 GBP" || fail "kpi text has no revenue"
dc kpi --drop px | grep -Eq "^region +london +13 +20 +86800 +6676" || fail "kpi text has no region row"
ok "kpi: revenue 86800 GBP; public tier 13 orders, 20 units, AOV 6676; london 86800 by hub and by region"

# ---- I: a price experiment ------------------------------------------------------
dc drop create --id pe --sku pe-tee:100 --placement london:100 \
	--tier "public:$(clock_now):+1d" --currency GBP --price pe-tee:public:6000 \
	--bounds pe-tee:4000:8000 >/dev/null || fail "create pe"
receive_and_wait london pe-tee 100
dc drop open pe >/dev/null || fail "open pe"
out=$(dc experiment create --id pe-x --drop pe --sku pe-tee --arm low:5000 --arm high:9000 2>&1) &&
	fail "arm above the ceiling accepted"
[[ $out == *"floor and ceiling"* ]] || fail "arm above ceiling refused without reason: $out"
dc experiment create --id pe-x --drop pe --sku pe-tee --arm low:5000 --arm high:7000 >/dev/null ||
	fail "experiment create"
declare -A ARM
for i in 1 2 3 4 5 6 7 8; do
	q=$(dc --json quote --customer "ex$i" --drop pe --tier public --sku pe-tee "${LON[@]}")
	ARM[ex$i]=$(jget "$q" '"%s %s" % (j["prices"][0]["arm"], j["prices"][0]["unit_minor"])')
	[[ ${ARM[ex$i]} == "low 5000" || ${ARM[ex$i]} == "high 7000" ]] || fail "quote arm: $q"
	q=$(dc --json quote --customer "ex$i" --drop pe --tier public --sku pe-tee "${LON[@]}")
	[[ $(jget "$q" '"%s %s" % (j["prices"][0]["arm"], j["prices"][0]["unit_minor"])') == "${ARM[ex$i]}" ]] ||
		fail "ex$i changed arm between quotes"
done
for i in 1 2 3; do
	a=$(dc --json order submit --key "pe-$i" --customer "ex$i" --drop pe --tier public \
		--sku pe-tee --qty 1 "${LON[@]}")
	[[ $(jget "$a" '"%s %s" % (j["prices"][0]["arm"], j["prices"][0]["unit_minor"])') == "${ARM[ex$i]}" ]] ||
		fail "ex$i's order left its arm: $a"
done
x=$(dc --json experiment show pe-x)
[[ $(jget "$x" 'sum(a["exposures"] for a in j["experiment"]["arms"])') == 16 ]] || fail "exposures: $x"
[[ $(jget "$x" 'sum(a["orders"] for a in j["experiment"]["arms"])') == 3 ]] || fail "orders: $x"
[[ $(jget "$x" 'j["experiment"]["verdict"]') == "not significant yet"* ]] || fail "verdict: $x"
dc experiment show pe-x | grep -q "^readout *not significant yet" || fail "experiment show text"
dc experiment stop pe-x >/dev/null || fail "experiment stop"
[[ $(jget "$(dc --json experiment show pe-x)" 'j["experiment"]["state"]') == stopped ]] || fail "not stopped"
q=$(dc --json quote --customer ex1 --drop pe --tier public --sku pe-tee "${LON[@]}")
[[ $(jget "$q" '"%s %s" % (j["prices"][0]["arm"], j["prices"][0]["unit_minor"])') == " 6000" ]] || fail "after stop: $q"
ok "experiment: arms within bounds only; a buyer keeps one arm from quote to quote to order; 16 exposures, 3 orders, not significant yet; stopped -> base price"

# Money per arm in `kpi`: what each arm earned from the experiment's SKU,
# from the acks above (ex1..ex3 ordered one unit each at their arm's price).
LOW_N=0; HIGH_N=0
for i in 1 2 3; do [[ ${ARM[ex$i]} == "low 5000" ]] && LOW_N=$((LOW_N + 1)) || HIGH_N=$((HIGH_N + 1)); done
k=$(dc --json kpi --drop pe)
row=$(jget "$k" '" ".join("%(key)s %(orders)d %(units)d %(revenue_minor)d" % r for r in j["kpi"]["money_by_arm"])')
[[ $row == "pe-x/low $LOW_N $LOW_N $((LOW_N * 5000)) pe-x/high $HIGH_N $HIGH_N $((HIGH_N * 7000))" ]] \
	|| fail "money by arm (low $LOW_N, high $HIGH_N): $row"
[[ $(jget "$k" 'sum(r["exposures"] for r in j["kpi"]["money_by_arm"])') == 16 ]] || fail "arm exposures: $k"
[[ $(jget "$k" '" ".join("%(key)s %(revenue_minor)d" % r for r in j["kpi"]["money_by_region"])') == "london $((LOW_N * 5000 + HIGH_N * 7000))" ]] \
	|| fail "pe money by region: $k"
dc kpi --drop pe | grep -Eq "^arm +pe-x/low +$LOW_N +$LOW_N +$((LOW_N * 5000)) " || fail "kpi text has no arm row: $(dc kpi --drop pe)"
ok "kpi per arm: low $LOW_N orders at 5000, high $HIGH_N at 7000, 16 exposures; per region london"

audit_clean || fail "audit: $(dc audit 2>&1)"
ok "audit clean"
