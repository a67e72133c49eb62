#!/usr/bin/env bash
# https_close.sh - does an HTTPS body arrive whole, fetch after fetch?
# (issue 9: /metrics once lost its last TLS record; not part of the suite,
# whose deterministic check is test_tls_engine's test_https_close_after_write.)
#
#   ./tests/bench/https_close.sh [--bin BUILD_DIR] [--fetches N] [--clients P]
#                                [--bytes B] [--stock-engine]
#
# Makes a throwaway CA with deploy/pki.sh, serves a B-byte body (default
# 16,385: just over one TLS record, the size that failed) as GET /metrics
# from tests/bench/https_body (nng's HTTP server with dropnet's TLS set-up
# and engine; --stock-engine: libnng's own, DROPNET_TLS_ENGINE=nng), and
# fetches it N times (default 1000) from each of P Python clients at once
# (default 3; urllib, "Connection: close", as test_metrics_tls scrapes).
# Prints the fetches and the short reads (IncompleteRead and other errors);
# exit 1 if any. Before the fix: ~0.1-1 % short with either engine, more
# under load. Port DROPNET_PORT_BASE + 90 (default 7490).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build; FETCHES=1000; CLIENTS=3; BYTES=16385; ENGINE=
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$2; shift 2 ;;
	--fetches) FETCHES=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--bytes) BYTES=$2; shift 2 ;;
	--stock-engine) ENGINE=nng; shift ;;
	-h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin BUILD_DIR] [--fetches N] [--clients P] [--bytes B] [--stock-engine]" >&2; exit 2 ;;
	esac
done
T=$(mktemp -d /tmp/dropnet-https.XXXXXX)
SRV=
trap '[[ -n $SRV ]] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
./deploy/pki.sh init --dir "$T/pki" >/dev/null
./deploy/pki.sh issue --dir "$T/pki" server body --san DNS:127.0.0.1,IP:127.0.0.1 >/dev/null
./deploy/pki.sh issue --dir "$T/pki" operator scraper --op-role read-only >/dev/null
cat "$T/pki/ca/root.crt" "$T/pki/ca/server.crt" >"$T/chain.crt"
URL="https://127.0.0.1:$(( ${DROPNET_PORT_BASE:-7400} + 90 ))"
DROPNET_TLS_ENGINE=${ENGINE:-${DROPNET_TLS_ENGINE:-}} "$BIN/https_body" --listen "$URL" --bytes "$BYTES" \
	--ca "$T/pki/ca/operator.crt" --cert "$T/pki/server/body.crt" --key "$T/pki/server/body.key" \
	2>"$T/srv.log" &
SRV=$!
for _ in $(seq 100); do
	grep -q https_body.ready "$T/srv.log" && break
	kill -0 "$SRV" 2>/dev/null || { cat "$T/srv.log" >&2; exit 1; }
	sleep 0.1
done
grep -q https_body.ready "$T/srv.log" || { echo "https_close: server not ready" >&2; exit 1; }
grep -o 'tls.engine name=[^ ]*' "$T/srv.log" >&2 || true
for c in $(seq "$CLIENTS"); do
	python3 - "$URL" "$T/chain.crt" "$T/pki/operator/scraper.crt" "$T/pki/operator/scraper.key" \
		"$FETCHES" "$BYTES" >"$T/client.$c" <<'PY' &
import ssl, sys, urllib.request
url, ca, cert, key, n, size = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
bad = {}
for _ in range(int(n)):
    try:
        b = urllib.request.urlopen(url + "/metrics", timeout=10, context=ctx).read()
        if len(b) != int(size):
            raise ValueError("got %d bytes" % len(b))
    except Exception as e:
        k = repr(e)[:90]
        bad[k] = bad.get(k, 0) + 1
print(n, sum(bad.values()), bad)
PY
done
wait $(jobs -p | grep -v "^$SRV$")
python3 - "$T" "$CLIENTS" <<'PY'
import ast, sys
tot = short = 0; kinds = {}
for c in range(1, int(sys.argv[2]) + 1):
    n, s, k = open(f"{sys.argv[1]}/client.{c}").read().split(" ", 2)
    tot += int(n); short += int(s)
    for e, v in ast.literal_eval(k).items():
        kinds[e] = kinds.get(e, 0) + v
print(f"fetches={tot} short={short} {kinds if kinds else ''}")
sys.exit(1 if short else 0)
PY
