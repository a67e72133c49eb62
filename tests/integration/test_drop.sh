#!/usr/bin/env bash
# Goal: a 500-unit drop across three hubs (london, birmingham, manchester,
# radius 75 km) with 2,000 buyers from loadgen sells exactly 500 units, never
# more; every accepted order sits at the nearest in-range hub that still had
# stock, checked against an independent haversine: the chosen hub is within
# its radius, every nearer in-range hub was passed over as no_stock, the
# coordinator's distances agree with ours, SOLD_OUT orders had every in-range
# hub out of stock, NO_HUB_IN_RANGE orders really were out of range; the
# ledger's allocations add up to the accepted orders and audit is clean.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
HUBS="london birmingham manchester"
net_start "$HUBS"

SKU=drop-hoodie
receive_and_wait london "$SKU" 200
receive_and_wait birmingham "$SKU" 150
receive_and_wait manchester "$SKU" 150
[[ $(stock_sum "$SKU" sellable) == 500 ]] || fail "sellable is not 500 before the drop"
ok "500 units stocked: london 200, birmingham 150, manchester 150"

PREFIX=drop
lg=$("$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 2000 --concurrency 32 --sku "$SKU" \
	--qty 1 --seed 7 --key-prefix "$PREFIX" --json) || fail "loadgen failed: $lg"
log "loadgen: $lg"
accepted=$(jget "$lg" 'j["accepted"]')
[[ $(jget "$lg" 'j["sent"]') == 2000 ]] || fail "loadgen sent $(jget "$lg" 'j["sent"]'), want 2000"
[[ $(jget "$lg" 'j["errors"]') == 0 ]] || fail "loadgen saw errors"
[[ $accepted == 500 ]] || fail "accepted $accepted, want exactly 500"
ok "exactly 500 of 2000 accepted"

for h in $HUBS; do
	[[ $(stock_field "$h" "$SKU" sellable) == 0 ]] || fail "$h sellable $(stock_field "$h" "$SKU" sellable) after the drop"
done
[[ $(stock_sum "$SKU" allocated) == 500 ]] || fail "allocated sum $(stock_sum "$SKU" allocated), want 500"
ok "ledger: 500 allocated, nothing sellable left, nothing oversold"

# Every buyer's order, checked against our own great-circle distances.
hub_json=$(dc --json hubs)
python3 - "$DROPCTL" "$DROPNET_COORDINATOR" "$PREFIX" 2000 "$hub_json" <<PY || fail "routing check"
import json, os, subprocess, sys
$HAVERSINE_PY
dropctl, url, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hubs = {h["id"]: h for h in json.loads(sys.argv[5])["hubs"]}
assert set(hubs) == {"london", "birmingham", "manchester"}, hubs
counts, bad, per_hub = {}, [], {}
found = 0
# loadgen's buyer i sends key PREFIX-i as the storefront it signs as
# (DROPNET_STOREFRONT_AUTH_NAME; "loadgen" when unsigned); i counts from
# 1 (0 is tried too, in case it counts from 0). One dropctl run shows every
# key over one connection, one JSON line per key.
keys = ["%s-%d" % (prefix, i) for i in range(0, n + 1)]
r = subprocess.run([dropctl, "--coordinator", url, "--json", "order", "show", *keys,
                    "--storefront", os.environ.get("DROPNET_STOREFRONT_AUTH_NAME", "loadgen")],
                   capture_output=True, text=True)
lines = r.stdout.splitlines()
if len(lines) != len(keys):
    print("BAD dropctl printed %d lines for %d keys (exit %d): %s"
          % (len(lines), len(keys), r.returncode, r.stderr[-500:]), file=sys.stderr)
    sys.exit(1)
for i, (key, line) in enumerate(zip(keys, lines)):
    j = json.loads(line)
    if "order" not in j:
        if i in (0, n):
            continue
        bad.append("%s: order show: %s" % (key, line))
        continue
    found += 1
    o = j["order"]
    if o["order_key"] != key:
        bad.append("%s: order show answered for %s" % (key, o["order_key"]))
    st = o["status"]
    counts[st] = counts.get(st, 0) + 1
    d = {h: haversine_km(o["lat"], o["lon"], v["lat"], v["lon"]) for h, v in hubs.items()}
    in_range = {h for h in hubs if d[h] <= hubs[h]["radius_km"]}
    cand = {c["hub"]: c for c in o.get("candidates", [])}
    for h, c in cand.items():
        if abs(c["distance_km"] - d[h]) > 0.5:
            bad.append("%s: %s distance %.3f, ours %.3f" % (key, h, c["distance_km"], d[h]))
        # Only judge range verdicts away from the boundary (rounding).
        if d[h] > hubs[h]["radius_km"] + 0.5 and c["verdict"] != "out_of_range":
            bad.append("%s: %s at %.1f km has verdict %s" % (key, h, d[h], c["verdict"]))
    if st == "ACCEPTED":
        h = o["hub"]
        per_hub[h] = per_hub.get(h, 0) + 1
        if h not in in_range:
            bad.append("%s: placed at %s, %.1f km away (radius %s)" % (key, h, d[h], hubs[h]["radius_km"]))
        if cand.get(h, {}).get("verdict") != "chosen":
            bad.append("%s: chosen hub %s has verdict %s" % (key, h, cand.get(h)))
        for other in in_range:
            if d[other] < d[h] and cand.get(other, {}).get("verdict") != "no_stock":
                bad.append("%s: nearer in-range hub %s (%.1f < %.1f km) passed over as %s"
                           % (key, other, d[other], d[h], cand.get(other, {}).get("verdict")))
    elif st == "SOLD_OUT":
        if not in_range:
            bad.append("%s: SOLD_OUT but no hub in range" % key)
        for h in in_range:
            if cand.get(h, {}).get("verdict") != "no_stock":
                bad.append("%s: SOLD_OUT but in-range %s is %s" % (key, h, cand.get(h)))
    elif st == "NO_HUB_IN_RANGE":
        near = [h for h in hubs if d[h] < hubs[h]["radius_km"] - 0.5]
        if near:
            bad.append("%s: NO_HUB_IN_RANGE but %s is %.1f km away" % (key, near[0], d[near[0]]))
    else:
        bad.append("%s: unexpected status %s" % (key, st))
print("statuses:", counts, "accepted per hub:", per_hub, file=sys.stderr)
if found != n:
    bad.append("found %d of %d buyers' orders" % (found, n))
if counts.get("ACCEPTED") != 500:
    bad.append("journal holds %s accepted orders, want 500" % counts.get("ACCEPTED"))
if per_hub != {"london": 200, "birmingham": 150, "manchester": 150}:
    bad.append("accepted per hub %s, want each hub's stock" % per_hub)
for b in bad[:30]:
    print("BAD", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "all 2000 orders routed to the nearest in-range hub with stock (independent haversine)"

audit_clean || fail "audit"
ok "audit clean"
