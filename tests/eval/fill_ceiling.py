#!/usr/bin/env python3
"""fill_ceiling.py - how high can fill @ budget 1.0x go on a dataset with a
stock proportional to a rate computed from each series' history?

Issue 11 asks the adaptive model for fill @ 1.0x >= the best baseline's
+ 0.01 on auto.csv (README protocol: last H held out). This probe bounds
what allocations built from the history can reach, by fitting them on the
held-out periods themselves (hindsight; no forecaster can do as well with
the same inputs):

  1. single rates: the long-run mean, TSB (alpha = beta = 0.1, as
     forecast.c), the mean of the last 6 / 12 periods;
  2. per-cluster multipliers on TSB's and on the mean's rate, one per
     cluster (recency x density x trend, as forecast_panel.c), chosen by
     coordinate search on the held-out fill;
  3. the best non-negative linear combination of seven history features
     (mean, last 6, last 12, TSB, TSB with beta 0.3, max of the last 12,
     share of periods with demand), weights chosen on the held-out fill;
  4. whole-unit stocks shaped like the model's: the negative binomial
     quantile (variance mu + d mu^2, mu = H x TSB's rate) at one level
     tau for every series, tau and d chosen on the held-out fill;
  5. the same H months a year earlier (a seasonal naive total) alone, and
     blended with TSB at the weight chosen on the held-out fill;
  6. for reference, the mean over the whole series, held-out periods
     included (what knowing the future's level would buy).

Stocks are the rates themselves (continuous), scaled to the held-out total
demand, as forecast_eval's fill @ 1.0x does. Pure standard library.

Usage: tests/eval/fill_ceiling.py [DATA.csv] [--holdout 6]
  DATA.csv defaults to ../shared/data/forecast/auto.csv next to the repo.
docs/forecast.md ("How far a history-only rate can go") has the figures.
"""
import collections
import csv
import os
import sys


def load(path):
    series = collections.OrderedDict()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            series.setdefault(row["series_id"], []).append(
                (int(row["t"]), float(row["demand"])))
    return [[v for _, v in sorted(s)] for s in series.values()]


def tsb(y, alpha=0.1, beta=0.1):
    nz = [v for v in y if v > 0]
    if not nz:
        return 0.0
    p, z = len(nz) / len(y), sum(nz) / len(nz)
    for v in y:
        if v > 0:
            p += beta * (1 - p)
            z += alpha * (v - z)
        else:
            p -= beta * p
    return p * z


def recent(y, k):
    k = min(k, len(y))
    return sum(y[-k:]) / k


def fill(stock, demand):
    s, d = sum(stock), sum(demand)
    if s <= 0 or d <= 0:
        return 0.0
    k = d / s
    return sum(min(k * a, b) for a, b in zip(stock, demand)) / d


