#!/usr/bin/env bash
# Goal: the price and availability feed over a real network (issue 12;
# proto/STOREFRONT.md "The feed"): coordinator (coordinator.test_clock = 1,
# time moved by `dropctl clock set`) and hubs london and leeds, TLS on,
# `dropctl feed` as the subscriber on the coordinator's pub socket:
#   A usage: --help, --region without --sku, no socket;
#   B a tier's opening (by the clock, at a tick) is a message with the new
#     tier's price; a live price's end one with the base price back;
#   C a live price set with dropctl is a message with the new price and
#     the rule that set it ("live"), the next seq (no gap), and what
#     `price show` says;
#   D a subscription to one SKU in one region gets nothing of another SKU
#     or region (topic filtering in nng), the whole feed has both;
#   E selling london's units crosses LOW, then SOLD_OUT_HERE for london:
#     one message each with availability_changed, none for the order that
#     crossed nothing, seqs without a gap; the plain form's line.
# (No message when nothing changed, and a restart's baseline, are
# tests/machine/test_feed.c's: over a network an absence is only a wait.)
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london leeds" --coord-set coordinator.test_clock=1

LON=(--lat 51.5007 --lon -0.1246)
clock_now() { jget "$(dc --json clock)" 'j["clock_ms"]'; }
clock_set() { dc clock set "$1" >/dev/null || fail "clock set $1"; }

# ---- A: usage ---------------------------------------------------------------------
"$DROPCTL" feed --help | grep -q "GAP marks a message" || fail "feed --help"
expect_usage() { "$@" >/dev/null 2>&1; [[ $? == 2 ]]; }
expect_usage dc feed --region london || fail "--region without --sku not refused"
expect_usage env -u DROPNET_SIGNAL "$DROPCTL" feed --count 1 || fail "no socket not refused"
ok "feed --help; --region needs --sku; no socket is a usage error"

# ---- B: subscribers, a tier opening --------------------------------------------------
T0=$(clock_now)
OPENS=$((T0 + 60000)); LATE=$((T0 + 3600000)); CLOSES=$((T0 + 86400000))
dc drop create --id fd --sku fd-tee:8 --placement london:8 --sku fd-cap:5 --placement london:5 \
	--tier "public:$OPENS:$CLOSES" --tier "late:$LATE:$CLOSES" --currency GBP \
	--price fd-tee:public:6000 --price fd-tee:late:6500 --bounds fd-tee:4000:9000 \
	--price fd-cap:public:2000 --price fd-cap:late:2000 --bounds fd-cap:1000:3000 \
	>"$T/create.out" 2>&1 || fail "create fd: $(cat "$T/create.out")"
receive_and_wait london fd-tee 8
receive_and_wait london fd-cap 5
dc drop open fd >/dev/null || fail "open fd"
clock_set "$OPENS"

# Two subscribers, following: every message, and fd-tee in london only.
"$DROPCTL" --json feed --url "$DROPNET_SIGNAL" >"$T/all.json" 2>"$T/all.err" &
NET_BG_PIDS+=("$!")
"$DROPCTL" --json feed --url "$DROPNET_SIGNAL" --sku fd-tee --region london \
	>"$T/tee.json" 2>"$T/tee.err" &
NET_BG_PIDS+=("$!")

# feed_has FILE EXPR: some line j of FILE satisfies the python EXPR.
feed_has() {
	python3 - "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.endswith("\n"):
        break  # the line being written
    j = json.loads(line)
    if eval(sys.argv[2]):
        sys.exit(0)
sys.exit(1)
PY
}
# feed_lines FILE: how many messages FILE holds.
feed_lines() { wc -l <"$1"; }

# Readiness: both subscriptions hear a change. A subscription races the
# messages published while it connects, so the probe makes its own: a live
# price on fd-tee, one more minor unit each time.
PROBE=4000
probe() {
	PROBE=$((PROBE + 1))
	dc price live --drop fd --sku fd-tee --price "$PROBE" --minutes 600 >/dev/null || return 1
	feed_has "$T/tee.json" 'j["sku"] == "fd-tee"' && feed_has "$T/all.json" 'j["sku"] == "fd-tee"'
}
wait_until 20 "both feed subscribers hear a change" probe
dc price live --drop fd --sku fd-tee --end >/dev/null || fail "live --end"
wait_until 10 "the live price's end on the feed" feed_has "$T/tee.json" \
	'[(p["tier"], p["unit_minor"], p["rule"]) for p in j["prices"]] == [("public", 6000, "base")]'
clock_set "$LATE"
wait_until 10 "the late tier's opening is a message with its price" feed_has "$T/tee.json" \
	'[(p["tier"], p["unit_minor"]) for p in j["prices"]] == [("public", 6000), ("late", 6500)] and j["price_changed"] and not j["availability_changed"]'
ok "a tier's opening (by the clock) is a feed message with its price"

