#!/usr/bin/env bash
# Goal: a leader of a replicated coordinator group (3 replicas, TLS on the
# client sockets, 2 hubs) cut off from the other two replicas stops
# acknowledging within its election timeout, the majority elects a leader
# and serves, and after the heal the old leader follows again with nothing
# acknowledged lost or doubled - the cut repeated CUTS times in one drop.
#
# Every replica and hub runs in a network namespace of its own on one
# bridge (lib/netns.sh); a cut drops every packet between the leader and
# each other replica, both ways, as a pulled cable would (no RST, no ICMP),
# while storefronts and hubs still reach every replica. Storefronts:
# loadgen with every replica's URL (it follows the leader) for the whole
# drop, and per cut a second loadgen pinned to the leader about to be cut
# (its only URL), so there is a client still asking the isolated leader.
#
# Per cut, measured from the moment the last neighbour entry is replaced:
# - the isolated leader's last ack: its own account (last_ack_wall_ms in
#   its group.follower line, every client and hub) and the pinned client's
#   last ACCEPTED line (loadgen writes each as it arrives) - both within
#   the election timeout (1 s, libraft's default) + a margin: entries it
#   proposes alone never commit, and libraft fails them when it steps down;
# - its step-down (group.follower): libraft 0.15 checks once per election
#   timeout that a majority answered in the last one (tick.c,
#   checkContactQuorum; always on), so within 2 timeouts + the shell's
#   250 ms tick (asserted with 1 s of margin: a loaded 2-core CI host);
# - a new leader serving (group.leading on another replica), and the drop
#   going on through it (acks grow while the cut lasts);
# - before the heal, every ack any client has had (the isolated leader's
#   included) is journalled in the new leader's store;
# - after the heal: the old leader knows the new one (group.leader_known).
# At the end: every acked order from every client's --acked-file is in the
# journal exactly once, ACCEPTED with its first answer, on every replica;
# allocated == accepted <= stock; the audit is clean; books identical.
source "$(dirname "$0")/lib/netns.sh"
netns_private "$@"
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
GROUP_R=3
source "$(dirname "$0")/lib/group.sh"

CUTS=${DROPNET_GROUP_CUTS:-3}
ELECTION_MS=1000          # libraft's default election timeout (raft_glue.c keeps it)
ACK_LIMIT_MS=$((ELECTION_MS + 250))
STEPDOWN_LIMIT_MS=$((2 * ELECTION_MS + 1000))
HUBS="london leeds"
STOCK=6000
SKU=part-sku

group_netns_start "$HUBS"
receive_and_wait london "$SKU" "$STOCK"
ok "stocked $STOCK units at london through the group"

storefront() { # loadgen args... (run in the background by the caller)
	group_storefront --sku "$SKU" --ship-to 51.5074,-0.1278 --burst-tau-s 1000 "$@"
}

# The whole drop, through the batching client that follows the leader.
BUYERS=$((CUTS * 1000 + 1000))
storefront --ingest "$DROPNET_INGEST" --buyers "$BUYERS" --concurrency 8 --batch 16 \
	--key-prefix all --duration-s $((CUTS * 12 + 8)) --retries 60 --timeout-ms 3000 \
	--acked-file "$T/acked.all" >"$T/lg.all.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")
ACKED=("$T/acked.all")

# Watches FILE's size every 5 ms until PID ends; prints the epoch ms of
# its last growth (0: none), logs every growth to FILE.growth.
watch_last_growth() { # file pid
	python3 - "$1" "$2" <<'PY'
import os, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
size, last = 0, 0
log = open(path + ".growth", "w")
while True:
    try:
        os.kill(pid, 0)
        alive = True
    except OSError:
        alive = False
    n = os.path.getsize(path) if os.path.exists(path) else 0
    if n != size:
        size, last = n, int(time.time() * 1000)
        print(last, n, file=log, flush=True)
    if not alive:
        break
    time.sleep(0.005)
print(last)
PY
}

