#!/usr/bin/env bash
# Goal: a replicated coordinator group (3 replicas on libraft, TLS on the
# client sockets) survives kill -9 of its leader, repeatedly, in the middle
# of a drop, with nothing acknowledged lost and nothing oversold.
#
# loadgen sends a drop through the batching client, which knows every
# replica's ingest URL and follows the leader (NOT_LEADER), writing every
# ACCEPTED answer to a file. Meanwhile the leader is killed with SIGKILL
# KILLS times, each time after new acks arrived; a new leader must take
# over, and the killed replica is restarted (it catches up from its own log
# and the leader's). Then:
# - every acked order is in the journal, ACCEPTED, with the acked hub and
#   order id (on every replica);
# - allocated == accepted orders <= stock, sellable >= 0 (no oversell);
# - `dropctl audit` (through the leader) is clean;
# - the three replicas' books are identical: a digest of every table but the
#   clock, per replica's SQLite file, once the hubs are stopped and the
#   followers have applied everything.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/group.sh"
net_setup "$1"
HUBS="london leeds"
R=3
GROUP_R=$R

# Bad group flags are refused before anything starts (exit 2, a reason).
bad_flags() { # args... -> exit 2 and a line naming --replica
	local rc=0 err
	err=$("$COORDINATOR" --set coordinator.data_dir="$T/bad" "$@" 2>&1 >/dev/null) || rc=$?
	[[ $rc == 2 && $err == *--replica* ]] || fail "coordinator $* exited $rc: $err"
}
bad_flags --replica-id 4 --replica 1,127.0.0.1:1,tcp://a:1,tcp://a:2,tcp://a:3
bad_flags --replica-id 1 --replica 1,127.0.0.1:1,tcp://a:1,tcp://a:2
bad_flags --replica-id 1 --replica 1,127.0.0.1:1,tcp://a:1,tcp://a:2,tcp://a:3,extra
bad_flags --replica-id 1 --replica x,127.0.0.1:1,tcp://a:1,tcp://a:2,tcp://a:3
ok "bad --replica flags refused"

