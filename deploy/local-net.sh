#!/usr/bin/env bash
# local-net.sh - run the example dropnet network (a coordinator and its hubs)
# as plain processes on 127.0.0.1, for demos, tests and benchmarks.
#
#   deploy/local-net.sh start  --dir DIR [--bin BUILD] [options]
#   deploy/local-net.sh stop   --dir DIR
#   deploy/local-net.sh status --dir DIR
#   deploy/local-net.sh start-proc NAME --dir DIR   (re-start one process)
#   deploy/local-net.sh stop-proc NAME --dir DIR [--signal SIG]
#   deploy/local-net.sh wait-healthy --dir DIR [--timeout S]
#
# Layout under DIR: coordinator/ and <hub>/ (SQLite stores), log/NAME.log
# (stderr of each process, appended across restarts), run/NAME.pid,
# run/NAME.argv (the exact command line, so start-proc restarts a process the
# same way), run/<hub>.term (each hub's ipc:// terminal socket), net.conf (the
# options of `start`, read back by every other command) and net.env, which
# exports DROPNET_INGEST, DROPNET_COORDINATOR, DROPNET_HUBSYNC,
# DROPNET_HUB_<ID> for every hub, DROPNET_HUBS, DROPNET_BIN and DROPNET_DIR.
#
# TLS is on by default: every TCP socket is tls+tcp:// with client
# certificates required. The network's PKI (deploy/pki.sh: a root CA, one CA
# per role, a certificate per hub, the coordinator's, an admin operator
# "ops" and a storefront "shop") is made in DIR/pki on the first start, or
# taken from --pki DIR. net.env then also exports DROPNET_TLS_CA (the
# server CA), DROPNET_TLS_CERT/_KEY (operator ops), DROPNET_TLS_CRL,
# DROPNET_STOREFRONT_TLS_CERT/_KEY (storefront shop) and DROPNET_PKI, and
# the identities requests are signed with (SEMANTICS.md "Transport and
# identity"): DROPNET_AUTH_NAME/_KEY (operator ops) and
# DROPNET_STOREFRONT_AUTH_NAME/_KEY (storefront "default"); the coordinator
# reads PKI/peers, each hub its PKI/hub/ID.secret.
# --plaintext runs tcp:// with tls.allow_plaintext=1 and auth.anonymous=1
# instead (benchmarks comparing the two; never across a network).
#
# Readiness is probed, never slept for: each process must log its `*.ready`
# line before a deadline, then `dropctl hubs --json` must show every hub
# healthy. Ports (defaults 7400-7402, the example's) can be moved with
# --port-base N (ingest N, ops N+1, hubsync N+2), the single-port flags, or
# DROPNET_PORT_BASE, so tests run whole networks side by side.
#
# --metrics-port-base M turns on /metrics (metrics.listen): the coordinator
# on http://127.0.0.1:M, the hubs on M+1, M+2, ... in --hubs order; net.env
# then exports DROPNET_METRICS (the coordinator's URL, with /metrics) and
# DROPNET_METRICS_<ID> for every hub. Off by default.
#
# --replicas N (N > 1) runs a replicated coordinator group (docs/
# replication.md) instead of the single coordinator: processes coordinator1
# .. coordinatorN, data in DIR/coordinatorR; replica R listens on ingest
# N+4(R-1), ops +1, hubsync +2, signals +3, and replicates on port
# base+4N+(R-1) (plaintext TCP on 127.0.0.1: a private network only).
# DROPNET_INGEST, DROPNET_COORDINATOR and DROPNET_HUBSYNC then list every
# replica's URL, comma-separated; dropctl, hubd and the batching client
# follow the leader. /metrics: replica 1 only.
#
# --replica-hosts IP1,IP2,... puts replica R's sockets and its replication
# address on IP_R instead of 127.0.0.1 (the server certificate then names
# those addresses too), and --netns NAME=PATH runs process NAME inside the
# network namespace PATH (nsenter --net=PATH; /proc/PID/ns/net or
# /run/netns/X), also on start-proc: the partition tests give every
# replica and hub a namespace of its own (tests/integration/lib/netns.sh).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
ALL_HUBS="london birmingham manchester leeds bristol glasgow"