for k in $(seq 1 "$CUTS"); do
	has_leader() { group_leader >/dev/null; }
	wait_until 30 "a leader before cut $k" has_leader
	L=$(group_leader)
	pin=$T/acked.pin$k
	storefront --ingest "${INGEST[L - 1]}" --buyers 90 --concurrency 2 --batch 4 \
		--key-prefix "pin$k" --duration-s 6 --retries 3 --timeout-ms 3000 \
		--acked-file "$pin" >"$T/lg.pin$k.out" 2>&1 &
	PIN=$!
	NET_BG_PIDS+=("$PIN")
	ACKED+=("$pin")
	watch_last_growth "$pin" "$PIN" >"$T/pin$k.last" &
	W=$!
	NET_BG_PIDS+=("$W")
	before=$(lines "$T/acked.all")
	warm() { (( $(lines "$pin") >= 10 && $(lines "$T/acked.all") >= before + 30 )); }
	wait_until 20 "acks through leader $L before cut $k" warm

	# The leader is cut off once the last of its links is (the first
	# alone leaves it a majority): times are from then.
	cut0=$(now_ms)
	group_isolate "$L"
	cut=$(now_ms)
	log "cut $k: replica $L cut off from the others ($((cut - cut0)) ms to cut its links)"
	new_leader() { group_leader "$L" >/dev/null; }
	wait_until 20 "a new leader after cutting replica $L" new_leader
	N=$(group_leader "$L")
	elected=$(group_log_ms "$N" group.leading "$cut")
	during=$(lines "$T/acked.all")
	serving() { (( $(lines "$T/acked.all") >= during + 30 )); }
	wait_until 20 "the drop going on through replica $N while $L is cut off" serving
	stepped() { group_log_ms "$L" group.follower "$cut" >/dev/null; }
	wait_until 10 "replica $L stepping down" stepped
	down=$(group_log_ms "$L" group.follower "$cut")
	srv_last=$(grep group.follower "$NET_DIR/log/coordinator$L.log" | tail -n 1 | sed -n 's/.*last_ack_wall_ms=\([0-9-]*\).*/\1/p')
	[[ -n $srv_last ]] || fail "no last_ack_wall_ms in replica $L's step-down line"

	# The pinned client has been answered NOT_LEADER since the step-down;
	# it ends on its own (3 retries a buyer).
	pin_done() { ! kill -0 "$PIN" 2>/dev/null; }
	wait_until 60 "the pinned client of cut $k to end" pin_done
	rc=0
	wait "$PIN" || rc=$?
	(( rc <= 1 )) || fail "the pinned loadgen of cut $k exited $rc: $(tail -n 3 "$T/lg.pin$k.out")"
	wait "$W" || fail "the watch of the pinned client's acks failed"
	bg_forget "$PIN"
	bg_forget "$W"
	cli_last=$(cat "$T/pin$k.last")
	# Before the heal: every ack any client has had, the isolated leader's
	# included, is already in the new leader's journal.
	n_on=$(group_acked_on "$N" "${ACKED[@]}") || fail "acks missing from replica $N's journal while $L is cut off"
	heal=$(now_ms)
	group_rejoin "$L"
	rejoined() { group_log_ms "$L" group.leader_known "$heal" "leader=$N" >/dev/null; }
	wait_until 30 "replica $L following replica $N after the heal" rejoined
	back=$(group_log_ms "$L" group.leader_known "$heal" "leader=$N")

	log "cut $k: leader $L: last ack +$((srv_last - cut)) ms (its log), pinned client's last ack" \
		"+$((cli_last - cut)) ms, stepped down +$((down - cut)) ms; replica $N leading +$((elected - cut)) ms;" \
		"healed after $((heal - cut)) ms, $L follows $N +$((back - heal)) ms after the heal"
	echo "$k $((srv_last - cut)) $((cli_last - cut)) $((down - cut)) $((elected - cut)) $((back - heal))" >>"$T/figures"
	(( srv_last - cut <= ACK_LIMIT_MS )) || fail "replica $L acked $((srv_last - cut)) ms after the cut (limit $ACK_LIMIT_MS)"
	(( cli_last > 0 && cli_last - cut <= ACK_LIMIT_MS )) ||
		fail "the client pinned to replica $L got an ack $((cli_last - cut)) ms after the cut (limit $ACK_LIMIT_MS)"
	(( down - cut <= STEPDOWN_LIMIT_MS )) || fail "replica $L stepped down $((down - cut)) ms after the cut (limit $STEPDOWN_LIMIT_MS)"
	ok "cut $k: leader $L stopped acking within the election timeout and stepped down; $N led, holding all $n_on acks so far; $L rejoined"
done

group_storefront_done "$LG" "$T/lg.all.out" "$BUYERS"
ok "drop done: every one of $BUYERS buyers answered through $CUTS cuts; $(cat "${ACKED[@]}" | wc -l) acks in all"
group_final_checks "$SKU" "$STOCK" "${ACKED[@]}"
log "figures (cut, leader's last ack, pinned client's last ack, step-down, new leader, rejoin after heal; ms):"
cat "$T/figures" >&2
