#!/usr/bin/env bash
# Goal: `dropctl order show` explains an order's time (issue 13, the order
# trace): an order submitted by dropctl, queued at london, picked and
# shipped by pickterm, shows every step - received, journalled, queued,
# delivered, picked, shipped - with a time, the times never going back and
# each step's "+delta" the time after received; --json gives the same
# steps. Before the hub has it, queued/delivered/picked/shipped show "-".
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london"

SKU=trace-tee
receive_and_wait london "$SKU" 5

out=$(dc --json order submit --key trace-1 --customer ann --sku "$SKU" --qty 1 --lat 51.4995 --lon -0.1248)
[[ $(jget "$out" 'j["status"]') == ACCEPTED ]] || fail "submit: $out"
ok "order trace-1 accepted"

# Checks the text trace: every step named in $1 has a time, the times are
# non-decreasing in the order printed, each delta is time - received; the
# steps in $2 print "-".
check_text() {
	python3 - "$1" "$2" "$3" <<'PY'
import re, sys, datetime
text, known, unknown = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
steps = ["received", "journalled", "queued", "delivered", "picked", "shipped"]
seen, times = [], {}
for line in text.splitlines():
    m = re.match(r"^(\w+)\s+(\S+)(?:\s+\(([+-])(\S+)\))?", line)
    if not m or m.group(1) not in steps:
        continue
    seen.append(m.group(1))
    if m.group(2) == "-":
        times[m.group(1)] = None
        continue
    t = datetime.datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S.%fZ")
    times[m.group(1)] = (t, m.group(3), m.group(4))
assert seen == steps, "steps printed %s:\n%s" % (seen, text)
for s in unknown:
    assert times[s] is None, "%s has a time:\n%s" % (s, text)
last = None
for s in known:
    assert times[s] is not None, "%s has no time:\n%s" % (s, text)
    t, sign, delta = times[s]
    assert last is None or t >= last, "%s goes back in time:\n%s" % (s, text)
    assert sign == "+", "%s before received:\n%s" % (s, text)
    ms = (t - times["received"][0]).total_seconds() * 1000
    if delta.endswith("ms"):
        assert abs(float(delta[:-2]) - ms) < 1.5, "%s delta %s vs %.0f ms" % (s, delta, ms)
    last = t
PY
}

# Journalled only: the hub steps are not there yet or show "-".
show=$(dc order show trace-1)
echo "$show" | grep -q '^received ' || fail "no received line: $show"
echo "$show" | grep -q '^journalled ' || fail "no journalled line: $show"

in_queue() {
	pt london --json queue | python3 -c 'import json,sys
sys.exit(0 if any(o["order_key"] == "trace-1" for o in json.load(sys.stdin)["orders"]) else 1)'
}
wait_until 10 "trace-1 in london's queue" in_queue
# The hub's ack comes with its next sync: wait for "delivered", then pick
# (so the steps happen in the order shown).
delivered() { [[ $(jget "$(dc --json order show trace-1)" 'j["order"]["delivered_ms"] > 0') == true ]]; }
wait_until 10 "trace-1 delivered" delivered
show=$(dc order show trace-1)
check_text "$show" "received journalled queued delivered" "picked shipped" \
	|| fail "trace before the pick"
ok "queued and delivered traced; picked and shipped '-' yet"

oid=$(jget "$(pt london --json queue)" '[o for o in j["orders"] if o["order_key"] == "trace-1"][0]["order_id"]')
pt london pick "$oid" --scan "$SKU" >/dev/null || fail "pick"
pt london ship "$oid" --tracking TRK-T1 >/dev/null || fail "ship"
shipped() { [[ $(jget "$(dc --json order show trace-1)" 'j["order"]["shipped_ms"] > 0') == true ]]; }
wait_until 10 "trace-1 shipped at the coordinator" shipped

show=$(dc order show trace-1)
echo "$show"
check_text "$show" "received journalled queued delivered picked shipped" "" \
	|| fail "trace after ship"
ok "text: every step with a time, non-decreasing, deltas from received"

js=$(dc --json order show trace-1)
python3 - "$js" <<'PY' || fail "json trace: $js"
import json, sys
o = json.loads(sys.argv[1])["order"]
tr = o["trace"]
assert [s["step"] for s in tr] == ["received", "journalled", "queued", "delivered", "picked", "shipped"], tr
ms = [s["ms"] for s in tr]
assert all(m is not None and m > 0 for m in ms), tr
assert ms == sorted(ms), tr
assert all(s["after_ms"] == s["ms"] - ms[0] for s in tr), tr
assert o["arrived_ms"] == ms[0] and o["received_ms"] == ms[1], o
assert o["queued_ms"] == ms[2] and o["delivered_ms"] == ms[3], o
assert o["picked_ms"] == ms[4] and o["shipped_ms"] == ms[5], o
PY
ok "json: the same six steps"
audit_clean || fail "audit"
ok "audit clean"
