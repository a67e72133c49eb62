#!/usr/bin/env bash
# Goal: partitions that do not cut the leader from the majority, and one
# that cuts a hub from the leader while the leader is cut off too - in one
# drop of a replicated coordinator group (3 replicas, TLS, 2 hubs, every
# replica and hub in a network namespace of its own, lib/netns.sh) - lose
# and double no acknowledged order.
#
# 1. A follower cut off from the leader and the other follower: the leader
#    keeps leading (no election anywhere: pre-vote keeps the cut-off
#    follower from raising its term) and the drop goes on; the follower
#    notices (no leader known) and, after the heal, follows the leader
#    again.
# 2. A hub (london, where the stock is) cut off from the leader only: the
#    leader keeps leading and accepting orders for london inside its
#    routing grace, and reports it silent; after the heal london is
#    healthy and its command stream catches up.
# 3. London cut off from the leader, then the leader cut off from the
#    majority: a new leader is elected, and london - which keeps its list
#    of every replica - follows it: its command stream catches up on the
#    new leader while both cuts last. Then everything heals.
# At the end: loadgen (every replica's URL) answered every buyer; every
# acked order is in the journal once, ACCEPTED with its first answer, on
# every replica; allocated == accepted <= stock; audit clean; books equal.
source "$(dirname "$0")/lib/netns.sh"
netns_private "$@"
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
GROUP_R=3
source "$(dirname "$0")/lib/group.sh"

HUBS="london leeds"
STOCK=6000
SKU=part-sku
group_netns_start "$HUBS"
receive_and_wait london "$SKU" "$STOCK"
ok "stocked $STOCK units at london through the group"

BUYERS=3000
group_storefront --ingest "$DROPNET_INGEST" --sku "$SKU" --ship-to 51.5074,-0.1278 \
	--burst-tau-s 1000 --buyers "$BUYERS" --concurrency 8 --batch 16 --key-prefix all \
	--duration-s 40 --retries 60 --timeout-ms 3000 --acked-file "$T/acked" >"$T/lg.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")
acks_grow() { # n: the drop acked n more orders from now on
	local from
	from=$(lines "$T/acked")
	grown() { (( $(lines "$T/acked") >= from + $1 )); }
	wait_until 20 "$1 more acks" grown "$1"
}
has_leader() { group_leader >/dev/null; }
wait_until 30 "a leader" has_leader
L=$(group_leader)
acks_grow 30

# London's command stream as the leader sees it: "cmd_seq cmd_acked".
london_stream() {
	local out
	out=$(dc --json hubs) || return 1
	python3 -c 'import json,sys
h = [h for h in json.loads(sys.argv[1])["hubs"] if h["id"] == "london"][0]
print(h.get("cmd_seq", 0), h.get("cmd_acked", 0))' "$out"
}
# London has applied (acked to the leader) every command the leader had
# queued for it when this was called: it syncs with the leader. (Equality
# of the two would be a race while orders keep coming.)
london_syncs() {
	local seq acked
	read -r seq acked < <(london_stream) || fail "dropctl hubs failed"
	london_acked_to() { local s a; read -r s a < <(london_stream) && (( a >= $1 )); }
	wait_until 30 "london to ack its stream up to $seq at the leader" london_acked_to "$seq"
}

# Any election (group.elected) on any replica since T0?
elections_since() { # t0
	local r
	for r in $(seq 1 "$GROUP_R"); do
		group_log_ms "$r" group.elected "$1" >/dev/null && return 0
	done
	return 1
}

# ---- 1. a follower cut off ----
F=$(( L % GROUP_R + 1 ))
cut=$(now_ms)
group_isolate "$F"
log "follower $F cut off from the others (leader $L)"
noticed() { group_log_ms "$F" group.leader_known "$cut" "leader=0" >/dev/null; }
wait_until 10 "follower $F to lose its leader" noticed
acks_grow 50
! elections_since "$cut" || fail "an election while follower $F was cut off"
[[ $(group_leader "$F") == "$L" ]] || fail "replica $L no longer leads while follower $F is cut off"
heal=$(now_ms)
group_rejoin "$F"
back() { group_log_ms "$F" group.leader_known "$heal" "leader=$L" >/dev/null; }
wait_until 30 "follower $F to follow $L after the heal" back
acks_grow 30
! elections_since "$cut" || fail "an election after follower $F's heal"
ok "follower $F cut off for $((heal - cut)) ms: $L led throughout, no election; $F follows $L again $(( $(group_log_ms "$F" group.leader_known "$heal" "leader=$L") - heal )) ms after the heal"

# ---- 2. london cut off from the leader only ----
cut=$(now_ms)
netns_cut london "r$L"
log "hub london cut off from leader $L"
wait_until 20 "the group to report london silent" hub_unhealthy london
acks_grow 30
heal=$(now_ms)
netns_heal london "r$L"
wait_until 30 "london healthy again after the heal" hub_healthy london
london_syncs
! elections_since "$cut" || fail "an election while london was cut off from the leader"
ok "london cut off from leader $L for $((heal - cut)) ms: orders went on inside its grace; healthy and caught up $(( $(now_ms) - heal )) ms after the heal"

# ---- 3. london cut off from the leader, then the leader from the majority ----
L=$(group_leader)
cut=$(now_ms)
netns_cut london "r$L"
wait_until 20 "the group to report london silent" hub_unhealthy london
group_isolate "$L"
iso=$(now_ms)
log "hub london cut off from leader $L, then $L from the other replicas"
new_leader() { group_leader "$L" >/dev/null; }
wait_until 20 "a new leader after cutting replica $L" new_leader
N=$(group_leader "$L")
acks_grow 30
# London follows N: it acks at N the commands N has queued for it.
london_syncs
followed=$(now_ms)
heal=$(now_ms)
netns_heal london "r$L"
group_rejoin "$L"
rejoined() { group_log_ms "$L" group.leader_known "$heal" "leader=$N" >/dev/null; }
wait_until 30 "replica $L following $N after the heal" rejoined
ok "london cut off from $L, then $L from the majority: $N led; london caught up at $N $((followed - iso)) ms after the second cut; $L follows $N after the heal"

group_storefront_done "$LG" "$T/lg.out" "$BUYERS"
ok "drop done: every one of $BUYERS buyers answered; $(lines "$T/acked") acked"
group_final_checks "$SKU" "$STOCK" "$T/acked"
