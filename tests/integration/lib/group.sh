# group.sh - checks on a replicated coordinator group started by net.sh's
# net_start ... --replicas R (source it after net.sh; set GROUP_R=R).
#
#   group_leader [EXCEPT]        the replica leading by its own log (not EXCEPT)
#   group_one_leader             exactly one replica says it leads
#   group_log_ms R EVENT SINCE [TEXT]   epoch ms of replica R's first EVENT
#                                line at or after SINCE (containing TEXT)
#   group_books                  "digest orders" per replica's store file
#   group_same_books             every replica's digest equal
#   group_journal_check SKU STOCK ACKED_FILE...   every acked order in the
#                                journal exactly once with its first answer on
#                                every replica; allocated == accepted <= STOCK

GROUP_R=${GROUP_R:-3}

# Replica R is live and its last role line says it leads. A leader cut off
# from the others (or frozen) still says so until it steps down; a
# restarted replica's log ends with its old life's lines until
# group.started.
group_leader_is() { # r
	local line
	kill -0 "$(pid_of "coordinator$1")" 2>/dev/null || return 1
	line=$(grep -E 'group\.(started|leading|follower|elected)' "$NET_DIR/log/coordinator$1.log" |
		tail -n 1 || true)
	[[ $line == *group.leading* ]]
}

# The leader: the first replica (not EXCEPT) that says it leads.
group_leader() { # [except]
	local r
	for r in $(seq 1 "$GROUP_R"); do
		[[ $r != "${1:-}" ]] || continue
		if group_leader_is "$r"; then echo "$r"; return 0; fi
	done
	return 1
}

# Exactly one replica says it leads (an old leader has stepped down).
group_one_leader() {
	local r n=0
	for r in $(seq 1 "$GROUP_R"); do
		if group_leader_is "$r"; then n=$((n + 1)); fi
	done
	(( n == 1 ))
}

