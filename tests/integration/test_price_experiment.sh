#!/usr/bin/env bash
# Goal: a price experiment read out from simulated buyers (issue 12), over
# a real network (coordinator, hub london): loadgen's buyers have a
# willingness to pay ~ normal(60.00, 10.00) GBP (seeded), quote, and buy
# with the quote's token only when the price is at most that.
#   A arms 50.00 / 70.00, 800 buyers: the true revenue per exposure is
#     ~42.1 vs ~11.1 (84% vs 16% buy); the readout names the 50.00 arm,
#     significantly, and its interval lies above the other's;
#   B arms 60.00 / 60.00 (no true difference), 800 buyers: the readout
#     says "not significant yet";
#   C the counts add up: exposures = buyers quoted, orders = loadgen's
#     accepted, revenue = loadgen's revenue.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
net_start "london"

run_experiment() { # drop arm_a arm_b seed -> prints loadgen's JSON
	local drop=$1 a=$2 b=$3 seed=$4
	dc drop create --id "$drop" --sku "$drop-tee:2000" --placement london:2000 \
		--tier "public:now:+1d" --currency GBP --price "$drop-tee:public:6000" \
		--bounds "$drop-tee:4000:8000" >/dev/null || fail "create $drop"
	receive_and_wait london "$drop-tee" 2000
	dc drop open "$drop" >/dev/null || fail "open $drop"
	dc experiment create --id "$drop-x" --drop "$drop" --sku "$drop-tee" \
		--arm "a:$a" --arm "b:$b" >/dev/null || fail "experiment $drop"
	"$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 800 --concurrency 8 --sku "$drop-tee" \
		--drop "$drop" --tier public --ship-to 51.50,-0.12 --seed "$seed" \
		--key-prefix "$drop-" --wtp 6000:1000 --json
}

lg=$(run_experiment pa 5000 7000 11) || fail "loadgen pa: $lg"
x=$(dc --json experiment show pa-x)
log "readout: $(jget "$x" 'j["experiment"]["verdict"]')"
[[ $(jget "$x" 'str(j["experiment"]["significant"]).lower()') == true ]] || fail "not significant: $x"
[[ $(jget "$x" 'j["experiment"]["best_arm"]') == a ]] || fail "wrong arm: $x"
[[ $(jget "$x" 'j["experiment"]["verdict"]') == "arm a earns more per exposure than arm b"* ]] || fail "verdict: $x"
[[ $(jget "$x" 'str(j["experiment"]["arms"][0]["rpe_lo"] > j["experiment"]["arms"][1]["rpe_hi"]).lower()') == true ]] ||
	fail "intervals overlap: $x"
ok "A: 50.00 vs 70.00 with WTP ~ N(60, 10): the readout names arm a (50.00), significantly"

[[ $(jget "$x" 'sum(a["exposures"] for a in j["experiment"]["arms"])') == 800 ]] || fail "exposures: $x"
[[ $(jget "$lg" 'j["quotes"]') == 800 ]] || fail "loadgen quotes: $lg"
[[ $(jget "$x" 'sum(a["orders"] for a in j["experiment"]["arms"])') == $(jget "$lg" 'j["accepted"]') ]] ||
	fail "orders vs loadgen accepted: $x / $lg"
[[ $(jget "$x" 'sum(a["revenue_minor"] for a in j["experiment"]["arms"])') == $(jget "$lg" 'j["revenue_minor"]') ]] ||
	fail "revenue vs loadgen: $x / $lg"
[[ $(( $(jget "$lg" 'j["accepted"]') + $(jget "$lg" 'j["declined"]') )) == 800 ]] || fail "accepted + declined: $lg"
# /metrics counts the same per arm as the readout, and loadgen's quotes.
arms_counted() {
	scrape "$DROPNET_METRICS" >"$T/m-arms.txt" || return 1
	[[ $(metric "$T/m-arms.txt" dropnet_quotes_total status=OK) == 800 ]] || return 1
	local k arm
	for k in 0 1; do
		arm=$(jget "$x" "j['experiment']['arms'][$k]['name']")
		[[ $(metric "$T/m-arms.txt" dropnet_experiment_exposures_total experiment=pa-x "arm=$arm") == \
			$(jget "$x" "j['experiment']['arms'][$k]['exposures']") ]] || return 1
		[[ $(metric "$T/m-arms.txt" dropnet_experiment_outcomes_total experiment=pa-x "arm=$arm") == \
			$(jget "$x" "j['experiment']['arms'][$k]['orders']") ]] || return 1
	done
}
wait_until 10 "/metrics' exposures and outcomes per arm to equal the readout's" arms_counted
ok "C: 800 exposures; orders and revenue per arm add up to loadgen's accepted and revenue; /metrics agrees"

lg=$(run_experiment pb 6000 6000 12) || fail "loadgen pb: $lg"
x=$(dc --json experiment show pb-x)
log "readout: $(jget "$x" 'j["experiment"]["verdict"]')"
[[ $(jget "$x" 'str(j["experiment"]["significant"]).lower()') == false ]] || fail "equal arms significant: $x"
[[ $(jget "$x" 'j["experiment"]["verdict"]') == "not significant yet"* ]] || fail "verdict: $x"
ok "B: equal arms: not significant yet"
audit_clean || fail "audit: $(dc audit 2>&1)"
ok "audit clean"
