#!/usr/bin/env bash
# Goal: the whole flow by hand on a real network (coordinator + hub london):
# pickterm receives stock, dropctl submits an order, the order appears once in
# the hub's pick queue, a wrong scan is refused (exit 1, WRONG_SCAN) and
# changes nothing, the right scans pick it, ship with tracking; the
# coordinator's ledger sees on_hand and allocated move at each step, and
# `dropctl order show` records picked/shipped times and time_to_fulfil_ms.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london"

SKU=flow-tee
receive_and_wait london "$SKU" 10
receive_and_wait london other-sku 5
[[ $(stock_field london "$SKU" allocated) == 0 ]] || fail "fresh stock already allocated"
ok "received 10 $SKU, coordinator sees on_hand=10"

# An order from central London (Westminster) for 2 units.
out=$(dc --json order submit --key flow-1 --customer alice --sku "$SKU" --qty 2 --lat 51.4995 --lon -0.1248)
[[ $(jget "$out" 'j["status"]') == ACCEPTED ]] || fail "submit: $out"
[[ $(jget "$out" 'j["hub"]') == london ]] || fail "submit not at london: $out"
ok "order accepted at london"
[[ $(stock_field london "$SKU" allocated) == 2 ]] || fail "allocated did not move to 2"
[[ $(stock_field london "$SKU" on_hand) == 10 ]] || fail "on_hand moved on accept"
[[ $(stock_field london "$SKU" sellable) == 8 ]] || fail "sellable not 8"
ok "ledger: on_hand 10, allocated 2, sellable 8"

# The command stream delivers it to the hub's queue.
in_queue() {
	local q
	q=$(pt london --json queue) || return 1
	python3 -c 'import json,sys
o = [o for o in json.loads(sys.argv[1])["orders"] if o["order_key"] == "flow-1"]
sys.exit(0 if len(o) == 1 else 1)' "$q"
}
wait_until 10 "order flow-1 in london's queue" in_queue
q=$(pt london --json queue)
oid=$(jget "$q" '[o for o in j["orders"] if o["order_key"] == "flow-1"][0]["order_id"]')
line=$(jget "$q" '[o for o in j["orders"] if o["order_key"] == "flow-1"][0]["lines"][0]')
[[ $(jget "$line" 'j["sku"]') == "$SKU" && $(jget "$line" 'j["qty"]') == 2 ]] || fail "queue line wrong: $line"
ok "queue shows order $oid with 2 x $SKU"

# A wrong scan refuses the whole request and records nothing.
set +e
msg=$(pt london pick "$oid" --scan "$SKU" --scan other-sku 2>&1)
rc=$?
set -e
[[ $rc == 1 ]] || fail "wrong scan exit $rc (want 1): $msg"
echo "$msg" | grep -q WRONG_SCAN || fail "wrong scan did not say WRONG_SCAN: $msg"
q=$(pt london --json queue)
picked=$(jget "$q" '[o for o in j["orders"] if o["order_key"] == "flow-1"][0]["lines"][0]["picked"]')
[[ $picked == 0 ]] || fail "refused pick still counted $picked units"
ok "wrong scan refused (exit 1, WRONG_SCAN), nothing picked"

# Shipping before picking is a conflict.
set +e
pt london ship "$oid" >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || fail "ship before pick exit $rc (want 1)"

pt london pick "$oid" --scan "$SKU" >/dev/null || fail "first scan"
pt london pick "$oid" --scan "$SKU" >/dev/null || fail "second scan"
q=$(pt london --json queue)
state=$(jget "$q" '[o["state"] for o in j["orders"] if o["order_key"] == "flow-1"][0]')
[[ $state == picked ]] || fail "state after scans $state (want picked)"
ok "two right scans: order picked"

pt london ship "$oid" --tracking TRK-FLOW-1 >/dev/null || fail "ship"
ok "shipped with tracking"

wait_until 10 "coordinator sees on_hand 8 after ship" stock_is london "$SKU" on_hand 8
[[ $(stock_field london "$SKU" allocated) == 0 ]] || fail "allocated not back to 0 after ship"
[[ $(stock_field london "$SKU" shipped) == 2 ]] || fail "shipped not 2"
[[ $(stock_field london "$SKU" sellable) == 8 ]] || fail "sellable not 8 after ship"
ok "ledger after ship: on_hand 8, allocated 0, shipped 2"

show=$(dc --json order show flow-1)
python3 - "$show" <<'PY' || fail "order show: $show"
import json, sys
o = json.loads(sys.argv[1])["order"]
assert o["status"] == "ACCEPTED", o
assert o["hub"] == "london", o
assert o["received_ms"] > 0 and o["picked_ms"] >= o["received_ms"], o
assert o["shipped_ms"] >= o["picked_ms"], o
assert o["time_to_fulfil_ms"] == o["shipped_ms"] - o["received_ms"], o
assert o.get("tracking", "TRK-FLOW-1") == "TRK-FLOW-1", o
PY
ok "order show: received <= picked <= shipped, time_to_fulfil_ms recorded"

# The shipped order has left the hub's queue.
q=$(pt london --json queue)
[[ $(jget "$q" 'len([o for o in j["orders"] if o["order_key"] == "flow-1"])') == 0 ]] || fail "shipped order still queued"
# pickterm's own stock agrees with the coordinator.
hs=$(pt london --json stock)
[[ $(jget "$hs" '[s["on_hand"] for s in j["stock"] if s["sku"] == "'"$SKU"'"][0]') == 8 ]] || fail "hub stock: $hs"
audit_clean || fail "audit"
ok "audit clean"
