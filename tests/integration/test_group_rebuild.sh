#!/usr/bin/env bash
# Goal: a replicated coordinator group (3 replicas, TLS) rebuilds a replica
# whose disk was lost, and takes members in and out online; `dropctl
# replicas` shows every replica's books checksum, equal where the replicas
# are at the same log index.
#
# 1. A drop runs (loadgen through the batching client); a follower is
#    killed, its data dir deleted entirely, and it is started again: it
#    rebuilds from the leader's snapshot (group.snapshot_entries=64, so the
#    log is compacted) plus the log and rejoins. Then its checksum equals the
#    leader's at the same index, `dropctl audit` ran clean on its books too
#    (every replica applies the audit entry and logs audit.done), and every
#    acked order is journalled ACCEPTED in its store.
# 2. `dropctl replicas add` brings a 4th replica (started --join, empty)
#    in while orders flow: it catches up and shows the leader's checksum at
#    the same index; `dropctl replicas` asked through replica 1 alone finds
#    all four (the URLs are in the log). A read-only peer may list but not
#    add. `replicas remove 4` takes it out; the group still takes orders.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
HUBS="london"
R=3
PKISH="$REPO_DIR/deploy/pki.sh"

rc=0
err=$("$COORDINATOR" --set coordinator.data_dir="$T/bad" --join 2>&1 >/dev/null) || rc=$?
[[ $rc == 2 && $err == *--replica* ]] || fail "coordinator --join alone exited $rc: $err"
ok "--join without --replica-id refused"

SKU=rebuild-sku
STOCK=3000
# 5R-4 extra ports for the group, 5 more for the 4th replica (ingest, ops,
# hubsync, signals, replication), at base + 5R.
NET_EXTRA_PORTS=$((5 * R - 4 + 5)) net_start "$HUBS" --replicas "$R" \
	--coord-set group.snapshot_entries=64
