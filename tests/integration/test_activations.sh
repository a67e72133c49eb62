#!/usr/bin/env bash
# Goal: activations over a real network (issue 12, "Money KPIs"),
# coordinator with coordinator.test_clock = 1, hub london:
#   A `activation add` records a livestream and a pop-up of a priced drop;
#     out-of-bounds ones (negative cost, from >= to, bad kind, a name taken)
#     are refused with the reason and a log line, and nothing is recorded;
#     a read-only operator may list but not add (FORBIDDEN);
#   B orders sent in each window (and one after both): `kpi --json` and
#     `activation list --json` give each activation the orders received in
#     its [from, to) and the revenue of their acks, ROI = revenue / cost
#     (null for a cost of 0), and the total cost; the text forms show them.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
PKISH="$REPO_DIR/deploy/pki.sh"
P="$NET_DIR/pki"
mkdir -p "$P"
"$PKISH" init --dir "$P" >/dev/null
"$PKISH" issue --dir "$P" operator viewer --op-role read-only >/dev/null
net_start "london" --coord-set coordinator.test_clock=1
as_viewer() {
	DROPNET_AUTH_NAME=viewer DROPNET_AUTH_KEY="$P/operator/viewer.secret" \
		DROPNET_TLS_CERT="$P/operator/viewer.crt" DROPNET_TLS_KEY="$P/operator/viewer.key" "$@"
}

LON=(--lat 51.5007 --lon -0.1246)
clock_now() { jget "$(dc --json clock)" 'j["clock_ms"]'; }
clock_set() { dc clock set "$1" >/dev/null || fail "clock set $1"; }
order() { # KEY QTY -> the ack's total (fails unless ACCEPTED)
	local a
	a=$(dc --json order submit --key "$1" --customer "c-$1" --drop ax --tier public \
		--sku ax-tee --qty "$2" "${LON[@]}") || fail "order $1: $a"
	[[ $(jget "$a" 'j["status"]') == ACCEPTED ]] || fail "order $1 not accepted: $a"
	jget "$a" 'j["total_minor"]'
}
add() { dc activation add --drop ax "$@"; }

dc activation --help | grep -q "activation add --drop D" || fail "activation --help"
dc activation add --help | grep -q "ROI" || fail "activation add --help"

T0=$(clock_now)
dc drop create --id ax --sku ax-tee:50 --placement london:50 \
	--tier "public:$T0:+1d" --currency GBP --price ax-tee:public:2500 \
	--bounds ax-tee:1000:5000 >/dev/null || fail "create ax"
receive_and_wait london ax-tee 50
dc drop open ax >/dev/null || fail "open ax"

# ---- A: add, bounds, roles ---------------------------------------------------
add --kind livestream --name stream-1 --cost 4000 --from now --to +30m >/dev/null ||
	fail "add stream-1"
# The stream's window in the coordinator's clock (now and +30m are its).
l=$(dc --json activation list --drop ax)
FROM=$(jget "$l" 'j["activations"][0]["from_ms"]')
TO=$(jget "$l" 'j["activations"][0]["to_ms"]')
(( TO - FROM == 1800000 && FROM >= T0 )) || fail "stream window $FROM..$TO (T0 $T0)"
add --kind popup --name popup-1 --cost 0 --from "$TO" --to $((TO + 1800000)) \
	>/dev/null || fail "add popup-1"
refused() { # want-substring args... : the add must fail with want in its message
	local want=$1 out; shift
	out=$(add "$@" 2>&1) && fail "accepted: $*"
	[[ $out == *"$want"* ]] || fail "refused without '$want': $out"
}
refused "cost must be in 0..1000000000000" --kind van --name v1 --cost -1 --from now --to +1h
refused "cost must be in 0..1000000000000" --kind van --name v1 --cost 1000000000001 --from now --to +1h
refused "from < to" --kind van --name v1 --cost 5 --from +1h --to now
refused "kind must be" --kind billboard --name v1 --cost 5 --from now --to +1h
refused "name must be" --kind van --name "a,b" --cost 5 --from now --to +1h
refused "already has an activation of that name" --kind van --name stream-1 --cost 5 --from now --to +1h
out=$(dc activation add --drop nope --kind van --name v1 --cost 5 --from now --to +1h 2>&1) &&
	fail "unknown drop accepted"
[[ $out == *NOT_FOUND* ]] || fail "unknown drop: $out"
out=$(add --kind van --name v1 --cost 5x --from now --to +1h 2>&1) && fail "cost 5x accepted"
[[ $out == *"not a whole number"* ]] || fail "cost 5x: $out"
grep -q 'activation.refused drop=ax why="cost must be' "$NET_DIR/log/coordinator.log" ||
	fail "refusal not logged"
set +e
r=$(as_viewer dc activation add --drop ax --kind van --name v2 --cost 5 --from now --to +1h 2>&1)
set -e
[[ $r == *FORBIDDEN* ]] || fail "read-only add: $r"
l=$(as_viewer dc --json activation list --drop ax) || fail "read-only list: $l"
[[ $(jget "$l" '" ".join(a["name"] for a in j["activations"])') == "stream-1 popup-1" ]] ||
	fail "list: $l"
ok "add: two recorded; bad cost, window, kind, name, a taken name, unknown drop refused (logged); read-only lists, cannot add"

# ---- B: revenue per activation ---------------------------------------------
S1=$(order s-1 1)
S2=$(order s-2 3)
clock_set "$TO"     # the pop-up's first instant: not the stream's
P1=$(order p-1 2)
clock_set $((TO + 1800000))     # the pop-up's end: neither's
order late 1 >/dev/null
SREV=$((S1 + S2))
(( SREV == 4 * 2500 && P1 == 2 * 2500 )) || fail "prices moved: $S1 $S2 $P1"
k=$(dc --json kpi --drop ax)
rows=$(jget "$k" '" ".join("%(name)s %(kind)s %(cost_minor)d %(orders)d %(revenue_minor)d %(roi)s" % a for a in j["kpi"]["activations"])')
[[ $rows == "stream-1 livestream 4000 2 $SREV 2.5 popup-1 popup 0 1 $P1 None" ]] ||
	fail "kpi activations: $rows"
[[ $(jget "$k" 'j["kpi"]["activation_cost_minor"]') == 4000 ]] || fail "total cost: $k"
l=$(dc --json activation list --drop ax)
[[ $(jget "$l" '" ".join("%(name)s %(orders)d %(revenue_minor)d" % a for a in j["activations"])') == \
	"stream-1 2 $SREV popup-1 1 $P1" ]] || fail "list: $l"
[[ $(jget "$l" 'j["currency"]') == GBP ]] || fail "list currency: $l"
dc kpi --drop ax | grep -q "^activations *cost 4000 GBP" || fail "kpi text: $(dc kpi --drop ax)"
dc kpi --drop ax | grep -Eq "^stream-1 +livestream .* 4000 +2 +$SREV +2\.50 +-" ||
	fail "kpi text row: $(dc kpi --drop ax)"
dc activation list --drop ax | grep -Eq "^popup-1 +popup .* 0 +1 +$P1 +- +-" ||
	fail "list text row: $(dc activation list --drop ax)"
ok "kpi and list: stream-1 2 orders $SREV (ROI 2.5), popup-1 1 order $P1 (no ROI), total cost 4000"

audit_clean || fail "audit: $(dc audit 2>&1)"
ok "audit clean"
