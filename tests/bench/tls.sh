#!/usr/bin/env bash
# tls.sh - what TLS costs the ingest path (issue 9; not part of the suite):
#
#   ./tests/bench/tls.sh [--bin BUILD_DIR] [--runs R] [--buyers N] [--stock-engine]
#
# Runs the ingest benchmark (tests/bench/ingest.sh --orders-only: the
# example network, one hot SKU, loadgen one order per request over 64
# connections) R times (default 5) with TLS and R times over plaintext
# tcp://, interleaved (TLS, plain, TLS, ...), each on a fresh network, and
# prints every run, the medians of accepted-or-sold-out orders per second,
# the coordinator's CPU per order, and the ratio plaintext/TLS would need
# to be (TLS median / plaintext median; the issue's bar is >= 0.80).
# --stock-engine adds a third mode to each round, "tls-nng": TLS with
# libnng's stock engine (DROPNET_TLS_ENGINE=nng) instead of dropnet's own
# (common/io/tls_engine.h), for the before/after of the same binaries.
# Ports from DROPNET_PORT_BASE (default 7480). Use a Release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build; RUNS=5; BUYERS=100000; MODES=(tls plain)
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--buyers) BUYERS=$2; shift 2 ;;
	--stock-engine) MODES=(tls tls-nng plain); shift ;;
	-h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin BUILD_DIR] [--runs R] [--buyers N] [--stock-engine]" >&2; exit 2 ;;
	esac
done
OUT=$(mktemp /tmp/dropnet-tls.XXXXXX)
trap 'rm -f "$OUT"' EXIT
base=${DROPNET_PORT_BASE:-7480}
for r in $(seq "$RUNS"); do
	for mode in "${MODES[@]}"; do
		opt=(); [[ $mode == plain ]] && opt=(--plaintext)
		eng=dropnet; [[ $mode == tls-nng ]] && eng=nng
		echo "tls.sh: run $r of $RUNS, $mode" >&2
		js=$(DROPNET_TLS_ENGINE=$eng DROPNET_PORT_BASE=$base ./tests/bench/ingest.sh --bin "$BIN" --buyers "$BUYERS" \
			--orders-only "${opt[@]}" 2>/dev/null)
		python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print(sys.argv[1], j["accepted_or_sold_out_per_s"], j["coordinator_cpu_us_per_order"], j["loadgen"]["p99_ms"], j["loadgen"]["errors"])' \
			"$mode" <<<"$js" >>"$OUT"
	done
done
python3 - "$OUT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
fig = {}
print(f"{'mode':<8} {'orders/s (each run)':<60} {'median':>8} {'cpu us/order':>13} {'p99 ms':>7}")
for m in ("tls", "tls-nng", "plain"):
    r = [x for x in rows if x[0] == m]
    if not r:
        continue
    ops = [float(x[1]) for x in r]
    cpu = [float(x[2]) for x in r]
    p99 = [float(x[3]) for x in r]
    fig[m] = statistics.median(ops)
    print(f"{m:<8} {' '.join(f'{v:,.0f}' for v in ops):<60} {fig[m]:>8,.0f} "
          f"{statistics.median(cpu):>13.1f} {statistics.median(p99):>7.1f}")
    errs = sum(int(x[4]) for x in r)
    if errs:
        print(f"{m}: {errs} loadgen errors")
for m in ("tls", "tls-nng"):
    if m not in fig:
        continue
    pairs = [float(a[1]) / float(b[1]) for a, b in zip([x for x in rows if x[0] == m], [x for x in rows if x[0] == "plain"])]
    print(f"{m} / plaintext = {fig[m] / fig['plain']:.2f} (medians; target >= 0.80);"
          f" median of the paired ratios {statistics.median(pairs):.2f}"
          f" (each: {' '.join(f'{p:.2f}' for p in pairs)})")
PY