# Log lines start with an ISO 8601 UTC time to the millisecond (common/io/log.c).
group_log_ms() { # r event since_ms [text]
	python3 - "$NET_DIR/log/coordinator$1.log" "$2" "$3" "${4:-}" <<'PY'
import datetime, sys
path, event, since, text = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for line in open(path, errors="replace"):
    f = line.split(" ")
    if len(f) < 4 or event not in f[:4] or text not in line:
        continue
    try:
        t = datetime.datetime.strptime(f[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        continue
    ms = int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)
    if ms >= since:
        print(ms)
        sys.exit(0)
sys.exit(1)
PY
}

# A digest of every table but the clock and the peer counters, per
# replica's file (a follower's file is read directly: it answers no ops).
group_books() {
	python3 - "$NET_DIR" "$GROUP_R" <<'PY'
import hashlib, sqlite3, sys
d, r = sys.argv[1], int(sys.argv[2])
for i in range(1, r + 1):
    c = sqlite3.connect("file:%s/coordinator%d/coordinator.db?mode=ro" % (d, i), uri=True)
    h = hashlib.sha256()
    for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN"
                          " ('coord_clock', 'peer_counters') AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        for row in c.execute('SELECT * FROM "%s" ORDER BY 1' % t):
            h.update(repr(row).encode())
    n = c.execute("SELECT count(*) FROM orders").fetchone()[0]
    print(h.hexdigest()[:16], n)
    c.close()
PY
}
group_same_books() { [[ $(group_books | sort -u | wc -l) == 1 ]]; }

group_journal_check() { # sku stock acked_file...
	python3 - "$NET_DIR" "$GROUP_R" "$@" <<'PY'
import sqlite3, sys
d, r, sku, stock, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:]
ACCEPTED = 1
want, bad = {}, []
for f in files:
    for line in open(f):
        key, hub, oid = line.split()
        if key in want:
            bad.append("key %s acked twice (%s)" % (key, f))
        want[key] = (hub, int(oid))
for i in range(1, r + 1):
    c = sqlite3.connect("file:%s/coordinator%d/coordinator.db?mode=ro" % (d, i), uri=True)
    rows = c.execute("SELECT order_key, status, hub, id FROM orders").fetchall()
    got = {k: (s, h, oid) for k, s, h, oid in rows}
    if len(got) != len(rows):
        bad.append("replica %d: %d journal rows for %d keys" % (i, len(rows), len(got)))
    oids = [oid for _, s, _, oid in rows if s == ACCEPTED]
    if len(set(oids)) != len(oids):
        bad.append("replica %d: an order id accepted twice" % i)
    for key, (hub, oid) in want.items():
        if got.get(key) != (ACCEPTED, hub, oid):
            bad.append("replica %d: acked %s (%s, %d), journal %s" % (i, key, hub, oid, got.get(key)))
    n_acc = sum(1 for s, _, _ in got.values() if s == ACCEPTED)
    alloc, on_hand, hold = c.execute("SELECT sum(allocated), sum(on_hand), sum(holdback) FROM stock"
                                     " WHERE sku = ?", (sku,)).fetchone()
    if alloc != n_acc or n_acc > stock or alloc + hold > on_hand:
        bad.append("replica %d: accepted %d, allocated %d, on_hand %d, holdback %d, stock %d"
                   % (i, n_acc, alloc, on_hand, hold, stock))
    print("replica %d: %d orders, %d accepted, allocated %d of %d; %d acked checked"
          % (i, len(got), n_acc, alloc, on_hand, len(want)), file=sys.stderr)
for b in bad[:20]:
    print("BAD", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# Every order acked so far (ACKED_FILEs, read now) journalled ACCEPTED with
# its answer in replica R's store, read while it runs: what a leader cut
# off from the majority acked must already be on the majority's side.
group_acked_on() { # r acked_file...
	python3 - "$NET_DIR" "$@" <<'PY'
import sqlite3, sys
d, r, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# The acks first, then the journal: an ack read after the journal could
# be of an entry applied after it was read.
acked = [p for f in files for p in (line.split() for line in open(f)) if len(p) == 3]
c = sqlite3.connect("file:%s/coordinator%d/coordinator.db?mode=ro" % (d, r), uri=True)
got = {k: (s, h, oid) for k, s, h, oid in c.execute("SELECT order_key, status, hub, id FROM orders")}
bad, n = [], len(acked)
for p in acked:
    if got.get(p[0]) != (1, p[1], int(p[2])):
        bad.append("acked %s (%s, %s), replica %d's journal %s" % (p[0], p[1], p[2], r, got.get(p[0])))
for b in bad[:20]:
    print("BAD", b, file=sys.stderr)
print(n)
sys.exit(1 if bad else 0)
PY
}

# ---- a group on network namespaces (lib/netns.sh sourced first) ----------

# Starts HUBS and a group of GROUP_R replicas, each replica (10.78.0.R) and
# hub (10.78.0.11, .12, ...) in a namespace of its own on one bridge, the
# test's own processes at 10.78.0.254; INGEST[R-1] is replica R's ingest URL.
group_netns_start() { # "hubs"
	local r h i=11 hosts=() ns=()
	netns_lan
	for r in $(seq 1 "$GROUP_R"); do
		netns_add "r$r" "10.78.0.$r"
		hosts+=("10.78.0.$r")
		ns+=(--netns "coordinator$r=${NETNS_PATH[r$r]}")
	done
	for h in $1; do
		netns_add "$h" "10.78.0.$i"
		ns+=(--netns "$h=${NETNS_PATH[$h]}")
		i=$((i + 1))
	done
	NET_EXTRA_PORTS=$((5 * GROUP_R - 4)) net_start "$1" --replicas "$GROUP_R" \
		--replica-hosts "$(IFS=,; echo "${hosts[*]}")" "${ns[@]}"
	IFS=, read -r -a INGEST <<<"$DROPNET_INGEST"
	[[ ${#INGEST[@]} == "$GROUP_R" && ${INGEST[0]} == *10.78.0.1:* ]] || fail "ingest URLs: $DROPNET_INGEST"
	ok "namespaces: replicas 10.78.0.1-$GROUP_R, hubs 10.78.0.11-$((i - 1)), clients 10.78.0.254"
}

# Replica R cut off from every other replica (clients and hubs still reach it).
group_isolate() { local o; for o in $(seq 1 "$GROUP_R"); do [[ $o == "$1" ]] || netns_cut "r$1" "r$o"; done; }
group_rejoin() { local o; for o in $(seq 1 "$GROUP_R"); do [[ $o == "$1" ]] || netns_heal "r$1" "r$o"; done; }

# Lines in FILE so far (0 if it does not exist yet).
lines() { [[ -f $1 ]] && wc -l <"$1" || echo 0; }

# An ended background process leaves the EXIT trap's list (its pid may be reused).
bg_forget() { # pid
	local p keep=()
	for p in "${NET_BG_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	NET_BG_PIDS=("${keep[@]}")
}

# loadgen as a storefront, exec'd (run it in the background: $! is its pid).
group_storefront() { # loadgen args...
	DROPNET_TLS_CERT=$DROPNET_STOREFRONT_TLS_CERT DROPNET_TLS_KEY=$DROPNET_STOREFRONT_TLS_KEY \
		exec "$BUILD/loadgen" "$@"
}

# Waits for loadgen (pid, its output file) to have answered every one of
# BUYERS buyers with no error and to exit 0.
group_storefront_done() { # pid out buyers
	local pid=$1 out=$2 buyers=$3 answered errors
	lg_workers_done() { grep -q 'loadgen: workers done' "$out"; }
	wait_until 120 "loadgen's workers to finish" lg_workers_done
	answered=$(sed -n 's/.*workers done answered=\([0-9]*\) errors=.*/\1/p' "$out")
	errors=$(sed -n 's/.*workers done answered=[0-9]* errors=\([0-9]*\)/\1/p' "$out")
	[[ $errors == 0 && $answered == "$buyers" ]] ||
		fail "loadgen: $answered of $buyers answered, $errors without an answer: $(tail -n 5 "$out")"
	lg_exited() { ! kill -0 "$pid" 2>/dev/null; }
	wait_until 15 "loadgen to exit" lg_exited
	wait "$pid" || fail "loadgen failed: $(tail -n 5 "$out")"
	bg_forget "$pid"
}

# The end of a test: audit clean, hubs stopped, books identical, every
# acked order journalled once with its first answer on every replica.
group_final_checks() { # sku stock acked_file...
	local out h
	out=$(dc audit) || fail "audit failed: $out"
	[[ $out == "audit clean"* ]] || fail "audit not clean: $out"
	ok "audit clean through the group"
	for h in $DROPNET_HUBS; do net_ctl stop-proc "$h" >/dev/null; done
	wait_until 30 "the replicas' books identical" group_same_books
	ok "books identical on all $GROUP_R replicas: $(group_books | sed -n 1p) (digest, orders)"
	group_journal_check "$@" || fail "journal check"
	ok "every acked order ($(( $# - 2 )) clients) journalled once, ACCEPTED with its first answer, on every replica; allocated == accepted <= $2"
}

# The audit is an ops request: an entry of the log, run by every replica on
# its own store when applied; the leader answers, and a replica whose books
# failed a check logs audit.findings (ops.c). Fails on either.
group_audit_all() {
	local out r
	out=$(dc audit 2>&1) || fail "audit failed: $out"
	[[ $out == "audit clean"* ]] || fail "audit not clean: $out"
	for r in $(seq 1 "$GROUP_R"); do
		! grep -E 'audit\.(findings|query_failed)' "$NET_DIR/log/coordinator$r.log" ||
			fail "replica $r's audit found something"
	done
	ok "audit clean on every replica (the leader's answer; no replica logged a finding)"
}

# Every replica's store file (for acked_check.py).
group_dbs() {
	local r
	for r in $(seq 1 "$GROUP_R"); do echo "$NET_DIR/coordinator$r/coordinator.db"; done
}
