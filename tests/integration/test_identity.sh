#!/usr/bin/env bash
# Goal: per-request identity (proto/SEMANTICS.md "Transport and identity"),
# on a real network with TLS on, each refusal leaving the books unchanged:
#  1. the forged sync of issue 9 - "I am london; I applied command 1; event:
#     received 1,000,000" - sent with a valid hub certificate (hub "evil")
#     and evil's own valid secret is FORBIDDEN; signed as london with a key
#     that is not london's it is UNAUTHENTICATED; a hub not in the peers
#     table ("ghost") cannot register. london's pending command, its stream
#     positions, position and stock are untouched, and when the real london
#     comes back it queues the order. The same bytes signed with london's
#     real key are not refused (the payload itself was valid).
#  2. storefront "default" cannot read (a resubmit of the key), confirm or
#     release shop-b's order: FORBIDDEN, and shop-b's order is unchanged;
#     nor order in a batch or ask a quote for shop-b (the Signed envelope
#     wraps the whole IngestRequest, each order checked on its own).
#  3. a read-only operator may read but not create a drop nor release
#     holdback; an operator request replayed (same bytes) is refused, also
#     after a coordinator restart, and so is one outside the 60 s window.
#  4. a hub's position and radius change only by an admin's `hubs set`: not
#     by the hub's own (validly signed) hello, not by an operator-role peer.
#  5. SIGHUP re-reads the peers; a SIGTERM after it stops the coordinator
#     cleanly and at once.
# The MACs of the forged requests are made by lib/pb.py (Python's hmac),
# independent of the daemons' mbedtls.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
PB="python3 $NET_LIB_DIR/pb.py"
PKISH="$REPO_DIR/deploy/pki.sh"
RAWSEND="$BUILD/rawsend"
[[ -x $RAWSEND ]] || fail "rawsend not built"

# Peers the coordinator must know before it starts (its table is read at
# start): a second hub "evil" and a read-only operator "viewer".
P="$NET_DIR/pki"
mkdir -p "$P"
"$PKISH" init --dir "$P" >/dev/null
"$PKISH" issue --dir "$P" hub evil >/dev/null
"$PKISH" issue --dir "$P" operator viewer --op-role read-only >/dev/null
net_start "london birmingham"
SKU=id-cap
receive_and_wait london "$SKU" 10

# send URL CERT KEY < bytes: the decoded reply's status (NO_REPLY if none).
send() {
	local rc=0
	DROPNET_TLS_CERT=$2 DROPNET_TLS_KEY=$3 timeout 20 "$RAWSEND" "$1" --timeout-ms 5000 \
		>"$T/reply.bin" 2>"$T/rawsend.err" || rc=$?
	[[ $rc == 0 ]] || { echo NO_REPLY; return 0; }
	jget "$($PB decode <"$T/reply.bin")" 'j["status"]'
}
hub_row() { # id -> json of the hub as the coordinator sees it
	jget "$(dc --json hubs)" "[h for h in j['hubs'] if h['id'] == '$1'][0]"
}
books() { # what must not move: london's row (not last_seen) and its stock
	local h
	h=$(hub_row london)
	jget "$h" '{k: j[k] for k in ("cmd_seq", "cmd_acked", "event_applied", "lat", "lon", "radius_km")}'
	stock_field london "$SKU" on_hand
	stock_field london "$SKU" allocated
}

# ---- 1. a hub speaks only as itself -----------------------------------------
# london goes away with an order waiting in its command stream.
net_ctl stop-proc london
o=$(dc --json order submit --key id-1 --customer c1 --sku "$SKU" --qty 4 --lat 51.5 --lon -0.12)
[[ $(jget "$o" 'j["status"]') == ACCEPTED && $(jget "$o" 'j["hub"]') == london ]] || fail "order: $o"
before=$(books)
row=$(hub_row london)
cmd_seq=$(jget "$row" 'j["cmd_seq"]')
ev=$(( $(jget "$row" 'j["event_applied"]') + 1 ))
(( cmd_seq > $(jget "$row" 'j["cmd_acked"]') )) || fail "no pending command for london: $row"
$PB hubsync --id london --cmd-applied "$cmd_seq" --event-acked "$ev" --received "$ev:$SKU:1000000" \
	--lat 53.48 --lon -2.24 --radius 500 >"$T/forged.bin"
HUB_CERT="$P/hub/evil.crt" HUB_KEY="$P/hub/evil.key"

