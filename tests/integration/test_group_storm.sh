#!/usr/bin/env bash
# Goal: a seeded fault storm on a replicated coordinator group (3 replicas,
# two hubs) in the middle of a drop loses nothing acknowledged, oversells
# nothing and leaves the replicas' books identical. test_group_kills kills
# the leader, one at a time; this test mixes what a bad day mixes: FAULTS
# rounds (default 12; DROPNET_STORM_FAULTS), each after 20 more answers,
# picked by a seeded draw (DROPNET_STORM_SEED, printed, replays it):
#   - kill -9 the leader, restart it at once;
#   - kill -9 a follower, down 0-800 ms;
#   - kill -9 two replicas at once (the group has no majority until they
#     are back), down 0-800 ms;
#   - kill -9 a hub, down 0-800 ms;
#   - freeze the leader (SIGSTOP) for 1.5 s: the others elect a new one and
#     the old one, thawed, must step down and follow.
# After each round the test waits until exactly one replica says it leads
# (a thawed old leader has stepped down) and every restarted replica has
# rejoined (replica.standing), so every round hits a whole group.
# loadgen's batching client buys (one buyer in two for each SKU, every
# replica's URL, retries by key). Then:
# - every buyer got a decided answer (loadgen exits 0);
# - 0 acked orders lost on any replica; allocated == accepted <= stock per
#   SKU; the small SKU sold out exactly;
# - `dropctl audit` is clean and no replica logged a finding;
# - the replicas' books are identical (hubs stopped, followers caught up).
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/group.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
HUBS="london leeds"
R=3
GROUP_R=$R
FAULTS=${DROPNET_STORM_FAULTS:-12}
SEED=${DROPNET_STORM_SEED:-$(( $(date +%s) % 100000 ))}
CAP=gs-cap
TEE=gs-tee
CAP_STOCK=150
TEE_STOCK=200000
log "storm seed $SEED, $FAULTS faults (replay: DROPNET_STORM_SEED=$SEED)"
RANDOM=$SEED

NET_EXTRA_PORTS=$((5 * R - 4)) net_start "$HUBS" --replicas "$R"
receive_and_wait london "$CAP" "$CAP_STOCK"
receive_and_wait london "$TEE" "$TEE_STOCK"
ok "group of $R up; london holds $CAP x$CAP_STOCK, $TEE x$TEE_STOCK"

DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 360000 --concurrency 8 \
	--batch 16 --sku "$CAP,$TEE" --ship-to 51.5074,-0.1278 \
	--key-prefix gs --duration-s 1800 --burst-tau-s 86400 \
	--retries 100 --timeout-ms 2000 --acked-file "$T/acked" --answers-file "$T/answers" \
	>"$T/loadgen.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")
answers() { [[ -f $T/answers ]] && wc -l <"$T/answers" || echo 0; }
pause_ms() { sleep "$(printf '0.%03d' "$1")"; }

# Replicas restarted this round, with the log line count before their
# restart: each must log replica.standing after it.
declare -A SKIP=()
kill_replica() { # r
	net_ctl stop-proc "coordinator$1" --signal KILL >/dev/null
	SKIP[$1]=$(wc -l <"$NET_DIR/log/coordinator$1.log")
}
rejoined() { # r
	tail -n +"$((SKIP[$1] + 1))" "$NET_DIR/log/coordinator$1.log" | grep -q replica.standing
}

for k in $(seq 1 "$FAULTS"); do
	wait_until 30 "one leader before fault $k" group_one_leader
	before=$(answers)
	progress() { (( $(answers) >= before + 20 )); }
	wait_until 60 "20 more answers before fault $k" progress
	l=$(group_leader)
	f=$(( l % R + 1 ))                 # a follower
	g=$(( f % R + 1 ))                 # the other one
	kind=$(( RANDOM % 5 ))
	d=$(( RANDOM % 801 )) # not in $( ): a subshell reseeds RANDOM
	SKIP=()
	case $kind in
	0)
		what="kill -9 leader $l, restarted at once"
		kill_replica "$l"
		net_ctl start-proc "coordinator$l" >/dev/null || fail "replica $l did not restart" ;;
	1)
		what="kill -9 follower $f, down $d ms"
		kill_replica "$f"; pause_ms "$d"
		net_ctl start-proc "coordinator$f" >/dev/null || fail "replica $f did not restart" ;;
	2)
		what="kill -9 leader $l and follower $f (no majority), down $d ms"
		kill_replica "$l"; kill_replica "$f"; pause_ms "$d"
		net_ctl start-proc "coordinator$l" >/dev/null || fail "replica $l did not restart"
		net_ctl start-proc "coordinator$f" >/dev/null || fail "replica $f did not restart" ;;
	3)
		h=london; (( RANDOM % 2 )) && h=leeds
		what="kill -9 hub $h, down $d ms"
		net_ctl stop-proc "$h" --signal KILL >/dev/null; pause_ms "$d"
		net_ctl start-proc "$h" >/dev/null || fail "$h did not restart" ;;
	4)
		what="leader $l frozen (SIGSTOP) 1.5 s"
		kill -STOP "$(pid_of "coordinator$l")"
		sleep 1.5
		kill -CONT "$(pid_of "coordinator$l")" ;;
	esac
	echo "$k $what" >>"$T/faults"
	wait_until 30 "one leader after fault $k" group_one_leader
	for r in "${!SKIP[@]}"; do
		wait_until 60 "replica $r to rejoin after fault $k" rejoined "$r"
	done
	log "fault $k at $before answers: $what; replica $(group_leader) leads"
done
ok "$FAULTS faults during the drop (seed $SEED)"
loadgen_finish "$LG"
group_audit_all

for h in $HUBS; do net_ctl stop-proc "$h" >/dev/null; done
wait_until 60 "the replicas' books identical" group_same_books
ok "books identical on all $R replicas"
mapfile -t dbs < <(group_dbs)
python3 "$NET_LIB_DIR/acked_check.py" "$T/acked" "$CAP:$CAP_STOCK" "$TEE:$TEE_STOCK" -- "${dbs[@]}" ||
	fail "journal check"
ok "0 acked orders lost on every replica; allocated == accepted <= stock per SKU"
cap_sold=$(stock_sum "$CAP" allocated)
[[ $cap_sold == "$CAP_STOCK" ]] || fail "$CAP sold $cap_sold of $CAP_STOCK: the oversell check needs it sold out"
ok "$CAP sold out exactly under the storm"
