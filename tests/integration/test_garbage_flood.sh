#!/usr/bin/env bash
# Goal: bad bytes cost a bounded amount. 32 authenticated peers each send
# 1 MiB of garbage at once, on the hub sync socket (half random bytes, half
# "unpack bombs": 1 MiB of empty repeated sub-messages, which protobuf-c
# would unpack into ~80 MiB each), then the same on the ingest and ops
# sockets, then 32 bombs just under the terminal socket's cap at a hub.
# The coordinator's peak RSS (VmHWM, the kernel's own high-water mark, so
# no sampling can miss a spike) stays under 64 MB, the hub's too; every
# flood request is answered MALFORMED or dropped, never served; afterwards
# a valid order is ACCEPTED by the same processes and the audit is clean.
# The refusals are visible: the coordinator logs codec.unpack_refused.
# Under the sanitizers (./tests/run.sh --sanitize) the floods run the same
# and every other check holds, but RSS is ASan's (quarantine, shadow
# memory: ~580 MB), so the 64 MB bound is checked only in normal builds.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
PB="python3 $NET_LIB_DIR/pb.py"
RAWSEND=$(net_prog rawsend)
LIMIT_KB=$((64 * 1024))
SANITIZED=0
grep -q '^DROPNET_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && SANITIZED=1
PEERS=32

net_start "london"
receive_and_wait london flood-sku 5
cpid=$(pid_of coordinator)
hpid=$(pid_of london)
P=$DROPNET_PKI

# Flood files: random bytes, and bombs of an empty sub-message repeated
# (field 4 of HubSyncRequest / field 5 of SubmitOrder / field 7 of
# TermRequest: tag byte, length 0).
python3 - "$T" <<'PY'
import os, sys
t = sys.argv[1]
mib = 1024 * 1024 - 64  # just under the 1 MiB cap (nng adds a header)
open(f"{t}/random.bin", "wb").write(os.urandom(mib))
open(f"{t}/bomb-sync.bin", "wb").write(b"\x08\x01" + b"\x22\x00" * ((mib - 2) // 2))
open(f"{t}/bomb-ingest.bin", "wb").write(b"\x08\x01" + b"\x2a\x00" * ((mib - 2) // 2))
# Terminal socket cap is 256 KiB: stay just under it so the unpack runs.
open(f"{t}/bomb-term.bin", "wb").write(b"\x08\x01" + b"\x3a\x00" * ((250 * 1024) // 2))
PY

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# flood NAME URL CERT KEY FILE_A FILE_B: PEERS rawsends at once, half with
# each file; waits for all (each has its own deadline) and counts answers.
flood() {
	local name=$1 url=$2 cert=$3 key=$4 a=$5 b=$6 i f pids=() served=0 dropped=0 st
	mkdir -p "$T/$name"
	for ((i = 0; i < PEERS; i++)); do
		(( i % 2 )) && f=$b || f=$a
		DROPNET_TLS_CERT=$cert DROPNET_TLS_KEY=$key \
			timeout 30 "$RAWSEND" "$url" --timeout-ms 10000 <"$f" >"$T/$name/$i.rep" 2>"$T/$name/$i.err" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			st=$(jget "$($PB decode <"$T/$name/$i.rep")" 'j["status"]')
			[[ $st == MALFORMED || $st == UNAVAILABLE ]] || fail "$name peer $i: got $st for garbage"
			served=$((served + 1))
		else
			dropped=$((dropped + 1))
		fi
	done
	ok "$name: $PEERS peers x 1 MiB: $served answered MALFORMED, $dropped dropped by the transport"
}

base=$(hwm_kb "$cpid")
flood hubsync "$DROPNET_HUBSYNC" "$P/hub/london.crt" "$P/hub/london.key" "$T/random.bin" "$T/bomb-sync.bin"
flood ingest "$DROPNET_INGEST" "$DROPNET_STOREFRONT_TLS_CERT" "$DROPNET_STOREFRONT_TLS_KEY" "$T/random.bin" "$T/bomb-ingest.bin"
flood ops "$DROPNET_COORDINATOR" "$DROPNET_TLS_CERT" "$DROPNET_TLS_KEY" "$T/random.bin" "$T/bomb-sync.bin"
peak=$(hwm_kb "$cpid")
log "coordinator VmHWM: ${base} kB before, ${peak} kB after the floods (limit ${LIMIT_KB} kB)"
if (( SANITIZED )); then
	log "sanitizer build: RSS bound not checked (ASan's own memory dominates)"
else
	(( peak < LIMIT_KB )) || fail "coordinator peak RSS ${peak} kB >= ${LIMIT_KB} kB"
fi
grep -q "codec.unpack_refused" "$NET_DIR/log/coordinator.log" || fail "no codec.unpack_refused logged"

hbase=$(hwm_kb "$hpid")
flood term "$(hub_url london)" "" "" "$T/bomb-term.bin" "$T/random.bin"
hpeak=$(hwm_kb "$hpid")
log "hubd VmHWM: ${hbase} kB before, ${hpeak} kB after the flood"
(( SANITIZED )) || (( hpeak < LIMIT_KB )) || fail "hubd peak RSS ${hpeak} kB >= ${LIMIT_KB} kB"

# Still serving, same processes, books intact.
# Same key on every try (idempotent): a retry while the coordinator drains
# the flood's connections on a loaded host is safe and counted once.
order_ok() {
	local out
	out=$(as_storefront "$DROPCTL" --ingest "$DROPNET_INGEST" --timeout-ms 5000 --json order submit \
		--key flood-ok --customer c1 --sku flood-sku --lat 51.5 --lon -0.12 2>>"$T/submit.err") || return 1
	[[ $(jget "$out" 'j["status"]') == ACCEPTED ]]
}
wait_until 60 "a valid order ACCEPTED after the flood" order_ok
[[ $(pid_of coordinator) == "$cpid" ]] && kill -0 "$cpid" || fail "coordinator restarted or died"
[[ $(pid_of london) == "$hpid" ]] && kill -0 "$hpid" || fail "hubd restarted or died"
wait_until 20 "london healthy" hub_healthy london
[[ $(stock_field london flood-sku allocated) == 1 ]] || fail "allocated is not 1"
audit_clean || fail "audit not clean"
ok "after the floods: order ACCEPTED by the same coordinator, allocated=1, audit clean"
