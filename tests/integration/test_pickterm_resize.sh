#!/usr/bin/env bash
# Goal: the full-screen terminal resizes cleanly. Mid-pick at 80x24, the
# tmux window grows to 120x40: the screen is redrawn for the new size (the
# prompt moves to row H-4, the status bar appears once, nothing between the
# walk and the prompt) and shows the same order and prompt. Shrunk below
# 80x24 it says it is too small instead of drawing garbage; back at 80x24
# the screen is exactly what it was before the resizes.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london"
pt london receive tee 10 --bin A-01 >/dev/null || fail "receive"
wait_until 20 "coordinator sees tee" stock_is london tee on_hand 10
submit resize-1 tee 2
id=$(order_id_of resize-1)

term_start a alice 80 24
wait_screen 10 a "resize-1"
key a n
wait_screen 5 a "order $id: scan bin A-01"
before=$(screen a)
shot a 40-pick-80x24

# check_layout COLS ROWS: the screen is drawn for exactly this size.
check_layout() {
	local cols=$1 rows=$2 s
	s=$(screen a)
	[[ $(wc -l <<<"$s") == "$rows" ]] || fail "screen has $(wc -l <<<"$s") rows, want $rows"
	(( $(awk '{ if (length($0) > m) m = length($0) } END { print m }' <<<"$s") <= cols )) || fail "a line is wider than $cols"
	[[ $(grep -c '| hubd UP |' <<<"$s") == 1 ]] || fail "status bar not exactly once"
	sed -n 1p <<<"$s" | grep -q '^ london | hubd UP' || fail "row 0 is not the status bar"
	sed -n "$((rows - 3))p" <<<"$s" | grep -q "order $id: scan bin A-01" || fail "prompt not on row H-4"
	sed -n 4p <<<"$s" | grep -qE "^> A-01 +tee +0/2 +$id" || fail "walk row missing"
	# Rows between the walk and the prompt are blank: no leftovers.
	[[ -z $(sed -n "5,$((rows - 4))p" <<<"$s" | tr -d ' \n') ]] || fail "garbage between walk and prompt"
}
check_layout 80 24

tm resize-window -t a -x 120 -y 40
wait_screen 5 a "$(printf '%s' 'operator alice')"
wait_until 5 "redrawn at 120x40" bash -c "[[ \$(tmux -L $TMUX_SOCK capture-pane -p -t a | sed -n 37p) == *'scan bin A-01'* ]]"
check_layout 120 40
shot a 41-pick-120x40
ok "120x40: redrawn for the new size, same order and prompt"

tm resize-window -t a -x 60 -y 20
wait_screen 5 a 'terminal too small: need 80x24, have 60x20'
shot a 42-too-small
ok "60x20: says it is too small"

tm resize-window -t a -x 80 -y 24
wait_until 5 "redrawn at 80x24" bash -c "[[ \$(tmux -L $TMUX_SOCK capture-pane -p -t a | sed -n 21p) == *'scan bin A-01'* ]]"
check_layout 80 24
after=$(screen a)
[[ $after == "$before" ]] || { diff <(echo "$before") <(echo "$after") >&2; fail "screen differs after resizing back"; }
# Still working after all that: the next scan is understood.
scan a A-01
wait_screen 5 a "order $id: scan sku tee \(0/2\)"
ok "back at 80x24: identical screen, still taking scans"
