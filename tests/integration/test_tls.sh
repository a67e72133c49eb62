#!/usr/bin/env bash
# Goal: on a local network with TLS on (the default), only a peer holding a
# valid certificate of the right role completes a connection, and a refused
# peer changes nothing. With a well-formed order in hand, each of these gets
# no answer and leaves no journal entry: no client certificate; a
# certificate from another network's CA; an expired certificate; a revoked
# one (once the coordinator has re-read the CRL on SIGHUP - before that it
# is still accepted, which this test pins down so the documented behaviour
# cannot silently change); a hub's and an operator's certificate on the
# storefront socket; a storefront's certificate on the hub and ops sockets;
# plaintext on a TLS port. A client that does not trust the server's CA
# refuses the coordinator. A plaintext tcp:// URL without
# tls.allow_plaintext stops the coordinator at start with a reason. The
# same order with the storefront's certificate is ACCEPTED; the books show
# exactly that one order and the audit is clean.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
PB="python3 $NET_LIB_DIR/pb.py"
RAWSEND=$(net_prog rawsend)
PKISH="$REPO_DIR/deploy/pki.sh"

net_start "london"
[[ $DROPNET_INGEST == tls+tcp://* ]] || fail "local-net did not start with TLS: $DROPNET_INGEST"
[[ -n ${DROPNET_PKI:-} && -f $DROPNET_PKI/ca/root.crt ]] || fail "no PKI in net.env"
receive_and_wait london tls-sku 10
cpid=$(pid_of coordinator)

# Signed as the storefront "default" (the identity is the secret's; the
# certificate only proves the role).
order() {
	$PB submit --key "$1" --customer c-tls --line tls-sku:1 --lat 51.5 --lon -0.12 |
		$PB seal --socket ingest --peer "$DROPNET_STOREFRONT_AUTH_NAME" --key-file "$DROPNET_STOREFRONT_AUTH_KEY"
}

# attempt URL KEY CERT KEY_FILE [CA]: sends order KEY with that client
# certificate (empty: none) and prints the reply status or NO_REPLY.
attempt() {
	local url=$1 key=$2 cert=$3 kf=$4 ca=${5:-$DROPNET_TLS_CA} rc=0
	order "$key" >"$T/req.bin"
	DROPNET_TLS_CA=$ca DROPNET_TLS_CERT=$cert DROPNET_TLS_KEY=$kf \
		timeout 20 "$RAWSEND" "$url" --timeout-ms 2000 <"$T/req.bin" >"$T/rep.bin" 2>"$T/raw.err" || rc=$?
	if [[ $rc != 0 ]]; then echo NO_REPLY; return 0; fi
	jget "$($PB decode <"$T/rep.bin")" 'j["status"]'
}

journalled() { # key -> exit 0 if the coordinator journalled the order
	local out
	out=$(dc --json order show "$1" 2>/dev/null) || return 1
	[[ $(jget "$out" 'j.get("status", "")') != NOT_FOUND ]]
}

refused() { # name url key cert keyfile [ca]
	local name=$1; shift
	local st
	st=$(attempt "$@")
	[[ $st == NO_REPLY ]] || fail "$name: got $st, want the connection refused"
	! journalled "$2" || fail "$name: order $2 was journalled"
	ok "$name: refused ($(head -c 120 "$T/raw.err" | tr '\n' ' '))"
}

P=$DROPNET_PKI
SF_CERT=$DROPNET_STOREFRONT_TLS_CERT; SF_KEY=$DROPNET_STOREFRONT_TLS_KEY

# 1. No client certificate at all (the server's CA is trusted).
refused "no client certificate" "$DROPNET_INGEST" k-nocert "" ""

# 2. A certificate from another network's CA, same role and name.
"$PKISH" init --dir "$T/other" >/dev/null
"$PKISH" issue --dir "$T/other" storefront shop >/dev/null
refused "another CA" "$DROPNET_INGEST" k-otherca "$T/other/storefront/shop.crt" "$T/other/storefront/shop.key"

# 3. Expired: our own storefront CA, valid in January 2020 only.
"$PKISH" issue --dir "$P" storefront old --not-before 20200101000000Z --not-after 20200201000000Z >/dev/null
refused "expired certificate" "$DROPNET_INGEST" k-expired "$P/storefront/old.crt" "$P/storefront/old.key"

# 4. Wrong role: each socket trusts only its role's CA.
refused "hub certificate on ingest" "$DROPNET_INGEST" k-hubcert "$P/hub/london.crt" "$P/hub/london.key"
refused "operator certificate on ingest" "$DROPNET_INGEST" k-opcert "$DROPNET_TLS_CERT" "$DROPNET_TLS_KEY"
st=$(attempt "$DROPNET_HUBSYNC" k-sf-hub "$SF_CERT" "$SF_KEY")
[[ $st == NO_REPLY ]] || fail "storefront certificate on the hub socket: got $st"
ok "storefront certificate on the hub socket: refused"
st=$(attempt "$DROPNET_COORDINATOR" k-sf-ops "$SF_CERT" "$SF_KEY")
[[ $st == NO_REPLY ]] || fail "storefront certificate on the ops socket: got $st"
ok "storefront certificate on the ops socket: refused"

# 5. Plaintext to a TLS port.
refused "plaintext on the TLS port" "tcp://${DROPNET_INGEST#tls+tcp://}" k-plain "" ""

# 6. The client side: a dropctl that trusts another CA refuses the coordinator.
rc=0
"$DROPCTL" --coordinator "$DROPNET_COORDINATOR" --timeout-ms 1500 --tls-ca "$T/other/ca/server.crt" hubs \
	>/dev/null 2>&1 || rc=$?
[[ $rc == 3 ]] || fail "dropctl trusting another CA: exit $rc, want 3 (unreachable)"
ok "client refuses a coordinator certificate from another CA"

# 7. Revocation: shop2 works, is revoked, still works until the coordinator
# re-reads the CRL (SIGHUP: it re-creates its listeners), then is refused.
"$PKISH" issue --dir "$P" storefront shop2 >/dev/null
cp "$P/storefront/shop2.crt" "$P/storefront/shop2.key" "$T/"
st=$(attempt "$DROPNET_INGEST" k-shop2-ok "$T/shop2.crt" "$T/shop2.key")
[[ $st == ACCEPTED ]] || fail "shop2 before revocation: $st ($(cat "$T/raw.err"))"
"$PKISH" revoke --dir "$P" storefront shop2 >/dev/null
st=$(attempt "$DROPNET_INGEST" k-shop2-stale "$T/shop2.crt" "$T/shop2.key")
[[ $st == ACCEPTED ]] || fail "shop2 revoked, before restart: $st (the CRL is read at listen time)"
ok "a revoked certificate is still accepted until the coordinator re-reads the CRL (documented)"
reloads() { grep -c 'tls.reloaded' "$NET_DIR/log/coordinator.log" || true; }
kill -HUP "$cpid"
# ingest, hub sync, ops and the signal socket
wait_until 20 "four listeners re-created" bash -c "(( \$(grep -c tls.reloaded '$NET_DIR/log/coordinator.log') >= 4 ))"
[[ $(reloads) == 4 ]] || fail "tls.reloaded $(reloads) times, want 4"
wait_until 20 "london healthy after the reload" hub_healthy london
refused "revoked certificate after SIGHUP" "$DROPNET_INGEST" k-revoked "$T/shop2.crt" "$T/shop2.key"

# 8. A plaintext URL without tls.allow_plaintext: refused at start, with why.
rc=0
"$COORDINATOR" --config "$REPO_DIR/deploy/net/coordinator.ini" --set "coordinator.data_dir=$T/c2" \
	--set coordinator.ingest_url=tcp://127.0.0.1:1 >"$T/c2.out" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "coordinator with a plaintext URL: exit $rc, want 2"
grep -q "plaintext" "$T/c2.out" || fail "no reason given: $(cat "$T/c2.out")"
ok "plaintext tcp:// without tls.allow_plaintext: $(head -1 "$T/c2.out")"

# 9. The right certificate: accepted; books show exactly the accepted orders.
st=$(attempt "$DROPNET_INGEST" k-good "$SF_CERT" "$SF_KEY")
[[ $st == ACCEPTED ]] || fail "storefront certificate: $st ($(cat "$T/raw.err"))"
journalled k-good || fail "k-good not journalled"
[[ $(stock_field london tls-sku allocated) == 3 ]] || fail "allocated $(stock_field london tls-sku allocated), want 3 (k-shop2-ok, k-shop2-stale, k-good)"
audit_clean || fail "audit not clean"
[[ $(pid_of coordinator) == "$cpid" ]] && kill -0 "$cpid" || fail "coordinator died"
ok "valid storefront accepted; allocated=3; audit clean"

# 10. CRLs that expire soon: every daemon says so when it reads them (an
# expired CRL would make mbedtls refuse every peer of its CA).
! grep -q tls.crl_expiring "$NET_DIR/log/coordinator.log" || fail "tls.crl_expiring logged for a CRL valid 365 days"
"$PKISH" crl --dir "$P" --crl-days 10 >/dev/null
kill -HUP "$cpid"
wait_until 20 "the coordinator warns that the CRLs expire in 10 days" \
	grep -qE "tls.crl_expiring path=$P/crl.pem expires=.* days_left=(9|10)( |$)" "$NET_DIR/log/coordinator.log"
wait_until 20 "london healthy after the reload" hub_healthy london
ok "CRLs re-signed for 10 days: $(grep -m1 -o 'tls.crl_expiring.*' "$NET_DIR/log/coordinator.log")"
