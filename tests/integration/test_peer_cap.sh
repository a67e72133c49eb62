#!/usr/bin/env bash
# Goal: one storefront connection cannot hold the ingest socket (issue 9,
# "a cap on requests in flight per peer"). With the cap at 8
# (coordinator.ingest_peer_inflight_max), a greedy client keeps 64 messages
# in flight on ONE connection (loadgen --batch 1 --inflight 64): what is
# over the cap is answered UNAVAILABLE at once ("busy"), logged
# bridge.peer_busy with the peer's address and counted in
# dropnet_peer_refusals_total{kind="overload",reason="peer_inflight"}.
# While it floods, a second storefront (its own connections) gets every one
# of its orders answered, none UNAVAILABLE, each within 3 s. The greedy
# client's refused orders are retried with the same key and all end
# answered; the books agree with what was accepted (audit clean).
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
net_start "london" --coord-set coordinator.ingest_peer_inflight_max=8

SKU=cap-tee
receive_and_wait london "$SKU" 100000

GREEDY_N=40000
as_storefront "$LOADGEN" --ingest "$DROPNET_INGEST" --buyers "$GREEDY_N" --concurrency 64 \
	--sku "$SKU" --seed 5 --key-prefix greedy --ship-to 51.5,-0.12 --batch 1 --inflight 64 \
	--retries 50 --json >"$T/greedy.json" 2>"$T/greedy.err" &
GREEDY=$!

busy_seen() {
	scrape "$DROPNET_METRICS" >"$T/m.txt" || return 1
	(( $(metric "$T/m.txt" dropnet_peer_refusals_total kind=overload reason=peer_inflight) > 0 ))
}
wait_until 60 "the greedy connection to be refused over its cap" busy_seen
kill -0 "$GREEDY" 2>/dev/null || fail "the greedy client ended before the second client began"
ok "the greedy connection is refused over its cap of 8"

polite=$(as_storefront "$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 200 --concurrency 2 \
	--sku "$SKU" --seed 6 --key-prefix polite --ship-to 51.5,-0.12 --retries 0 --json) ||
	fail "second client failed: $polite"
log "second client: $polite"
kill -0 "$GREEDY" 2>/dev/null ||
	fail "the greedy client ended before the second client did (raise GREEDY_N): no overlap"
[[ $(jget "$polite" 'j["accepted"]') == 200 ]] || fail "second client: not all 200 accepted: $polite"
[[ $(jget "$polite" 'j["errors"]') == 0 ]] || fail "second client had errors: $polite"
max_ms=$(jget "$polite" 'j["max_ms"]')
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 3000 * float(sys.argv[2]) else 1)' \
	"$max_ms" "${DROPNET_WAIT_SCALE:-1}" || fail "second client waited ${max_ms} ms (bound 3000 ms)"
ok "a second storefront is served while the greedy one floods: 200/200 accepted, max ${max_ms} ms"

wait "$GREEDY" || fail "greedy client failed: $(cat "$T/greedy.json" "$T/greedy.err")"
greedy=$(cat "$T/greedy.json")
log "greedy client: $greedy"
[[ $(jget "$greedy" 'j["retries"]') -gt 0 ]] || fail "the greedy client saw no refusal: $greedy"
[[ $(jget "$greedy" 'j["accepted"]') == "$GREEDY_N" ]] ||
	fail "greedy: $(jget "$greedy" 'j["accepted"]') accepted of $GREEDY_N: $greedy"
grep -q 'bridge.peer_busy .*peer=127\.0\.0\.1:[0-9]* .*inflight_max=8' "$NET_DIR"/log/coordinator*.log ||
	fail "no bridge.peer_busy line naming the peer"
total=$(( GREEDY_N + 200 ))
[[ $(stock_sum "$SKU" allocated) == "$total" ]] ||
	fail "allocated $(stock_sum "$SKU" allocated), want $total"
ok "the greedy client's refused orders were retried and all accepted; allocated = $total"
audit_clean || fail "audit not clean"
ok "audit clean"
