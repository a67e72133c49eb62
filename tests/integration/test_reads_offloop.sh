#!/usr/bin/env bash
# Goal: the single node's journal reads and checkpoints run off the loop
# (docs/ARCHITECTURE.md "Reads that scan the journal run off the loop")
# and stay right while orders flow. A storefront (loadgen, the batching
# client) sends 30,000 orders while `dropctl audit` and `dropctl kpi`
# run over and over: every order is answered, no audit finds anything, and
# every KPI answer counts no more than what was accepted by then and, at
# the end, exactly what was accepted. SQLite's own checkpoint is off on the
# machine's connection (it would run inside a COMMIT on the loop); the
# checkpoints the shell asks for on a worker still happen: the database
# file grows while the WAL stays bounded.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
net_start "london"
DB="$NET_DIR/coordinator/coordinator.db"
[[ -f $DB ]] || fail "no coordinator file at $DB"

SKU=reads-tee
receive_and_wait london "$SKU" 40000
dc drop create --id rd --sku "$SKU:40000" --tier public:now:+1d >/dev/null || fail "drop create"
dc drop open rd >/dev/null || fail "drop open"
db0=$(stat -c %s "$DB")

as_storefront "$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 30000 --concurrency 32 \
	--sku "$SKU" --seed 5 --key-prefix rd --ship-to 51.5,-0.12 --batch 16 --inflight 2 \
	--drop rd --tier public --json >"$T/lg.json" 2>"$T/lg.err" &
LG=$!
audits=0; kpis=0
while kill -0 "$LG" 2>/dev/null; do
	out=$(dc audit 2>&1) || fail "audit while orders flow: $out"
	audits=$((audits + 1))
	k=$(dc --json kpi --drop rd) || fail "kpi while orders flow: $k"
	kpis=$((kpis + 1))
	units=$(jget "$k" 'j["kpi"].get("accepted_units", 0)')
	(( units <= 40000 )) || fail "kpi counts $units units of 40000"
done
wait "$LG" || fail "loadgen failed: $(cat "$T/lg.err")"
lg=$(cat "$T/lg.json")
[[ $(jget "$lg" 'j["errors"]') == 0 ]] || fail "loadgen errors: $lg"
acc=$(jget "$lg" 'j["accepted"]')
(( acc == 30000 )) || fail "accepted $acc of 30000"
(( audits >= 2 && kpis >= 2 )) || fail "only $audits audits and $kpis KPIs ran during the orders"
ok "30,000 orders answered while $audits audits (all clean) and $kpis KPIs ran"

k=$(dc --json kpi --drop rd) || fail "kpi: $k"
[[ $(jget "$k" 'j["kpi"]["accepted_units"]') == 30000 ]] || fail "final kpi: $k"
ok "the KPI after the orders counts exactly the 30,000 units accepted"
audit_clean || fail "audit not clean at the end"

db1=$(stat -c %s "$DB")
wal=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
log "coordinator.db $db0 -> $db1 bytes; -wal $wal bytes"
(( db1 > db0 )) || fail "the database file did not grow ($db0 -> $db1): no checkpoint ran"
(( wal < 128 * 1024 * 1024 )) || fail "the WAL grew to $wal bytes: checkpoints do not keep up"
ok "checkpoints off the loop: database $db0 -> $db1 bytes, WAL $wal bytes"

# Many audits at once (a monitor and several operators): at most
# READS_QUEUE_MAX (3) journal reads wait or run; any more is answered at
# once, busy, instead of holding one of the ops socket's 8 contexts. Each
# audit gets an answer - clean, or busy - and the socket goes on serving.
pids=()
for i in $(seq 1 12); do
	dc --timeout-ms 60000 audit >"$T/par$i.out" 2>&1 &
	pids+=($!)
done
clean=0; busy=0
for i in $(seq 1 12); do
	wait "${pids[$((i - 1))]}" && clean=$((clean + 1)) && continue
	grep -q "busy: other journal reads" "$T/par$i.out" || fail "audit $i: $(cat "$T/par$i.out")"
	busy=$((busy + 1))
done
(( clean >= 1 )) || fail "no audit of 12 ran"
(( busy == 0 )) || grep -q "reads.busy" "$NET_DIR"/log/coordinator*.log || fail "busy answers but no reads.busy line"
dc hubs >/dev/null || fail "the ops socket stopped serving after the audits"
ok "12 audits at once: $clean ran clean, $busy answered busy at once; the ops socket still serves"
