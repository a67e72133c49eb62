#!/usr/bin/env python3
"""pb.py - a minimal, independent protobuf writer/reader for the tests.

Builds request bytes by hand (so tests can send what no well-behaved client
would: wrong versions, truncated or garbage bytes, absurd values) and decodes
the top-level fields of a reply. It knows field numbers from
proto/dropnet.proto and shares no code with the daemons' codec.

  pb.py submit [--version 1] [--key K] [--customer C] [--storefront F]
               [--line SKU:QTY ...] [--lat X] [--lon Y] [--pad N] > req.bin
  pb.py ops --kind N [--version 1] [--drop-id D] > req.bin
  pb.py term --kind N [--version 1] > req.bin
  pb.py hubsync --id HUB [--cmd-applied N] [--event-acked N]
               [--received SEQ:SKU:QTY ...] [--lat X --lon Y --radius R] > req.bin
  pb.py seal --socket S --peer P --key-file F [--counter N] < body > signed.bin
               (the Signed envelope, SEMANTICS.md "Transport and identity":
               an HMAC-SHA256 computed here with Python's hmac, independent
               of the daemons' mbedtls; --counter defaults to now in us)
  pb.py decode < reply.bin      -> JSON of the reply's scalar fields
"""
import argparse
import hashlib
import hmac
import json
import time
import struct
import sys

STATUS = ["STATUS_UNSPECIFIED", "ACCEPTED", "SOLD_OUT", "NO_HUB_IN_RANGE",
          "INVALID", "UNSUPPORTED_VERSION", "MALFORMED", "NOT_FOUND",
          "WRONG_SCAN", "CONFLICT", "UNAVAILABLE", "OK", "NOT_OPEN", "CLOSED",
          "TIER_NOT_ALLOWED", "LIMIT_REACHED", "HELD", "EXPIRED"]
STATUS_HIGH = {28: "UNAUTHENTICATED", 29: "FORBIDDEN", 30: "CLAIMED", 31: "NO_LEASE"}


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3 | 0) + varint(v)


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def f_double(num, d):
    return varint(num << 3 | 1) + struct.pack("<d", d)


def cmd_submit(a):
    out = f_varint(1, a.version)
    if a.storefront is not None:
        out += f_bytes(2, a.storefront)
    if a.key is not None:
        out += f_bytes(3, a.key)
    if a.customer is not None:
        out += f_bytes(4, a.customer)
    for line in a.line or []:
        sku, _, qty = line.rpartition(":")
        out += f_bytes(5, f_bytes(1, sku) + f_varint(2, int(qty)))
    if a.lat is not None:
        out += f_double(6, a.lat)
    if a.lon is not None:
        out += f_double(7, a.lon)
    if a.pad:
        # An unknown length-delimited field (number 15) makes the message as
        # big as asked while staying valid protobuf.
        out += f_bytes(15, b"x" * a.pad)
    return out


def cmd_hubsync(a):
    hello = f_bytes(1, a.id) + f_bytes(2, a.id)
    if a.lat is not None:
        hello += f_double(3, a.lat) + f_double(4, a.lon) + f_double(5, a.radius)
    out = f_varint(1, 1) + f_bytes(2, hello) + f_varint(3, a.cmd_applied)
    for ev in a.received or []:
        seq, sku, qty = ev.split(":")
        # EV_RECEIVED = 1: seq, kind, sku, qty, bin
        out += f_bytes(4, f_varint(1, int(seq)) + f_varint(2, 1) + f_bytes(4, sku) +
                       f_varint(5, int(qty)) + f_bytes(6, "MAIN"))
    return out + f_varint(7, a.event_acked)


def cmd_seal(a, body):
    key = bytes.fromhex(open(a.key_file).read().strip())
    counter = a.counter if a.counter is not None else int(time.time() * 1e6)
    msg = (b"dropnet-auth-v1\0" + a.socket.encode() + b"\0" + a.peer.encode() +
           b"\0" + struct.pack(">Q", counter) + body)
    mac = hmac.new(key, msg, hashlib.sha256).digest()
    return (f_varint(1, 1) + f_bytes(2, body) + f_bytes(3, a.peer) +
            f_varint(4, counter) + f_bytes(5, mac))


def decode(buf):
    """Top-level fields: varints as ints, length-delimited as text."""
    res, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 1:
            v = struct.unpack("<d", buf[i:i + 8])[0]
            i += 8
        elif wt == 2:
            n, i = read_varint(buf, i)
            v = buf[i:i + n].decode("utf-8", "replace")
            i += n
        elif wt == 5:
            v = struct.unpack("<f", buf[i:i + 4])[0]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        res.setdefault(num, v)
    return res


def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("submit")
    s.add_argument("--version", type=int, default=1)
    s.add_argument("--key")
    s.add_argument("--customer")
    s.add_argument("--storefront")
    s.add_argument("--line", action="append")
    s.add_argument("--lat", type=float)
    s.add_argument("--lon", type=float)
    s.add_argument("--pad", type=int, default=0)
    for name in ("ops", "term"):
        o = sub.add_parser(name)
        o.add_argument("--version", type=int, default=1)
        o.add_argument("--kind", type=int, required=True)
        o.add_argument("--drop-id")
    h = sub.add_parser("hubsync")
    h.add_argument("--id", required=True)
    h.add_argument("--cmd-applied", type=int, default=0)
    h.add_argument("--event-acked", type=int, default=0)
    h.add_argument("--received", action="append")
    h.add_argument("--lat", type=float)
    h.add_argument("--lon", type=float)
    h.add_argument("--radius", type=float, default=50.0)
    g = sub.add_parser("seal")
    g.add_argument("--socket", required=True)
    g.add_argument("--peer", required=True)
    g.add_argument("--key-file", required=True)
    g.add_argument("--counter", type=int)
    sub.add_parser("decode")
    a = p.parse_args()
    if a.cmd == "submit":
        sys.stdout.buffer.write(cmd_submit(a))
    elif a.cmd in ("ops", "term"):
        out = f_varint(1, a.version) + f_varint(2, a.kind)
        if a.drop_id is not None:
            out += f_bytes(11, a.drop_id)
        sys.stdout.buffer.write(out)
    elif a.cmd == "hubsync":
        sys.stdout.buffer.write(cmd_hubsync(a))
    elif a.cmd == "seal":
        sys.stdout.buffer.write(cmd_seal(a, sys.stdin.buffer.read()))
    else:
        f = decode(sys.stdin.buffer.read())
        # OrderAck / OpsReply / TermReply all keep version=1, status=2.
        st = f.get(2, 0)
        out = {"version": f.get(1, 0),
               "status": STATUS[st] if st < len(STATUS) else STATUS_HIGH.get(st, str(st)),
               "fields": {str(k): v for k, v in f.items()}}
        print(json.dumps(out))


if __name__ == "__main__":
    main()
