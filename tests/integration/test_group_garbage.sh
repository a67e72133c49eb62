#!/usr/bin/env bash
# Goal: garbage on a replicated group's replication ports costs nothing.
# libraft 0.15's own TCP transport trusts a connection's first bytes (it
# allocates the handshake's address length unchecked): one connection of
# random bytes to a replication port crashed every replica of a local
# group. dropnet's transport (coordinator/replica/raft_transport.c) lets a
# connection reach libraft only once its peer answered a fresh challenge
# with an HMAC of the group's secret (group.secret_file).
#
# Every replica's replication port gets: random bytes, a libraft handshake
# with a 1 TB address length and messages of absurd sizes (what libraft
# itself would parse), a response of the right size with a wrong MAC, a
# correct response for one challenge replayed on another, and 100
# connections that say nothing (the pending-handshake cap and the timeout).
# Then every replica is alive, refused each kind (raft_transport.refused,
# logged), the group still acknowledges orders, and the replicas' books
# are identical.
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/group.sh"
net_setup "$1"
HUBS="london"
R=3
GROUP_R=$R
NET_EXTRA_PORTS=$((5 * R - 4)) net_start "$HUBS" --replicas "$R"
receive_and_wait london garbage-sku 50

# Each replica's replication address, from its --replica flags.
PORTS=()
for r in $(seq 1 "$R"); do
	p=$(tr '\0' '\n' <"$NET_DIR/run/coordinator1.argv" | grep -A1 -x -- --replica |
		grep "^$r," | cut -d, -f2 | cut -d: -f2)
	[[ -n $p ]] || fail "no replication port for replica $r"
	PORTS+=("$p")
done

python3 - "$NET_DIR/group.secret" "${PORTS[@]}" <<'PY' || fail "the garbage sender failed"
import hashlib, hmac, os, socket, struct, sys, time
key = bytes.fromhex(open(sys.argv[1]).read().strip())
ports = [int(p) for p in sys.argv[2:]]

def conn(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)

def challenge(s):
    b = b""
    while len(b) < 24:
        c = s.recv(24 - len(b))
        if not c:
            raise EOFError
        b += c
    assert b[:8] == b"DNRAFTC1", b[:8]
    return b

def response(ch, rid=9, addr=b"127.0.0.1:1"):
    body = struct.pack("<Q", rid) + addr.ljust(64, b"\0")
    mac = hmac.new(key, b"dropnet-raft-v1\0" + ch[8:] + body, hashlib.sha256).digest()
    return b"DNRAFTR1" + body + mac

def fire(port, data, wait_challenge=False):
    try:
        s = conn(port)
        if wait_challenge:
            challenge(s)
        s.sendall(data)
        time.sleep(0.01)
        s.close()
    except OSError:
        pass

for port in ports:
    for _ in range(20):
        fire(port, os.urandom(16384))
    addr = b"127.0.0.1:9999".ljust(16, b"\0")
    hs = struct.pack("<QQQ", 1, 99, 1 << 40) + addr
    fire(port, hs)
    hs = struct.pack("<QQQ", 1, 99, len(addr)) + addr
    for t in range(12):
        fire(port, hs + struct.pack("<QQ", t, 1 << 40))
        fire(port, hs + struct.pack("<QQ", t, 64) + os.urandom(64))
    # The right size, a wrong MAC.
    fire(port, b"DNRAFTR1" + os.urandom(104), wait_challenge=True)
    # A good answer to one challenge, replayed on another connection.
    s = conn(port)
    good = response(challenge(s))
    s.close()
    s = conn(port)
    challenge(s)
    s.sendall(good)
    s.settimeout(3)
    try:
        got = s.recv(8)
    except OSError:
        got = b""
    assert got != b"DNRAFTOK", "a replayed handshake was accepted"
    s.close()
    # Connections that say nothing.
    idle = []
    for _ in range(100):
        try:
            idle.append(conn(port))
        except OSError:
            break
    time.sleep(0.5)
    for s in idle:
        s.close()
PY
for r in $(seq 1 "$R"); do
	kill -0 "$(pid_of "coordinator$r")" 2>/dev/null || fail "replica $r died of garbage"
	log="$NET_DIR/log/coordinator$r.log"
	for why in bad_mac closed_early; do
		grep -q "raft_transport.refused dir=in why=$why" "$log" ||
			fail "replica $r logged no refusal why=$why"
	done
done
ok "every replica alive after garbage on its replication port; refusals logged"

# The group still acknowledges orders, and its replicas agree.
DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$BUILD/loadgen" --ingest "$DROPNET_INGEST" --buyers 40 --concurrency 2 --batch 4 \
	--sku garbage-sku --ship-to 51.5074,-0.1278 --key-prefix gb --duration-s 2 \
	--burst-tau-s 1000 --retries 20 --timeout-ms 2000 --acked-file "$T/acked" \
	>"$T/loadgen.out" 2>&1 || { cat "$T/loadgen.out" >&2; fail "loadgen failed"; }
n=$(wc -l <"$T/acked")
(( n > 0 )) || fail "no order acknowledged after the garbage"
net_stop_hubs() { local h; for h in $HUBS; do net_ctl stop-proc "$h" >/dev/null; done; }
net_stop_hubs
wait_until 30 "every replica's books equal" group_same_books
ok "the group acknowledged $n orders after the garbage; the replicas' books are equal"
