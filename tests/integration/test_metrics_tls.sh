#!/usr/bin/env bash
# Goal: /metrics over HTTPS with the network's certificates (issue 13).
# A coordinator and a hub (ipc:// sockets between them) serve
# metrics.listen = https://127.0.0.1:PORT: the coordinator with its own
# server certificate (tls.cert_file) and the operator CA for scrapers (its
# default), the hub with a server certificate and client CA of its own
# (metrics.cert_file, metrics.client_ca_file). A scraper with an operator
# certificate gets the metrics over a verified TLS connection; one with no
# client certificate, one with a hub's certificate (another CA) and plain
# http:// to the same port get nothing; `dropctl top` reads it with the
# operator's files. https:// without its files is
# refused at start (exit 2) with the keys to set.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
PKI="$T/pki"
PKISH="$REPO_DIR/deploy/pki.sh"
"$PKISH" init --dir "$PKI" >/dev/null
"$PKISH" issue --dir "$PKI" server coordinator --san DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1 >/dev/null
"$PKISH" issue --dir "$PKI" server london-metrics --san DNS:127.0.0.1,IP:127.0.0.1 >/dev/null
"$PKISH" issue --dir "$PKI" operator prom --op-role read-only >/dev/null
"$PKISH" issue --dir "$PKI" hub london >/dev/null
cat "$PKI/ca/root.crt" "$PKI/ca/server.crt" >"$T/server-chain.crt"
base=$(net_free_port_base 2) || fail "no free ports"
CM="https://127.0.0.1:$base"; HM="https://127.0.0.1:$((base + 1))"

# ---- https:// without its files is a config error ----------------------------
set +e
out=$("$COORDINATOR" --set "coordinator.data_dir=$T/refused" --set auth.anonymous=1 \
	--set coordinator.ingest_url=ipc://$T/ri --set coordinator.ops_url=ipc://$T/ro \
	--set coordinator.hub_url=ipc://$T/rh --set coordinator.signal_url=ipc://$T/rs \
	--set "metrics.listen=$CM" 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"needs a certificate"*"metrics.client_ca_file"* ]] ||
	fail "coordinator took https:// with no certificate (rc $rc): $out"
set +e
out=$("$HUBD" --config "$REPO_DIR/deploy/net/london.ini" --set "hub.data_dir=$T/refused-hub" \
	--set hub.coordinator_url=ipc://$T/rh --set "metrics.listen=$HM" \
	--set "tls.cert_file=$PKI/hub/london.crt" --set "tls.key_file=$PKI/hub/london.key" 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"needs a certificate"* ]] ||
	fail "hubd took https:// with no metrics.cert_file (rc $rc): $out"
ok "https:// without certificate, key and client CA is refused at start (both daemons)"

# ---- a coordinator and a hub serving https:// --------------------------------
"$COORDINATOR" --set "coordinator.data_dir=$T/coord" --set auth.anonymous=1 \
	--set coordinator.ingest_url=ipc://$T/i --set coordinator.ops_url=ipc://$T/o \
	--set coordinator.hub_url=ipc://$T/h --set coordinator.signal_url=ipc://$T/s \
	--set "tls.cert_file=$PKI/server/coordinator.crt" --set "tls.key_file=$PKI/server/coordinator.key" \
	--set "tls.operator_ca_file=$PKI/ca/operator.crt" --set "tls.crl_file=$PKI/crl.pem" \
	--set "metrics.listen=$CM" 2>"$T/coordinator.log" &
NET_BG_PIDS+=($!)
"$HUBD" --config "$REPO_DIR/deploy/net/london.ini" --set "hub.data_dir=$T/london" \
	--set hub.coordinator_url=ipc://$T/h --set hub.term_url=ipc://$T/london.term \
	--set "tls.crl_file=$PKI/crl.pem" --set "metrics.listen=$HM" \
	--set "metrics.cert_file=$PKI/server/london-metrics.crt" \
	--set "metrics.key_file=$PKI/server/london-metrics.key" \
	--set "metrics.client_ca_file=$PKI/ca/operator.crt" 2>"$T/london.log" &