usage() {
	cat <<EOF
usage: $(basename "$0") COMMAND --dir DIR [options]

commands:
  start               start the coordinator and hubs, wait until all are ready
                      and healthy, write DIR/net.env
  stop                SIGTERM every process, SIGKILL what is left after --timeout
  status              show each process alive/dead (exit 1 if any is dead)
  start-proc NAME     start one process again (NAME: coordinator or a hub id)
  stop-proc NAME      stop one process (--signal KILL for kill -9, STOP to freeze)
  wait-healthy        wait until dropctl shows every hub healthy

options (start):
  --bin DIR           build dir holding coordinator, hubd, dropctl
                      (or DIR/bin/...); default \$DROPNET_BIN or $REPO_DIR/build
  --hubs "A B ..."    hub ids to run (default: $ALL_HUBS; \$DROPNET_HUBS)
  --config-dir DIR    where coordinator.ini and <hub>.ini live (default deploy/net)
  --port-base N       ingest N, ops N+1, hubsync N+2, signals hubsync+1
                      (default 7400; \$DROPNET_PORT_BASE)
  --ingest-port N, --ops-port N, --hub-port N   set one port
  --metrics-port-base M   serve /metrics: coordinator on M, hubs on M+1...
  --coord-set K=V     extra --set for the coordinator (repeatable)
  --hub-set K=V       extra --set for every hub (repeatable)
  --no-wait-healthy   do not wait for the hubs to be healthy
  --pki DIR           use this PKI (deploy/pki.sh layout) instead of DIR/pki
  --plaintext         no TLS: tcp:// everywhere, plaintext allowed explicitly
  --replicas N        a replicated coordinator group of N (3 or 5) instead of
                      one coordinator (processes coordinator1..N)
  --replica-hosts A,B,...  replica R listens and replicates on the R-th
                      address instead of 127.0.0.1
  --netns NAME=PATH   run process NAME in the network namespace PATH
                      (nsenter --net=PATH; repeatable)
options (all):
  --timeout S         deadline for each wait (default 20)
  --signal SIG        stop-proc: signal to send (default TERM, with a deadline)
EOF
}

die() { echo "local-net: $*" >&2; exit 1; }

now_ms() { date +%s%3N; }

