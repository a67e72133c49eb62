#!/usr/bin/env bash
# Goal: a hub that stops heartbeating is skipped by routing and used again
# when it returns. Manchester and Leeds (57 km apart, radius 75) both cover
# Leeds city; only Leeds covers York. Leeds is frozen with SIGSTOP: within a
# deadline `dropctl hubs` shows it unhealthy, an order from Leeds city goes
# to Manchester (order show names leeds "unhealthy") and an order from York
# gets NO_HUB_IN_RANGE. After SIGCONT Leeds is healthy again and takes both.
# coordinator.hub_grace_ms=0: a silent hub is down for routing at once (the
# grace itself is tested on the machines, tests/machine/test_hub_health.c).
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "manchester leeds" --coord-set coordinator.hub_grace_ms=0

SKU=hb-sku
receive_and_wait manchester "$SKU" 20
receive_and_wait leeds "$SKU" 20
LEEDS=(--lat 53.8008 --lon -1.5491)
YORK=(--lat 53.9590 --lon -1.0815)
n=0
# order WHERE...: submits a new order, sets r="STATUS HUB" (no subshell, so
# the key counter n really advances).
order() {
	n=$((n + 1))
	local out
	out=$(dc --json order submit --key "hb-$n" --customer "c$n" --sku "$SKU" --qty 1 "$@")
	[[ $(jget "$out" 'j["duplicate"]') == false ]] || fail "hb-$n answered as a duplicate: $out"
	r="$(jget "$out" 'j["status"]') $(jget "$out" 'j.get("hub") or "-"')"
}

order "${LEEDS[@]}"
[[ $r == "ACCEPTED leeds" ]] || fail "healthy: Leeds order not at leeds"
ok "both healthy: a Leeds order goes to leeds"

lpid=$(pid_of leeds)
kill -STOP "$lpid"
ok "leeds frozen (SIGSTOP)"
wait_until 10 "coordinator marks leeds unhealthy" hub_unhealthy leeds
hub_healthy manchester || fail "manchester unhealthy too"
ok "leeds unhealthy, manchester healthy"

order "${LEEDS[@]}"
[[ $r == "ACCEPTED manchester" ]] || fail "leeds down: Leeds order got '$r', want manchester"
show=$(dc --json order show "hb-$n")
[[ $(jget "$show" '[c["verdict"] for c in j["order"]["candidates"] if c["hub"] == "leeds"][0]') == unhealthy ]] \
	|| fail "order show does not say leeds was unhealthy: $show"
ok "Leeds order went to manchester; leeds passed over as unhealthy"
order "${YORK[@]}"
[[ $r == "NO_HUB_IN_RANGE -" ]] || fail "leeds down: York order got '$r', want NO_HUB_IN_RANGE"
ok "York order: NO_HUB_IN_RANGE while leeds is down"

kill -CONT "$lpid"
ok "leeds resumed (SIGCONT)"
wait_until 10 "leeds healthy again" hub_healthy leeds
order "${LEEDS[@]}"
[[ $r == "ACCEPTED leeds" ]] || fail "leeds back: Leeds order got '$r'"
order "${YORK[@]}"
[[ $r == "ACCEPTED leeds" ]] || fail "leeds back: York order got '$r'"
ok "leeds back in routing"

# The same with a hard stop: kill the process, restart it.
net_ctl stop-proc leeds --signal KILL >/dev/null
wait_until 10 "coordinator marks killed leeds unhealthy" hub_unhealthy leeds
order "${YORK[@]}"
[[ $r == "NO_HUB_IN_RANGE -" ]] || fail "leeds killed: York order got '$r'"
net_ctl start-proc leeds >/dev/null
wait_until 10 "restarted leeds healthy" hub_healthy leeds
order "${YORK[@]}"
[[ $r == "ACCEPTED leeds" ]] || fail "leeds restarted: York order got '$r'"
ok "killed and restarted leeds: skipped, then used again"
wait_until 20 "streams caught up" streams_caught_up
audit_clean || fail "audit"
ok "audit clean"