KILLS=${DROPNET_GROUP_KILLS:-4}
STOCK=4000
SKU=group-sku
# Replicas need 5R ports: 4R client sockets and R for replication.
NET_EXTRA_PORTS=$((5 * R - 4)) net_start "$HUBS" --replicas "$R"
IFS=, read -r -a OPS <<<"$DROPNET_COORDINATOR"
[[ ${#OPS[@]} == "$R" ]] || fail "net.env lists ${#OPS[@]} ops URLs, want $R"

receive_and_wait london "$SKU" "$STOCK"
ok "stocked $STOCK units at london through the group"

# The leader: a live replica whose last leadership line says it leads.
leader() {
	local r line
	for r in $(seq 1 "$R"); do
		kill -0 "$(pid_of "coordinator$r")" 2>/dev/null || continue
		line=$(grep -E 'group\.(started|leading|follower|elected)' "$NET_DIR/log/coordinator$r.log" | tail -n 1 || true)
		if [[ $line == *group.leading* ]]; then echo "$r"; return 0; fi
	done
	return 1
}
has_leader() { leader >/dev/null; }
acked() { [[ -f $T/acked ]] && wc -l <"$T/acked" || echo 0; }

# Run directly (not through a shell function) so $! is loadgen's own pid.
DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$BUILD/loadgen" --ingest "$DROPNET_INGEST" --buyers 5000 --concurrency 8 \
	--batch 16 --sku "$SKU" --ship-to 51.5074,-0.1278 --key-prefix grp --duration-s 20 --burst-tau-s 1000 \
	--retries 40 --timeout-ms 2000 --acked-file "$T/acked" >"$T/loadgen.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")

for k in $(seq 1 "$KILLS"); do
	wait_until 20 "a leader" has_leader
	before=$(acked)
	progress() { (( $(acked) >= before + 30 )); }
	wait_until 20 "30 more acks before kill $k" progress
	l=$(leader)
	net_ctl stop-proc "coordinator$l" --signal KILL >/dev/null
	t0=$(now_ms)
	new_leader() { local n; n=$(leader) && [[ $n != "$l" ]]; }
	wait_until 20 "a new leader after killing replica $l" new_leader
	ok "kill $k: replica $l killed at $(acked) acks; replica $(leader) leads after $(( $(now_ms) - t0 )) ms"
	net_ctl start-proc "coordinator$l" >/dev/null
done

# The drop lasts 20 s; every order's retries are bounded, so every worker
# ends; loadgen then says how many answers it got.
lg_workers_done() { grep -q 'loadgen: workers done' "$T/loadgen.out"; }
wait_until 90 "loadgen's workers to finish" lg_workers_done
cat "$T/loadgen.out" >&2
answered=$(sed -n 's/.*workers done answered=\([0-9]*\) errors=.*/\1/p' "$T/loadgen.out")
errors=$(sed -n 's/.*workers done answered=[0-9]* errors=\([0-9]*\)/\1/p' "$T/loadgen.out")
[[ $errors == 0 && $answered == 5000 ]] || fail "loadgen: $answered answered, $errors got no answer"
# Then the client closes and loadgen exits: dnclient_destroy must return
# after the fail-overs (it hung in nng_close before: libnng 1.5.2 wedges
# when a connection is closed while an answer arrives, client/dnclient.c).
lg_exited() { ! kill -0 "$LG" 2>/dev/null; }
wait_until 15 "loadgen to exit after its workers (dnclient_destroy)" lg_exited
wait "$LG" || fail "loadgen failed"
# A close that had to be abandoned (the wedge hit anyway) is a failure too.
! grep -q 'dnclient.close_stuck' "$T/loadgen.out" || fail "loadgen's client close got stuck"
NET_BG_PIDS=()
n_acked=$(acked)
(( n_acked > 0 )) || fail "no order acked"
ok "loadgen done: $n_acked acked through $KILLS leader kills"

out=$(dc audit) || fail "audit failed: $out"
[[ $out == "audit clean"* ]] || fail "audit not clean: $out"
ok "audit clean through the group"

# Hubs stopped: no more hub syncs; the followers then catch up to the
# leader and every replica's books stay put.
for h in $HUBS; do net_ctl stop-proc "$h" >/dev/null; done

wait_until 30 "the replicas' books identical" group_same_books
digests=$(group_books)
ok "books identical on all $R replicas: ${digests%%$'\n'*} (digest, orders)"

python3 - "$NET_DIR" "$R" "$T/acked" "$SKU" "$STOCK" <<'PY' || fail "journal check"
import sqlite3, sys
d, r, acked, sku, stock = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ACCEPTED = 1
want = {}
for line in open(acked):
    key, hub, oid = line.split()
    if key in want:
        sys.exit("key %s acked twice" % key)
    want[key] = (hub, int(oid))
bad = []
for i in range(1, r + 1):
    c = sqlite3.connect("file:%s/coordinator%d/coordinator.db?mode=ro" % (d, i), uri=True)
    got = {k: (s, h, oid) for k, s, h, oid in c.execute("SELECT order_key, status, hub, id FROM orders")}
    for key, (hub, oid) in want.items():
        if got.get(key) != (ACCEPTED, hub, oid):
            bad.append("replica %d: acked %s (%s, %d), journal %s" % (i, key, hub, oid, got.get(key)))
    n_acc = sum(1 for s, _, _ in got.values() if s == ACCEPTED)
    alloc, on_hand, hold = c.execute("SELECT sum(allocated), sum(on_hand), sum(holdback) FROM stock"
                                     " WHERE sku = ?", (sku,)).fetchone()
    if alloc != n_acc or n_acc > stock or alloc + hold > on_hand:
        bad.append("replica %d: accepted %d, allocated %d, on_hand %d, holdback %d, stock %d"
                   % (i, n_acc, alloc, on_hand, hold, stock))
    print("replica %d: %d orders, %d accepted, allocated %d of %d" % (i, len(got), n_acc, alloc, on_hand),
          file=sys.stderr)
for b in bad[:20]:
    print("BAD", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "every acked order journalled ACCEPTED on every replica; allocated == accepted <= $STOCK"
