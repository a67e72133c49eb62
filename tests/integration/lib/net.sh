# net.sh - shared helpers for the integration tests (source it; bash only).
#
#   source "$(dirname "$0")/lib/net.sh"
#   net_setup "$1"                      # $1 = CMake build dir (ctest passes it)
#   net_start "london birmingham" [local-net.sh options...]
#   dc hubs --json                      # dropctl against this test's network
#   pt london queue --json              # pickterm against hub london
#
# Every test gets its own mktemp -d folder and free TCP ports, so tests never
# collide with each other or with a network started by hand; the EXIT trap
# stops every process the test started (through local-net.sh, by pid) and
# prints the daemons' last log lines when the test failed. Waits are probe
# loops with a deadline (wait_until), never fixed sleeps.

set -euo pipefail

NET_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NET_LIB_DIR/../../.." && pwd)
LOCAL_NET="$REPO_DIR/deploy/local-net.sh"
T=""
NET_DIR=""
NET_BG_PIDS=()
NET_TEST_NAME=$(basename "${0%.sh}")

log() { echo "[$NET_TEST_NAME] $*" >&2; }
fail() { echo "[$NET_TEST_NAME] FAIL: $*" >&2; exit 1; }
ok() { echo "[$NET_TEST_NAME] ok: $*" >&2; }
now_ms() { date +%s%3N; }

# Finds program NAME in the build dir (BUILD/NAME or BUILD/bin/NAME).
net_prog() {
	local p
	for p in "$BUILD/$1" "$BUILD/bin/$1"; do
		if [[ -x $p ]]; then echo "$p"; return 0; fi
	done
	fail "program $1 not built in $BUILD"
}

