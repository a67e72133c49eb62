#!/usr/bin/env bash
# compare.sh - dropnet against its ceilings on this machine (not part of the
# test suite):
#
#   ./tests/bench/compare.sh [--bin BUILD_DIR] [--runs N] [--seconds S]
#                            [--concurrency C] [--batch N] [--plaintext]
#                            [--only LIST] [--quick] [--metrics]
#
# Measures, interleaved, N times each (default 5 runs of ~5 s):
#   nng     the bare-nng ceiling: tests/bench/nng_echo (an nng REP server
#           with C contexts that answers every request with one fixed
#           OrderAck, no work), driven by loadgen exactly as the coordinator
#           is: same client, same request and reply sizes, same TLS;
#   redis   what a storefront team would otherwise build: a Redis Lua
#           reservation (SETNX the order key, check and DECRBY the stock)
#           with appendonly yes + appendfsync always, driven by
#           `redis-benchmark -c C EVALSHA` (no pipelining, its default);
#           redis-server is installed from Debian if missing - it lives in
#           the bench, never in the product;
#   dropnet the coordinator, one order per request: loadgen --concurrency C
#           against the example network (deploy/local-net.sh: coordinator +
#           six hubs, one hot SKU, durable acks: WAL + synchronous=FULL);
#   batch   the same through loadgen --batch N (libdropnet's batching
#           client; default its own limit), when loadgen has --batch;
#   metrics dropnet as above against a second, identical network whose
#           daemons serve /metrics, every endpoint (coordinator and six
#           hubs) scraped once a second during each run, as Prometheus
#           would; compared with `dropnet` (the same network without
#           /metrics): the cost of counting (issue 13: within 3 %).
# Each run is sized from the last measured rate to take about S seconds.
# Reported per system: median and spread (min-max) of orders/s, medians of
# p50/p99/max latency, ratios of the median rate to nng's and Redis's, and
# the server's CPU per order (utime+stime from /proc/PID/stat over the run,
# in microseconds: the coordinator, nng_echo, redis-server; for the systems
# loadgen drives, from its clock's start - every connection up - to its end
# (loadgen --server-pid), so 64 TLS handshakes are not counted as orders).
# --quick: 1 run of ~2 s each, to try it. --only nng,dropnet: a subset.
# --metrics: the same as --only dropnet,metrics; adds the on/off ratio of
# median rates and of each run's pair (on / off), median and spread.
# Build first (Release or RelWithDebInfo, not the sanitizer build).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN="$REPO/build"; RUNS=5; SECS=5; CONC=64; BATCH=""; NETOPTS=(); ONLY="nng,redis,dropnet,batch"
PLAIN=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	--concurrency) CONC=$2; shift 2 ;;
	--batch) BATCH=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--plaintext) NETOPTS+=(--plaintext); PLAIN=1; shift ;;
	--quick) RUNS=1; SECS=2; shift ;;
	--metrics) ONLY="dropnet,metrics"; shift ;;
	-h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin DIR] [--runs N] [--seconds S] [--concurrency C] [--batch N] [--plaintext] [--only LIST] [--quick] [--metrics]" >&2; exit 2 ;;
	esac
done
for p in coordinator hubd dropctl pickterm loadgen nng_echo; do
	[[ -x $BIN/$p ]] || { echo "compare: $BIN/$p missing; build first" >&2; exit 1; }
done
want() { [[ ,$ONLY, == *,$1,* ]]; }
SPID=0 # loadgen reads the server's CPU itself while its clock runs
"$BIN/loadgen" --help 2>&1 | grep -q -- '--server-pid' && SPID=1
if want batch && ! "$BIN/loadgen" --help 2>&1 | grep -q -- '--batch'; then
	echo "compare: this loadgen has no --batch; skipping the batching client" >&2
	ONLY=${ONLY//batch/}
fi
if want redis && ! command -v redis-server >/dev/null; then
	echo "compare: installing redis-server (Debian) for the comparison" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2; }
	# Debian starts its own instance; the bench runs its own, on its own port.
	systemctl stop redis-server 2>/dev/null || service redis-server stop 2>/dev/null || true
fi

