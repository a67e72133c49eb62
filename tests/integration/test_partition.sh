#!/usr/bin/env bash
# Goal: a hub is back within seconds of a network partition healing. The
# whole network runs in a network namespace of its own (unshare -n; -rn
# for a non-root user), and the partition is its loopback link taken down
# for 30 s: packets are dropped, nothing is refused, as on a cut cable.
# TCP retransmits on the hub's old connection back off (the hub took 49 s
# to come back after a 60 s cut before it redialled), so the hub closes a
# connection whose syncs fail for 2 x sync_timeout_ms and dials again
# (hub.coordinator_redial). After the cut: the hub is healthy again within
# 10 s, a storefront (loadgen, the batching client) sending across the cut
# has every answer within 25 s of it (dnclient redials the same way), an
# order is ACCEPTED and reaches the hub's stream, the audit is clean.
if [[ ${DN_IN_NETNS:-0} != 1 ]]; then
	flags=-n
	[[ $(id -u) -eq 0 ]] || flags=-rn
	command -v unshare >/dev/null || { echo "[test_partition] FAIL: unshare (util-linux) missing" >&2; exit 1; }
	DN_IN_NETNS=1 exec unshare "$flags" bash "$0" "$@"
fi
source "$(dirname "$0")/lib/net.sh"
ip link set lo up || fail "cannot bring up lo in the new network namespace"
net_setup "$1"

net_start "london"
receive_and_wait london part-sku 100
hub_healthy london || fail "london not healthy before the cut"

# A storefront (loadgen through the batching client) sends orders across
# the cut; it must have every answer soon after the heal.
LOADGEN=$(net_prog loadgen)
as_storefront "$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 60 --concurrency 2 \
	--batch 4 --timeout-ms 2000 --retries 100 --sku part-sku --ship-to 51.5,-0.12 \
	--key-prefix part-lg --duration-s 40 --json >"$T/lg.json" 2>"$T/lg.err" &
lg_pid=$!
NET_BG_PIDS+=("$lg_pid")
cut_at=$(now_ms)
ip link set lo down || fail "ip link set lo down"
log "partition: lo down for 30 s"
# Wait on the hub's own log (ipc and files still work): it sees its syncs fail...
wait_until 30 "london notices the coordinator is unreachable" grep -q hub.coordinator_down "$NET_DIR/log/london.log"
# ...and redials while the cut lasts.
wait_until 30 "london redials" grep -q hub.coordinator_redial "$NET_DIR/log/london.log"
while (( $(now_ms) - cut_at < 30000 )); do sleep 0.5; done
ip link set lo up || fail "ip link set lo up"
healed=$(now_ms)
log "partition healed"

wait_until 10 "london healthy within 10 s of the heal" hub_healthy london
ok "london healthy $(( $(now_ms) - healed )) ms after the heal"
wait_until 25 "the storefront's orders all answered within 25 s of the heal" bash -c "! kill -0 $lg_pid"
wait "$lg_pid" || fail "loadgen failed: $(cat "$T/lg.err")"
[[ $(jget "$(cat "$T/lg.json")" 'j["errors"]') == 0 ]] || fail "loadgen: orders without an answer: $(cat "$T/lg.json")"
grep -q dnclient.redial "$T/lg.err" || fail "the storefront client did not redial during the cut"
ok "storefront: 60 orders across the cut, all answered $(( $(now_ms) - healed )) ms after the heal at the latest (the client redialled)"

out=$(as_storefront "$DROPCTL" --ingest "$DROPNET_INGEST" --timeout-ms 5000 --json order submit \
	--key part-1 --customer c1 --sku part-sku --lat 51.5 --lon -0.12) || fail "order submit failed"
[[ $(jget "$out" 'j["status"]') == ACCEPTED ]] || fail "order after the heal: $out"
wait_until 20 "streams caught up" streams_caught_up
audit_clean || fail "audit not clean"
ok "order ACCEPTED after the heal, streams caught up, audit clean"
