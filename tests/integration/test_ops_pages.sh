#!/usr/bin/env bash
# test_ops_pages.sh - a stock list longer than one message (1 MiB) reaches
# the operator whole: `dropctl stock` pages through it and prints every row;
# a request without paging (a client from before it) is answered INVALID
# with the reply's size - never a reply the client's socket drops unread
# (which it saw as a 5 s timeout).
#
# A coordinator with no hubd (plaintext, as tests/bench/hubs.sh runs it):
# 8 hubs with 64-character ids register with their first syncs and report
# receipts of 1,600 SKUs each with long names (12,800 stock rows, ~1.5 MB
# as one reply), sent as raw hub syncs by lib/pb.py and rawsend --stream.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
PB="python3 $NET_LIB_DIR/pb.py"
RAWSEND=$(net_prog rawsend)
HUBS=8
SKUS=1600

net_start "" --plaintext --coord-set coordinator.hub_timeout_ms=600000 \
	--coord-set coordinator.hub_grace_ms=600000
export DROPNET_PLAINTEXT=1

# Every hub's syncs (256 receipts each, DN_STREAM_BATCH_MAX) as framed
# requests; one rawsend --stream per hub.
mkdir -p "$T/req"
python3 - "$NET_LIB_DIR" "$T/req" "$HUBS" "$SKUS" <<'PY'
import struct, sys, types
sys.path.insert(0, sys.argv[1])
import pb
out, hubs, skus = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for k in range(hubs):
    hid = "hub-%02d-%s" % (k, "x" * 57)
    frames = []
    for s0 in range(0, skus, 256):
        a = types.SimpleNamespace(id=hid, lat=51.0 + 0.1 * k, lon=-1.0, radius=50.0,
                                  cmd_applied=0, event_acked=s0,
                                  received=["%d:sku-%05d-long-enough-to-weigh-something:7" % (s + 1, s)
                                            for s in range(s0, min(skus, s0 + 256))])
        m = pb.cmd_hubsync(a)
        frames.append(struct.pack(">I", len(m)) + m)
    open("%s/%d.bin" % (out, k), "wb").write(b"".join(frames))
PY
for ((k = 0; k < HUBS; k++)); do
	"$RAWSEND" "$DROPNET_HUBSYNC" --timeout-ms 10000 --stream <"$T/req/$k.bin" >"$T/req/$k.rep" ||
		fail "hub $k: a sync went unanswered"
done
python3 - "$NET_LIB_DIR" "$T/req" "$HUBS" <<'PY' || fail "a hub sync was refused"
import struct, sys
sys.path.insert(0, sys.argv[1])
import pb
for k in range(int(sys.argv[3])):
    buf, i = open("%s/%d.rep" % (sys.argv[2], k), "rb").read(), 0
    while i < len(buf):
        (n,) = struct.unpack(">I", buf[i:i + 4])
        st = pb.decode(buf[i + 4:i + 4 + n]).get(2)
        if st != 11:
            sys.exit("hub %d: sync status %s" % (k, st))
        i += 4 + n
PY
ok "$HUBS hubs registered, $((HUBS * SKUS)) receipts applied"

# dropctl pages: every row, once, in (sku, hub) order; exit 0.
dc --json stock >"$T/stock.json" || fail "dropctl stock failed"
python3 - "$T/stock.json" "$((HUBS * SKUS))" <<'PY' || fail "dropctl stock --json is not every row once"
import json, sys
rows = json.load(open(sys.argv[1]))["stock"]
keys = [(r["sku"], r["hub"]) for r in rows]
assert len(keys) == int(sys.argv[2]), len(keys)
assert keys == sorted(set(keys)), "not each row once, in order"
assert all(r["on_hand"] == 7 for r in rows)
PY
lines=$(dc stock | wc -l)
[[ $lines == $((HUBS * SKUS + 1)) ]] || fail "dropctl stock printed $lines lines, want $((HUBS * SKUS + 1))"
ok "dropctl stock: $((HUBS * SKUS)) rows over pages (json and table)"
hub3="hub-03-$(printf 'x%.0s' {1..57})"
n=$(dc --json stock --hub "$hub3" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["stock"]))')
[[ $n == "$SKUS" ]] || fail "dropctl stock --hub: $n rows, want $SKUS"
n=$(dc --json hubs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hubs"]))')
[[ $n == "$HUBS" ]] || fail "dropctl hubs: $n hubs, want $HUBS"

# A request without paging: INVALID with the size, at once.
$PB ops --kind 2 >"$T/old.bin"
timeout 20 "$RAWSEND" "$DROPNET_COORDINATOR" --timeout-ms 5000 <"$T/old.bin" >"$T/old.rep" ||
	fail "an OPS_STOCK without paging went unanswered"
out=$($PB decode <"$T/old.rep")
[[ $(jget "$out" 'j["status"]') == INVALID ]] || fail "whole list: $out"
grep -q "over the 1048576-byte message limit" <<<"$(jget "$out" 'j["fields"]["3"]')" ||
	fail "whole list: no size in the message: $out"
grep -q "ops.reply_too_large" "$NET_DIR/log/coordinator.log" || fail "no ops.reply_too_large logged"
ok "an OPS_STOCK without paging: INVALID, its size said and logged"