$PB seal --socket hubsync --peer evil --key-file "$P/hub/evil.secret" <"$T/forged.bin" >"$T/f1.bin"
st=$(send "$DROPNET_HUBSYNC" "$HUB_CERT" "$HUB_KEY" <"$T/f1.bin")
[[ $st == FORBIDDEN ]] || fail "evil speaking as london: $st"
$PB seal --socket hubsync --peer london --key-file "$P/hub/evil.secret" <"$T/forged.bin" >"$T/f2.bin"
st=$(send "$DROPNET_HUBSYNC" "$HUB_CERT" "$HUB_KEY" <"$T/f2.bin")
[[ $st == UNAUTHENTICATED ]] || fail "london's name with evil's key: $st"
st=$(send "$DROPNET_HUBSYNC" "$HUB_CERT" "$HUB_KEY" <"$T/forged.bin")
[[ $st == MALFORMED ]] || fail "unsigned sync (not a Signed envelope): $st"
$PB hubsync --id ghost --lat 51.5 --lon -0.12 --radius 500 |
	$PB seal --socket hubsync --peer ghost --key-file "$P/hub/evil.secret" >"$T/ghost.bin"
st=$(send "$DROPNET_HUBSYNC" "$HUB_CERT" "$HUB_KEY" <"$T/ghost.bin")
[[ $st == UNAUTHENTICATED ]] || fail "unknown hub ghost: $st"
[[ $(books) == "$before" ]] || fail "books moved: before $before, after $(books)"
jget "$(dc --json hubs)" '[h["id"] for h in j["hubs"]]' | grep -q ghost && fail "ghost registered"
log=$NET_DIR/log/coordinator.log
for r in wrong_name bad_mac malformed unknown_peer; do
	grep -q "auth.refused socket=hubsync reason=$r" "$log" || fail "no auth.refused reason=$r in the log"
done
# /metrics counts each refusal by reason, and by kind.
refusals_counted() {
	scrape "$DROPNET_METRICS" >"$T/m-peers.txt" || return 1
	local r
	for r in wrong_name bad_mac malformed unknown_peer; do
		[[ $(metric "$T/m-peers.txt" dropnet_peer_refusals_total "reason=$r") == 1 ]] || return 1
	done
	[[ $(metric "$T/m-peers.txt" dropnet_peer_refusals_total kind=unauthenticated) == 3 ]] &&
		[[ $(metric "$T/m-peers.txt" dropnet_peer_refusals_total kind=forbidden) == 1 ]] &&
		[[ $(metric "$T/m-peers.txt" dropnet_peer_refusals_total kind=replay) == 0 ]]
}
wait_until 10 "dropnet_peer_refusals_total to count the four forged syncs" refusals_counted
ok "forged syncs refused (wrong_name, bad_mac, malformed, unknown_peer), logged, counted; london's books unchanged"

net_ctl start-proc london
wait_until 30 "london queues id-1" bash -c "\"$PICKTERM\" --hub \"$(hub_url london)\" queue --json | grep -q id-1"
wait_until 30 "london applied its commands" streams_caught_up
[[ $(stock_field london "$SKU" on_hand) == 10 ]] || fail "london on_hand $(stock_field london "$SKU" on_hand)"
audit_clean || fail "audit after the forged syncs"
ok "the real london got its command; on_hand 10; audit clean"

# ---- 2. a storefront only for its own orders --------------------------------
as_b() {
	DROPNET_STOREFRONT_AUTH_NAME=shop-b DROPNET_STOREFRONT_AUTH_KEY="$P/storefront/shop-b.secret" "$@"
}
o=$(as_b dc --json order submit --key sb-1 --storefront shop-b --customer c2 --sku "$SKU" --qty 2 --lat 51.5 --lon -0.12)
[[ $(jget "$o" 'j["status"]') == ACCEPTED ]] || fail "shop-b's own order: $o"
alloc=$(stock_field london "$SKU" allocated)
set +e
r1=$(dc --json order submit --key sb-1 --storefront shop-b --customer c2 --sku "$SKU" --qty 2 --lat 51.5 --lon -0.12)
r2=$(dc --json order confirm --key sb-1 --storefront shop-b)
r3=$(dc --json order release --key sb-1 --storefront shop-b)
set -e
for r in "$r1" "$r2" "$r3"; do
	[[ $(jget "$r" 'j["status"]') == FORBIDDEN && $(jget "$r" 'j["order_id"]') == 0 ]] ||
		fail "default acting for shop-b: $r"
