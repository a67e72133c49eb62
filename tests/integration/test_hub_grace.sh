#!/usr/bin/env bash
# Goal: hub health, the routing grace and the claim lease with the real
# daemons (proto/SEMANTICS.md "Hub health"). london is the only hub in range
# of Reading. (1) london frozen (SIGSTOP): `dropctl hubs` shows it silent
# (healthy false, routable true, UP "silent") and an order from Reading is
# still ACCEPTED at london - no NO_HUB_IN_RANGE - and reaches its queue once
# it resumes. (2) The coordinator frozen for longer than hub_timeout_ms (a
# stall of its own): once it resumes it logs coord.stall and london is never
# logged silent or down for it; meanwhile london's lease (2 s here) runs out
# and pickterm's claim of a fresh order answers NO_LEASE, while the order
# already claimed can still be picked; after the coordinator answers again
# the claim works.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london" --coord-set coordinator.hub_grace_ms=60000 \
	--coord-set coordinator.hub_lease_ms=2000

SKU=grace-tee
receive_and_wait london "$SKU" 20
READING=(--lat 51.4543 --lon -0.9781)
hubs_field() { jget "$(dc --json hubs)" '[h["'"$2"'"] for h in j["hubs"] if h["id"] == "'"$1"'"][0]'; }
london_silent() { [[ $(hubs_field london healthy) == false && $(hubs_field london routable) == true ]]; }
hub_order_id() { # key -> london's order id, or fails
	jget "$(pt london --json queue)" '[o["order_id"] for o in j["orders"] if o["order_key"] == "'"$1"'"][0]'
}
order() { # key -> sets r="STATUS HUB"
	local out
	out=$(dc --json order submit --key "$1" --customer "c-$1" --sku "$SKU" --qty 1 "${READING[@]}")
	r="$(jget "$out" 'j["status"]') $(jget "$out" 'j.get("hub") or "-"')"
}

# (1) A silent hub is still routed to within the grace.
lpid=$(pid_of london)
kill -STOP "$lpid"
wait_until 10 "coordinator shows london silent" london_silent
dc hubs | grep -qE '^london .* silent ' || fail "dropctl hubs does not say silent: $(dc hubs)"
order g-1
[[ $r == "ACCEPTED london" ]] || { kill -CONT "$lpid"; fail "silent london within the grace: got '$r'"; }
london_silent || { kill -CONT "$lpid"; fail "london no longer silent while frozen"; }
kill -CONT "$lpid"
wait_until 10 "g-1 in london's queue" hub_order_id g-1
wait_until 10 "london healthy again" hub_healthy london
grep -q "hub.silent hub=london" "$NET_DIR/log/coordinator.log" || fail "no hub.silent logged"
ok "frozen london: shown silent, an order from Reading still ACCEPTED there and delivered on resume"

# (2) A coordinator stall: the hub's lease runs out, hub health does not.
order g-2
[[ $r == "ACCEPTED london" ]] || fail "g-2: got '$r'"
order g-3
[[ $r == "ACCEPTED london" ]] || fail "g-3: got '$r'"
wait_until 10 "g-2 and g-3 in london's queue" hub_order_id g-3
id2=$(hub_order_id g-2)
id3=$(hub_order_id g-3)
pt london --operator alice claim "$id2" >/dev/null || fail "claim with a lease"
lease_left() { jget "$(pt london --json status)" 'j["lease_left_ms"]'; }
lease_gone() { [[ $(lease_left) == 0 ]]; }
lease_back() { (( $(lease_left) > 0 )); }
lease_back || fail "no lease while the coordinator answers"
cpid=$(pid_of coordinator)
kill -STOP "$cpid"
t_stop=$(now_ms)
wait_until 10 "london's lease runs out" lease_gone
out=$(pt london --operator bob claim "$id3" 2>&1) && { kill -CONT "$cpid"; fail "claim without a lease succeeded: $out"; }
grep -q "NO_LEASE" <<<"$out" || { kill -CONT "$cpid"; fail "claim without a lease: want NO_LEASE, got: $out"; }
pt london --operator alice pick "$id2" --scan "$SKU" >/dev/null || { kill -CONT "$cpid"; fail "pick of the order claimed before could not go on"; }
# The fault's length, not a readiness wait: the stall lasts 3 s, twice
# hub_timeout_ms.
stalled_3s() { (( $(now_ms) - t_stop >= 3000 )); }
wait_until 10 "the coordinator stalled 3 s" stalled_3s
kill -CONT "$cpid"
wait_until 10 "lease renewed" lease_back
pt london --operator bob claim "$id3" >/dev/null || fail "claim after the lease was renewed"
grep -q "coord.stall" "$NET_DIR/log/coordinator.log" || fail "coordinator did not log its stall"
grep -q "hub.down hub=london" "$NET_DIR/log/coordinator.log" && fail "london logged down"
[[ $(grep -c "hub.silent hub=london" "$NET_DIR/log/coordinator.log") == 1 ]] \
	|| fail "london logged silent for the coordinator's own stall"
ok "coordinator stall: NO_LEASE for a new claim, the claimed order goes on, london never silent for it"
wait_until 20 "streams caught up" streams_caught_up
audit_clean || fail "audit"
ok "audit clean"