SKU=hot-sku; UNITS=5000000
PORT=${DROPNET_PORT_BASE:-7400}
NET=$(mktemp -d /tmp/dropnet-compare.XXXXXX)
NETM="$NET/metrics-net" # the second network, /metrics on (--metrics)
ECHO_PID=""; REDIS_PID=""; SCRAPER_PID=""
cleanup() {
	local rc=$?
	set +e
	[[ -n $SCRAPER_PID ]] && kill "$SCRAPER_PID" 2>/dev/null && wait "$SCRAPER_PID" 2>/dev/null
	[[ -n $ECHO_PID ]] && kill "$ECHO_PID" 2>/dev/null && wait "$ECHO_PID" 2>/dev/null
	[[ -n $REDIS_PID ]] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	[[ -f $NETM/net.conf ]] && "$REPO/deploy/local-net.sh" stop --dir "$NETM" >&2
	[[ -f $NET/net.conf ]] && "$REPO/deploy/local-net.sh" stop --dir "$NET" >&2
	rm -rf "$NET"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now_ms() { date +%s%3N; }
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ---- the network: coordinator + six hubs, one hot SKU stocked ----
# Stocks the network whose net.env is sourced (run in a subshell for the
# second one: each network has its own PKI).
stock_net() {
	local left=$UNITS nh i=0 h v q got deadline
	nh=$(wc -w <<<"$DROPNET_HUBS")
	for h in $DROPNET_HUBS; do
		i=$((i + 1)); v="DROPNET_HUB_${h^^}"
		q=$(( UNITS / nh )); (( i == nh )) && q=$left
		left=$((left - q))
		"$BIN/pickterm" --hub "${!v}" receive "$SKU" "$q" >&2
	done
	deadline=$(( $(now_ms) + 60000 ))
	while :; do
		got=$("$BIN/dropctl" --json stock --sku "$SKU" | python3 -c 'import json,sys; print(sum(r["on_hand"] for r in json.load(sys.stdin)["stock"]))')
		[[ $got == "$UNITS" ]] && break
		(( $(now_ms) < deadline )) || { echo "compare: coordinator sees $got of $UNITS units" >&2; exit 1; }
		sleep 0.1
	done
}
"$REPO/deploy/local-net.sh" start --dir "$NET" --bin "$BIN" --port-base "$PORT" "${NETOPTS[@]}" >&2
# shellcheck disable=SC1091
source "$NET/net.env"
COORD_PID=$(cat "$NET/run/coordinator.pid")
stock_net
# The same network again with /metrics on every daemon, for `metrics`.
if want metrics; then
	"$REPO/deploy/local-net.sh" start --dir "$NETM" --bin "$BIN" --port-base "$((PORT + 30))" \
		--metrics-port-base "$((PORT + 50))" "${NETOPTS[@]}" >&2
	COORDM_PID=$(cat "$NETM/run/coordinator.pid")
	# shellcheck disable=SC1091
	( source "$NETM/net.env"; stock_net )
	# shellcheck disable=SC1091
	METRICS_URLS=$(source "$NETM/net.env"; for v in ${!DROPNET_METRICS@}; do echo "${!v}"; done)
	[[ -n $METRICS_URLS ]] || { echo "compare: the metrics network serves no /metrics" >&2; exit 1; }
fi
# Scrapes every /metrics of the second network once a second until killed
# (a scrape that fails stops it: the run would not measure what it says).
scraper_start() {
	python3 - $METRICS_URLS <<'PY' >&2 &
import os, signal, sys, time, urllib.request
parent, n = os.getppid(), 0
def done(*_):
    print(f"compare: scraped {n} times ({len(sys.argv) - 1} endpoints)", file=sys.stderr)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
while os.getppid() == parent:
    t = time.monotonic()
    for u in sys.argv[1:]:
        urllib.request.urlopen(u, timeout=5).read()
        n += 1
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
PY
	SCRAPER_PID=$!
}
scraper_stop() {
	kill -0 "$SCRAPER_PID" 2>/dev/null || { echo "compare: the scraper died" >&2; exit 1; }
	kill "$SCRAPER_PID"; wait "$SCRAPER_PID" 2>/dev/null || true
	SCRAPER_PID=""
}

# ---- the bare-nng ceiling, same TLS as the coordinator's ingest ----
if want nng; then
	EPORT=$((PORT + 20))
	if (( PLAIN )); then
		EURL="tcp://127.0.0.1:$EPORT"; EOPTS=(--plaintext)
	else
		EURL="tls+tcp://127.0.0.1:$EPORT"
		EOPTS=(--ca "$DROPNET_PKI/ca/storefront.crt" --cert "$DROPNET_PKI/server/coordinator.crt"
			--key "$DROPNET_PKI/server/coordinator.key")
	fi
	"$BIN/nng_echo" --listen "$EURL" --contexts "$CONC" "${EOPTS[@]}" 2>"$NET/echo.log" &
	ECHO_PID=$!
	deadline=$(( $(now_ms) + 10000 ))
	until grep -q nng_echo.ready "$NET/echo.log"; do
		kill -0 "$ECHO_PID" 2>/dev/null || { cat "$NET/echo.log" >&2; exit 1; }
		(( $(now_ms) < deadline )) || { echo "compare: nng_echo not ready" >&2; exit 1; }
		sleep 0.05
	done
fi

# ---- Redis, fsync on every write ----
REDIS_SHA=""
if want redis; then
	RPORT=$((PORT + 21))
	mkdir -p "$NET/redis"
	redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$NET/redis" --save "" \
		--appendonly yes --appendfsync always --daemonize no >"$NET/redis.log" 2>&1 &
	REDIS_PID=$!
	deadline=$(( $(now_ms) + 10000 ))
	until redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; do
		kill -0 "$REDIS_PID" 2>/dev/null || { cat "$NET/redis.log" >&2; exit 1; }
		(( $(now_ms) < deadline )) || { echo "compare: redis not ready" >&2; exit 1; }
		sleep 0.05
	done
	# KEYS[1] stock, KEYS[2] the order's key; ARGV[1] qty. A repeat key
	# answers its first outcome; a new one reserves or is sold out.
	REDIS_SHA=$(redis-cli -p "$RPORT" SCRIPT LOAD "
local prev = redis.call('GET', KEYS[2])
if prev then return tonumber(prev) end
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
local q = tonumber(ARGV[1])
local r = 0
if left >= q then redis.call('DECRBY', KEYS[1], q); r = 1 end
redis.call('SET', KEYS[2], r)
return r")
	redis-cli -p "$RPORT" SET "stock:$SKU" "$UNITS" >/dev/null
fi

# ---- one run of one system: prints "rate p50 p99 max cpu_us errors" ----
declare -A RATE=([nng]=20000 [redis]=10000 [dropnet]=5000 [batch]=10000 [metrics]=5000)
run_loadgen() { # url prefix extra-args...
	local url=$1 prefix=$2; shift 2
	local n=$(( ${RATE[$SYS]%.*} * SECS ))
	(( n >= 1000 )) || n=1000
	(( SPID )) && set -- "$@" --server-pid "$pid"
	"$BIN/loadgen" --ingest "$url" --sku "$SKU" --buyers "$n" --concurrency "$CONC" \
		--seed "$RUN" --key-prefix "$prefix" --json "$@"
}
run_one() { # SYS RUN
	local pid out t0 t1
	case $SYS in
	nng) pid=$ECHO_PID ;;
	redis) pid=$REDIS_PID ;;
	metrics) pid=$COORDM_PID ;;
	*) pid=$COORD_PID ;;
	esac
	t0=$(cpu_ticks "$pid")
	case $SYS in
	nng) out=$(run_loadgen "$EURL" "cmp-nng-$RUN-$$") ;;
	dropnet) out=$(run_loadgen "$DROPNET_INGEST" "cmp-one-$RUN-$$") ;;
	batch) out=$(run_loadgen "$DROPNET_INGEST" "cmp-batch-$RUN-$$" --batch "${BATCH:-0}") ;;
	metrics)
		scraper_start
		# shellcheck disable=SC1091
		out=$(source "$NETM/net.env"; run_loadgen "$DROPNET_INGEST" "cmp-met-$RUN-$$")
		scraper_stop
		;;
	redis)
		local n=$(( ${RATE[redis]%.*} * SECS ))
		(( n >= 1000 )) || n=1000
		out=$(redis-benchmark -p "$RPORT" -c "$CONC" -n "$n" -r 100000000 --csv \
			EVALSHA "$REDIS_SHA" 2 "stock:$SKU" "order:$RUN:__rand_int__" 1 | tail -1)
		;;
	esac
	t1=$(cpu_ticks "$pid")
	python3 - "$SYS" "$out" "$(( t1 - t0 ))" "$TCK" <<'PY'
