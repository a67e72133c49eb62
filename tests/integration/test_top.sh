#!/usr/bin/env bash
# Goal: `dropctl top` shows a drop selling out live. The full-screen view
# runs in tmux against a real network (metrics on, net.sh) while loadgen
# buys a 200-unit drop in London: the screen first shows the hubs healthy and the
# drop untouched (0 sold, 200 sellable), then orders flowing and the drop at
# 100% SOLD OUT with the coordinator's own totals; q quits it. --plain
# prints one block per interval (--count of them) with the same figures,
# and an unreachable /metrics is exit 3 with a clear message.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
LOADGEN=$(net_prog loadgen)
net_start "london birmingham"

SKU=top-tee
NOW=$(jget "$(dc --json clock)" 'j["clock_ms"]')
dc drop create --id top-drop --sku "$SKU:200" --placement london:200 \
	--tier "pub:$NOW:+1h" >/dev/null || fail "drop create"
receive_and_wait london "$SKU" 200
dc drop open top-drop >/dev/null || fail "drop open"

tm new-session -d -s top -x 120 -y 30 \
	"env TERM=xterm-256color $DROPCTL top --metrics $DROPNET_METRICS --interval-ms 300 2>>$T/top.err; echo TOP-EXITED; sleep 60"
wait_screen 15 top 'london +ok'
wait_screen 5 top 'birmingham +ok'
wait_screen 5 top 'top-drop +top-tee +200 +0 +200 +0 +0%'
shot top 50-top-before
ok "top: hubs ok, the drop untouched before it opens to buyers"

lg=$("$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 600 --concurrency 8 --sku "$SKU" --qty 1 \
	--drop top-drop --tier pub --seed 5 --key-prefix top --duration-s 3 \
	--ship-to 51.5007,-0.1246 --json) || fail "loadgen: $lg"
accepted=$(jget "$lg" 'j["by_status"].get("ACCEPTED", 0)')
[[ $accepted == 200 ]] || fail "loadgen: $accepted accepted, want the whole 200: $lg"
wait_screen 10 top 'top-drop +top-tee +200 +200 +0 +0 +100% \[#+\] SOLD OUT'
wait_screen 10 top 'orders/s .* total 600'
refused=$(jget "$lg" 'sum(v for k, v in j["by_status"].items() if k != "ACCEPTED")')
wait_screen 5 top "refusals/s .* total $refused"
screen top | grep -qE 'ack latency p50 [0-9.]+ ms +p99 [0-9.]+ ms' || fail "no ack latency line"
shot top 51-top-sold-out
ok "top: 600 orders, $refused refused, the drop at 100% SOLD OUT on screen"
key top q
wait_screen 5 top 'TOP-EXITED'
[[ ! -s $T/top.err ]] || fail "top wrote to stderr: $(cat "$T/top.err")"
ok "q quits"

out=$("$DROPCTL" top --plain --count 2 --interval-ms 200 --metrics "$DROPNET_METRICS") || fail "top --plain failed"
[[ $(grep -c '^dropnet top ' <<<"$out") == 2 ]] || fail "--plain --count 2 printed $(grep -c '^dropnet top ' <<<"$out") blocks: $out"
grep -qE '^top-drop +top-tee +200 +200 +0 +0 +100%' <<<"$out" || fail "--plain: no sold-out drop line: $out"
grep -qE '^orders/s +0\.0 .* total 600$' <<<"$(tail -n +2 <<<"$out" | grep '^orders/s' | tail -1)" ||
	fail "--plain: the second block's rate is not 0 with total 600: $out"
ok "--plain: two blocks, the same figures"

set +e
msg=$("$DROPCTL" top --plain --count 1 --timeout-ms 1000 --metrics http://127.0.0.1:1/metrics 2>&1); rc=$?
set -e
[[ $rc == 3 && $msg == *"dropctl: top: http://127.0.0.1:1/metrics"* ]] || fail "unreachable /metrics: rc $rc, $msg"
ok "unreachable /metrics: exit 3 with the URL"
