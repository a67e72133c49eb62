#!/usr/bin/env bash
# Goal: `dropctl forecast` runs the rebalance planner's model (the adaptive
# panel model, common/core/forecast_panel.h) on a CSV history, no network
# needed. A seeded panel of 300 series x 36 periods where every third series
# stopped selling 12 periods ago: the default method fits the panel (stderr
# says how many validation cases it learned from with --explain), writes H
# rows per series with one stock per series, and stocks the dead series far
# lower than the live ones while the live ones' mean stays near their rate;
# --method model still gives the issue-5 model; a one-series file is too small
# to learn from and says so; bad input exits 1 with file:line, usage errors 2.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"

hist="$T/history.csv"
python3 - "$hist" <<'EOF'
import random, sys
rng = random.Random(11)
with open(sys.argv[1], "w") as f:
    f.write("series_id,t,demand\n")
    for i in range(300):
        rate = rng.uniform(0.5, 3.0)
        dead = i % 3 == 0
        for t in range(1, 37):
            d = 0
            if not (dead and t > 24):
                # Poisson(rate) by inversion: no numpy needed.
                u, p, k = rng.random(), pow(2.718281828459045, -rate), 0
                c = p
                while u > c:
                    k += 1
                    p *= rate / k
                    c += p
                d = k
            f.write(f"{'dead' if dead else 'live'}{i},{t},{d}\n")
EOF

out="$T/out.csv"
"$DROPCTL" forecast --input "$hist" --horizon 6 --output "$out" --explain 2>"$T/err" \
	|| fail "dropctl forecast exited $?: $(cat "$T/err")"
grep -q "adaptive model fitted on 300 series, [0-9]* validation cases: learned" "$T/err" \
	|| fail "no fit summary on stderr: $(cat "$T/err")"
python3 - "$out" <<'EOF' || fail "adaptive output check failed"
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
assert list(rows[0].keys()) == ["series_id", "h", "mean", "stock", "point",
    "cluster", "candidate"], rows[0].keys()
by = collections.defaultdict(list)
for r in rows:
    by[r["series_id"]].append(r)
assert len(by) == 300, len(by)
for sid, rs in by.items():
    assert [int(r["h"]) for r in rs] == list(range(1, 7)), sid
    assert len({r["stock"] for r in rs}) == 1, sid
    assert all(float(r["mean"]) >= 0 and float(r["stock"]) >= 0 for r in rs)
dead = [float(rs[0]["stock"]) for s, rs in by.items() if s.startswith("dead")]
live = [float(rs[0]["stock"]) for s, rs in by.items() if s.startswith("live")]
dm, lm = sum(dead) / len(dead), sum(live) / len(live)
# A dead series' stock: at most a fifth of a live one's on average.
assert dm < 0.2 * lm, (dm, lm)
# Live means: the expected demand per period, near the rates (0.5..3).
lmean = [float(rs[0]["mean"]) for s, rs in by.items() if s.startswith("live")]
avg = sum(lmean) / len(lmean)
assert 1.2 < avg < 2.3, avg
print(f"dead stock {dm:.2f}, live stock {lm:.2f}, live mean {avg:.2f}")
EOF
ok "adaptive (default): one stock per series, dead series stocked far lower than live ones"

"$DROPCTL" forecast --input "$hist" --horizon 6 --method model --output "$T/model.csv" \
	|| fail "--method model exited $?"
[[ $(head -1 "$T/model.csv") == "series_id,h,mean,stock" ]] || fail "model header"
[[ $(wc -l <"$T/model.csv") -eq 1801 ]] || fail "model rows: $(wc -l <"$T/model.csv")"
cmp -s "$T/model.csv" <(cut -d, -f1-4 "$out") && fail "--method model gave the adaptive output"
ok "--method model: the issue-5 model, 300 x 6 rows"

printf 'series_id,t,demand\nA,1,0\nA,2,3\nA,3,1\n' >"$T/one.csv"
"$DROPCTL" forecast --input "$T/one.csv" --horizon 2 --output - --explain >"$T/one.out" 2>"$T/err" \
	|| fail "one series exited $?"
grep -q "too few to learn from" "$T/err" || fail "one series: $(cat "$T/err")"
[[ $(wc -l <"$T/one.out") -eq 3 ]] || fail "one series rows: $(cat "$T/one.out")"
ok "a one-series file: the issue-5 model, and stderr says why"

printf 'series_id,t,demand\nA,1,0\nA,2,-3\n' >"$T/bad.csv"
rc=0
"$DROPCTL" forecast --input "$T/bad.csv" --horizon 2 --output "$T/bad.out" 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] || fail "bad input exited $rc"
grep -q "bad.csv:3:" "$T/err" || fail "bad input message: $(cat "$T/err")"
[[ ! -e $T/bad.out ]] || fail "bad input left an output file"
rc=0
"$DROPCTL" forecast --input "$hist" --horizon 2 --method sba --explain --output - >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "--explain with a baseline exited $rc"
rc=0
"$DROPCTL" forecast --input "$hist" --horizon 2 --method nope --output - >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "unknown method exited $rc"
ok "bad input exits 1 with file:line and no output; usage errors exit 2"
