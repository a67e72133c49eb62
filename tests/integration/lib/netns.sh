# netns.sh - network namespaces for the partition tests of a replicated
# coordinator group (source it after net.sh; bash only, iproute2 and
# util-linux's unshare/nsenter, root or an unprivileged user namespace).
#
#   netns_private "$@"          # first line of the test: re-exec in unshare -n
#   source .../lib/net.sh; net_setup "$1"
#   netns_lan                   # bridge dnlan, 10.78.0.254/24, in the test's namespace
#   netns_add r1 10.78.0.1      # namespace r1 (one veth on dnlan), NETNS_PATH[r1]
#   netns_cut r1 r2             # every packet between r1 and r2 dropped, both ways
#   netns_heal r1 r2
#
# Topology: the test runs in a namespace of its own (nothing touches the
# host's network); each replica and hub gets a namespace of its own with one
# address on a bridge, the "LAN". Storefronts (loadgen), dropctl and
# pickterm stay in the test's namespace (10.78.0.254) and reach every
# replica; a hub's terminal is an ipc:// path, which is not bound to a
# network namespace.
#
# A cut is a cable cut between two hosts and nothing else: each side's
# neighbour entry for the other is replaced by a permanent one naming a MAC
# address no interface has (NETNS_DEAD_MAC), so every frame either sends to
# the other is flooded by the bridge and dropped by every receiver; nothing
# is refused and no error comes back (no ICMP, no RST), exactly as with a
# pulled cable. Each host still reaches everyone else. The heal deletes the
# two entries; the next packet resolves the real address again (ARP). This
# needs no netfilter (iptables/nftables) and no tc module: neighbour tables
# are core IPv4.
#
# A namespace is held by a `sleep infinity` started with unshare -n (its
# pid is in NET_BG_PIDS, so net.sh's EXIT trap ends it); the processes
# local-net.sh starts in it (--netns NAME=PATH) keep it alive until they end.

NETNS_LAN=dnlan
NETNS_LAN_IP=10.78.0.254
NETNS_DEAD_MAC=02:00:00:00:de:ad
declare -A NETNS_PATH=() NETNS_IP=() NETNS_DEV=()

# Re-runs the calling test inside a new network namespace (once).
netns_private() {
	if [[ ${DN_IN_NETNS:-0} == 1 ]]; then
		return 0
	fi
	local flags=-n
	[[ $(id -u) -eq 0 ]] || flags=-rn
	command -v unshare >/dev/null && command -v nsenter >/dev/null ||
		{ echo "[$(basename "$0" .sh)] FAIL: unshare/nsenter (util-linux) missing" >&2; exit 1; }
	DN_IN_NETNS=1 exec unshare "$flags" bash "$0" "$@"
}

netns_lan() {
	ip link set lo up || fail "cannot bring up lo"
	ip link add "$NETNS_LAN" type bridge || fail "cannot create bridge $NETNS_LAN (ip link add type bridge)"
	ip addr add "$NETNS_LAN_IP/24" dev "$NETNS_LAN"
	ip link set "$NETNS_LAN" up
}

# nsenter into namespace NAME: netns_run r1 ip neigh
netns_run() { local n=$1; shift; nsenter "--net=${NETNS_PATH[$n]}" -- "$@"; }

netns_add() { # name ip
	local n=$1 ip=$2 pid self
	unshare -n sleep infinity &
	pid=$!
	NET_BG_PIDS+=("$pid")
	self=$(readlink /proc/self/ns/net)
	# The holder has its own namespace once unshare has run.
	ns_ready() { local o; o=$(readlink "/proc/$pid/ns/net") && [[ $o != "$self" ]]; }
	wait_until 10 "namespace $n" ns_ready
	NETNS_PATH[$n]=/proc/$pid/ns/net
	NETNS_IP[$n]=$ip
	NETNS_DEV[$n]=v-$n
	ip link add "v-$n" type veth peer name "p-$n" || fail "cannot create veth v-$n (ip link add type veth)"
	ip link set "p-$n" netns "$pid"
	ip link set "v-$n" master "$NETNS_LAN"
	ip link set "v-$n" up
	netns_run "$n" ip link set lo up
	netns_run "$n" ip link set "p-$n" name eth0
	netns_run "$n" ip addr add "$ip/24" dev eth0
	netns_run "$n" ip link set eth0 up
	# Carrier and the bridge port take a moment: wait until the test's
	# namespace resolves the new host (a TCP probe on a closed port gets
	# its RST, which needs ARP to have worked).
	reachable() {
		python3 - "$ip" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    sys.exit(1)
sys.exit(0)
PY
	}
	wait_until 10 "namespace $n reachable at $ip" reachable
}

netns_cut() { # a b
	netns_run "$1" ip neigh replace "${NETNS_IP[$2]}" lladdr "$NETNS_DEAD_MAC" dev eth0 nud permanent
	netns_run "$2" ip neigh replace "${NETNS_IP[$1]}" lladdr "$NETNS_DEAD_MAC" dev eth0 nud permanent
}

netns_heal() { # a b
	netns_run "$1" ip neigh del "${NETNS_IP[$2]}" dev eth0
	netns_run "$2" ip neigh del "${NETNS_IP[$1]}" dev eth0
}
