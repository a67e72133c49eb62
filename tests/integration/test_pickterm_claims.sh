#!/usr/bin/env bash
# Goal: two pickers can never hold the same order. Two real full-screen
# terminals (alice, bob) in tmux against one hubd: with one order in the
# queue both press Enter on it at the same moment - exactly one gets the
# pick screen, the other sees CLAIMED with the holder's name, and the hub's
# queue names the winner. With five orders both press `n` at once: each gets
# a different order. A third operator in command mode is refused (exit 1,
# CLAIMED) on claim, pick and ship of someone else's order; after the holder
# releases (`l`), the order is free and can be claimed again.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london"
receive_and_wait london tee 50

term_start a alice
term_start b bob
wait_screen 10 a 'no open orders'
wait_screen 10 b 'no open orders'

submit solo tee 1
id=$(order_id_of solo)
wait_screen 10 a "> $id +solo"
wait_screen 10 b "> $id +solo"
# Both press Enter on the selected (only) order at once.
tm send-keys -t a Enter \; send-keys -t b Enter
wait_screen 10 a "order $id: scan sku tee|CLAIMED"
wait_screen 10 b "order $id: scan sku tee|CLAIMED"
sa=$(screen a); sb=$(screen b)
wins=0; winner=""; loser=""
if grep -q "order $id: scan sku tee" <<<"$sa"; then wins=$((wins + 1)); winner=alice; loser=b; fi
if grep -q "order $id: scan sku tee" <<<"$sb"; then wins=$((wins + 1)); winner=bob; loser=a; fi
[[ $wins == 1 ]] || fail "exactly one terminal must win the claim, got $wins"
wait_screen 5 "$loser" "CLAIMED order $id is claimed by $winner"
shot "$loser" 20-claimed-by-other
held=$(jget "$(hubq)" '[o["claimed_by"] for o in j["orders"] if o["order_id"] == '"$id"'][0]')
[[ $held == "$winner" ]] || fail "hub says $held holds it, screens say $winner"
ok "one order, two Enter at once: $winner won, the other saw CLAIMED by $winner"

# A third operator, command mode: refused on claim, pick and ship.
set +e
out=$(pt london --operator carol claim "$id" 2>&1); rc1=$?
out2=$(pt london --operator carol pick "$id" --scan tee 2>&1); rc2=$?
set -e
[[ $rc1 == 1 && $out == *CLAIMED* && $out == *"$winner"* ]] || fail "carol's claim: rc=$rc1 $out"
[[ $rc2 == 1 && $out2 == *CLAIMED* ]] || fail "carol's pick: rc=$rc2 $out2"
ok "command mode: another operator gets CLAIMED (exit 1)"

# The holder releases with `l`; the order is free again.
win_term=a; [[ $winner == bob ]] && win_term=b
key "$win_term" l
wait_screen 5 "$win_term" "release order $id: order $id released"
[[ $(jget "$(hubq)" '[o["claimed_by"] for o in j["orders"] if o["order_id"] == '"$id"'][0]') == "" ]] || fail "still claimed after release"
pt london --operator carol claim "$id" >/dev/null || fail "carol cannot claim the released order"
pt london --operator carol release "$id" >/dev/null || fail "carol release"
ok "release frees the order for anyone"

# Five orders, both press n at once: two different orders.
for k in 1 2 3 4 5; do submit "many-$k" tee 1; done
wait_screen 10 a 'queued 6 '
tm send-keys -t a n \; send-keys -t b n
wait_screen 10 a 'PICK +1 order'
wait_screen 10 b 'PICK +1 order'
q=$(hubq)
ca=$(jget "$q" '[o["order_id"] for o in j["orders"] if o["claimed_by"] == "alice"]')
cb=$(jget "$q" '[o["order_id"] for o in j["orders"] if o["claimed_by"] == "bob"]')
python3 -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert len(a) == 1 and len(b) == 1 and a != b, (a, b)' "$ca" "$cb" || fail "n at once: alice $ca bob $cb"
grep -q "order $(jget "$ca" 'j[0]'): scan sku tee" <<<"$(screen a)" || fail "alice's screen is not on her order $ca"
grep -q "order $(jget "$cb" 'j[0]'): scan sku tee" <<<"$(screen b)" || fail "bob's screen is not on his order $cb"
shot a 21-two-pickers-a
ok "n at once: alice got $ca, bob got $cb"