def cluster(y):
    n = len(y)
    nzi = [i for i, v in enumerate(y) if v > 0]
    if not nzi:
        return "none"
    adi = n / len(nzi)
    gap = n - 1 - nzi[-1]
    rec = "due" if gap <= adi else "late" if gap <= 3 * adi else "stale"
    dens = "dense" if adi < 1.32 else "sparse"
    third = max(1, n // 3)
    r1, r0 = sum(y[-third:]) / third, sum(y) / n
    trend = "down" if r1 < 0.5 * r0 else "up" if r1 > 1.5 * r0 else "flat"
    return "%s/%s/%s" % (rec, dens, trend)


def per_cluster(rate, cl, demand):
    grid = [2 ** (i / 4) for i in range(-12, 13)]
    mult = {c: 1.0 for c in set(cl)}
    best = fill(rate, demand)
    for _ in range(3):
        for c in sorted(mult):
            for g in grid:
                trial = dict(mult)
                trial[c] = g
                v = fill([r * trial[k] for r, k in zip(rate, cl)], demand)
                if v > best + 1e-9:
                    best, mult = v, trial
    return best


def linear(feats, demand):
    w = [1.0] + [0.0] * (len(feats[0]) - 1)

    def val(w):
        return fill([max(1e-12, sum(a * b for a, b in zip(w, x)))
                     for x in feats], demand)
    best = val(w)
    for step in (0.5, 0.2, 0.1, 0.05, 0.02):
        better = True
        while better:
            better = False
            for j in range(len(w)):
                for s in (step, -step):
                    trial = list(w)
                    trial[j] = max(0.0, trial[j] + s)
                    v = val(trial)
                    if v > best + 1e-9:
                        best, w, better = v, trial, True
    return best, w


def nb_quantile(mu, d, tau):
    if mu <= 0:
        return 0.0
    var = mu + d * mu * mu
    if var <= mu * (1 + 1e-9):
        pmf, k = pow(2.718281828459045, -mu), 0
        cdf = pmf
        while cdf < tau:
            k += 1
            pmf *= mu / k
            cdf += pmf
        return float(k)
    r = mu * mu / (var - mu)
    q = r / (r + mu)
    pmf, k = q ** r, 0
    cdf = pmf
    while cdf < tau and k < mu + 50 * var ** 0.5 + 10:
        pmf *= (k + r) / (k + 1) * (1 - q)
        k += 1
        cdf += pmf
    return float(k)


def quantiles(rate, H, demand):
    best = (0.0, 0, 0)
    for d in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        for tau in [0.05 * i for i in range(4, 20)] + [0.97, 0.99]:
            v = fill([nb_quantile(H * r, d, tau) for r in rate], demand)
            if v > best[0]:
                best = (v, tau, d)
    return best


def main():
    args = sys.argv[1:]
    H = 6
    if "--holdout" in args:
        i = args.index("--holdout")
        H = int(args[i + 1])
        del args[i:i + 2]
    here = os.path.dirname(os.path.abspath(__file__))
    path = args[0] if args else os.path.join(
        here, "..", "..", "..", "..", "shared", "data", "forecast", "auto.csv")
    if not os.path.exists(path):
        path = os.path.join(here, "..", "..", "..", "shared", "data",
                            "forecast", "auto.csv")
    ys = [y for y in load(path) if len(y) >= H + 2]
    train = [y[:-H] for y in ys]
    demand = [sum(y[-H:]) for y in ys]
    cl = [cluster(y) for y in train]
    mean = [sum(y) / len(y) for y in train]
    rt = [tsb(y) for y in train]
    print("%s: %d series, last %d held out; fill @ 1.0x of a stock "
          "proportional to" % (os.path.basename(path), len(ys), H))
    print("  mean %.4f | tsb %.4f | last 6 %.4f | last 12 %.4f" % (
        fill(mean, demand), fill(rt, demand),
        fill([recent(y, 6) for y in train], demand),
        fill([recent(y, 12) for y in train], demand)))
    print("  hindsight per-cluster multipliers (%d clusters): on tsb %.4f, "
          "on mean %.4f" % (len(set(cl)), per_cluster(rt, cl, demand),
                            per_cluster(mean, cl, demand)))
    feats = [[sum(y) / len(y), recent(y, 6), recent(y, 12), tsb(y),
              tsb(y, 0.1, 0.3), max(y[-12:]),
              sum(1 for v in y if v > 0) / len(y)] for y in train]
    best, w = linear(feats, demand)
    names = ["mean", "last6", "last12", "tsb", "tsb_b0.3", "max12", "p"]
    print("  hindsight linear combination %.4f (weights %s)" % (
        best, ", ".join("%s %.2f" % (n, x) for n, x in zip(names, w))))
    q = quantiles(rt, H, demand)
    print("  hindsight NB quantiles of TSB's rate: %.4f (tau %.2f, d %.2f)"
          % q)
    seas = [sum(y[-12:-12 + H]) if len(y) >= 12 + H else H * recent(y, H)
            for y in train]
    blend = max((fill([(1 - w) * H * a + w * b for a, b in zip(rt, seas)],
                      demand), w) for w in [i / 20 for i in range(21)])
    print("  the same %d months a year earlier %.4f; hindsight blend with tsb "
          "%.4f (weight %.2f)" % (H, fill(seas, demand), blend[0], blend[1]))
    print("  reference, the whole series' mean (held-out periods included) "
          "%.4f" % fill([sum(y) / len(y) for y in ys], demand))


if __name__ == "__main__":
    main()