net_setup() { # build_dir
	[[ $# -ge 1 && -d $1 ]] || fail "usage: $0 BUILD_DIR"
	BUILD=$(cd "$1" && pwd)
	DROPCTL=$(net_prog dropctl)
	PICKTERM=$(net_prog pickterm)
	COORDINATOR=$(net_prog coordinator)
	HUBD=$(net_prog hubd)
	# Short path: hub terminals are ipc:// sockets under it (sun_path is 107 bytes).
	T=$(mktemp -d /tmp/dn-it.XXXXXX)
	NET_DIR="$T/net"
	trap net_cleanup EXIT
	trap 'exit 130' INT TERM
	log "work dir $T, build $BUILD"
}

net_cleanup() {
	local rc=$?
	set +e
	local p
	for p in "${NET_BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${NET_BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	# A failed test whose daemon still runs may have found a hang (a stop
	# that never ends): its threads' stacks, before local-net stops it.
	if [[ $rc -ne 0 && -d $NET_DIR/run ]] && command -v gdb >/dev/null; then
		local pf pid
		for pf in "$NET_DIR"/run/*.pid; do
			pid=$(cat "$pf" 2>/dev/null) || continue
			kill -0 "$pid" 2>/dev/null || continue
			echo "----- threads of $(basename "$pf" .pid) (pid $pid), still running -----" >&2
			timeout 30 gdb -batch -p "$pid" -ex 'thread apply all bt 12' 2>/dev/null |
				grep -E '^(Thread|#)' | head -150 >&2
		done
	fi
	if [[ -n $NET_DIR && -f $NET_DIR/net.conf ]]; then
		"$LOCAL_NET" stop --dir "$NET_DIR" --timeout 10 >/dev/null 2>&1
	fi
	# Under --sanitize a daemon's finding (including leaks reported at exit)
	# lands in its log, not in the test's output: it fails the test.
	if [[ -d $NET_DIR/log ]] && grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$NET_DIR"/log/*.log >/dev/null 2>&1; then
		local f
		for f in $(grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$NET_DIR"/log/*.log); do
			echo "----- sanitizer report in $(basename "$f") -----" >&2
			grep -A 30 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" | head -60 >&2
		done
		echo "[$NET_TEST_NAME] FAIL: sanitizer findings in daemon logs" >&2
		[[ $rc -ne 0 ]] || rc=1
	fi
	if [[ $rc -ne 0 && -d $NET_DIR/log ]]; then
		local f
		for f in "$NET_DIR"/log/*.log; do
			echo "----- last lines of $(basename "$f") -----" >&2
			tail -n 25 "$f" >&2
		done
	fi
	if [[ -n $T && -d $T ]]; then
		if [[ ${DROPNET_KEEP:-0} == 1 || ( $rc -ne 0 && ${DROPNET_KEEP_FAILED:-0} == 1 ) ]]; then
			log "kept $T"
		else
			rm -rf "$T"
		fi
	fi
	if [[ $rc -eq 0 ]]; then log "PASS"; else log "FAILED (exit $rc)"; fi
	exit $rc
}

# A base port P in 20000-40000 with P..P+N-1 free (N = $1, default 4: ingest, ops, hubsync,
# signals), starting from one derived from our pid (and N) so parallel tests start apart, then
# probing upward.
net_free_port_base() {
	python3 - "$$" "${1:-4}" <<'PY'
import socket, sys
n = int(sys.argv[2])
# Below the kernel's ephemeral range: a port there is never an outgoing
# connection's (another test's client) between this probe and the bind.
lo, hi = 10000, 39990
try:
    eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    if eph - 1 - n > lo + 4000:
        hi = eph - 1 - n
except (OSError, ValueError, IndexError):
    pass
span = hi - lo
start = lo + (int(sys.argv[1]) * 7 + n * 977) % span
for i in range(0, 2000):
    base = lo + (start - lo + i * n) % span
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
PY
}

# Starts coordinator + HUBS on free ports in $NET_DIR and loads net.env.
net_start() { # "hub ids" [local-net.sh options...]
	local hubs=$1; shift
	local base tries=0
	local nhubs mbase
	nhubs=$(wc -w <<<"$hubs")
	while :; do
		# One block: ingest, ops, hubsync, signals, then /metrics for the
		# coordinator and every hub (two probes could overlap: a probe
		# reserves nothing).
		# NET_EXTRA_PORTS (a group's replicas: --replicas N needs 5N-4
		# more) go between the coordinator's four and /metrics.
		local extra=${NET_EXTRA_PORTS:-0}
		base=$(net_free_port_base $((4 + extra + nhubs + 1))) || fail "no free ports"
		mbase=$((base + 4 + extra))
		if "$LOCAL_NET" start --dir "$NET_DIR" --bin "$BUILD" --hubs "$hubs" \
			--port-base "$base" --metrics-port-base "$mbase" "$@" >"$T/local-net.out" 2>&1; then
			break
		fi
		tries=$((tries + 1))
		cat "$T/local-net.out" >&2
		# A port taken between the probe and the bind is worth one more try.
		if (( tries >= 2 )) || ! grep -qi 'addr\|in use' "$NET_DIR"/log/*.log 2>/dev/null; then
			fail "network did not start"
		fi
		"$LOCAL_NET" stop --dir "$NET_DIR" >/dev/null 2>&1 || true
	done
	# shellcheck disable=SC1091
	source "$NET_DIR/net.env"
	log "network up: $hubs (ports $base-$((base + 2)))"
}

# local-net.sh with this test's dir: net_ctl start-proc london, net_ctl stop-proc london --signal KILL
net_ctl() { local c=$1; shift; "$LOCAL_NET" "$c" "$@" --dir "$NET_DIR"; }

pid_of() { cat "$NET_DIR/run/$1.pid"; }

hub_url() { # id -> its terminal endpoint from net.env
	local v="DROPNET_HUB_$(echo "$1" | tr '[:lower:]-' '[:upper:]_')"
	[[ -n ${!v:-} ]] || fail "no endpoint for hub $1"
	echo "${!v}"
}

# Runs CMD presenting the storefront's certificate (the ingest socket
# trusts the storefront CA only); as is when the network runs plaintext.
as_storefront() {
	if [[ -n ${DROPNET_STOREFRONT_TLS_CERT:-} ]]; then
		DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY "$@"
	else
		"$@"
	fi
}

dc() { "$DROPCTL" --coordinator "$DROPNET_COORDINATOR" --ingest "$DROPNET_INGEST" "$@"; }
pt() { local h=$1; shift; "$PICKTERM" --hub "$(hub_url "$h")" "$@"; }

# jget JSON EXPR: evaluates a python expression over j = the parsed JSON.
jget() {
	python3 -c 'import json,sys
j = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.1 s until it
# succeeds; fails the test at the deadline.
# Deadlines are multiplied by DROPNET_WAIT_SCALE (run.sh --sanitize sets 3:
# the sanitizers slow every process several times); a probe that succeeds
# returns at once, so a longer deadline only removes false failures.
wait_ms() { echo $(( $1 * 1000 * ${DROPNET_WAIT_SCALE:-1} )); }
wait_until() {
	local secs=$1 what=$2; shift 2
	local deadline=$(( $(now_ms) + $(wait_ms "$secs") ))
	while ! "$@" >/dev/null 2>&1; do
		if (( $(now_ms) > deadline )); then
			fail "timed out after ${secs}s waiting for: $what"
		fi
		sleep 0.1
	done
}

# One ledger number for (hub, sku) as the coordinator sees it; 0 if no row.
stock_field() { # hub sku field
	local out
	out=$(dc --json stock --hub "$1" --sku "$2")
	python3 -c 'import json,sys
rows = [r for r in json.loads(sys.argv[1])["stock"] if r["hub"] == sys.argv[2] and r["sku"] == sys.argv[3]]
print(rows[0][sys.argv[4]] if rows else 0)' "$out" "$1" "$2" "$3"
}

stock_is() { [[ $(stock_field "$1" "$2" "$3") == "$4" ]]; }

# Receives QTY of SKU at HUB and waits until the coordinator's ledger shows
# the hub's on_hand reach EXPECT (default: QTY, for a fresh SKU).
receive_and_wait() { # hub sku qty [expect]
	pt "$1" receive "$2" "$3" >/dev/null || fail "pickterm receive $2 $3 at $1"
	wait_until 20 "coordinator sees $1 $2 on_hand=${4:-$3}" stock_is "$1" "$2" on_hand "${4:-$3}"
}

# Sum of one ledger field over every hub for SKU.
stock_sum() { # sku field
	local out
	out=$(dc --json stock --sku "$1")
	python3 -c 'import json,sys
print(sum(r[sys.argv[2]] for r in json.loads(sys.argv[1])["stock"] if r["sku"] == sys.argv[3]))' "$out" "$2" "$1"
}

audit_clean() {
	local out
	if ! out=$(dc --json audit); then
		echo "$out" >&2
		return 1
	fi
	[[ $(jget "$out" 'j["ok"]') == true ]]
}

# Every hub's command stream fully applied (cmd_acked == cmd_seq).
streams_caught_up() {
	local out
	out=$(dc --json hubs) || return 1
	python3 -c 'import json,sys
hubs = json.loads(sys.argv[1])["hubs"]
sys.exit(0 if hubs and all(h.get("cmd_acked", 0) == h.get("cmd_seq", 0) and h["healthy"] for h in hubs) else 1)' "$out"
}

hub_healthy() { # id -> exit 0 if the coordinator says healthy
	local out
	out=$(dc --json hubs) || return 1
	python3 -c 'import json,sys
h = [h for h in json.loads(sys.argv[1])["hubs"] if h["id"] == sys.argv[2]]
sys.exit(0 if h and h[0]["healthy"] else 1)' "$out" "$1"
}
hub_unhealthy() { ! hub_healthy "$1"; }

# Independent great-circle distance (haversine, mean Earth radius), for
# checking the coordinator's routing without sharing its code.
HAVERSINE_PY='
import math
def haversine_km(lat1, lon1, lat2, lon2):
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
'

# The example network's hubs, as the tests expect them (deploy/net/*.ini).
declare -A HUB_LAT=([london]=51.5074 [birmingham]=52.4862 [manchester]=53.4808 [leeds]=53.8008 [bristol]=51.4545 [glasgow]=55.8642)
declare -A HUB_LON=([london]=-0.1278 [birmingham]=-1.8904 [manchester]=-2.2426 [leeds]=-1.5491 [bristol]=-2.5879 [glasgow]=-4.2518)

# ---- /metrics ---------------------------------------------------------------
scrape() { # URL -> the body on stdout (python3 urllib: curl is not a dependency)
	python3 -c 'import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    assert r.status == 200, r.status
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
    sys.stdout.write(r.read().decode())' "$1"
}
# metric FILE NAME [LABEL=VALUE...] -> the sum of matching samples (0 if none)
metric() {
	python3 - "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
name, want = sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
total = 0.0
for line in text.splitlines():
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
    if all(labels.get(k) == v for k, v in want.items()):
        total += float(m.group(3))
print(int(total) if total == int(total) else total)
PY
}

# Ends a background loadgen (pid LG) run with --acked-file $T/acked and
# --answers-file $T/answers: SIGUSR1 (no new buyer; the ones in flight
# finish), waits for its workers and its exit, prints its report; fails
# unless it exited 0 (every buyer got a decided answer) with an ack.
# Sets N_ACKED.
loadgen_finish() { # pid
	local lg=$1 rc=0
	kill -0 "$lg" 2>/dev/null || { cat "$T/loadgen.out" >&2; fail "loadgen ended before its stop"; }
	kill -USR1 "$lg"
	lg_workers_done() { grep -q 'loadgen: workers done' "$T/loadgen.out"; }
	wait_until 150 "loadgen's workers to finish" lg_workers_done
	lg_exited() { ! kill -0 "$lg" 2>/dev/null; }
	wait_until 15 "loadgen to exit after its workers (dnclient_destroy)" lg_exited
	wait "$lg" || rc=$?
	NET_BG_PIDS=()
	cat "$T/loadgen.out" >&2
	[[ $rc == 0 ]] || fail "loadgen exited $rc (some buyers got no decided answer)"
	! grep -q 'dnclient.close_stuck' "$T/loadgen.out" || fail "loadgen's client close got stuck"
	N_ACKED=$(wc -l <"$T/acked")
	(( N_ACKED > 0 )) || fail "no order acked"
	ok "loadgen done: $(wc -l <"$T/answers") answers, $N_ACKED acked, every buyer got an answer"
}
