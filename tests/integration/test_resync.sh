#!/usr/bin/env bash
# Goal: a store that went back in time is noticed and resynchronised, never
# silently skipped (proto/SEMANTICS.md "Incarnations and resync"), with the
# real daemons.
#  1. london's data dir is wiped and hubd restarts on an empty hub.db: its
#     first receipt (event seq 1 again) reaches the ledger, its open orders
#     come back to its queue (the shipped one does not), its book is seeded
#     with the ledger's on-hand, the coordinator logs the resync, audit is
#     clean.
#  2. the coordinator's file is replaced by an older copy: it notices from
#     london's positions, london re-sends the receipt and the shipment the
#     copy lacks (each counted once), and a new order reaches london's queue
#     under an id london never held. Audit is clean.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london" --coord-set coordinator.hub_timeout_ms=60000

SKU=resync-tee
LDN=(--lat 51.45 --lon -0.2)
receive_and_wait london "$SKU" 20

submit() { # key -> order id, must be ACCEPTED at london
	local out
	out=$(dc --json order submit --key "$1" --customer "c-$1" --sku "$SKU" --qty 1 "${LDN[@]}")
	[[ $(jget "$out" 'j["status"]') == ACCEPTED && $(jget "$out" 'j["hub"]') == london ]] \
		|| fail "submit $1: $out"
}
queue_keys() { # -> sorted order keys in london's queue
	local q
	q=$(pt london --json queue) || return 1
	jget "$q" '" ".join(sorted(o["order_key"] for o in j["orders"]))'
}
queue_is() { [[ $(queue_keys) == "$1" ]]; }
queue_id() { # key -> london's order id for it
	jget "$(pt london --json queue)" "[o['order_id'] for o in j['orders'] if o['order_key'] == '$1'][0]"
}
hub_stock_is() { # sku qty: london's own book
	local s
	s=$(pt london --json stock) || return 1
	[[ $(jget "$s" "sum(r['on_hand'] for r in j['stock'] if r['sku'] == '$1')") == "$2" ]]
}
log_has() { grep -q -- "$2" "$NET_DIR/log/$1.log"; }

for k in a1 a2 a3; do submit "$k"; done
wait_until 20 "3 orders at london" queue_is "a1 a2 a3"
oid=$(queue_id a1)
pt london pick "$oid" --scan "$SKU" >/dev/null || fail "pick a1"
pt london ship "$oid" --tracking TRK-A1 >/dev/null || fail "ship a1"
wait_until 20 "coordinator sees a1 shipped" stock_is london "$SKU" shipped 1
ok "before the wipe: on_hand 19, a2 a3 queued"

# ---- 1. the hub's data dir is wiped ----
net_ctl stop-proc london >/dev/null
rm -rf "${NET_DIR:?}/london"
mkdir -p "$NET_DIR/london"
net_ctl start-proc london >/dev/null
wait_until 20 "london answers again" pt london --json status
pt london receive "$SKU" 5 >/dev/null || fail "receive after wipe"
wait_until 20 "the new hub's receipt reaches the ledger" stock_is london "$SKU" on_hand 24
[[ $(stock_field london "$SKU" received) == 25 ]] || fail "received $(stock_field london "$SKU" received), want 25"
wait_until 20 "open orders sent again" queue_is "a2 a3"
wait_until 20 "london's book seeded" hub_stock_is "$SKU" 24
log_has coordinator "hub.resync hub=london reason=new_incarnation" || fail "no resync in the coordinator's log"
wait_until 20 "audit clean after the wipe" audit_clean
ok "wiped hub: receipt applied, a2 a3 re-sent, book seeded, resync logged, audit clean"

# ---- 2. the coordinator is restored from an older copy ----
net_ctl stop-proc coordinator >/dev/null
cp "$NET_DIR/coordinator/coordinator.db" "$T/backup.db"
[[ ! -e $NET_DIR/coordinator/coordinator.db-wal ]] || cp "$NET_DIR/coordinator/coordinator.db-wal" "$T/backup.db-wal"
net_ctl start-proc coordinator >/dev/null
wait_until 20 "london healthy again" hub_healthy london
pt london receive "$SKU" 3 >/dev/null || fail "receive after backup"
wait_until 20 "receipt after the backup" stock_is london "$SKU" on_hand 27
submit b1
wait_until 20 "b1 at london" queue_is "a2 a3 b1"
b1=$(queue_id b1)
oid=$(queue_id a2)
pt london pick "$oid" --scan "$SKU" >/dev/null || fail "pick a2"
pt london ship "$oid" --tracking TRK-A2 >/dev/null || fail "ship a2"
wait_until 20 "coordinator sees a2 shipped" stock_is london "$SKU" shipped 2
ok "after the backup: a receipt of 3, order b1, a2 shipped"

net_ctl stop-proc coordinator >/dev/null
rm -f "$NET_DIR"/coordinator/coordinator.db*
cp "$T/backup.db" "$NET_DIR/coordinator/coordinator.db"
[[ ! -e $T/backup.db-wal ]] || cp "$T/backup.db-wal" "$NET_DIR/coordinator/coordinator.db-wal"
net_ctl start-proc coordinator >/dev/null
# The copy knew 24 on hand and 1 shipped; london re-sends the rest once.
wait_until 20 "london's events re-applied" stock_is london "$SKU" shipped 2
wait_until 20 "on_hand after the re-send" stock_is london "$SKU" on_hand 26
[[ $(stock_field london "$SKU" received) == 28 ]] || fail "received $(stock_field london "$SKU" received), want 28"
log_has coordinator "reason=coordinator_behind" || fail "no resync in the coordinator's log"
log_has london "hub.rewind" || fail "no rewind in london's log"
submit c1
wait_until 20 "c1 reaches london" queue_is "a3 b1 c1"
c1=$(queue_id c1)
(( c1 > b1 )) || fail "c1 took id $c1, b1 holds $b1"
wait_until 20 "audit clean after the restore" audit_clean
ok "restored coordinator: events re-sent once, c1 under a fresh id $c1, audit clean"
