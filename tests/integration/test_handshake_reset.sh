#!/usr/bin/env bash
# Goal: peers that give up in the middle of a handshake cost nothing.
# Rounds of 80 connections that send a TLS ClientHello and then reset or
# close, on each of the coordinator's four TCP sockets (ingest, ops, hub
# sync, signals), and 300 that connect to a hub's terminal socket and close
# at once. libnng 1.5.2 stops a listener for good on such a peer
# (netguard.h: the coordinator then completed TLS handshakes but took no
# order until restarted). After every round a valid order is ACCEPTED;
# rounds go on until the coordinator has logged that it made its ingest
# listener again (net.endpoint_restarted) - the stop happened and was
# mended. Then, with the same coordinator: ops answer, a hub restarted
# reconnects and is healthy, a staff terminal is served, the audit is clean.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
HSRESET="python3 $NET_LIB_DIR/hsreset.py"

net_start "london"
receive_and_wait london hs-sku 20
cpid=$(pid_of coordinator)
hpid=$(pid_of london)

port_of() { echo "${1##*:}"; }
order_ok() { # key
	local out
	out=$(as_storefront "$DROPCTL" --ingest "$DROPNET_INGEST" --timeout-ms 5000 --json order submit \
		--key "$1" --customer c1 --sku hs-sku --lat 51.5 --lon -0.12 2>>"$T/submit.err") || return 1
	[[ $(jget "$out" 'j["status"]') == ACCEPTED ]]
}
restarted() { grep -q "net.endpoint_restarted url=$DROPNET_INGEST kind=listener" "$NET_DIR/log/coordinator.log"; }

# Whether a reset lands before or after nng's write is a race: rounds of
# resets (half reset at once, half closed after the ClientHello) until
# nng has stopped the ingest listener and the guard has made it again;
# after every round the ingest must take an order.
term=$(hub_url london)
round=0
while :; do
	round=$((round + 1))
	for url in "$DROPNET_INGEST" "$DROPNET_COORDINATOR" "$DROPNET_HUBSYNC" "$DROPNET_SIGNAL"; do
		$HSRESET tls 127.0.0.1 "$(port_of "$url")" 40 || fail "hsreset on $url"
		$HSRESET tls-fin 127.0.0.1 "$(port_of "$url")" 40 || fail "hsreset on $url"
	done
	$HSRESET ipc "${term#ipc://}" 300 || fail "hsreset on $term"
	wait_until 60 "a valid order ACCEPTED after reset round $round" order_ok "hs-ok-$round"
	restarted && break
	(( round < 10 )) || fail "10 rounds of resets and nng never stopped the ingest listener"
done
ok "$round round(s) of resets (80 on each coordinator socket, 300 on london's terminal); an order ACCEPTED after each"
restarts_metric() {
	scrape "$DROPNET_METRICS" >"$T/metrics.txt" &&
		(( $(metric "$T/metrics.txt" dropnet_listener_restarts_total socket=ingest) >= 1 ))
}
wait_until 10 "dropnet_listener_restarts_total{socket=\"ingest\"} >= 1 on /metrics" restarts_metric
ok "the coordinator made its ingest listener again (logged, and counted on /metrics)"
wait_until 30 "ops answer after the resets" dc hubs

# A new connection on the hub sync socket: restart the hub.
net_ctl stop-proc london >/dev/null
net_ctl start-proc london >/dev/null || fail "london did not start again"
wait_until 60 "london healthy after its restart" hub_healthy london
ok "london restarted, reconnected and healthy"

wait_until 30 "london's terminal answers after the resets" pt london status
[[ $(pid_of coordinator) == "$cpid" ]] && kill -0 "$cpid" || fail "coordinator restarted or died"
[[ $(stock_field london hs-sku allocated) == "$round" ]] || fail "allocated is not $round"
audit_clean || fail "audit not clean"
ok "same coordinator, allocated=1, audit clean"