# ---- arguments -------------------------------------------------------------
[[ $# -ge 1 ]] || { usage >&2; exit 2; }
CMD=$1; shift
case $CMD in -h|--help|help) usage; exit 0 ;; esac
PROC=""
if [[ $CMD == start-proc || $CMD == stop-proc ]]; then
	[[ $# -ge 1 ]] || die "$CMD needs a process name"
	PROC=$1; shift
fi
DIR=""; BIN="${DROPNET_BIN:-}"; HUBS="${DROPNET_HUBS:-$ALL_HUBS}"
CONFIG_DIR="$SCRIPT_DIR/net"; PORT_BASE="${DROPNET_PORT_BASE:-7400}"
INGEST_PORT=""; OPS_PORT=""; HUB_PORT=""; TIMEOUT_S=20; SIGNAL=TERM; METRICS_PORT_BASE=""
WAIT_HEALTHY=1; PLAINTEXT=0; PKI=""; REPLICAS=1; REPLICA_HOSTS=""
COORD_SETS=(); HUB_SETS=(); declare -A NETNS=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--dir) DIR=$2; shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--hubs) HUBS=$2; shift 2 ;;
	--config-dir) CONFIG_DIR=$2; shift 2 ;;
	--port-base) PORT_BASE=$2; shift 2 ;;
	--ingest-port) INGEST_PORT=$2; shift 2 ;;
	--ops-port) OPS_PORT=$2; shift 2 ;;
	--hub-port) HUB_PORT=$2; shift 2 ;;
	--metrics-port-base) METRICS_PORT_BASE=$2; shift 2 ;;
	--coord-set) COORD_SETS+=("$2"); shift 2 ;;
	--hub-set) HUB_SETS+=("$2"); shift 2 ;;
	--timeout) TIMEOUT_S=$2; shift 2 ;;
	--signal) SIGNAL=$2; shift 2 ;;
	--no-wait-healthy) WAIT_HEALTHY=0; shift ;;
	--pki) PKI=$2; shift 2 ;;
	--plaintext) PLAINTEXT=1; shift ;;
	--replicas) REPLICAS=$2; shift 2 ;;
	--replica-hosts) REPLICA_HOSTS=$2; shift 2 ;;
	--netns) [[ $2 == ?*=/?* ]] || die "--netns wants NAME=PATH, not $2"; NETNS[${2%%=*}]=${2#*=}; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n $DIR ]] || die "--dir DIR is required"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# ---- helpers ---------------------------------------------------------------
find_bin() { # name -> path of the program in the build dir
	local b
	for b in "$BIN/$1" "$BIN/bin/$1"; do
		if [[ -x $b ]]; then echo "$b"; return 0; fi
	done
	die "program $1 not found in $BIN (build first, or pass --bin BUILD_DIR)"
}

coord_names() { # the coordinator process(es)
	if (( REPLICAS > 1 )); then seq -f 'coordinator%g' 1 "$REPLICAS" | tr '\n' ' '; else echo coordinator; fi
}
proc_names() { echo $(coord_names) $HUBS; }

pid_of() { # name -> pid from the pid file, or nothing
	local f="$DIR/run/$1.pid"
	[[ -s $f ]] && cat "$f" || true
}

# A pid is ours only while /proc/PID/cmdline still names our program: pids
# are reused, and stop must never signal a stranger.
is_ours() { # pid name
	local pid=$1 prog
	[[ -n $pid ]] || return 1
	[[ $2 == coordinator* ]] && prog=coordinator || prog=hubd
	[[ -r /proc/$pid/cmdline ]] || return 1
	local state
	state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
	[[ $state != Z ]] || return 1
	grep -qa -- "$prog" "/proc/$pid/cmdline" || return 1
}

# Alive and not a zombie (used while a process starts: between fork and
# exec its cmdline is still the shell's, so is_ours would say no).
is_alive() { # pid
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
	[[ $state != Z ]]
}

# Replica R's address (--replica-hosts, else 127.0.0.1).
replica_host() { # r
	local hosts=()
	IFS=, read -r -a hosts <<<"$REPLICA_HOSTS"
	echo "${hosts[$1 - 1]:-127.0.0.1}"
}

# Writes run/NAME.argv: ARGV, run inside NAME's network namespace (--netns).
write_argv() { # name argv...
	local name=$1; shift
	local pre=()
	[[ -z ${NETNS[$name]:-} ]] || pre=(nsenter "--net=${NETNS[$name]}" --)
	printf '%s\0' "${pre[@]}" "$@" >"$DIR/run/$name.argv"
}

log_lines() { # name -> lines in its log so far
	local f="$DIR/log/$1.log"
	[[ -f $f ]] && wc -l <"$f" || echo 0
}

# Waits until the log of NAME shows EVENT after line SKIP, the process dies,
# or the deadline passes.
wait_ready() { # name pid skip event
	local name=$1 pid=$2 skip=$3 ev=$4 log="$DIR/log/$1.log"
	local deadline=$(( $(now_ms) + TIMEOUT_S * 1000 ))
	while :; do
		# awk reads the whole file: no early exit, no SIGPIPE under pipefail.
		if awk -v skip="$skip" -v ev="$ev" 'NR > skip && index($0, ev) { found = 1 } END { exit !found }' "$log" 2>/dev/null; then
			return 0
		fi
		if ! is_alive "$pid"; then
			echo "local-net: $name (pid $pid) exited before $ev; last log lines:" >&2
			tail -n 20 "$log" >&2 || true
			return 1
		fi
		if (( $(now_ms) > deadline )); then
			echo "local-net: $name not ready ($ev) within ${TIMEOUT_S}s; last log lines:" >&2
			tail -n 20 "$log" >&2 || true
			return 1
		fi
		sleep 0.05
	done
}

launch() { # name: starts it from run/NAME.argv, waits for its ready line
	local name=$1 argv pid skip ev
	mapfile -d '' -t argv <"$DIR/run/$name.argv"
	pid=$(pid_of "$name")
	if is_ours "$pid" "$name"; then
		die "$name already running (pid $pid)"
	fi
	skip=$(log_lines "$name")
	nohup "${argv[@]}" >>"$DIR/log/$name.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$DIR/run/$name.pid"
	[[ $name == coordinator* ]] && ev=coordinator.ready || ev=hubd.ready
	wait_ready "$name" "$pid" "$skip" "$ev"
	echo "local-net: $name ready (pid $pid)"
}

# Every expected hub registered and healthy, as the coordinator sees it.
wait_healthy() {
	local deadline=$(( $(now_ms) + TIMEOUT_S * 1000 )) out=""
	while :; do
		out=$("$DROPCTL" --coordinator "$OPS_URL" --json hubs 2>/dev/null || true)
		if python3 - "$HUBS" "$out" <<'PY' 2>/dev/null
import json, sys
want = sys.argv[1].split()
try:
    hubs = {h["id"]: h for h in json.loads(sys.argv[2])["hubs"]}
except Exception:
    sys.exit(1)
sys.exit(0 if all(w in hubs and hubs[w].get("healthy") for w in want) else 1)
PY
		then
			echo "local-net: all hubs healthy: $HUBS"
			return 0
		fi
		if (( $(now_ms) > deadline )); then
			echo "local-net: hubs not all healthy within ${TIMEOUT_S}s; dropctl hubs said: $out" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Sends SIG to NAME; for TERM waits for the exit with a deadline, then KILL.
stop_one() { # name sig
	local name=$1 sig=$2 pid
	pid=$(pid_of "$name")
	if ! is_ours "$pid" "$name"; then
		return 0
	fi
	if [[ $sig == TERM ]]; then
		kill -CONT "$pid" 2>/dev/null || true  # a frozen process cannot exit
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
}

# A process that is exiting: its memory gone (no command line) or its main
# thread already a zombie, while some thread has not finished exiting - the
# last one to exit closes the process's files, so its sockets may still be
# open, and a restart that binds the same port fails (a replica's
# raft_start gave "I/O error" that way right after kill -9, twice in
# test_group_kills). A live process (a reused pid) has a command line and
# a live main thread: never "dying".
dying() { # pid
	local st t ppid alive=0
	[[ -n $1 && -d /proc/$1/task ]] || return 1
	# Kernel threads (parent 0 or kthreadd, 2) have no command line either.
	ppid=$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
	[[ -n $ppid && $ppid != 0 && $ppid != 2 ]] || return 1
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
	if [[ $st != Z && -n $(tr -d '\0' <"/proc/$1/cmdline" 2>/dev/null) ]]; then
		return 1
	fi
	for t in /proc/"$1"/task/*; do
		st=$(awk '/^State:/ {print $2}' "$t/status" 2>/dev/null || true)
		[[ -n $st && $st != Z ]] && alive=1
	done
	(( alive ))
}

wait_gone() { # names...: waits for exit, SIGKILL after the deadline
	local deadline=$(( $(now_ms) + TIMEOUT_S * 1000 )) name pid left
	while :; do
		left=()
		for name in "$@"; do
			pid=$(pid_of "$name")
			if is_ours "$pid" "$name" || dying "$pid"; then left+=("$name"); fi
		done
		[[ ${#left[@]} -eq 0 ]] && return 0
		if (( $(now_ms) > deadline )); then
			for name in "${left[@]}"; do
				pid=$(pid_of "$name")
				echo "local-net: $name (pid $pid) ignored SIGTERM for ${TIMEOUT_S}s: SIGKILL" >&2
				kill -KILL "$pid" 2>/dev/null || true
			done
			deadline=$(( $(now_ms) + 5000 ))
		fi
		sleep 0.05
	done
}

load_conf() {
	[[ -f $DIR/net.conf ]] || die "$DIR/net.conf not found: was the network started with --dir $DIR?"
	# shellcheck disable=SC1091
	source "$DIR/net.conf"
	DROPCTL=$(find_bin dropctl 2>/dev/null || true)
	tls_env
}

# The client side of TLS for our own dropctl calls (wait_healthy).
tls_env() {
	if (( PLAINTEXT )); then
		export DROPNET_PLAINTEXT=1
	else
		export DROPNET_TLS_CA="$PKI/ca/server.crt" DROPNET_TLS_CRL="$PKI/crl.pem"
		export DROPNET_TLS_CERT="$PKI/operator/ops.crt" DROPNET_TLS_KEY="$PKI/operator/ops.key"
		export DROPNET_AUTH_NAME=ops DROPNET_AUTH_KEY="$PKI/operator/ops.secret"
	fi
}

# Makes the PKI on first use: CAs, the coordinator's certificate (its
# names on this machine), one per hub, operator ops (admin), storefronts
# shop, default and shop-b; each but the server's with its secret in
# PKI/peers (the coordinator's auth.peers_file).
pki_make() {
	local pki="$SCRIPT_DIR/pki.sh" h r san=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1
	# A replica's own address too (--replica-hosts). mbedTLS 2.28 checks
	# the name against DNS entries only, so an address is one of those too.
	for r in $(seq 1 "$REPLICAS"); do
		h=$(replica_host "$r")
		[[ $h == 127.0.0.1 ]] || san+=",DNS:$h,IP:$h"
	done
	[[ -f $PKI/ca/root.crt ]] || "$pki" init --dir "$PKI" >/dev/null
	[[ -f $PKI/server/coordinator.crt ]] || "$pki" issue --dir "$PKI" server coordinator \
		--san "$san" >/dev/null
	[[ -f $PKI/operator/ops.crt ]] || "$pki" issue --dir "$PKI" operator ops --op-role admin >/dev/null
	[[ -f $PKI/storefront/shop.crt ]] || "$pki" issue --dir "$PKI" storefront shop >/dev/null
	# Storefront identities the clients sign as: "default" (what an order
	# without --storefront belongs to) and a second one for the tests.
	[[ -f $PKI/storefront/default.crt ]] || "$pki" issue --dir "$PKI" storefront default >/dev/null
	[[ -f $PKI/storefront/shop-b.crt ]] || "$pki" issue --dir "$PKI" storefront shop-b >/dev/null
	for h in $HUBS; do
		[[ -f $PKI/hub/$h.crt ]] || "$pki" issue --dir "$PKI" hub "$h" >/dev/null
	done
}

# A group's replicas: run/coordinatorR.argv from the single coordinator's
# argv (its URLs and data_dir replaced per replica, --replica flags added),
# and INGEST_URL, OPS_URL, HUBSYNC_URL as lists of every replica's.
group_argv() { # scheme argv...
	local scheme=$1; shift
	local base=$INGEST_PORT r p h flags=() ing=() ops=() hs=()
	for r in $(seq 1 "$REPLICAS"); do
		p=$((base + 4 * (r - 1)))
		h=$(replica_host "$r")
		ing+=("$scheme://$h:$p"); ops+=("$scheme://$h:$((p + 1))")
		hs+=("$scheme://$h:$((p + 2))")
		flags+=(--replica "$r,$h:$((base + 4 * REPLICAS + r - 1)),${ing[-1]},${hs[-1]},${ops[-1]}")
	done
	# The group's shared secret: replication connections are authenticated
	# with it (docs/replication.md "Transport and trust").
	"$REPO_DIR/deploy/pki.sh" group-secret --dir "$DIR" >/dev/null ||
		die "pki.sh group-secret failed"
	for r in $(seq 1 "$REPLICAS"); do
		p=$((base + 4 * (r - 1)))
		mkdir -p "$DIR/coordinator$r"
		local a=() x
		for x in "$@"; do
			case $x in
			coordinator.data_dir=*) x="coordinator.data_dir=$DIR/coordinator$r" ;;
			coordinator.ingest_url=*) x="coordinator.ingest_url=${ing[r-1]}" ;;
			coordinator.ops_url=*) x="coordinator.ops_url=${ops[r-1]}" ;;
			coordinator.hub_url=*) x="coordinator.hub_url=${hs[r-1]}" ;;
			coordinator.signal_url=*) x="coordinator.signal_url=$scheme://$(replica_host "$r"):$((p + 3))" ;;
			metrics.listen=*) (( r == 1 )) || x="metrics.listen=" ;;
			esac
			a+=("$x")
		done
		a+=(--set "group.secret_file=$DIR/group.secret" --replica-id "$r" "${flags[@]}")
		write_argv "coordinator$r" "${a[@]}"
	done
	INGEST_URL=$(IFS=,; echo "${ing[*]}")
	OPS_URL=$(IFS=,; echo "${ops[*]}")
	HUBSYNC_URL=$(IFS=,; echo "${hs[*]}")
}

# ---- commands --------------------------------------------------------------
cmd_start() {
	[[ -n $BIN ]] || BIN="$REPO_DIR/build"
	BIN=$(cd "$BIN" && pwd) || die "no build dir $BIN"
	INGEST_PORT=${INGEST_PORT:-$PORT_BASE}
	OPS_PORT=${OPS_PORT:-$((PORT_BASE + 1))}
	HUB_PORT=${HUB_PORT:-$((PORT_BASE + 2))}
	SIGNAL_PORT=$((${HUB_PORT} + 1))
	local scheme=tls+tcp
	if (( PLAINTEXT )); then
		scheme=tcp
	else
		PKI=${PKI:-$DIR/pki}
		mkdir -p "$PKI"
		PKI=$(cd "$PKI" && pwd)
		pki_make
	fi
	INGEST_URL="$scheme://127.0.0.1:$INGEST_PORT"
	OPS_URL="$scheme://127.0.0.1:$OPS_PORT"
	HUBSYNC_URL="$scheme://127.0.0.1:$HUB_PORT"
	SIGNAL_URL="$scheme://127.0.0.1:$SIGNAL_PORT"
	tls_env
	local coord hubd h f name pid
	coord=$(find_bin coordinator); hubd=$(find_bin hubd); DROPCTL=$(find_bin dropctl)
	mkdir -p "$DIR/log" "$DIR/run" "$DIR/coordinator"
	for name in $(proc_names); do
		pid=$(pid_of "$name")
		if is_ours "$pid" "$name"; then die "$name already running in $DIR (pid $pid); stop first"; fi
	done
	# Plain assignments: `declare` lines would make locals when sourced
	# inside load_conf.
	local v
	for v in BIN HUBS INGEST_URL OPS_URL HUBSYNC_URL PLAINTEXT PKI REPLICAS; do
		printf '%s=%q\n' "$v" "${!v}"
	done >"$DIR/net.conf"

	f="$CONFIG_DIR/coordinator.ini"
	[[ -f $f ]] || die "no $f"
	local argv=("$coord" --config "$f"
		--set "coordinator.data_dir=$DIR/coordinator"
		--set "coordinator.ingest_url=$INGEST_URL"
		--set "coordinator.ops_url=$OPS_URL"
		--set "coordinator.hub_url=$HUBSYNC_URL"
		--set "coordinator.signal_url=$SIGNAL_URL")
	if (( PLAINTEXT )); then
		argv+=(--set tls.allow_plaintext=1 --set auth.anonymous=1)
	else
		argv+=(--set "auth.peers_file=$PKI/peers"
			--set "tls.storefront_ca_file=$PKI/ca/storefront.crt"
			--set "tls.hub_ca_file=$PKI/ca/hub.crt"
			--set "tls.operator_ca_file=$PKI/ca/operator.crt"
			--set "tls.crl_file=$PKI/crl.pem"
			--set "tls.cert_file=$PKI/server/coordinator.crt"
			--set "tls.key_file=$PKI/server/coordinator.key")
	fi
	if [[ -n $METRICS_PORT_BASE ]]; then
		argv+=(--set "metrics.listen=http://127.0.0.1:$METRICS_PORT_BASE")
	fi
	local s
	for s in "${COORD_SETS[@]}"; do argv+=(--set "$s"); done
	if (( REPLICAS > 1 )); then
		group_argv "$scheme" "${argv[@]}"
		for v in BIN HUBS INGEST_URL OPS_URL HUBSYNC_URL PLAINTEXT PKI REPLICAS; do
			printf '%s=%q\n' "$v" "${!v}"
		done >"$DIR/net.conf"
	else
		write_argv coordinator "${argv[@]}"
	fi

	local mport=$((${METRICS_PORT_BASE:-0} + 1))
	for h in $HUBS; do
		f="$CONFIG_DIR/$h.ini"
		[[ -f $f ]] || die "no config $f for hub $h"
		mkdir -p "$DIR/$h"
		local term="ipc://$DIR/run/$h.term"
		# sun_path holds 107 bytes: a deep DIR would fail deep inside nng.
		(( ${#term} < 100 )) || die "ipc path too long ($term): use a shorter --dir"
		argv=("$hubd" --config "$f"
			--set "hub.data_dir=$DIR/$h"
			--set "hub.term_url=$term"
			--set "hub.coordinator_url=$HUBSYNC_URL")
		if (( PLAINTEXT )); then
			argv+=(--set tls.allow_plaintext=1)
		else
			argv+=(--set "auth.key_file=$PKI/hub/$h.secret"
				--set "tls.ca_file=$PKI/ca/server.crt"
				--set "tls.crl_file=$PKI/crl.pem"
				--set "tls.cert_file=$PKI/hub/$h.crt"
				--set "tls.key_file=$PKI/hub/$h.key")
		fi
		if [[ -n $METRICS_PORT_BASE ]]; then
			argv+=(--set "metrics.listen=http://127.0.0.1:$mport")
		fi
		mport=$((mport + 1))
		for s in "${HUB_SETS[@]}"; do argv+=(--set "$s"); done
		write_argv "$h" "${argv[@]}"
	done

	{
		echo "# dropnet local network in $DIR (deploy/local-net.sh); source this file."
		echo "export DROPNET_DIR=$(printf %q "$DIR")"
		echo "export DROPNET_BIN=$(printf %q "$BIN")"
		echo "export DROPNET_INGEST=$INGEST_URL"
		echo "export DROPNET_COORDINATOR=$OPS_URL"
		echo "export DROPNET_HUBSYNC=$HUBSYNC_URL"
		echo "export DROPNET_SIGNAL=$SIGNAL_URL"
		echo "export DROPNET_HUBS=\"$HUBS\""
		if (( PLAINTEXT )); then
			echo "export DROPNET_PLAINTEXT=1"
		else
			echo "export DROPNET_PKI=$(printf %q "$PKI")"
			echo "export DROPNET_TLS_CA=$(printf %q "$PKI/ca/server.crt")"
			echo "export DROPNET_TLS_CRL=$(printf %q "$PKI/crl.pem")"
			echo "export DROPNET_TLS_CERT=$(printf %q "$PKI/operator/ops.crt")"
			echo "export DROPNET_TLS_KEY=$(printf %q "$PKI/operator/ops.key")"
			echo "export DROPNET_STOREFRONT_TLS_CERT=$(printf %q "$PKI/storefront/shop.crt")"
			echo "export DROPNET_STOREFRONT_TLS_KEY=$(printf %q "$PKI/storefront/shop.key")"
			echo "export DROPNET_AUTH_NAME=ops"
			echo "export DROPNET_AUTH_KEY=$(printf %q "$PKI/operator/ops.secret")"
			echo "export DROPNET_STOREFRONT_AUTH_NAME=default"
			echo "export DROPNET_STOREFRONT_AUTH_KEY=$(printf %q "$PKI/storefront/default.secret")"
		fi
		for h in $HUBS; do
			echo "export DROPNET_HUB_$(echo "$h" | tr '[:lower:]-' '[:upper:]_')=$(printf %q "ipc://$DIR/run/$h.term")"
		done
		if [[ -n $METRICS_PORT_BASE ]]; then
			echo "export DROPNET_METRICS=http://127.0.0.1:$METRICS_PORT_BASE/metrics"
			mport=$((METRICS_PORT_BASE + 1))
			for h in $HUBS; do
				echo "export DROPNET_METRICS_$(echo "$h" | tr '[:lower:]-' '[:upper:]_')=http://127.0.0.1:$mport/metrics"
				mport=$((mport + 1))
			done
		fi
	} >"$DIR/net.env"

	# On any failure, do not leave half a network behind.
	trap 'echo "local-net: start failed, stopping what started" >&2; for n in $(proc_names); do stop_one "$n" TERM; done; wait_gone $(proc_names)' ERR
	for name in $(coord_names); do launch "$name"; done
	for h in $HUBS; do launch "$h"; done
	if (( WAIT_HEALTHY )); then wait_healthy; fi
	trap - ERR
	echo "local-net: network up; source $DIR/net.env"
}

cmd_stop() {
	load_conf
	local name names=()
	# Hubs first: they keep their own books and sync again on restart; the
	# coordinator last so hubs do not log a burst of failed syncs.
	for name in $HUBS; do stop_one "$name" TERM; names+=("$name"); done
	wait_gone "${names[@]}"
	names=()
	for name in $(coord_names); do stop_one "$name" TERM; names+=("$name"); done
	# And any process started here by hand through start-proc (a replica
	# a test added with its own run/NAME.argv): nothing is left running.
	local f known=" $HUBS $(coord_names) "
	for f in "$DIR"/run/*.argv; do
		[[ -f $f ]] || continue
		name=$(basename "$f" .argv)
		[[ $known == *" $name "* ]] && continue
		stop_one "$name" TERM; names+=("$name")
	done
	wait_gone "${names[@]}"
	echo "local-net: stopped"
}

cmd_status() {
	load_conf
	local name pid bad=0
	for name in $(proc_names); do
		pid=$(pid_of "$name")
		if is_ours "$pid" "$name"; then
			local st
			st=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			if [[ $st == T ]]; then
				printf '%-12s stopped (SIGSTOP) pid %s\n' "$name" "$pid"
			else
				printf '%-12s alive pid %s\n' "$name" "$pid"
			fi
		else
			printf '%-12s dead\n' "$name"
			bad=1
		fi
	done
	return $bad
}

cmd_start_proc() {
	load_conf
	[[ -f $DIR/run/$PROC.argv ]] || die "unknown process $PROC"
	launch "$PROC"
}

cmd_stop_proc() {
	load_conf
	[[ -f $DIR/run/$PROC.argv ]] || die "unknown process $PROC"
	stop_one "$PROC" "$SIGNAL"
	case $SIGNAL in
	STOP|CONT) ;;
	*) wait_gone "$PROC" ;;
	esac
}

case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
start-proc) cmd_start_proc ;;
stop-proc) cmd_stop_proc ;;
wait-healthy) load_conf; [[ -n $DROPCTL ]] || die "dropctl not found"; wait_healthy ;;
*) usage >&2; exit 2 ;;
esac