done
[[ $(stock_field london "$SKU" allocated) == "$alloc" ]] || fail "allocated moved"
s=$(dc --json order show sb-1 --storefront shop-b)
[[ $(jget "$s" 'j["order"]["status"]') == ACCEPTED ]] || fail "shop-b's order: $s"
ok "default cannot read, confirm or release shop-b's order (FORBIDDEN); it stands"
# The storefront example (proto/example) signs its own way (mbedtls, no
# dropnet library): signed as default it is taken, as shop-b with default's
# key it is not.
EX=$(net_prog storefront_example)
r=$(as_storefront "$EX" "$DROPNET_INGEST" ex-1 c3 "$SKU" 1 51.5 -0.12) || fail "example: $r"
[[ $r == ACCEPTED* ]] || fail "example as default: $r"
r=$(DROPNET_STOREFRONT_AUTH_NAME=shop-b as_storefront "$EX" "$DROPNET_INGEST" ex-2 c3 "$SKU" 1 51.5 -0.12) || true
[[ $r == UNAUTHENTICATED* ]] || fail "example as shop-b with default's key: $r"
ok "storefront_example: signed as itself ACCEPTED, with another's key UNAUTHENTICATED"
# Batches (libdropnet through loadgen --batch) and quotes ride inside the
# one Signed envelope; each order of a batch is checked on its own.
LOADGEN=$(net_prog loadgen)
lg_batch() { # storefront -> loadgen's JSON (3 buyers in batches of up to 4)
	as_storefront "$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 3 --concurrency 3 \
		--sku "$SKU" --seed 5 --key-prefix "idb-$1" --ship-to 51.5,-0.12 --batch 4 \
		--storefront "$1" --json
}
alloc=$(stock_field london "$SKU" allocated)
lg=$(lg_batch shop-b) || fail "loadgen (default for shop-b): $lg"
[[ $(jget "$lg" 'j["rejected"].get("FORBIDDEN", 0)') == 3 && $(jget "$lg" 'j["accepted"]') == 0 ]] ||
	fail "a batch for shop-b signed as default: $lg"
[[ $(stock_field london "$SKU" allocated) == "$alloc" ]] || fail "allocated moved by a refused batch"
lg=$(as_b lg_batch shop-b) || fail "loadgen (shop-b): $lg"
[[ $(jget "$lg" 'j["accepted"]') == 3 ]] || fail "shop-b's own batch: $lg"
[[ $(stock_field london "$SKU" allocated) == $((alloc + 3)) ]] || fail "shop-b's batch not allocated"
quote() { dc --json quote --customer c9 --drop nope --tier public --sku "$SKU" --lat 51.5 --lon -0.12 "$@" || true; }
[[ $(jget "$(quote --storefront shop-b)" 'j["status"]') == FORBIDDEN ]] || fail "quote for shop-b as default"
[[ $(jget "$(as_b quote --storefront shop-b)" 'j["status"]') == NOT_FOUND ]] || fail "shop-b's own quote"
ok "batches and quotes: for another storefront FORBIDDEN (each order), for its own taken"

# ---- 3. operators: roles and replay ------------------------------------------
as_viewer() {
	DROPNET_AUTH_NAME=viewer DROPNET_AUTH_KEY="$P/operator/viewer.secret" \
		DROPNET_TLS_CERT="$P/operator/viewer.crt" DROPNET_TLS_KEY="$P/operator/viewer.key" "$@"
}
as_viewer dc --json hubs >/dev/null || fail "read-only operator cannot read hubs"
set +e
r=$(as_viewer dc --json drop create --file "$REPO_DIR/deploy/drops/hoodie.ini" 2>&1)
set -e
echo "$r" | grep -q FORBIDDEN || fail "read-only drop create: $r"
[[ $(jget "$(dc --json drop list)" 'len(j["drops"])') == 0 ]] || fail "a drop was created"
set +e
r=$(as_viewer dc --json holdback release --drop hoodie --sku "$SKU" --qty 1 2>&1)
set -e
echo "$r" | grep -q FORBIDDEN || fail "read-only holdback release: $r"
ok "read-only operator: reads, but drop create and holdback release are FORBIDDEN"

# A captured write (open drop "nope": NOT_FOUND, but it acted) replayed.
OPS_CERT="$DROPNET_TLS_CERT" OPS_KEY="$DROPNET_TLS_KEY"
$PB ops --kind 13 --drop-id nope | $PB seal --socket ops --peer ops --key-file "$DROPNET_AUTH_KEY" >"$T/w.bin"
[[ $(send "$DROPNET_COORDINATOR" "$OPS_CERT" "$OPS_KEY" <"$T/w.bin") == NOT_FOUND ]] || fail "first write"
[[ $(send "$DROPNET_COORDINATOR" "$OPS_CERT" "$OPS_KEY" <"$T/w.bin") == UNAUTHENTICATED ]] || fail "replayed write"
net_ctl stop-proc coordinator
net_ctl start-proc coordinator
wait_until 30 "coordinator back" dc hubs
[[ $(send "$DROPNET_COORDINATOR" "$OPS_CERT" "$OPS_KEY" <"$T/w.bin") == UNAUTHENTICATED ]] ||
	fail "replayed write after a restart"
