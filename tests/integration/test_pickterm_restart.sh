#!/usr/bin/env bash
# Goal: no action is lost when hubd dies mid-pick. A picker has scanned 1 of
# 3 units when hubd is killed (kill -9): the full-screen terminal says hubd
# is down, keeps the next scan as pending and says it will be resent, and
# refuses a further scan visibly instead of dropping it. When hubd is back
# the terminal reconnects and says so, the pending scan is delivered exactly
# once (the hub counts 2, not 1 or 3), and the pick resumes to the end.
# The same request_key sent twice (command mode, as the terminal resends)
# is done once and answered the same both times. A command-line write that
# hubd (frozen) did not answer names the key pickterm gave it; run again
# with that key it is done once.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london"
pt london receive tee 10 --bin A-01 >/dev/null || fail "receive"
wait_until 20 "coordinator sees tee" stock_is london tee on_hand 10
submit crash-1 tee 3
id=$(order_id_of crash-1)
picked() { jget "$(hubq)" '[o["lines"][0]["picked"] for o in j["orders"] if o["order_id"] == '"$id"'][0]'; }

term_start a alice
wait_screen 10 a "crash-1"
key a n
wait_screen 5 a "order $id: scan bin A-01"
scan a A-01
scan a tee
wait_screen 5 a "order $id: scan sku tee \(1/3\)"
[[ $(picked) == 1 ]] || fail "hub did not count the first unit"

net_ctl stop-proc london --signal KILL >/dev/null
wait_screen 10 a 'hubd DOWN'
shot a 30-hubd-down
scan a tee
wait_screen 10 a "hubd down: 'pick tee 2/3 for order $id' kept, resent until answered"
shot a 31-action-pending
scan a tee
wait_screen 10 a "refused: 'pick tee 2/3 for order $id' still waits for hubd"
ok "hubd down: the scan is kept pending, a second one is refused on screen"

net_ctl start-proc london >/dev/null
wait_screen 20 a "reconnected to hubd; pick tee 2/3 for order $id: order $id picking"
wait_screen 5 a 'hubd UP'
wait_screen 5 a "order $id: scan sku tee \(2/3\)"
shot a 32-reconnected
[[ $(picked) == 2 ]] || fail "after restart the hub counts $(picked), want 2"
ok "hubd back: terminal reconnected, pending scan delivered once (2/3)"

# The pick resumes where the hub's book says it stands (bin still confirmed).
scan a tee
wait_screen 5 a "order $id: scan each line into the parcel"
[[ $(jget "$(hubq)" '[o["state"] for o in j["orders"] if o["order_id"] == '"$id"'][0]') == picked ]] || fail "not picked"
! screen_has a PICKTERM-EXITED || fail "the terminal exited"
ok "pick resumed and completed after the restart"

submit crash-2 tee 3
id2=$(order_id_of crash-2)
a1=$(pt london --operator zoe --request-key zoe-7 pick "$id2" --scan tee) || fail "keyed pick"
a2=$(pt london --operator zoe --request-key zoe-7 pick "$id2" --scan tee) || fail "keyed retry"
[[ $a1 == "$a2" ]] || fail "retry answered differently: '$a1' vs '$a2'"
n2=$(jget "$(hubq)" '[o["lines"][0]["picked"] for o in j["orders"] if o["order_id"] == '"$id2"'][0]')
[[ $n2 == 1 ]] || fail "same request_key twice counted $n2 units"
grep -q "hub.term_replayed key=zoe-7" "$NET_DIR/log/london.log" || fail "hubd did not log the replay"
ok "same request_key twice: done once, same answer"


# A command-line write to a frozen hubd (no --request-key): pickterm gives up
# with exit 3 and names the key it sent; the same command with that key is
# done at most once, whether hubd ran the first request after the thaw (the
# retry is then answered from its journal, as zoe-7 above) or dropped it
# unrun (its client had gone: bridge.abandoned): a second receipt would put
# 4 units in the book that are not on the shelf.
before=$(stock_field london tee on_hand)
lpid=$(pid_of london)
kill -STOP "$lpid"
rc=0
err=$(pt london receive tee 4 --bin A-02 2>&1 >/dev/null) || rc=$?
kill -CONT "$lpid"
[[ $rc == 3 ]] || fail "pickterm exit $rc against a frozen hubd, want 3 ($err)"
# Thawed, hubd answers again (its listener guard restarts the terminal
# socket that the connection given up during the freeze stopped).
wait_until 20 "hubd answers after the thaw" pt london status
k=$(grep -o -- '--request-key [^ ]*' <<<"$err" | awk '{print $2}')
[[ $k == pt-* ]] || fail "pickterm did not name the key it sent: $err"
out=$(pt london --request-key "$k" receive tee 4 --bin A-02 2>&1) || fail "retry with $k: $out"
wait_until 20 "coordinator sees the 4 units" stock_is london tee on_hand $((before + 4))
inbin=$(jget "$(pt london --json bin A-02)" 'sum(r["qty"] for r in j["stock"] if r["sku"] == "tee")')
[[ $inbin == 4 ]] || fail "the hub's book holds $inbin tee in A-02, want 4"
ok "a write hubd did not answer: retried with the key pickterm printed, done once"