IFS=, read -r -a OPS <<<"$DROPNET_COORDINATOR"
base=${OPS[0]##*:}
base=$((base - 1))
receive_and_wait london "$SKU" "$STOCK"

# dropctl replicas --json over URLS (default: every replica's).
reps() { "$DROPCTL" --coordinator "${1:-$DROPNET_COORDINATOR}" --timeout-ms 2000 --json replicas; }
# Exit 0: replicas A and B (ids) are at the same checksum index with equal
# checksums; 1: not at the same index yet; 2: same index, other checksums.
same_sum() { # a b [urls]
	local out
	out=$(reps "${3:-}" 2>/dev/null) || true
	python3 - "$1" "$2" "$out" <<'PY'
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
try:
    rows = {r["id"]: r for r in json.loads(sys.argv[3]) if r.get("reachable")}
except Exception:
    sys.exit(1)
if a not in rows or b not in rows or rows[a]["sum_index"] == 0:
    sys.exit(1)
ra, rb = rows[a], rows[b]
if ra["sum_index"] != rb["sum_index"]:
    sys.exit(1)
if ra["sum"] != rb["sum"]:
    print("replica %d: %s, replica %d: %s at index %d" % (a, ra["sum"], b, rb["sum"], ra["sum_index"]))
    sys.exit(2)
print("%s at index %d" % (ra["sum"], ra["sum_index"]))
PY
}
agree() { # a b [urls] -> waits for both at one checksum index, fails on a mismatch
	local rc=0 out
	check() { out=$(same_sum "$@"); rc=$?; (( rc != 1 )); }
	wait_until 90 "replicas $1 and $2 at one checksum index" check "$@"
	(( rc == 0 )) || fail "books differ: $out"
	echo "$out"
}
leader() { reps 2>/dev/null | python3 -c '
import json, sys
l = [r["id"] for r in json.load(sys.stdin) if r.get("role") == "leader"]
print(l[0]) if l else sys.exit(1)'; }
has_leader() { leader >/dev/null 2>&1; }
wait_until 20 "a leader" has_leader
L=$(leader)
F=$(( L % R + 1 ))
out=$(reps) || fail "dropctl replicas: $out"
[[ $(jget "$out" 'len(j)') == 3 ]] || fail "dropctl replicas lists $(jget "$out" 'len(j)') rows: $out"
[[ $(jget "$out" '",".join(sorted(r["role"] for r in j))') == follower,follower,leader ]] ||
	fail "roles: $out"
"$DROPCTL" --coordinator "$DROPNET_COORDINATOR" replicas >"$T/reps.txt" || fail "dropctl replicas (text)"
grep -q "SUM_INDEX" "$T/reps.txt" && grep -q leader "$T/reps.txt" || fail "table: $(cat "$T/reps.txt")"
ok "dropctl replicas: 3 rows, one leader (replica $L)"

acked() { [[ -f $T/acked ]] && wc -l <"$T/acked" || echo 0; }
DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$BUILD/loadgen" --ingest "$DROPNET_INGEST" --buyers 2500 --concurrency 8 \
	--batch 16 --sku "$SKU" --ship-to 51.5074,-0.1278 --key-prefix rb --duration-s 12 --burst-tau-s 1000 \
	--retries 40 --timeout-ms 2000 --acked-file "$T/acked" >"$T/loadgen.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")
progress() { (( $(acked) >= before + 40 )); }
before=0
wait_until 20 "40 acks" progress

# ---- 1. a follower's disk lost ----------------------------------------------
net_ctl stop-proc "coordinator$F" --signal KILL >/dev/null
rm -rf "$NET_DIR/coordinator$F"
[[ ! -e $NET_DIR/coordinator$F ]] || fail "data dir still there"
before=$(acked)
wait_until 20 "40 more acks without replica $F" progress
ok "replica $F killed and its data dir deleted at $before acks; the group goes on"
net_ctl start-proc "coordinator$F" >/dev/null
snapshot_in() { grep -q 'replica.restored .*memory_bytes=[1-9]' "$NET_DIR/log/coordinator$F.log"; }
wait_until 30 "replica $F restored from a snapshot" snapshot_in
ok "replica $F rebuilt from the leader's snapshot: $(grep 'replica.restored' "$NET_DIR/log/coordinator$F.log" | tail -n 1 | grep -o 'bytes=[0-9]* memory_bytes=[0-9]*')"
s=$(agree "$L" "$F") || fail "replica $F vs the leader"
ok "while orders flow: replica $F's checksum equals the leader's, $s"

lg_done() { ! kill -0 "$LG" 2>/dev/null; }
wait_until 60 "loadgen to finish" lg_done
wait "$LG" || { cat "$T/loadgen.out" >&2; fail "loadgen failed"; }
NET_BG_PIDS=()
n_acked=$(acked)
(( n_acked > 0 )) || fail "no order acked"

audits_done() { grep -c 'audit.done' "$NET_DIR/log/coordinator$F.log" || true; }
a0=$(audits_done)
out=$(dc audit) || fail "audit failed: $out"
[[ $out == "audit clean"* ]] || fail "audit not clean: $out"
new_audit() { (( $(audits_done) > a0 )); }
wait_until 10 "the audit entry applied on replica $F" new_audit
line=$(grep 'audit.done' "$NET_DIR/log/coordinator$F.log" | tail -n 1)
[[ $line == *findings=0* ]] || fail "audit on replica $F: $line"
ok "audit clean through the leader and on replica $F's own books ($line)"

python3 - "$NET_DIR/coordinator$F/coordinator.db" "$T/acked" <<'PY' || fail "acked orders on replica $F"
import sqlite3, sys
db, acked = sys.argv[1], sys.argv[2]
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
got = {k: (s, h, oid) for k, s, h, oid in c.execute("SELECT order_key, status, hub, id FROM orders")}
bad = [l for l in open(acked) if got.get(l.split()[0]) != (1, l.split()[1], int(l.split()[2]))]
for b in bad[:10]:
    print("BAD acked, not in the rebuilt journal:", b.strip(), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
s=$(agree "$L" "$F") || fail "replica $F vs the leader"
s3=$(agree "$L" "$(( F % R + 1 ))") || fail "the other follower vs the leader"
ok "all $n_acked acked orders journalled ACCEPTED on rebuilt replica $F; idle checksums equal: $s / $s3"

# ---- 2. a 4th replica in and out, online -------------------------------------
# Its argv: replica 3's with its own ports and data dir, --join, and the
# members (itself too).
p4=$((base + 5 * R))
U4_INGEST=tls+tcp://127.0.0.1:$p4 U4_OPS=tls+tcp://127.0.0.1:$((p4 + 1))
U4_HUB=tls+tcp://127.0.0.1:$((p4 + 2)) RAFT4=127.0.0.1:$((p4 + 4))
SPEC4="4,$RAFT4,$U4_INGEST,$U4_HUB,$U4_OPS"
python3 - "$NET_DIR" "$p4" "$SPEC4" <<'PY' || fail "argv of replica 4"
import sys
d, p, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
a = open(d + "/run/coordinator3.argv", "rb").read().split(b"\0")[:-1]
sub = {"coordinator.data_dir": d + "/coordinator4",
       "coordinator.ingest_url": "tls+tcp://127.0.0.1:%d" % p,
       "coordinator.ops_url": "tls+tcp://127.0.0.1:%d" % (p + 1),
       "coordinator.hub_url": "tls+tcp://127.0.0.1:%d" % (p + 2),
       "coordinator.signal_url": "tls+tcp://127.0.0.1:%d" % (p + 3)}
out = []
for i, x in enumerate(a):
    s = x.decode()
    k = s.split("=", 1)[0]
    if k in sub:
        s = k + "=" + sub[k]
    if i > 0 and a[i - 1] == b"--replica-id":
        s = "4"
    out.append(s)
out += ["--replica", spec, "--join"]
open(d + "/run/coordinator4.argv", "wb").write(b"".join(s.encode() + b"\0" for s in out))
PY
mkdir -p "$NET_DIR/coordinator4"
net_ctl start-proc coordinator4 >/dev/null
ALL4="$DROPNET_COORDINATOR,$U4_OPS"

# Roles: a read-only peer lists, but may not add (issued now; SIGHUP re-reads
# the peers file on every replica).
P="$NET_DIR/pki"
"$PKISH" issue --dir "$P" operator viewer --op-role read-only >/dev/null
for r in 1 2 3 4; do kill -HUP "$(pid_of "coordinator$r")"; done
as_viewer() {
	DROPNET_AUTH_NAME=viewer DROPNET_AUTH_KEY="$P/operator/viewer.secret" \
		DROPNET_TLS_CERT="$P/operator/viewer.crt" DROPNET_TLS_KEY="$P/operator/viewer.key" "$@"
}
viewer_lists() { as_viewer "$DROPCTL" --coordinator "$ALL4" --timeout-ms 2000 replicas >/dev/null 2>&1; }
wait_until 10 "the read-only peer known on every replica" viewer_lists
set +e
r=$(as_viewer "$DROPCTL" --coordinator "$DROPNET_COORDINATOR" replicas add "$SPEC4" 2>&1)
set -e
[[ $r == *"admin"* ]] || fail "a read-only peer's replicas add: $r"
ok "a read-only peer lists the replicas; its replicas add is refused: $r"

# Revocation is the group's (coordinator/replica/peers.c): viewer is revoked
# and only the leader gets SIGHUP. It proposes its peers file; every
# follower - whose listener was not re-created, so viewer's certificate
# still passes its TLS - refuses viewer by the group's table from that log
# index on. (Each replica used its own file until its own SIGHUP before:
# the followers would have gone on answering viewer.)
for f in crt key secret; do cp "$P/operator/viewer.$f" "$T/viewer.$f"; done
"$PKISH" revoke --dir "$P" operator viewer >/dev/null
L=$(leader)
kill -HUP "$(pid_of "coordinator$L")"
U=("${OPS[@]}")
as_old_viewer() {
	DROPNET_AUTH_NAME=viewer DROPNET_AUTH_KEY="$T/viewer.secret" \
		DROPNET_TLS_CERT="$T/viewer.crt" DROPNET_TLS_KEY="$T/viewer.key" "$@"
}
for r in 1 2 3; do   # the members (replica 4 joins below)
	(( r == L )) && continue
	log="$NET_DIR/log/coordinator$r.log"
	refused=$(grep -c 'auth.refused socket=ops reason=unknown_peer' "$log" || true)
	refused_on() {
		! as_old_viewer "$DROPCTL" --coordinator "${U[$((r - 1))]}" --timeout-ms 2000 \
			replicas >/dev/null 2>&1 &&
			(( $(grep -c 'auth.refused socket=ops reason=unknown_peer' "$log" || true) > refused ))
	}
	wait_until 20 "replica $r to refuse the revoked viewer" refused_on
	grep -q 'replica.peers peers=' "$log" || fail "replica $r: no replica.peers line"
done
ok "viewer revoked with SIGHUP to the leader ($L) alone: every follower refuses it (the group's peers table)"
# A truncated (emptied) peers file is not proposed: it would lock every
# peer out of the group, admins included.
cp "$P/peers" "$T/peers.keep"
: >"$P/peers"
kill -HUP "$(pid_of "coordinator$L")"
wait_until 10 "the leader to refuse an empty peers file" \
	grep -q 'auth.reload_refused' "$NET_DIR/log/coordinator$L.log"
cp "$T/peers.keep" "$P/peers"
"$DROPCTL" --coordinator "$DROPNET_COORDINATOR" --timeout-ms 5000 replicas >/dev/null ||
	fail "the operator was locked out after an empty peers file"
ok "an emptied peers file is refused at SIGHUP (auth.reload_refused); operators still speak"

# The store holds the peers' secrets now (and the quote secret): owner only.
for r in 1 2 3; do
	for f in "$NET_DIR/coordinator$r"/coordinator.db*; do
		[[ $(stat -c %a "$f") == 600 ]] || fail "$f is mode $(stat -c %a "$f"), not 600"
	done
done
ok "every replica's store files are mode 600"

# More orders while replica 4 joins.
DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$BUILD/loadgen" --ingest "$DROPNET_INGEST" --buyers 400 --concurrency 4 \
	--batch 8 --sku "$SKU" --ship-to 51.5074,-0.1278 --key-prefix add --duration-s 6 --burst-tau-s 1000 \
	--retries 40 --timeout-ms 2000 --acked-file "$T/acked2" >"$T/loadgen2.out" 2>&1 &
LG=$!
NET_BG_PIDS+=("$LG")
r=$("$DROPCTL" --coordinator "$DROPNET_COORDINATOR" --timeout-ms 30000 replicas add "$SPEC4" 2>&1) ||
	fail "replicas add: $r"
ok "replicas add: $r"
grep -q 'replica.restored .*memory_bytes=[1-9]' "$NET_DIR/log/coordinator4.log" ||
	fail "replica 4 did not catch up through a snapshot"
L=$(leader)
s=$(agree "$L" 4 "$ALL4") || fail "replica 4 vs the leader"
ok "replica 4 caught up (snapshot, then log): its checksum equals the leader's, $s"
out=$(reps "${OPS[0]}") || fail "replicas through replica 1: $out"
[[ $(jget "$out" 'sorted(r.get("id", 0) for r in j if r["reachable"])') == "[1, 2, 3, 4]" ]] ||
	fail "replica 1 does not name all four: $out"
[[ $(jget "$out" '[r["role"] for r in j if r["id"] == 4][0]') == follower ]] || fail "replica 4: $out"
ok "asked through replica 1 alone, dropctl replicas finds all four (URLs from the log)"
wait "$LG" || { cat "$T/loadgen2.out" >&2; fail "loadgen (add) failed"; }
NET_BG_PIDS=()

set +e
r=$("$DROPCTL" --coordinator "$DROPNET_COORDINATOR" replicas remove "$L" 2>&1)
set -e
[[ $r == *"leads"* ]] || fail "removing the leader: $r"
r=$("$DROPCTL" --coordinator "$DROPNET_COORDINATOR" --timeout-ms 10000 replicas remove 4 2>&1) ||
	fail "replicas remove: $r"
ok "replicas remove 4: $r (the leader itself is refused)"
three() { local o; o=$(reps 2>/dev/null) && [[ $(jget "$o" 'sorted(r["id"] for r in j)') == "[1, 2, 3]" ]]; }
wait_until 10 "dropctl replicas to list 3 members" three
net_ctl stop-proc coordinator4 >/dev/null
rm -f "$T/acked3"
DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
	"$BUILD/loadgen" --ingest "$DROPNET_INGEST" --buyers 100 --concurrency 2 \
	--batch 4 --sku "$SKU" --ship-to 51.5074,-0.1278 --key-prefix rm --duration-s 2 --burst-tau-s 1000 \
	--retries 40 --timeout-ms 2000 --acked-file "$T/acked3" >"$T/loadgen3.out" 2>&1 ||
	{ cat "$T/loadgen3.out" >&2; fail "loadgen after remove"; }
n3=$(wc -l <"$T/acked3")
(( n3 > 0 )) || fail "no order acked after the remove: $(cat "$T/loadgen3.out")"
s=$(agree "$L" "$F") || fail "after the remove"
ok "after the remove (replica 4 stopped) the group took $n3 orders; replicas $L and $F agree, $s"
