#!/usr/bin/env bash
# Goal: an order re-sent after a hub's data dir was wiped is shown as
# RESENT by pickterm, and staff can record one that shipped before the
# wipe without shipping it again (proto/SEMANTICS.md "Incarnations and
# resync", "Resent orders"), with the real daemons:
#  - r1 is shipped while the coordinator is down, so its EV_SHIPPED is only
#    in london's outbox; london's data dir is then wiped.
#  - r1 and r2 come back: `queue --json` has "resent": true, the table marks
#    them [RESENT], `claim` says to check the carrier log.
#  - the same for a first-time order is refused (command mode); in the
#    full-screen terminal, `x` on the resent r1 asks for its tracking and
#    records it shipped before the wipe (TERM_SHIP already_shipped), `x` on
#    a resent order with a unit picked is refused on screen; r2 (never
#    shipped) is picked and shipped.
#  - the coordinator books 3 shipped (r1 1, r2 2), on_hand 7 on both books;
#    audit clean.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london" --coord-set coordinator.hub_timeout_ms=60000

SKU=resent-tee
LDN=(--lat 51.45 --lon -0.2)
receive_and_wait london "$SKU" 10

submit() { # key [qty] -> must be ACCEPTED at london
	local out
	out=$(dc --json order submit --key "$1" --customer "c-$1" --sku "$SKU" --qty "${2:-1}" "${LDN[@]}")
	[[ $(jget "$out" 'j["status"]') == ACCEPTED && $(jget "$out" 'j["hub"]') == london ]] \
		|| fail "submit $1: $out"
}
queue_keys() {
	local q
	q=$(pt london --json queue) || return 1
	jget "$q" '" ".join(sorted(o["order_key"] for o in j["orders"]))'
}
queue_is() { [[ $(queue_keys) == "$1" ]]; }
queue_id() { # key -> london's order id for it
	jget "$(pt london --json queue)" "[o['order_id'] for o in j['orders'] if o['order_key'] == '$1'][0]"
}
resent_keys() {
	local q
	q=$(pt london --json queue) || return 1
	jget "$q" '" ".join(sorted(o["order_key"] for o in j["orders"] if o["resent"]))'
}
hub_stock_is() { # sku qty: london's own book
	local s
	s=$(pt london --json stock) || return 1
	[[ $(jget "$s" "sum(r['on_hand'] for r in j['stock'] if r['sku'] == '$1')") == "$2" ]]
}

submit r1
submit r2 2
wait_until 20 "r1 r2 at london" queue_is "r1 r2"
[[ $(resent_keys) == "" ]] || fail "first-time orders shown as resent: $(resent_keys)"
oid=$(queue_id r1)
out=$(pt london ship "$oid" --tracking TRK-X --already-shipped 2>&1) \
	&& fail "already-shipped accepted for an order never re-sent: $out"
pt london pick "$oid" --scan "$SKU" >/dev/null || fail "pick r1"
net_ctl stop-proc coordinator >/dev/null
pt london ship "$oid" --tracking TRK-R1 >/dev/null || fail "ship r1"
ok "r1 shipped while the coordinator is down; its event is only in london's outbox"

net_ctl stop-proc london >/dev/null
rm -rf "${NET_DIR:?}/london"
mkdir -p "$NET_DIR/london"
net_ctl start-proc coordinator >/dev/null
net_ctl start-proc london >/dev/null
wait_until 20 "london answers again" pt london --json status
wait_until 20 "r1 r2 sent again" queue_is "r1 r2"
[[ $(resent_keys) == "r1 r2" ]] || fail "resent in queue --json: '$(resent_keys)', want 'r1 r2'"
wait_until 20 "london's book seeded" hub_stock_is "$SKU" 10
pt london queue | grep -q '\[RESENT\]' || fail "queue table does not mark RESENT: $(pt london queue)"
r1=$(queue_id r1)
r2=$(queue_id r2)
out=$(pt london --operator ann claim "$r1") || fail "claim r1: $out"
grep -q "RESENT after data loss: check the carrier log before picking" <<<"$out" \
	|| fail "claim does not warn: $out"
out=$(pt london --json --operator bob claim "$r2") || fail "claim r2: $out"
[[ $(jget "$out" 'j["resent"]') == "[$r2]" ]] || fail "claim --json resent: $out"
ok "pickterm shows r1 r2 as RESENT (queue, --json, claim)"

out=$(pt london --operator bob ship "$r2" --tracking TRK-R2 2>&1) \
	&& fail "plain ship of an unpicked resent order accepted: $out"

# ann's full-screen terminal: r1 (hers, resent, nothing picked) is on the
# pick screen; x asks for the tracking, the scan records it.
term_start a ann
wait_screen 20 a "order $r1: RESENT after data loss"
key a x
wait_screen 10 a "order $r1 left before the data loss: scan or type its tracking"
shot a 40-left-already
scan a TRK-R1
wait_screen 10 a "order $r1 shipped before the data loss with TRK-R1: "
pt london --json status >/dev/null || fail "status"
[[ $(jget "$(pt london --json queue)" "[o['state'] for o in j['orders'] if o['order_id'] == $r1]") == "[]" ]] \
	|| [[ $(jget "$(pt london --json queue)" "[o['state'] for o in j['orders'] if o['order_id'] == $r1][0]") == shipped ]] \
	|| fail "r1 not shipped after x: $(pt london --json queue)"
ok "full-screen x: r1 recorded as shipped before the wipe with its tracking"

# bob picks one unit of r2 in command mode, then opens his terminal: x on
# an order with a pick is refused on screen and nothing changes.
pt london --operator bob pick "$r2" --scan "$SKU" >/dev/null || fail "pick r2 (1/2)"
term_start b bob
wait_screen 20 b "order $r2: RESENT after data loss"
key b x
wait_screen 10 b "order $r2 has picks already: it did not leave"
ok "full-screen x on a resent order with a pick is refused"
pt london --operator bob pick "$r2" --scan "$SKU" >/dev/null || fail "pick r2 (2/2)"
pt london --operator bob ship "$r2" --tracking TRK-R2 >/dev/null || fail "ship r2"
wait_until 20 "queue empty" queue_is ""
wait_until 20 "coordinator books 3 shipped" stock_is london "$SKU" shipped 3
wait_until 20 "on_hand 7 at the coordinator" stock_is london "$SKU" on_hand 7
wait_until 20 "london's book 7" hub_stock_is "$SKU" 7
wait_until 20 "audit clean" audit_clean
ok "r1 recorded as shipped before the wipe (once), r2 picked and shipped; both books 7"