NET_BG_PIDS+=($!)
wait_until 10 "coordinator ready" grep -q coordinator.ready "$T/coordinator.log"
wait_until 10 "hubd ready" grep -q hubd.ready "$T/london.log"
grep -q "metrics.listening url=$CM/metrics" "$T/coordinator.log" || fail "coordinator: no https listening line"

# scrape_tls URL [CERT KEY]: the body on stdout, exit 1 (reason on stderr)
# when the TLS handshake or the request fails.
scrape_tls() {
	python3 - "$1" "$T/server-chain.crt" "${2:-}" "${3:-}" <<'PY'
import ssl, sys, urllib.request
url, ca, cert, key = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
if cert:
    ctx.load_cert_chain(cert, key)
try:
    r = urllib.request.urlopen(url + "/metrics", timeout=5, context=ctx)
    sys.stdout.write(r.read().decode())
except Exception as e:
    print("scrape failed: %r" % e, file=sys.stderr)
    sys.exit(1)
PY
}
OPC="$PKI/operator/prom.crt"; OPK="$PKI/operator/prom.key"
body_has_up() { scrape_tls "$1" "$OPC" "$OPK" | grep -q "^$2"; }
wait_until 10 "coordinator metrics over https" body_has_up "$CM" 'dropnet_up{role="coordinator"} 1'
wait_until 10 "hub metrics over https" body_has_up "$HM" 'dropnet_hub_coordinator_up{hub="london"} 1'
scrape_tls "$CM" "$OPC" "$OPK" >"$T/c.txt" || fail "coordinator scrape"
python3 "$NET_LIB_DIR/promcheck.py" "$T/c.txt" || fail "coordinator https scrape fails the format check"
ok "an operator certificate scrapes both daemons over verified TLS (the hub sees its coordinator)"

for url in "$CM" "$HM"; do
	if scrape_tls "$url" 2>"$T/err"; then fail "$url answered a scraper with no client certificate"; fi
	if scrape_tls "$url" "$PKI/hub/london.crt" "$PKI/hub/london.key" 2>"$T/err"; then
		fail "$url answered a hub certificate (not the operator CA)"
	fi
	if scrape "${url/https:/http:}/metrics" >/dev/null 2>&1; then fail "${url/https:/http:} answered plain HTTP"; fi
done
kill -0 "${NET_BG_PIDS[0]}" && kill -0 "${NET_BG_PIDS[1]}" || fail "a daemon died of a refused scrape"
body_has_up "$CM" 'dropnet_up{role="coordinator"} 1' || fail "coordinator stopped serving after the refusals"
ok "refused: no client certificate, a hub's certificate, plain http (both daemons still serve)"

# dropctl top reads an https:// /metrics with the operator's files.
out=$(DROPNET_TLS_CA="$PKI/ca/server.crt" DROPNET_TLS_CERT="$OPC" DROPNET_TLS_KEY="$OPK" \
	"$DROPCTL" top --metrics "$CM/metrics" --plain --count 1 2>&1) || fail "dropctl top over https: $out"
[[ $out == *"dropnet top"*"HUB"*"london"* ]] || fail "dropctl top over https shows no hub: $out"
set +e
out=$(DROPNET_TLS_CA="$PKI/ca/server.crt" DROPNET_TLS_CERT="$PKI/hub/london.crt" \
	DROPNET_TLS_KEY="$PKI/hub/london.key" "$DROPCTL" top --metrics "$CM/metrics" --plain --count 1 2>&1); rc=$?
set -e
[[ $rc == 3 ]] || fail "dropctl top with a hub certificate: exit $rc (want 3): $out"
ok "dropctl top --metrics https://...: shows the network with an operator certificate, exit 3 with a hub's"
