# group.sh - checks on a replicated coordinator group started by net.sh's
# net_start ... --replicas R (source it after net.sh; set GROUP_R=R).
#
#   group_leader [EXCEPT]        the replica leading by its own log (not EXCEPT)
#   group_log_ms R EVENT SINCE [TEXT]   epoch ms of replica R's first EVENT
#                                line at or after SINCE (containing TEXT)
#   group_books                  "digest orders" per replica's store file
#   group_same_books             every replica's digest equal
#   group_journal_check SKU STOCK ACKED_FILE...   every acked order in the
#                                journal exactly once with its first answer on
#                                every replica; allocated == accepted <= STOCK

GROUP_R=${GROUP_R:-3}

# The leader: a live replica (not EXCEPT) whose last leadership line says it
# leads. A leader cut off from the others still says so until it steps down.
group_leader() { # [except]
	local r line
	for r in $(seq 1 "$GROUP_R"); do
		[[ $r != "${1:-}" ]] || continue
		kill -0 "$(pid_of "coordinator$r")" 2>/dev/null || continue
		line=$(grep -E 'group\.(leading|follower)' "$NET_DIR/log/coordinator$r.log" | tail -n 1 || true)
		if [[ $line == *group.leading* ]]; then echo "$r"; return 0; fi
	done
	return 1
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
