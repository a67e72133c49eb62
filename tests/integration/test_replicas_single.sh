#!/usr/bin/env bash
# Goal: `dropctl replicas` on the single node (no group, the default) prints
# its one row, role "single", with the books checksum of its store now; an
# order changes the checksum; `replicas add` is refused (no group to change).
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
net_start "london"
receive_and_wait london single-sku 10

sum_of() { # json -> the one row's checksum
	jget "$1" 'j[0]["sum"] if len(j) == 1 and j[0]["role"] == "single" and j[0]["reachable"] else "bad"'
}
out=$(dc --json replicas) || fail "dropctl replicas: $out"
s1=$(sum_of "$out")
[[ $s1 =~ ^[0-9a-f]{16}$ ]] || fail "one row, role single, a 16-hex-digit checksum: $out"
[[ $(jget "$out" 'j[0]["ops"]') == "$DROPNET_COORDINATOR" ]] || fail "ops URL: $out"
dc replicas >"$T/table" || fail "dropctl replicas (text)"
grep -q "single.*$s1" "$T/table" || fail "table: $(cat "$T/table")"
ok "dropctl replicas: the single node, checksum $s1"

as_storefront dc order submit --key single-1 --customer c1 --sku single-sku \
	--lat 51.5074 --lon -0.1278 >/dev/null || fail "order submit"
s2=$(sum_of "$(dc --json replicas)")
[[ $s2 =~ ^[0-9a-f]{16}$ && $s2 != "$s1" ]] || fail "checksum after an order: $s1 -> $s2"
ok "an order changes the checksum ($s1 -> $s2)"

set +e
r=$(dc replicas add 2,127.0.0.1:1,tcp://a:1,tcp://a:2,tcp://a:3 2>&1)
rc=$?
set -e
[[ $rc == 1 && $r == *"single coordinator"* ]] || fail "replicas add on a single node: exit $rc: $r"
ok "replicas add refused on a single node: $r"
