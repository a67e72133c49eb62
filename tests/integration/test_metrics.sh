#!/usr/bin/env bash
# Goal: /metrics tells the truth during a real drop. A local network (TLS
# on; every daemon serves /metrics on loopback, net.sh) runs a 300-unit
# drop that 800 loadgen buyers hit; then the coordinator's
# dropnet_orders_total by status equals loadgen's own counts status by
# status, ACCEPTED equals `dropctl kpi`'s accepted_orders, the drop's
# allocated/sellable gauges equal the ledger, the ack latency histogram
# counted every order, and each hub's queue gauges add up to the accepted
# orders once the streams caught up. Both daemons' output passes the format
# checker (lib/promcheck.py) and `promtool check metrics`, the alert rules
# `promtool check rules`, every
# metric the Grafana dashboard and the alert rules query exists, and a
# non-loopback metrics.listen is refused at start unless allow_public.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
PROMCHECK="$NET_LIB_DIR/promcheck.py"
HUBS="london birmingham"
net_start "$HUBS"
[[ -n ${DROPNET_METRICS:-} ]] || fail "net.env has no DROPNET_METRICS"

# ---- the address policy ----------------------------------------------------
set +e
out=$("$COORDINATOR" --set "coordinator.data_dir=$T/refused" --set tls.allow_plaintext=1 \
	--set coordinator.ingest_url=ipc://$T/i --set coordinator.ops_url=ipc://$T/o \
	--set coordinator.hub_url=ipc://$T/h --set coordinator.signal_url=ipc://$T/s \
	--set metrics.listen=http://0.0.0.0:9 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"not a loopback address"* ]] || fail "coordinator took a public metrics.listen (rc $rc): $out"
set +e
out=$("$HUBD" --config "$REPO_DIR/deploy/net/london.ini" --set "hub.data_dir=$T/refused-hub" \
	--set tls.allow_plaintext=1 --set hub.coordinator_url=tcp://127.0.0.1:9 \
	--set metrics.listen=http://192.0.2.1:9 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"not a loopback address"* ]] || fail "hubd took a public metrics.listen (rc $rc): $out"
ok "a non-loopback metrics.listen is refused at start (coordinator and hubd)"

# ---- a drop under load -----------------------------------------------------
SKU=met-tee
NOW=$(jget "$(dc --json clock)" 'j["clock_ms"]')
dc drop create --id met-drop --sku "$SKU:300" --placement london:180,birmingham:120 \
	--tier "pub:$NOW:+1h" >/dev/null || fail "drop create"
receive_and_wait london "$SKU" 180
receive_and_wait birmingham "$SKU" 120
dc drop open met-drop >/dev/null || fail "drop open"
# The loop publishes its snapshot at most every 100 ms: wait for the one
# that has seen the stock received and the drop opened.
sellable_published() {
	scrape "$DROPNET_METRICS" >"$T/before.txt" &&
		[[ $(metric "$T/before.txt" dropnet_drop_sellable drop=met-drop sku=$SKU) == 300 ]]
}
wait_until 10 "the sellable gauge at 300 in /metrics" sellable_published
accepted0=$(metric "$T/before.txt" dropnet_orders_total status=ACCEPTED)
[[ $accepted0 == 0 ]] || fail "ACCEPTED is $accepted0 before any order"
ok "before the drop: 300 sellable, nothing accepted"

lg=$("$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 800 --concurrency 32 --sku "$SKU" --qty 1 \
	--drop met-drop --tier pub --seed 13 --key-prefix met --json) || fail "loadgen failed: $lg"
log "loadgen: $lg"
[[ $(jget "$lg" 'j["errors"]') == 0 ]] || fail "loadgen saw errors: $lg"
answered=$(jget "$lg" 'sum(j["by_status"].values())')
[[ $answered == 800 ]] || fail "loadgen has $answered answers, want 800"

# The snapshot is published at most a tick (250 ms) after the last batch.
all_counted() {
	scrape "$DROPNET_METRICS" >"$T/after.txt" &&
		[[ $(metric "$T/after.txt" dropnet_orders_total) == 800 ]]
}
wait_until 10 "dropnet_orders_total to reach 800" all_counted
python3 - "$lg" "$T/after.txt" <<'PY' || fail "orders_total by status differs from loadgen's counts"
import json, re, sys
lg = json.loads(sys.argv[1])["by_status"]
got = {}
for line in open(sys.argv[2]):
    m = re.match(r'^dropnet_orders_total\{status="([A-Z_]+)"\} (\S+)$', line)
    if m and float(m.group(2)) > 0:
        got[m.group(1)] = int(float(m.group(2)))
print("metrics:", got, "loadgen:", lg, file=sys.stderr)
sys.exit(0 if got == {k: v for k, v in lg.items() if v} else 1)
PY
accepted=$(jget "$lg" 'j["by_status"].get("ACCEPTED", 0)')
(( accepted > 0 && accepted < 800 )) || fail "accepted $accepted: the drop should sell some and refuse some"
kpi=$(dc --json kpi --drop met-drop) || fail "dropctl kpi"
[[ $(jget "$kpi" 'j["kpi"]["accepted_orders"]') == "$accepted" ]] ||
	fail "kpi accepted_orders $(jget "$kpi" 'j["kpi"]["accepted_orders"]'), metrics $accepted"
refused=$(( 800 - accepted ))
[[ $(metric "$T/after.txt" dropnet_refusals_total) == "$refused" ]] ||
	fail "refusals_total $(metric "$T/after.txt" dropnet_refusals_total), want $refused"
ok "orders_total by status = loadgen's counts; ACCEPTED $accepted = dropctl kpi; refusals $refused"

alloc_ok() {
	scrape "$DROPNET_METRICS" >"$T/drop.txt" &&
		[[ $(metric "$T/drop.txt" dropnet_drop_allocated drop=met-drop sku=$SKU) == $(stock_sum "$SKU" allocated) ]] &&
		[[ $(metric "$T/drop.txt" dropnet_drop_sellable drop=met-drop sku=$SKU) == $(stock_sum "$SKU" sellable) ]]
}
wait_until 10 "drop gauges to match the ledger" alloc_ok
[[ $(metric "$T/drop.txt" dropnet_drop_accepted_orders drop=met-drop) == "$accepted" ]] ||
	fail "dropnet_drop_accepted_orders $(metric "$T/drop.txt" dropnet_drop_accepted_orders drop=met-drop)"
acks=$(metric "$T/after.txt" dropnet_ack_latency_seconds_count path=ingest)
(( acks >= 800 )) || fail "ack latency counted $acks ingest requests, want >= 800"
(( $(metric "$T/after.txt" dropnet_commit_seconds_count) > 0 )) || fail "no COMMIT timed"
# loadgen's storefront is the one it signs as (net.env), else "loadgen".
sf=${DROPNET_STOREFRONT_AUTH_NAME:-loadgen}
(( $(metric "$T/after.txt" dropnet_orders_received_total "storefront=$sf") == 800 )) ||
	fail "orders_received_total{storefront=$sf} $(metric "$T/after.txt" dropnet_orders_received_total "storefront=$sf")"
ok "drop gauges = ledger; $acks acks timed; storefront counted"

# ---- the hubs --------------------------------------------------------------
wait_until 30 "streams caught up" streams_caught_up
queued_ok() {
	local sum=0 h v u
	for h in $HUBS; do
		v="DROPNET_METRICS_$(echo "$h" | tr '[:lower:]' '[:upper:]')"
		scrape "${!v}" >"$T/hub-$h.txt" || return 1
		u=$(metric "$T/hub-$h.txt" dropnet_hub_orders state=queued)
		sum=$((sum + u))
	done
	[[ $sum == "$accepted" ]]
}
wait_until 10 "hub queue gauges to add up to $accepted" queued_ok
for h in $HUBS; do
	f="$T/hub-$h.txt"
	[[ $(metric "$f" dropnet_hub_coordinator_up hub=$h) == 1 ]] || fail "$h: coordinator_up not 1"
	age=$(metric "$f" dropnet_hub_last_sync_age_seconds hub=$h)
	python3 -c "import sys; sys.exit(0 if 0 <= float('$age') < 5 else 1)" || fail "$h: last sync $age s ago"
	[[ $(metric "$T/after.txt" dropnet_hub_up hub=$h) == 1 ]] || fail "coordinator: $h not up"
	python3 "$PROMCHECK" "$f" || fail "$h: /metrics fails the format check"
done
python3 "$PROMCHECK" "$T/after.txt" || fail "coordinator: /metrics fails the format check"
# And promtool itself (Debian's prometheus package; tests/run.sh installs it).
command -v promtool >/dev/null || fail "promtool missing: run tests/run.sh, or apt-get install prometheus"
for f in "$T/after.txt" $(for h in $HUBS; do printf '%s ' "$T/hub-$h.txt"; done); do
	promtool check metrics < "$f" || fail "promtool check metrics: $f"
done
promtool check rules "$REPO_DIR/deploy/prometheus/alerts.yml" >/dev/null ||
	fail "promtool check rules deploy/prometheus/alerts.yml"
(( $(metric "$T/after.txt" process_resident_memory_bytes) > 0 )) || fail "no RSS"
(( $(metric "$T/after.txt" process_open_fds) > 0 )) || fail "no open fds"
ok "hubs: queued orders add up to $accepted, coordinator up, fresh sync; both formats check"
audit_clean || fail "audit not clean"

# ---- the dashboard and the alert rules query only what exists ----------------
python3 "$NET_LIB_DIR/metric_names.py" --scrape "$T/after.txt" \
	$(for h in $HUBS; do printf -- '--scrape %s ' "$T/hub-$h.txt"; done) \
	"$REPO_DIR/deploy/grafana/dropnet.json" "$REPO_DIR/deploy/prometheus/alerts.yml" ||
	fail "a dashboard query or alert rule names a metric no daemon serves"
ok "every metric in deploy/grafana/dropnet.json and deploy/prometheus/alerts.yml exists"
