#!/usr/bin/env bash
# Goal: a kill -9 storm on a single-node network in the middle of a drop
# loses nothing acknowledged, oversells nothing and leaves every stream
# converged. The crash tests kill one process once; this one keeps killing:
# FAULTS rounds (default 16; DROPNET_STORM_FAULTS), each after 20 more
# answers, each picked by a seeded draw (DROPNET_STORM_SEED, printed, so a
# failing storm replays with the same targets, kinds and down times):
#   - kill -9 the coordinator, down 0-800 ms, restart;
#   - kill -9 one hub, down 0-800 ms, restart;
#   - kill -9 the coordinator and a hub together, restart both;
#   - freeze the coordinator (SIGSTOP) for 1.5 s, then SIGCONT: a stalled
#     loop, which hubs and storefronts see as silence, not as an error;
#   - kill -9 one hub and wipe its data dir: it restarts on an empty store,
#     and the coordinator resends its open orders and seeds its book.
# Storefront: loadgen, one order per request, 8 connections, ~40 buyers a
# second for as long as the storm lasts (SIGUSR1 ends it), every timeout
# resent with the same key (--retries 100): the retry path a real shop takes.
# Two SKUs: storm-cap (40 units a hub: it sells out under the storm, so an
# oversell would show) and storm-tee (enough for the whole run, so acks keep
# coming through every fault). Then:
# - every buyer got a decided answer (loadgen exits 0);
# - 0 acked orders lost: every ACCEPTED answer loadgen got is journalled
#   ACCEPTED with that hub and order id (read from the coordinator's file);
# - per SKU: units accepted == allocated <= stock; storm-cap sold out exactly;
# - every hub's command stream caught up (cmd_acked == cmd_seq), each hub
#   holds exactly the placements the coordinator made there, once each, and
#   no order sits at two hubs;
# - `dropctl audit` is clean.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
HUBS=(london birmingham manchester)
FAULTS=${DROPNET_STORM_FAULTS:-16}
SEED=${DROPNET_STORM_SEED:-$(( $(date +%s) % 100000 ))}
CAP=storm-cap
TEE=storm-tee
CAP_EACH=40
TEE_EACH=100000
log "storm seed $SEED, $FAULTS faults (replay: DROPNET_STORM_SEED=$SEED)"
RANDOM=$SEED

net_start "${HUBS[*]}"
for h in "${HUBS[@]}"; do
	receive_and_wait "$h" "$CAP" "$CAP_EACH"
	receive_and_wait "$h" "$TEE" "$TEE_EACH"
done
ok "stocked $CAP x$((CAP_EACH * ${#HUBS[@]})), $TEE x$((TEE_EACH * ${#HUBS[@]}))"

# Buyers in UK cities by population (loadgen's default), alternating SKUs;
# loadgen itself is the background job (SIGUSR1 must reach it, not a shell).
DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 72000 --concurrency 8 \
	--sku "$CAP,$TEE" --key-prefix storm --duration-s 1800 --burst-tau-s 86400 \
	--retries 100 --timeout-ms 2000 --acked-file "$T/acked" --answers-file "$T/answers" \
	>"$T/loadgen.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")
answers() { [[ -f $T/answers ]] && wc -l <"$T/answers" || echo 0; }

# Starts NAME again (local-net.sh waits until it is ready).
restart() { # name
	net_ctl start-proc "$1" >/dev/null || fail "$1 did not restart"
}
pause_ms() { sleep "$(printf '0.%03d' "$1")"; }