import csv, json, sys
sys_, out, ticks, tck = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if sys_ == "redis":
    row = next(csv.reader([out]))
    rate, p50, p99, mx = float(row[1]), float(row[4]), float(row[6]), float(row[7])
    n, errors = None, 0
    answered = rate  # per second; CPU per op below from the count
else:
    j = json.loads(out)
    rate, p50, p99, mx = j["orders_per_s"], j["p50_ms"], j["p99_ms"], j["max_ms"]
    errors = j["errors"]
    if "server_cpu_s" in j:
        ticks = j["server_cpu_s"] * tck
print(rate, p50, p99, mx, ticks * 1e6 / tck, errors)
PY
}

RES="$NET/results"; : >"$RES"
systems=()
for s in nng redis dropnet metrics batch; do want "$s" && systems+=("$s"); done
# A short warm-up of each (TLS sessions, SQLite cache, the rate estimate).
SECS_REAL=$SECS; SECS=1
for SYS in "${systems[@]}"; do
	RUN=0
	read -r rate _ <<<"$(run_one)"
	[[ -n $rate ]] || { echo "compare: $SYS warm-up failed" >&2; exit 1; }
	RATE[$SYS]=$rate
done
SECS=$SECS_REAL
for RUN in $(seq 1 "$RUNS"); do
	for SYS in "${systems[@]}"; do
		read -r rate p50 p99 mx cpu err <<<"$(run_one)"
		[[ -n $err ]] || { echo "compare: $SYS run $RUN failed" >&2; exit 1; }
		n=$(( ${RATE[$SYS]%.*} * SECS )); (( n >= 1000 )) || n=1000
		echo "$SYS $RUN $rate $p50 $p99 $mx $cpu $n $err" >>"$RES"
		printf 'compare: run %d %-8s %10.0f orders/s  p99 %7.2f ms\n' "$RUN" "$SYS" "$rate" "$p99" >&2
		RATE[$SYS]=$rate
	done
