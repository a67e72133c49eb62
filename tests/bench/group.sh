#!/usr/bin/env bash
# group.sh - a 3-replica coordinator group against the single node, on this
# machine, with the same client (not part of the test suite; issue 14):
#
#   ./tests/bench/group.sh [--bin BUILD_DIR] [--runs N] [--seconds S]
#                          [--concurrency C] [--batch N] [--hubs "A B"]
#                          [--kills K] [--group-set K=V] [--quick]
#
# Two networks side by side (deploy/local-net.sh, TLS, the same hubs, one
# hot SKU stocked through the hubs): `single` (one coordinator, WAL +
# synchronous=FULL: an ack waits for its fsync) and `group` (--replicas 3:
# an ack waits for the entry's commit on a majority - two of the three Raft
# logs fsynced - and its apply on the leader). The client for both is
# loadgen's batching client (libdropnet): loadgen --batch B --concurrency C,
# its --ingest listing every replica for the group.
#
# Throughput: N interleaved runs (default 5) of about S seconds (default 5)
# each, single then group, each sized from the system's last rate after a
# 1 s warm-up. Printed per system: median and spread (min-max) of orders/s,
# medians of p50 and p99; then group/single as the ratio of the medians and
# per run pair (the issue wants >= 0.5).
#
# Fail-over (--kills K, default 10; 0 skips it): on the group, loadgen
# sends paced buyers (--answers-file) while the leader is killed -9 K
# times, each time restarted at once, after 20 answers since the last
# restart and once the restarted replica rejoined (as test_group_kills.sh). Storefront-visible fail-over per kill: from the kill (the
# process gone) to the first answer after it; printed: p50, p99 and max
# over the kills, and the longest any single order waited.
#
# --group-set K=V: an extra coordinator setting for the group's replicas
# only (repeatable), e.g. group.snapshot_entries=8192 to see what the
# snapshots cost.
# --quick: 1 run of ~2 s and 3 kills. Build first (RelWithDebInfo, not the
# sanitizer build). The machine is shared: compare within one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN="$REPO/build"; RUNS=5; SECS=5; CONC=64; BATCH=64; HUBS="london birmingham"; KILLS=10
GROUP_SETS=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	--concurrency) CONC=$2; shift 2 ;;
	--batch) BATCH=$2; shift 2 ;;
	--hubs) HUBS=$2; shift 2 ;;
	--kills) KILLS=$2; shift 2 ;;
	--group-set) GROUP_SETS+=(--coord-set "$2"); shift 2 ;;
	--quick) RUNS=1; SECS=2; KILLS=3; shift ;;
	-h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--bin DIR] [--runs N] [--seconds S] [--concurrency C] [--batch N] [--hubs \"A B\"] [--kills K] [--group-set K=V] [--quick]" >&2; exit 2 ;;
	esac
done
for p in coordinator hubd dropctl pickterm loadgen; do
	[[ -x $BIN/$p ]] || { echo "group.sh: $BIN/$p missing; build first" >&2; exit 1; }
done
[[ $("$BIN/loadgen" --help 2>&1) == *--answers-file* ]] ||
	{ echo "group.sh: this loadgen has no --answers-file" >&2; exit 1; }

SKU=hot-sku; UNITS=2000000; R=3
PORT=${DROPNET_PORT_BASE:-$(( 20000 + $$ % 10000 ))}
W=$(mktemp -d /tmp/dropnet-group.XXXXXX)
LG_PID=""
cleanup() {
	local rc=$?
	set +e
	[[ -n $LG_PID ]] && kill "$LG_PID" 2>/dev/null && wait "$LG_PID" 2>/dev/null
	for n in single group; do
		[[ -f $W/$n/net.conf ]] && "$REPO/deploy/local-net.sh" stop --dir "$W/$n" >&2
	done
	rm -rf "$W"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now_ms() { date +%s%3N; }

# Stocks UNITS of SKU over the hubs of the network whose net.env is
# sourced (a subshell per network: each has its own PKI and URLs).
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
		got=$("$BIN/dropctl" --json stock --sku "$SKU" |
			python3 -c 'import json,sys; print(sum(r["on_hand"] for r in json.load(sys.stdin)["stock"]))') || got=0
		[[ $got == "$UNITS" ]] && break
		(( $(now_ms) < deadline )) || { echo "group.sh: coordinator sees $got of $UNITS units" >&2; exit 1; }
		sleep 0.1
	done
}
"$REPO/deploy/local-net.sh" start --dir "$W/single" --bin "$BIN" --hubs "$HUBS" --port-base "$PORT" >&2
# The group's 4R client ports and R replication ports start 20 above.
"$REPO/deploy/local-net.sh" start --dir "$W/group" --bin "$BIN" --hubs "$HUBS" \
	--port-base "$((PORT + 20))" --replicas "$R" ${GROUP_SETS[@]+"${GROUP_SETS[@]}"} >&2
for n in single group; do
	# shellcheck disable=SC1091
	( source "$W/$n/net.env"; stock_net )
done

# One run: prints "rate p50 p99 max errors".
declare -A RATE=([single]=5000 [group]=3000)
run_one() { # SYS RUN
	local n=$(( ${RATE[$SYS]%.*} * SECS )) out
	(( n >= 1000 )) || n=1000
	# shellcheck disable=SC1090
	out=$(source "$W/$SYS/net.env"
		DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
			"$BIN/loadgen" --ingest "$DROPNET_INGEST" --sku "$SKU" --buyers "$n" \
			--concurrency "$CONC" --batch "$BATCH" --seed "$RUN" \
			--key-prefix "grp-$SYS-$RUN-$$" --json)
	python3 -c 'import json,sys; j = json.loads(sys.argv[1])
print(j["orders_per_s"], j["p50_ms"], j["p99_ms"], j["max_ms"], j["errors"])' "$out"
}

RES="$W/results"; : >"$RES"
SECS_REAL=$SECS; SECS=1
for SYS in single group; do
	RUN=0
	read -r rate _ <<<"$(run_one)"
	RATE[$SYS]=$rate
done
SECS=$SECS_REAL
for RUN in $(seq 1 "$RUNS"); do
	for SYS in single group; do
		read -r rate p50 p99 mx err <<<"$(run_one)"
		[[ -n $err ]] || { echo "group.sh: $SYS run $RUN failed" >&2; exit 1; }
		echo "$SYS $RUN $rate $p50 $p99 $mx $err" >>"$RES"
		printf 'group.sh: run %d %-6s %8.0f orders/s  p99 %7.2f ms\n' "$RUN" "$SYS" "$rate" "$p99" >&2
		RATE[$SYS]=$rate
	done
done

# ---- fail-over: the leader killed -9 K times under paced buyers ----
FO="$W/failover"; : >"$FO"
if (( KILLS > 0 )); then
	# shellcheck disable=SC1091
	source "$W/group/net.env"
	leader() {
		local r line
		for r in $(seq 1 "$R"); do
			kill -0 "$(cat "$W/group/run/coordinator$r.pid")" 2>/dev/null || continue
			line=$(grep -E 'group\.(started|leading|follower|elected)' "$W/group/log/coordinator$r.log" |
				tail -n 1 || true)
			if [[ $line == *group.leading* ]]; then echo "$r"; return 0; fi
		done
		return 1
	}
	answers() { [[ -f $W/answers ]] && wc -l <"$W/answers" || echo 0; }
	wait_for() { # seconds what cmd...
		local deadline=$(( $(now_ms) + $1 * 1000 )) what=$2; shift 2
		until "$@" >/dev/null 2>&1; do
			(( $(now_ms) < deadline )) || { echo "group.sh: timed out waiting for $what" >&2; exit 1; }
			sleep 0.05
		done
	}
	DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
		"$BIN/loadgen" --ingest "$DROPNET_INGEST" --sku "$SKU" --buyers 1000000 \
		--concurrency 8 --batch 16 --duration-s 3600 --burst-tau-s 86400 --retries 100 \
		--timeout-ms 2000 --key-prefix "grp-fo-$$" --answers-file "$W/answers" \
		>"$W/failover-loadgen.out" 2>&1 &
	LG_PID=$!
	for k in $(seq 1 "$KILLS"); do
		wait_for 30 "a leader" leader
		before=$(answers)
		more() { (( $(answers) >= before + 20 )); }
		wait_for 30 "answers before kill $k" more
		l=$(leader)
		lines=$(wc -l <"$W/group/log/coordinator$l.log")
		"$REPO/deploy/local-net.sh" stop-proc "coordinator$l" --dir "$W/group" --signal KILL >/dev/null
		echo "$(now_ms)" >>"$FO"
		"$REPO/deploy/local-net.sh" start-proc "coordinator$l" --dir "$W/group" >/dev/null
		# As the test does: the next kill waits for the restarted
		# replica to rejoin (replica.standing), so each kill hits a
		# whole group.
		rejoined() { tail -n +"$((lines + 1))" "$W/group/log/coordinator$l.log" | grep -q replica.standing; }
		wait_for 30 "replica $l to rejoin" rejoined
		echo "group.sh: kill $k of $KILLS: replica $l" >&2
	done
	more() { (( $(answers) >= before + 20 )); }
	before=$(answers)
	wait_for 30 "answers after the last kill" more
	kill -USR1 "$LG_PID"
	wait "$LG_PID" || { cat "$W/failover-loadgen.out" >&2; echo "group.sh: fail-over loadgen failed" >&2; exit 1; }
	LG_PID=""
fi

python3 - "$RES" "$RUNS" "$SECS" "$CONC" "$BATCH" "$FO" "$W/answers" <<'PY'
import bisect, math, os, statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
runs, secs, conc, batch = sys.argv[2:6]
by = {}
for s, r, rate, p50, p99, mx, err in rows:
    by.setdefault(s, []).append(dict(run=int(r), rate=float(rate), p50=float(p50), p99=float(p99),
                                     mx=float(mx), err=int(err)))
med = {s: st.median(x["rate"] for x in v) for s, v in by.items()}
print(f"group.sh: {runs} interleaved run(s) of ~{secs} s each, loadgen --batch {batch} --concurrency {conc}, TLS")
print("| system | orders/s median | spread (min-max) | p50 ms | p99 ms | max ms |")
print("|---|---|---|---|---|---|")
names = {"single": "single node (fsync per commit)", "group": "3-replica group (majority commit)"}
for s in ["single", "group"]:
    v = by[s]
    errs = sum(x["err"] for x in v)
    print(f'| {names[s]} | {med[s]:,.0f} | {min(x["rate"] for x in v):,.0f}-{max(x["rate"] for x in v):,.0f} '
          f'| {st.median(x["p50"] for x in v):.2f} | {st.median(x["p99"] for x in v):.2f} '
          f'| {st.median(x["mx"] for x in v):.2f} |' + (f" ({errs} errors)" if errs else ""))
one = {x["run"]: x["rate"] for x in by["single"]}
pairs = sorted(x["rate"] / one[x["run"]] for x in by["group"] if one.get(x["run"]))
print(f'group/single: ratio of medians {med["group"] / med["single"]:.2f}; per run pair: median '
      f'{st.median(pairs):.2f}, spread {pairs[0]:.2f}-{pairs[-1]:.2f} (issue 14 wants >= 0.5)')
kills = [int(l) for l in open(sys.argv[6])]
if kills and os.path.exists(sys.argv[7]):
    ans = sorted((int(t), int(lat)) for t, lat, s in (l.split() for l in open(sys.argv[7]))
                 if int(s) not in (10, 18))
    at = [t for t, _ in ans]
    gaps = sorted(at[bisect.bisect_left(at, t)] - t for t in kills)
    p = lambda q: gaps[max(0, math.ceil(q / 100 * len(gaps)) - 1)]
    print(f"fail-over over {len(gaps)} leader kills (kill -9 -> first answer after it): p50 {p(50)} ms, "
          f"p99 {p(99)} ms, max {gaps[-1]} ms; longest single order wait {max(l for _, l in ans) / 1000:.0f} ms")
PY
