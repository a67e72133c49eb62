#!/usr/bin/env bash
# Goal: micro-gift lines in the real full-screen terminal. A drop with a
# first-order gift makes the coordinator add a GIFT line to the order: the
# hub's queue (its own socket and the screen) and the pick walk show it as
# GIFT, the gift line (bin MAIN) is picked by SKU alone, and pack refuses to
# close the parcel (WRONG_SCAN naming the gift) until the gift is scanned
# too; then it ships. Claim and ship are logged with the operator.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london" --coord-set coordinator.test_clock=1
NOW=$(jget "$(dc --json clock)" 'j["clock_ms"]')
dc drop create --id gw --sku gw-tee:10 --placement london:10 --tier "pub:$NOW:+1h" \
	--gift gw-stk:first_order >/dev/null || fail "create drop"
pt london receive gw-tee 10 --bin A-01 >/dev/null || fail "receive gw-tee"
receive_and_wait london gw-stk 5
wait_until 20 "coordinator sees gw-tee" stock_is london gw-tee on_hand 10
dc drop open gw >/dev/null || fail "open drop"
out=$(dc --json order submit --key gift-1 --customer first-timer --drop gw --tier pub --sku gw-tee --qty 1 --lat 51.5 --lon -0.12)
[[ $(jget "$out" 'j["status"]') == ACCEPTED && $(jget "$out" 'j["gift_sku"]') == gw-stk ]] || fail "no gift: $out"
wait_until 10 "gift-1 at the hub" in_hub_queue gift-1
id=$(order_id_of gift-1)

term_start a alice
[[ $(jget "$(hubq)" '[l["gift"] for o in j["orders"] if o["order_id"] == '"$id"' for l in o["lines"] if l["sku"] == "gw-stk"][0]') == true ]] || fail "hub queue has no gift line"
wait_screen 10 a "gift-1 .*GIFT gw-stk"
shot a 50-queue-gift
ok "the hub's queue and the screen show the GIFT line"

key a n
wait_screen 5 a "order $id: scan bin A-01"
wait_screen 5 a "MAIN +GIFT gw-stk"
shot a 52-pick-gift
scan a A-01
scan a gw-tee
wait_screen 5 a "order $id: scan sku GIFT gw-stk"
scan a gw-stk
wait_screen 5 a "order $id: scan each line into the parcel"
scan a gw-tee
wait_screen 5 a '\[ \] GIFT gw-stk x1'
key a p
wait_screen 5 a '! pack order [0-9]+ refused: WRONG_SCAN pack: GIFT gw-stk x1 not confirmed'
shot a 53-pack-gift-missing
[[ $(jget "$(hubq)" '[o["state"] for o in j["orders"] if o["order_id"] == '"$id"'][0]') == picked ]] || fail "packed without the gift"
scan a gw-stk
wait_screen 5 a "order $id: scan or type the tracking number"
scan a TRK-GIFT
wait_screen 5 a "order $id shipped"
ok "gift line walked, pack refused until the gift was scanned, shipped"

for ev in hub.claimed hub.shipped; do
	grep -q "$ev .*operator=alice" "$NET_DIR/log/london.log" || fail "no $ev with operator=alice in hubd's log"
done
audit_clean || fail "audit"
ok "claim and ship logged with operator=alice; audit clean"
