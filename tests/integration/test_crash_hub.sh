#!/usr/bin/env bash
# Goal: kill -9 of a hub loses nothing and duplicates nothing. Birmingham
# has 5 orders queued (one of them already picked) when it is killed with
# SIGKILL; 5 more orders for it are accepted meanwhile by the coordinator
# from its ledger (the hub timeout is long, so routing still counts on it and
# the orders wait in the command stream). After a restart the hub's queue is
# intact (the picked order is still picked) and holds the 5 new orders
# exactly once each; the streams catch up and the picked order ships.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london birmingham" --coord-set coordinator.hub_timeout_ms=60000

SKU=hub-crash
receive_and_wait birmingham "$SKU" 50
receive_and_wait london "$SKU" 50
BHAM=(--lat 52.4862 --lon -1.8904)

submit() { # key -> order_id, must be ACCEPTED at birmingham
	local out
	out=$(dc --json order submit --key "$1" --customer "c-$1" --sku "$SKU" --qty 1 "${BHAM[@]}")
	[[ $(jget "$out" 'j["status"]') == ACCEPTED && $(jget "$out" 'j["hub"]') == birmingham ]] \
		|| fail "submit $1: $out"
	jget "$out" 'j["order_id"]'
}
queue_keys() { # -> sorted "key:state" list of birmingham's queue
	local q
	q=$(pt birmingham --json queue) || return 1
	jget "$q" '" ".join(sorted("%s:%s" % (o["order_key"], o["state"]) for o in j["orders"]))'
}
queue_count_is() { local q; q=$(pt birmingham --json queue) || return 1; [[ $(jget "$q" 'len(j["orders"])') == "$1" ]]; }

for i in 1 2 3 4 5; do submit "pre-$i" >/dev/null; done
wait_until 10 "5 orders in birmingham's queue" queue_count_is 5
q=$(pt birmingham --json queue)
oid1=$(jget "$q" '[o["order_id"] for o in j["orders"] if o["order_key"] == "pre-1"][0]')
pt birmingham pick "$oid1" --scan "$SKU" >/dev/null || fail "pick pre-1"
before=$(queue_keys)
ok "birmingham queue before the crash: $before"

net_ctl stop-proc birmingham --signal KILL >/dev/null
pt birmingham --json queue >/dev/null 2>&1 && fail "birmingham still answers after kill -9"
ok "birmingham killed with SIGKILL"

for i in 1 2 3 4 5; do submit "mid-$i" >/dev/null; done
# A repeat of an already delivered order must not be delivered again.
dup=$(dc --json order submit --key pre-2 --customer c-pre-2 --sku "$SKU" --qty 1 "${BHAM[@]}")
[[ $(jget "$dup" 'j["duplicate"]') == true ]] || fail "pre-2 repeat: $dup"
[[ $(stock_field birmingham "$SKU" allocated) == 10 ]] || fail "allocated $(stock_field birmingham "$SKU" allocated), want 10"
ok "5 orders accepted for birmingham while it was down"

net_ctl start-proc birmingham >/dev/null
ok "birmingham restarted"
wait_until 20 "10 orders in birmingham's queue" queue_count_is 10
after=$(queue_keys)
want="mid-1:queued mid-2:queued mid-3:queued mid-4:queued mid-5:queued pre-1:picked pre-2:queued pre-3:queued pre-4:queued pre-5:queued"
[[ $after == "$want" ]] || fail "queue after restart: '$after', want '$want'"
q=$(pt birmingham --json queue)
[[ $(jget "$q" 'len({o["order_id"] for o in j["orders"]})') == 10 ]] || fail "duplicate order ids in queue"
ok "queue intact, each new order exactly once: $after"

wait_until 20 "streams caught up" streams_caught_up
# Let a second's worth of syncs pass: no command may be delivered twice.
seen=$(jget "$(dc --json hubs)" '[h["last_seen_ms"] for h in j["hubs"] if h["id"] == "birmingham"][0]')
synced_since() { (( $(jget "$(dc --json hubs)" '[h["last_seen_ms"] for h in j["hubs"] if h["id"] == "birmingham"][0]') > seen + 1000 )); }
wait_until 10 "birmingham keeps syncing" synced_since
queue_count_is 10 || fail "queue changed after catching up: $(queue_keys)"

pt birmingham ship "$oid1" --tracking TRK-1 >/dev/null || fail "ship pre-1 after restart"
wait_until 10 "coordinator sees the shipment" stock_is birmingham "$SKU" shipped 1
[[ $(stock_field birmingham "$SKU" allocated) == 9 ]] || fail "allocated after ship not 9"
audit_clean || fail "audit"
ok "picked order shipped after restart; audit clean"
