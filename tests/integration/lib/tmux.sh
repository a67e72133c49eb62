# tmux.sh - drives the full-screen pickterm through tmux against hub london,
# like a picker with a scanner (source it after lib/net.sh; bash only).
#
#   source "$(dirname "$0")/lib/net.sh"
#   source "$(dirname "$0")/lib/tmux.sh"
#   net_setup "$1"
#   tmux_setup                          # private tmux server, screens folder
#   net_start "london"
#   term_start a alice; wait_screen 10 a 'london \| hubd UP'; scan a A-01
#
# Each test runs a private tmux server (tmux -L) whose socket lives in the
# test's temp folder, removed with it; the EXIT trap kills that server and
# then runs net_cleanup, keeping the test's exit status.

TMUX_SOCK=""
SCREENS=""

# Needs $T, so after net_setup; replaces net_setup's EXIT trap.
tmux_setup() {
	export TMUX_TMPDIR="$T"
	TMUX_SOCK="dn-pt-$$-$RANDOM"
	trap 'rc=$?; set +e; tm kill-server >/dev/null 2>&1; (exit $rc); net_cleanup' EXIT
	SCREENS="$T/screens"
	mkdir -p "$SCREENS"
}
tm() { tmux -L "$TMUX_SOCK" "$@"; }
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
	local deadline=$(( $(now_ms) + $(wait_ms "$secs") ))
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
