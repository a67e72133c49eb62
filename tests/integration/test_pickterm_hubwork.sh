#!/usr/bin/env bash
# Goal: the hub work beyond picking, in the real full-screen terminal
# against a real network (coordinator + hub london). Through the forms: receive into a bin, move between bins (on hand unchanged), cycle
# count a bin (the difference reaches the coordinator as an adjustment),
# returns back to stock (on hand up) or to quarantine (not on hand). Every
# action is logged by hubd with the operator. The help screen lists the keys
# and --plain mode answers in lines.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london"

term_start a alice
wait_screen 10 a 'no open orders'
key a '?'
wait_screen 5 a 'HELP'
wait_screen 5 a 's  short: the rest of this line cannot be found'
shot a 51-help
key a '?'
wait_screen 5 a 'no open orders'
ok "? shows every key"

# form KEY VALUE...: opens a form with KEY and types each value + Enter.
form() {
	local k=$1; shift
	key a "$k"
	wait_screen 5 a 'Esc cancels'
	local v
	for v in "$@"; do scan a "$v"; done
}
bin_qty() { # bin sku
	jget "$(pt london --json bin "$1")" 'sum(s["qty"] for s in j["stock"] if s["sku"] == "'"$2"'")'
}
hub_on_hand() { jget "$(pt london --json stock)" 'sum(s["on_hand"] for s in j["stock"] if s["sku"] == "'"$1"'")'; }

form r rw-tee 10 B-01 ""
wait_screen 5 a 'receive 10 x rw-tee: received 10 x rw-tee into B-01'
[[ $(bin_qty B-01 rw-tee) == 10 ]] || fail "B-01 after receive"
wait_until 15 "coordinator on_hand 10" stock_is london rw-tee on_hand 10
key a m
wait_screen 5 a 'MOVE between bins'
scan a rw-tee; scan a 4; scan a B-01
shot a 54-form-move
scan a C-01
wait_screen 5 a 'move 4 x rw-tee: moved 4 x rw-tee B-01 -> C-01'
[[ $(bin_qty B-01 rw-tee) == 6 && $(bin_qty C-01 rw-tee) == 4 && $(hub_on_hand rw-tee) == 10 ]] || fail "after move"
ok "receive into B-01, move 4 to C-01: bins 6/4, on hand 10"
pt london --operator alice receive tr-tee 3 --bin B-01 --transfer TR-1 >/dev/null || fail "receive a transfer"
grep -q "hub.received sku=tr-tee qty=3 bin=B-01 transfer=TR-1 operator=alice" "$NET_DIR/log/london.log" || fail "transfer receipt not logged"
ok "a transfer from another hub is received with its transfer id"

form c C-01 rw-tee 3
wait_screen 5 a 'count 3 x rw-tee: count rw-tee in C-01: 3 \(book 4, -1\)'
[[ $(bin_qty C-01 rw-tee) == 3 && $(hub_on_hand rw-tee) == 9 ]] || fail "after count"
wait_until 15 "coordinator sees the adjustment (on_hand 9)" stock_is london rw-tee on_hand 9
ok "count found 3 of 4: adjustment -1 reached the coordinator"

form u rw-tee 2 y B-01
wait_screen 5 a 'returned 2 x rw-tee to B-01'
form u rw-tee 1 n ""
wait_screen 5 a 'returned 1 x rw-tee to quarantine'
shot a 55-after-return
[[ $(hub_on_hand rw-tee) == 11 && $(bin_qty B-01 rw-tee) == 8 ]] || fail "after returns: on hand $(hub_on_hand rw-tee)"
wait_until 15 "coordinator: on_hand 11 (quarantine not on hand)" stock_is london rw-tee on_hand 11
ok "return to stock +2, to quarantine not on hand"

# Who did it: hubd logs every action with the operator.
for ev in hub.received hub.moved hub.counted hub.returned; do
	grep -q "$ev .*operator=alice" "$NET_DIR/log/london.log" || fail "no $ev with operator=alice in hubd's log"
done
audit_clean || fail "audit"
ok "every action logged with operator=alice; audit clean"

# --plain: the same session as lines, for screen readers and scripts.
out=$(printf 'n\n' | timeout 20 "$PICKTERM" --hub "$(hub_url london)" --operator bob --plain)
grep -q '^STATUS hub=london hubd=up' <<<"$out" || fail "plain: no status line: $out"
grep -q '^ERROR claim next refused: NOT_FOUND nothing to claim' <<<"$out" || fail "plain: claim answer: $out"
grep -q '^> n next, b batch' <<<"$out" || fail "plain: no prompt: $out"
ok "--plain answers in lines"
