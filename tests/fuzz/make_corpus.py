#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpus of the fuzz harnesses into
tests/fuzz/corpus/NAME/ (checked in; rerun only to change the seeds).

Valid requests of each kind, a few near-misses, and the deploy/ config
files; built with tests/integration/lib/pb.py's writer, which shares no
code with the daemons' codec. Inputs that once crashed a harness go in the
same folders by hand, named regress-*.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
import pb  # noqa: E402

F = pb.f_varint
B = pb.f_bytes
D = pb.f_double


def put(name, fname, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def line(sku, qty):
    return B(5, B(1, sku) + F(2, qty))


def order(key, lines, lat=51.5, lon=-0.12, extra=b""):
    return F(1, 1) + B(2, "shop") + B(3, key) + B(4, "cust") + b"".join(lines) + \
        D(6, lat) + D(7, lon) + extra


put("ingest", "london-a", order("k1", [line("sku-a", 2)]))
put("ingest", "leeds-b", order("k2", [line("sku-b", 1)], 53.8, -1.55))
put("ingest", "split", order("k3", [line("sku-a", 1), line("sku-b", 1)]))
put("ingest", "soldout", order("k4", [line("sku-a", 5000)]))
put("ingest", "nohub", order("k5", [line("sku-a", 1)], 10.0, 10.0))
put("ingest", "drop-hold", order("k6", [line("sku-a", 1)], extra=B(8, "public") +
                                  B(9, "d1") + F(10, 60)))
put("ingest", "confirm", F(1, 1) + B(2, "shop") + B(3, "k6") + F(11, 1))
put("ingest", "release", F(1, 1) + B(2, "shop") + B(3, "k6") + F(11, 2))
put("ingest", "version2", F(1, 2) + B(3, "k7"))
put("ingest", "empty", b"")
# The IngestRequest envelope (coord_ingest_request): one order, a batch, a
# quote, an empty batch.
put("ingest", "env-one", F(1, 1) + B(16, order("k8", [line("sku-a", 1)])))
put("ingest", "env-batch", F(1, 1) + B(17, B(1, order("k9", [line("sku-a", 1)])) +
                                        B(1, order("k10", [line("sku-b", 2)], 53.8, -1.55))))
put("ingest", "env-quote", F(1, 1) + B(18, F(1, 1) + B(2, "shop") + B(3, "cust") +
                                        B(6, "sku-a") + D(7, 51.5) + D(8, -0.12)))
put("ingest", "env-batch-empty", F(1, 1) + B(17, b""))


def hello(hid, lat, lon, inc=7):
    return B(2, B(1, hid) + B(2, hid) + D(3, lat) + D(4, lon) + D(5, 80.0) +
             b"\x39" + inc.to_bytes(8, "little"))


def event(seq, kind, **kw):
    body = F(1, seq) + F(2, kind)
    if "order" in kw:
        body += F(3, kw["order"])
    if "sku" in kw:
        body += B(4, kw["sku"])
    if "qty" in kw:
        body += F(5, kw["qty"])
    if "lines" in kw:
        body += b"".join(B(8, B(1, s) + F(2, q)) for s, q in kw["lines"])
    return B(4, body)


put("hubsync", "heartbeat", F(1, 1) + hello("london", 51.5072, -0.1276))
put("hubsync", "received", F(1, 1) + hello("london", 51.5072, -0.1276) +
    event(2, 1, sku="sku-a", qty=5) + F(7, 1))
put("hubsync", "shipped", F(1, 1) + hello("london", 51.5072, -0.1276) + F(3, 1) +
    event(2, 2, order=1) + event(3, 3, order=1, lines=[("sku-a", 2)]) + F(7, 1))
put("hubsync", "short", F(1, 1) + hello("london", 51.5072, -0.1276) +
    event(2, 4, order=1, sku="sku-a", qty=1) + F(7, 1))
put("hubsync", "adjusted", F(1, 1) + hello("leeds", 53.8008, -1.5491) +
    event(2, 5, sku="sku-b", qty=-3) + F(7, 1))
put("hubsync", "new-hub", F(1, 1) + hello("york", 53.96, -1.08, 9) +
    event(1, 1, sku="sku-c", qty=9))
put("hubsync", "new-incarnation", F(1, 1) + hello("london", 51.5072, -0.1276, 11))
put("hubsync", "stock", F(1, 1) + hello("london", 51.5072, -0.1276) +
    B(5, B(1, "sku-a") + F(2, 1000)) + F(6, 1) + F(7, 1))

for kind in (1, 2, 3, 4, 11, 12, 13, 14, 16, 30, 31, 32, 33):
    put("ops", "kind-%d" % kind, F(1, 1) + F(2, kind) + B(3, "london") +
        B(4, "sku-a") + B(5, "k1") + B(11, "d1"))
drop = B(1, "d1") + B(2, "Drop") + B(3, B(1, "sku-a") + F(2, 100) + D(3, 10.0) +
                                     F(4, 2)) + \
    B(4, B(1, "public") + F(2, 1800000000000) + F(3, 1800003600000)) + \
    B(5, B(1, "sku-b") + F(2, 1) + F(3, 1))
put("ops", "drop-create", F(1, 1) + F(2, 10) + B(10, drop))
put("ops", "holdback", F(1, 1) + F(2, 15) + B(11, "d1") + B(4, "sku-a") + F(12, 3))
put("ops", "clock", F(1, 1) + F(2, 17) + F(13, 1800000100000))

put("term", "receive", F(1, 1) + F(2, 1) + B(3, "sku-a") + F(4, 5) + B(5, "A1") +
    B(9, "ann"))
for kind in (2, 6, 7, 20, 21):
    put("term", "kind-%d" % kind, F(1, 1) + F(2, kind) + F(6, 1) + B(9, "ann"))
put("term", "pick", F(1, 1) + F(2, 3) + F(6, 1) + B(7, "sku-a") + B(7, "sku-a") +
    B(9, "ann"))
put("term", "ship", F(1, 1) + F(2, 5) + F(6, 1) + B(8, "TRK1") + B(9, "ann"))
put("term", "move", F(1, 1) + F(2, 23) + B(3, "sku-a") + F(4, 1) + B(5, "A1") +
    B(21, "B2") + B(9, "ann"))
put("term", "count", F(1, 1) + F(2, 24) + B(3, "sku-a") + F(4, 4) + B(5, "A1") +
    B(9, "ann") + B(23, "rk1"))

for name in ("coordinator.example.ini", "hubd.example.ini"):
    with open(os.path.join(ROOT, "deploy", name), "rb") as f:
        put("conf", name, f.read())
put("conf", "bad-key", b"[nope]\nkey = 1\n")

put("auth", "peers", b"hub london " + b"ab" * 32 + b"\nadmin ops " + b"cd" * 32 +
    b"\n# comment\n\n")
key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
kf = os.path.join(HERE, "corpus", ".key")
with open(kf, "w") as f:
    f.write(key)
body = F(1, 1) + hello("london", 51.5, -0.12)
sealed = subprocess.run([sys.executable, os.path.join(ROOT, "tests/integration/lib/pb.py"),
                         "seal", "--socket", "hubsync", "--peer", "london", "--key-file",
                         kf, "--counter", "1800000000000000"], input=body,
                        capture_output=True, check=True).stdout
os.unlink(kf)
put("auth", "signed-london", sealed)
put("auth", "unsigned", F(1, 1) + B(2, body))