done

python3 - "$RES" "$RUNS" "$SECS" "$CONC" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
runs, secs, conc = sys.argv[2], sys.argv[3], sys.argv[4]
by = {}
for s, r, rate, p50, p99, mx, cpu, n, err in rows:
    by.setdefault(s, []).append(dict(run=int(r), rate=float(rate), p50=float(p50), p99=float(p99),
        mx=float(mx), cpu_us=float(cpu), n=int(n), err=int(err)))
med = {s: st.median(x["rate"] for x in v) for s, v in by.items()}
names = {"nng": "bare nng req/rep", "redis": "Redis Lua, fsync always",
         "dropnet": "dropnet, 1 order/request", "batch": "dropnet, batching client",
         "metrics": "dropnet, /metrics on + scraped 1/s"}
print(f"compare.sh: {runs} interleaved run(s) of ~{secs} s per system, {conc} concurrent")
print("| system | orders/s median | spread (min-max) | p50 ms | p99 ms | max ms | vs nng | vs Redis | server CPU us/order |")
print("|---|---|---|---|---|---|---|---|---|")
for s in ["nng", "redis", "dropnet", "metrics", "batch"]:
    if s not in by:
        continue
    v = by[s]
    lo, hi = min(x["rate"] for x in v), max(x["rate"] for x in v)
    cpu = st.median(x["cpu_us"] / x["n"] for x in v)
    vs_n = f'{med[s] / med["nng"]:.2f}x' if "nng" in med else "-"
    vs_r = f'{med[s] / med["redis"]:.2f}x' if "redis" in med else "-"
    errs = sum(x["err"] for x in v)
    print(f'| {names[s]} | {med[s]:,.0f} | {lo:,.0f}-{hi:,.0f} | {st.median(x["p50"] for x in v):.2f} '
          f'| {st.median(x["p99"] for x in v):.2f} | {st.median(x["mx"] for x in v):.2f} '
          f'| {vs_n} | {vs_r} | {cpu:.1f} |' + (f" ({errs} errors)" if errs else ""))
if "dropnet" in by and "metrics" in by:
    # Each run's pair ran back to back, so its ratio cancels slow drifts of
    # the machine; the ratio of medians is the headline.
    off = {x["run"]: x["rate"] for x in by["dropnet"]}
    pairs = sorted(x["rate"] / off[x["run"]] for x in by["metrics"] if off.get(x["run"]))
    ratio = med["metrics"] / med["dropnet"]
    print(f'metrics on/off: ratio of medians {ratio:.3f} ({(ratio - 1) * 100:+.1f} %); '
          f'per run pair: median {st.median(pairs):.3f}, spread {pairs[0]:.3f}-{pairs[-1]:.3f} '
          f'({len(pairs)} pairs; issue 13 wants >= 0.97)')
PY
