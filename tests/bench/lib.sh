# lib.sh - what the benches that start a local network share (sourced).
#
#   bench_net_dir NAME   NET=a new /tmp/NAME.XXXXXX folder; on exit the
#                        local network in it (deploy/local-net.sh) is stopped
#                        and the folder removed; INT/TERM exit 130
#   now_ms               wall clock, ms
#   cpu_ms PID           user + system CPU of process PID so far, ms

bench_net_cleanup() {
	local rc=$?
	set +e
	[[ -f $NET/net.conf ]] && "$REPO/deploy/local-net.sh" stop --dir "$NET" >&2
	rm -rf "$NET"
	exit $rc
}

bench_net_dir() {
	NET=$(mktemp -d "/tmp/$1.XXXXXX")
	trap bench_net_cleanup EXIT
	trap 'exit 130' INT TERM
}

now_ms() { date +%s%3N; }

cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / t)}' "/proc/$1/stat"; }
