#!/usr/bin/env python3
"""acked_check.py - nothing acknowledged is lost, nothing oversold: checks
one or more coordinator stores (a single node, or every replica of a group)
against the answers a storefront got.

usage: acked_check.py ACKED SKU:STOCK [SKU:STOCK...] -- DB [DB...]

ACKED is loadgen's --acked-file ('KEY HUB ORDER_ID' per ACCEPTED answer).
Per DB (opened read-only; WAL lets a running coordinator keep writing):
every acked key is journalled ACCEPTED with that hub and order id; per SKU
the units of accepted orders == allocated <= STOCK and allocated + holdback
<= on hand. Prints a line per DB and SKU; exits 1 on any finding.
"""
import sqlite3
import sys

ACCEPTED = 1
args = sys.argv[1:]
if "--" not in args or args.index("--") < 2:
    sys.exit(__doc__)
cut = args.index("--")
acked, stock_args, dbs = args[0], args[1:cut], args[cut + 1:]
stock = {s: int(n) for s, n in (a.split(":") for a in stock_args)}
want, bad = {}, []
for line in open(acked):
    key, hub, oid = line.split()
    if key in want:
        bad.append("key %s acked twice" % key)
    want[key] = (hub, int(oid))
for db in dbs:
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    got = {k: (s, h, oid) for k, s, h, oid in c.execute("SELECT order_key, status, hub, id FROM orders")}
    lost = [k for k, (hub, oid) in want.items() if got.get(k) != (ACCEPTED, hub, oid)]
    for k in lost[:10]:
        bad.append("%s: acked %s %s, journal %s" % (db, k, want[k], got.get(k)))
    for sku, n in stock.items():
        units = c.execute("SELECT coalesce(sum(l.qty), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id"
                          " WHERE o.status = ? AND l.sku = ?", (ACCEPTED, sku)).fetchone()[0]
        alloc, on_hand, hold = c.execute("SELECT sum(allocated), sum(on_hand), sum(holdback) FROM stock"
                                         " WHERE sku = ?", (sku,)).fetchone()
        if alloc != units or units > n or alloc + hold > on_hand:
            bad.append("%s %s: accepted units %d, allocated %d, on_hand %d, holdback %d, stock %d"
                       % (db, sku, units, alloc, on_hand, hold, n))
        print("%s %s: %d units accepted, allocated %d of %d (%d of %d acked orders lost)"
              % (db, sku, units, alloc, on_hand, len(lost), len(want)), file=sys.stderr)
for b in bad[:30]:
    print("BAD", b, file=sys.stderr)
sys.exit(1 if bad else 0)