: >"$T/faults"
for k in $(seq 1 "$FAULTS"); do
	before=$(answers)
	progress() { (( $(answers) >= before + 20 )); }
	wait_until 60 "20 more answers before fault $k" progress
	hub=${HUBS[$(( RANDOM % ${#HUBS[@]} ))]}
	kind=$(( RANDOM % 9 ))
	d=$(( RANDOM % 801 )) # not in $( ): a subshell reseeds RANDOM
	case $kind in
	0|1|2)
		what="kill -9 coordinator, down $d ms"
		net_ctl stop-proc coordinator --signal KILL >/dev/null
		pause_ms "$d"; restart coordinator ;;
	3|4|5)
		what="kill -9 $hub, down $d ms"
		net_ctl stop-proc "$hub" --signal KILL >/dev/null
		pause_ms "$d"; restart "$hub" ;;
	6)
		what="kill -9 coordinator and $hub, down $d ms"
		net_ctl stop-proc coordinator --signal KILL >/dev/null
		net_ctl stop-proc "$hub" --signal KILL >/dev/null
		pause_ms "$d"; restart coordinator; restart "$hub" ;;
	7)
		what="coordinator frozen (SIGSTOP) 1.5 s"
		kill -STOP "$(pid_of coordinator)"
		sleep 1.5
		kill -CONT "$(pid_of coordinator)" ;;
	8)
		what="kill -9 $hub and wipe its disk, down $d ms"
		net_ctl stop-proc "$hub" --signal KILL >/dev/null
		rm -rf "${NET_DIR:?}/$hub"
		pause_ms "$d"; restart "$hub" ;;
	esac
	echo "$k $what" >>"$T/faults"
	log "fault $k at $before answers: $what"
done
ok "$FAULTS faults during the drop (seed $SEED)"
loadgen_finish "$LG"

net_ctl wait-healthy >/dev/null || fail "hubs did not come back healthy"
wait_until 60 "every hub's command stream caught up" streams_caught_up
ok "streams caught up: cmd_acked == cmd_seq for every hub"

python3 "$NET_LIB_DIR/acked_check.py" "$T/acked" "$CAP:$((CAP_EACH * ${#HUBS[@]}))" \
	"$TEE:$((TEE_EACH * ${#HUBS[@]}))" -- "$NET_DIR/coordinator/coordinator.db" || fail "journal check"
ok "0 acked orders lost ($N_ACKED journalled ACCEPTED with their hub and id); allocated == accepted <= stock"
cap_sold=$(stock_sum "$CAP" allocated)
[[ $cap_sold == $((CAP_EACH * ${#HUBS[@]})) ]] ||
	fail "$CAP sold $cap_sold of $((CAP_EACH * ${#HUBS[@]})): the oversell check needs it sold out"
ok "$CAP sold out exactly under the storm"

# Each hub holds exactly the placements the coordinator made there, each
# once, and no order is placed at two hubs (read from the files: a pick
# queue listing stops at DN_QUEUE_LIST_MAX).
python3 - "$NET_DIR" "${HUBS[@]}" <<'PY' || fail "hub queues check"
import sqlite3, sys
d, hubs = sys.argv[1], sys.argv[2:]
c = sqlite3.connect("file:%s/coordinator/coordinator.db?mode=ro" % d, uri=True)
bad, where = [], {}
for h in hubs:
    placed = {pid for (pid,) in c.execute("SELECT id FROM placements WHERE hub = ? AND kind = 'order'", (h,))}
    hc = sqlite3.connect("file:%s/%s/hub.db?mode=ro" % (d, h), uri=True)
    rows = list(hc.execute("SELECT order_id, order_key FROM orders"))
    held = {oid for oid, _ in rows}
    if held != placed:
        bad.append("%s: %d placed by the coordinator, %d at the hub; missing %s, extra %s"
                   % (h, len(placed), len(held), sorted(placed - held)[:5], sorted(held - placed)[:5]))
    for _, key in rows:
        if key in where:
            bad.append("order %s held by %s and %s" % (key, where[key], h))
        where[key] = h
    print("%s: %d orders, the coordinator placed %d" % (h, len(held), len(placed)), file=sys.stderr)
for b in bad[:30]:
    print("BAD", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "every hub holds exactly its placements, once each; no order at two hubs"
audit_clean || fail "audit"
ok "audit clean"
