#!/usr/bin/env bash
# Goal: micro-gift lines in the real full-screen terminal. A drop with a
# first-order gift makes the coordinator add a GIFT line to the order: the
# hub's queue (its own socket and the screen) and the pick walk show it as
# GIFT, the gift line (bin MAIN) is picked by SKU alone, and pack refuses to
# close the parcel (WRONG_SCAN naming the gift) until the gift is scanned
# too; then it ships. Claim and ship are logged with the operator.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
# ---- tmux driving (a private server per test: tmux -L) --------------------
# The server's socket lives in the test's temp folder, removed with it.
export TMUX_TMPDIR="$T"
TMUX_SOCK="dn-pt-$$-$RANDOM"
tm() { tmux -L "$TMUX_SOCK" "$@"; }
trap 'rc=$?; set +e; tm kill-server >/dev/null 2>&1; (exit $rc); net_cleanup' EXIT
SCREENS="$T/screens"
mkdir -p "$SCREENS"
# term_start NAME OPERATOR [COLS ROWS]: the real full-screen pickterm in tmux.
term_start() {
	tm new-session -d -s "$1" -x "${3:-80}" -y "${4:-24}" \
		"env TERM=xterm-256color $PICKTERM --hub $(hub_url london) --operator $2 2>>$T/$1.err; echo PICKTERM-EXITED; sleep 60"
}
screen() { tm capture-pane -p -t "$1"; }
screen_has() { screen "$1" | grep -qE -- "$2"; }
# wait_screen SECS NAME REGEX: until the screen shows REGEX.
wait_screen() {
	local secs=$1 name=$2 re=$3
	local deadline=$(( $(now_ms) + secs * 1000 ))
	until screen_has "$name" "$re"; do
		if (( $(now_ms) > deadline )); then
			echo "----- screen $name -----" >&2; screen "$name" >&2
			fail "timed out after ${secs}s waiting for /$re/ on $name"
		fi
		sleep 0.1
	done
}
# key NAME KEY: one key press (a command). scan NAME TEXT: a scanner line.
key() { tm send-keys -t "$1" "$2"; }
scan() { tm send-keys -t "$1" -l "$2"; tm send-keys -t "$1" Enter; }
# shot NAME FILE: keeps the screen's text (README captures come from here).
shot() {
	screen "$1" >"$SCREENS/$2.txt"
	if [[ -n ${PICKTERM_SCREENS_DIR:-} ]]; then cp "$SCREENS/$2.txt" "$PICKTERM_SCREENS_DIR/"; fi
}
# The hub's own view through its socket.
hubq() { pt london --json queue; }
order_id_of() { # key -> the hub's order id
	jget "$(hubq)" '[o["order_id"] for o in j["orders"] if o["order_key"] == "'"$1"'"][0]'
}
in_hub_queue() { # key
	local q; q=$(hubq) || return 1
	python3 -c 'import json,sys
sys.exit(0 if any(o["order_key"] == sys.argv[2] for o in json.loads(sys.argv[1])["orders"]) else 1)' "$q" "$1"
}
submit() { # key sku qty: an order from central London, placed at london
	local out
	out=$(dc --json order submit --key "$1" --customer "cust-$1" --sku "$2" --qty "$3" --lat 51.5 --lon -0.12)
	[[ $(jget "$out" 'j["status"]') == ACCEPTED ]] || fail "submit $1: $out"
	wait_until 10 "order $1 in london's queue" in_hub_queue "$1"
}
net_start "london" --coord-set coordinator.test_clock=1
NOW=$(jget "$(dc --json clock)" 'j["clock_ms"]')
dc drop create --id gw --sku gw-tee:10 --placement london:10 --tier "pub:$NOW:+1h" \
	--gift gw-stk:first_order >/dev/null || fail "create drop"
pt london receive gw-tee 10 --bin A-01 >/dev/null || fail "receive gw-tee"
receive_and_wait london gw-stk 5
wait_until 20 "coordinator sees gw-tee" stock_is london gw-tee on_hand 10
dc drop open gw >/dev/null || fail "open drop"
out=$(dc --json order submit --key gift-1 --customer first-timer --drop gw --tier pub --sku gw-tee --qty 1 --lat 51.5 --lon -0.12)
[[ $(jget "$out" 'j["status"]') == ACCEPTED && $(jget "$out" 'j["gift_sku"]') == gw-stk ]] || fail "no gift: $out"
wait_until 10 "gift-1 at the hub" in_hub_queue gift-1
id=$(order_id_of gift-1)

term_start a alice
[[ $(jget "$(hubq)" '[l["gift"] for o in j["orders"] if o["order_id"] == '"$id"' for l in o["lines"] if l["sku"] == "gw-stk"][0]') == true ]] || fail "hub queue has no gift line"
wait_screen 10 a "gift-1 .*GIFT gw-stk"
shot a 50-queue-gift
ok "the hub's queue and the screen show the GIFT line"

key a n
wait_screen 5 a "order $id: scan bin A-01"
wait_screen 5 a "MAIN +GIFT gw-stk"
shot a 52-pick-gift
scan a A-01
scan a gw-tee
wait_screen 5 a "order $id: scan sku GIFT gw-stk"
scan a gw-stk
wait_screen 5 a "order $id: scan each line into the parcel"
scan a gw-tee
wait_screen 5 a '\[ \] GIFT gw-stk x1'
key a p
wait_screen 5 a '! pack order [0-9]+ refused: WRONG_SCAN pack: GIFT gw-stk x1 not confirmed'
shot a 53-pack-gift-missing
[[ $(jget "$(hubq)" '[o["state"] for o in j["orders"] if o["order_id"] == '"$id"'][0]') == picked ]] || fail "packed without the gift"
scan a gw-stk
wait_screen 5 a "order $id: scan or type the tracking number"
scan a TRK-GIFT
wait_screen 5 a "order $id shipped"
ok "gift line walked, pack refused until the gift was scanned, shipped"

for ev in hub.claimed hub.shipped; do
	grep -q "$ev .*operator=alice" "$NET_DIR/log/london.log" || fail "no $ev with operator=alice in hubd's log"
done
audit_clean || fail "audit"
ok "claim and ship logged with operator=alice; audit clean"