old=$(( ($(date +%s) - 120) * 1000000 ))
$PB ops --kind 1 | $PB seal --socket ops --peer ops --key-file "$DROPNET_AUTH_KEY" --counter "$old" >"$T/old.bin"
[[ $(send "$DROPNET_COORDINATOR" "$OPS_CERT" "$OPS_KEY" <"$T/old.bin") == UNAUTHENTICATED ]] || fail "stale request"
grep -q "reason=replayed" "$NET_DIR/log/coordinator.log" || fail "no replayed refusal logged"
grep -q "reason=stale" "$NET_DIR/log/coordinator.log" || fail "no stale refusal logged"
ok "a replayed operator write is refused, also after a restart; a 2-minute-old one too"

# A peer issued while the coordinator runs is known after SIGHUP (which
# re-reads PKI/peers), and a revoked one is refused after it.
"$PKISH" issue --dir "$P" operator late --op-role operator >/dev/null
as_late() {
	DROPNET_AUTH_NAME=late DROPNET_AUTH_KEY="$P/operator/late.secret" \
		DROPNET_TLS_CERT="$P/operator/late.crt" DROPNET_TLS_KEY="$P/operator/late.key" "$@"
}
set +e
r=$(as_late dc --json hubs 2>&1)
set -e
echo "$r" | grep -q UNAUTHENTICATED || fail "late before SIGHUP: $r"
"$PKISH" revoke --dir "$P" operator viewer >/dev/null
cpid=$(pid_of coordinator)
kill -HUP "$cpid"
wait_until 20 "peers re-read" grep -q "auth.reloaded" "$NET_DIR/log/coordinator.log"
as_late dc --json hubs >/dev/null || fail "late after SIGHUP"
set +e
r=$(DROPNET_AUTH_NAME=viewer DROPNET_AUTH_KEY="$P/operator/revoked/$(ls "$P/operator/revoked" | grep '^viewer.*secret$' | head -1)" dc --json hubs 2>&1)
set -e
echo "$r" | grep -q UNAUTHENTICATED || fail "revoked viewer after SIGHUP: $r"
[[ $(send "$DROPNET_COORDINATOR" "$OPS_CERT" "$OPS_KEY" <"$T/w.bin") == UNAUTHENTICATED ]] ||
	fail "replayed write after SIGHUP"
ok "SIGHUP: a new operator is known, a revoked one refused, replay counters kept"

# The hub terminal socket file is owner and group only.
[[ $(stat -c %a "$NET_DIR/run/london.term") == 660 ]] || fail "term socket mode $(stat -c %a "$NET_DIR/run/london.term")"
ok "hub terminal socket is mode 0660"

# Control: the forged sync's bytes with london's real key are not refused.
$PB seal --socket hubsync --peer london --key-file "$P/hub/london.secret" <"$T/forged.bin" >"$T/f3.bin"
st=$(send "$DROPNET_HUBSYNC" "$HUB_CERT" "$HUB_KEY" <"$T/f3.bin")
[[ $st != FORBIDDEN && $st != UNAUTHENTICATED && $st != NO_REPLY ]] || fail "control: $st"
ok "control: the same sync signed with london's key is taken ($st)"

# ---- 4. only an admin moves a hub ---------------------------------------------
# The control sync above was london's own, and its hello said Manchester with
# a 500 km radius: the registry kept london where it is.
h=$(hub_row london)
[[ $(jget "$h" '(round(j["lat"], 4), round(j["lon"], 4), j["radius_km"] < 500)') == "(51.5074, -0.1278, True)" ]] ||
	fail "london's own hello moved it: $h"
grep -q "hub.position_ignored hub=london" "$log" || fail "no hub.position_ignored in the log"
set +e
r=$(as_late dc --json hubs set london --radius-km 80 2>&1)
set -e
echo "$r" | grep -q FORBIDDEN || fail "operator-role hubs set: $r"
r=$(dc --json hubs set london --radius-km 80) || fail "admin hubs set: $r"
[[ $(jget "$(hub_row london)" 'j["radius_km"]') == 80.0 ]] || fail "radius not 80: $(hub_row london)"
grep -q "hub.moved hub=london" "$log" || fail "no hub.moved in the log"
ok "a hub's own hello cannot move it (logged); an operator-role peer cannot; an admin can (hubs set)"

# Last, since it stops the coordinator: SIGTERM after a SIGHUP stops it
# cleanly (its SIGHUP handle once kept the loop running, and local-net had
# to SIGKILL it after 20 s).
kill -TERM "$cpid"
wait_until 10 "the coordinator to exit on SIGTERM" bash -c "! kill -0 $cpid"
grep -q "coordinator.stopped clean=1" "$NET_DIR/log/coordinator.log" ||
	fail "coordinator did not log a clean stop"
ok "SIGTERM after SIGHUP: the coordinator stops cleanly"
