#!/usr/bin/env bash
# Goal: a transfer whose units the source cannot find is closed, not stuck.
# A rebalance sends a transfer from a source hub; staff at the source short
# the whole pick. The coordinator must book the units as lost at the source
# (allocated back down, on_hand down), mark the transfer cancelled (it no
# longer counts as incoming at the destination, so a new plan may send
# another van), and audit stays clean. Before the review fix, the short was
# ignored: the allocation and the "picking" transfer stayed forever.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
net_start "manchester leeds birmingham" --coord-set coordinator.test_clock=1
MCR=53.4808,-2.2426

clock_now() { jget "$(dc --json clock)" 'j["clock_ms"]'; }
NOW=$(clock_now)
dc drop create --id ts --sku ts-tee:300:40 --placement manchester:100,leeds:100,birmingham:100 \
	--tier "main:$NOW:+1d" >/dev/null || fail "create ts"
for h in manchester leeds birmingham; do receive_and_wait "$h" ts-tee 100; done
for h in manchester leeds birmingham; do
	wait_until 10 "$h holds back 40" stock_is "$h" ts-tee holdback 40
done
dc drop open ts >/dev/null || fail "open ts"
# Manchester's region buys, minute after minute.
for r in $(seq 1 10); do
	dc clock set +60s >/dev/null || fail "clock +60s"
	"$LOADGEN" --buyers 10 --concurrency 4 --sku ts-tee --drop ts --tier main \
		--ship-to "$MCR" --key-prefix "m$r-" --seed "$r" --json >/dev/null || fail "loadgen round $r"
done
applied=$(dc --json rebalance apply --sku ts-tee --horizon 120 --service 0.9 --bucket 1m) || fail "apply"
ntr=$(jget "$applied" 'len([a for a in j["plan"]["actions"] if a["kind"] == "transfer"])')
[[ $ntr -ge 1 ]] || fail "the setup should plan a transfer: $applied"
tid=$(jget "$applied" '[a for a in j["plan"]["actions"] if a["kind"] == "transfer"][0]["transfer_id"]')
src=$(jget "$applied" '[a for a in j["plan"]["actions"] if a["kind"] == "transfer"][0]["from_hub"]')
qty=$(jget "$applied" '[a for a in j["plan"]["actions"] if a["kind"] == "transfer"][0]["qty"]')
ok "transfer $tid: $qty ts-tee from $src"

oid=""
queued() {
	oid=$(pt "$src" --json queue | python3 -c 'import json,sys
o=[o for o in json.load(sys.stdin)["orders"] if o["order_key"] == sys.argv[1]]
print(o[0]["order_id"] if o else "")' "$tid")
	[[ -n $oid ]]
}
wait_until 20 "transfer $tid in $src's queue" queued
alloc0=$(stock_field "$src" ts-tee allocated)
on0=$(stock_field "$src" ts-tee on_hand)
tr_state() { jget "$(dc --json transfers)" '[t["state"] for t in j["transfers"] if t["id"] == "'"$tid"'"][0]'; }
tr_is() { [[ $(tr_state) == "$1" ]]; }

# The source cannot find any of them.
pt "$src" short "$oid" ts-tee "$qty" >/dev/null || fail "short the transfer pick at $src"
wait_until 20 "transfer $tid cancelled" tr_is cancelled
wait_until 10 "$src allocated down by $qty" stock_is "$src" ts-tee allocated $((alloc0 - qty))
[[ $(stock_field "$src" ts-tee on_hand) == $((on0 - qty)) ]] || fail "$src on_hand not down by $qty"
audit_clean || fail "audit after the transfer short: $(dc audit 2>&1)"
ok "short of the whole transfer: cancelled, $qty lost at $src, allocation released, audit clean"
