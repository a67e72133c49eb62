#!/usr/bin/env bash
# Goal: no action is lost when hubd dies mid-pick. A picker has scanned 1 of
# 3 units when hubd is killed (kill -9): the full-screen terminal says hubd
# is down, keeps the next scan as pending and says it will be resent, and
# refuses a further scan visibly instead of dropping it. When hubd is back
# the terminal reconnects and says so, the pending scan is delivered exactly
# once (the hub counts 2, not 1 or 3), and the pick resumes to the end.
# The same request_key sent twice (command mode, as the terminal resends)
# is done once and answered the same both times.
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