# ---- C: live price ----------------------------------------------------------------------
before=$(feed_lines "$T/tee.json")
last_seq=$(tail -n 1 "$T/tee.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
dc price live --drop fd --sku fd-tee --price 5555 --minutes 5 >/dev/null || fail "price live 5555"
live_heard() {
	feed_has "$T/tee.json" 'j["prices"] and j["prices"][0]["unit_minor"] == 5555'
}
wait_until 10 "the live price on the feed" live_heard
line=$(grep '"unit_minor": 5555\|"unit_minor":5555' "$T/tee.json" | tail -n 1)
[[ -n $line ]] || fail "no 5555 line in $(cat "$T/tee.json")"
[[ $(jget "$line" 'j["prices"][0]["rule"]') == live ]] || fail "live price without rule live: $line"
[[ $(jget "$line" 'j["seq"]') == $((last_seq + 1)) ]] || fail "seq not last+1 ($last_seq): $line"
[[ $(jget "$line" 'j["gap"] or not j["price_changed"] or j["availability_changed"]') == false ]] \
	|| fail "live price message flags: $line"
[[ $(jget "$line" 'j["currency"] + " " + j["drop_id"]') == "GBP fd" ]] || fail "currency/drop: $line"
[[ $(jget "$(dc --json price show --drop fd)" '[p for p in j["prices"] if p["sku"]=="fd-tee"][0]["unit_minor"]') == 5555 ]] \
	|| fail "price show does not have the live price the feed said"
grep -q "price.live drop=fd sku=fd-tee tier=\* price_minor=5555" "$NET_DIR/log/coordinator.log" \
	|| fail "no price.live log line for 5555"
ok "a live price set with dropctl: one message, unit 5555, rule live, seq $((last_seq + 1))"

# ---- D: topic filtering --------------------------------------------------------------------
dc price live --drop fd --sku fd-cap --price 2500 --minutes 5 >/dev/null || fail "price live cap"
dc price live --drop fd --sku fd-tee --price 5600 --minutes 5 >/dev/null || fail "price live 5600"
wait_until 10 "fd-tee at 5600 on the filtered feed" feed_has "$T/tee.json" \
	'j["prices"] and j["prices"][0]["unit_minor"] == 5600'
wait_until 10 "fd-tee at 5600 on the whole feed" feed_has "$T/all.json" \
	'j["sku"] == "fd-tee" and j["prices"] and j["prices"][0]["unit_minor"] == 5600'
feed_has "$T/all.json" 'j["sku"] == "fd-cap" and j["prices"][0]["unit_minor"] == 2500' \
	|| fail "the whole feed has no fd-cap change: $(cat "$T/all.json")"
feed_has "$T/tee.json" 'j["sku"] != "fd-tee" or j["region"] != "london"' \
	&& fail "the fd-tee/london subscription got another key: $(cat "$T/tee.json")"
feed_has "$T/all.json" 'j["sku"] == "fd-tee" and j["region"] == "leeds"' \
	|| fail "no leeds region on the whole feed"
ok "a subscription to fd-tee in london hears nothing else; the whole feed has fd-cap and leeds"

# ---- E: LOW, then sold out in london ------------------------------------------------------
before=$(feed_lines "$T/tee.json")
order() { # key qty
	local a
	a=$(dc --json order submit --key "$1" --customer "c-$1" --drop fd --tier public \
		--sku fd-tee --qty "$2" "${LON[@]}") || fail "order $1: $a"
	[[ $(jget "$a" 'j["status"]') == ACCEPTED ]] || fail "order $1 not accepted: $a"
}
order e-1 2   # 6 left: in stock (prices.low_units = 5), no message
order e-2 1   # 5 left: LOW
wait_until 10 "LOW for london" feed_has "$T/tee.json" \
	'j["availability"] == "LOW" and j["availability_changed"] and not j["price_changed"]'
order e-3 5   # 0 left: sold out
wait_until 10 "SOLD_OUT_HERE for london" feed_has "$T/tee.json" \
	'j["availability"] == "SOLD_OUT_HERE" and j["availability_changed"] and j["region"] == "london"'
python3 - "$T/tee.json" "$before" <<'PY' || fail "sell-out messages: $(tail -n +$((before + 1)) "$T/tee.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
# Exactly the two crossings: the order that left 6 said nothing.
assert [l["availability"] for l in lines] == ["LOW", "SOLD_OUT_HERE"], lines
assert lines[1]["seq"] == lines[0]["seq"] + 1 and not any(l["gap"] for l in lines), lines
assert lines[1]["prices"][0]["unit_minor"] == 5600, lines
PY
# The plain form, for an operator: one line with the class, the prices
# and what changed. It is subscribed once it hears a probe's change.
dc --timeout-ms 20000 feed --sku fd-tee --region london --count 1 >"$T/plain.out" 2>&1 &
PLAIN=$!
NET_BG_PIDS+=("$PLAIN")
plain_done() {
	PROBE=$((PROBE + 1))
	dc price live --drop fd --sku fd-tee --price "$PROBE" --minutes 5 >/dev/null
	! kill -0 "$PLAIN" 2>/dev/null
}
wait_until 20 "the plain feed's one message" plain_done
wait "$PLAIN" || fail "dropctl feed --count 1: $(cat "$T/plain.out")"
grep -Eq "fd-tee +london +drop=fd seq=[0-9]+ SOLD_OUT_HERE +public=4[0-9]+ GBP\(live\) late=4[0-9]+ GBP\(live\) PRICE$" "$T/plain.out" \
	|| fail "plain feed line: $(cat "$T/plain.out")"
dc price live --drop fd --sku fd-tee --end >/dev/null || fail "live --end 2"
ok "selling london out: LOW at 5 left, SOLD_OUT_HERE at 0, one message each, no gap"

audit_clean
ok "audit clean"
