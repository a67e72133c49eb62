#!/usr/bin/env bash
# Goal: an order key is allocated once, however often and however
# concurrently it is sent. The same key sent twice in a row gets the first
# answer back (duplicate=true), even with different contents; 20 submissions
# of one new key in parallel all get the same hub and order_id, exactly one of
# them is the original (duplicate=false), and the ledger's allocated moves by
# the order's qty exactly once. The same key from another storefront is a
# different order.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london birmingham"

SKU=idem-cap
receive_and_wait london "$SKU" 50
receive_and_wait birmingham "$SKU" 50

# Sequential repeat.
a=$(dc --json order submit --key same-1 --customer bob --sku "$SKU" --qty 3 --lat 51.5 --lon -0.12)
b=$(dc --json order submit --key same-1 --customer bob --sku "$SKU" --qty 3 --lat 51.5 --lon -0.12)
[[ $(jget "$a" 'j["status"]') == ACCEPTED ]] || fail "first: $a"
[[ $(jget "$a" 'j["duplicate"]') == false ]] || fail "first flagged duplicate: $a"
[[ $(jget "$b" 'j["status"]') == ACCEPTED ]] || fail "repeat: $b"
[[ $(jget "$b" 'j["duplicate"]') == true ]] || fail "repeat not flagged duplicate: $b"
[[ $(jget "$a" 'j["order_id"]') == $(jget "$b" 'j["order_id"]') ]] || fail "order_id differs: $a / $b"
[[ $(jget "$a" 'j["hub"]') == $(jget "$b" 'j["hub"]') ]] || fail "hub differs"
# Different contents under the same key still get the first answer.
c=$(dc --json order submit --key same-1 --customer eve --sku "$SKU" --qty 7 --lat 52.48 --lon -1.89)
[[ $(jget "$c" 'j["hub"]') == london && $(jget "$c" 'j["duplicate"]') == true ]] || fail "changed repeat: $c"
[[ $(stock_field london "$SKU" allocated) == 3 ]] || fail "allocated $(stock_field london "$SKU" allocated), want 3"
[[ $(stock_field birmingham "$SKU" allocated) == 0 ]] || fail "birmingham allocated by a duplicate"
ok "sequential repeats: one allocation of 3, same answer, duplicate flagged"

# Concurrent: 20 at once, one key.
N=20
mkdir -p "$T/conc"
pids=()
for i in $(seq 1 $N); do
	dc --json order submit --key conc-1 --customer carol --sku "$SKU" --qty 4 \
		--lat 52.45 --lon -1.93 >"$T/conc/$i.json" 2>"$T/conc/$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a concurrent submit failed: $(cat "$T"/conc/*.err)"
done
python3 - "$T/conc" "$N" <<'PY' || fail "concurrent answers disagree"
import json, os, sys
d, n = sys.argv[1], int(sys.argv[2])
ans = [json.load(open(os.path.join(d, f))) for f in os.listdir(d) if f.endswith(".json")]
assert len(ans) == n, len(ans)
assert all(a["status"] == "ACCEPTED" for a in ans), ans
assert len({a["order_id"] for a in ans}) == 1, {a["order_id"] for a in ans}
assert {a["hub"] for a in ans} == {"birmingham"}, {a["hub"] for a in ans}
orig = [a for a in ans if not a["duplicate"]]
assert len(orig) == 1, "originals: %d" % len(orig)
PY
[[ $(stock_field birmingham "$SKU" allocated) == 4 ]] || fail "birmingham allocated $(stock_field birmingham "$SKU" allocated), want 4"
[[ $(stock_field london "$SKU" allocated) == 3 ]] || fail "london allocated changed"
ok "20 concurrent submits: one order_id, one original, allocated +4 once"

# Same key, another storefront (signing as itself): a different order.
d=$(DROPNET_STOREFRONT_AUTH_NAME=shop-b DROPNET_STOREFRONT_AUTH_KEY="$DROPNET_PKI/storefront/shop-b.secret" \
	dc --json order submit --key conc-1 --storefront shop-b --customer carol --sku "$SKU" --qty 1 --lat 52.45 --lon -1.93)
[[ $(jget "$d" 'j["status"]') == ACCEPTED && $(jget "$d" 'j["duplicate"]') == false ]] || fail "other storefront: $d"
[[ $(jget "$d" 'j["order_id"]') != $(jget "$(cat "$T/conc/1.json")" 'j["order_id"]') ]] || fail "other storefront shares order_id"
[[ $(stock_field birmingham "$SKU" allocated) == 5 ]] || fail "birmingham allocated not 5"
ok "same key from another storefront is its own order"

# The hub gets each order once.
one_each() {
	local q
	q=$(pt birmingham --json queue) || return 1
	python3 -c 'import json,sys
keys = [o["order_key"] for o in json.loads(sys.argv[1])["orders"]]
sys.exit(0 if sorted(keys) == ["conc-1", "conc-1"] else 1)' "$q"
}
wait_until 10 "birmingham queue holds conc-1 once per storefront" one_each
audit_clean || fail "audit"
ok "hub queue has each order once; audit clean"
