#!/usr/bin/env python3
"""promcheck.py - a strict check of the Prometheus text exposition format
(0.0.4), standing in for `promtool check metrics` (Debian's prometheus
package is ~100 MB and starts a server on install; see docs/metrics.md).

usage: promcheck.py FILE [FILE...]   (- for stdin)
       promcheck.py --names FILE      print every metric family name

Checks, per the format and Prometheus's naming rules (the ones promtool
lints): every sample's family has one HELP and one TYPE line, given before
its samples and not repeated; families are contiguous; metric and label
names match the grammar; label values are properly quoted and escaped; no
duplicate series; values parse as floats; counters end in _total (their
samples too); a histogram has _bucket series with ascending le ending in
+Inf, cumulative counts, and _count equal to the +Inf bucket, plus _sum;
units are base units (no _milliseconds, _ms, _kb ...). Exit 1 with a
message per problem.
"""
import math
import re
import sys

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
BAD_UNITS = ("_milliseconds", "_ms", "_microseconds", "_us", "_kb", "_mb", "_kilobytes",
             "_megabytes", "_minutes", "_hours", "_percent")


def parse_labels(s, where, errs):
    labels, i = [], 0
    while i < len(s):
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", s[i:])
        if not m:
            errs.append("%s: bad label syntax at %r" % (where, s[i:]))
            return labels
        key = m.group(1)
        i += m.end()
        val = []
        while i < len(s) and s[i] != '"':
            if s[i] == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    errs.append("%s: bad escape in label %s" % (where, key))
                    return labels
                val.append({"n": "\n"}.get(s[i + 1], s[i + 1]))
                i += 2
            else:
                val.append(s[i])
                i += 1
        if i >= len(s):
            errs.append("%s: unterminated label value" % where)
            return labels
        i += 1
        labels.append((key, "".join(val)))
        if i < len(s):
            if s[i] != ",":
                errs.append("%s: expected , between labels" % where)
                return labels
            i += 1
    keys = [k for k, _ in labels]
    if len(set(keys)) != len(keys):
        errs.append("%s: repeated label name" % where)
    return labels


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) == "histogram":
            return name[: -len(suf)]
    return name


def check(text, src):
    errs, helps, types, order, series = [], {}, {}, [], set()
    samples = {}
    for n, line in enumerate(text.split("\n"), 1):
        where = "%s:%d" % (src, n)
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.match(fam):
                    errs.append("%s: bad metric name %r" % (where, fam))
                d = helps if parts[1] == "HELP" else types
                if fam in d:
                    errs.append("%s: second %s for %s" % (where, parts[1], fam))
                if fam in samples:
                    errs.append("%s: %s for %s after its samples" % (where, parts[1], fam))
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        errs.append("%s: bad type %r" % (where, t))
                    d[fam] = t
                else:
                    d[fam] = parts[3] if len(parts) > 3 else ""
                    if d[fam].strip() == "":
                        errs.append("%s: empty HELP for %s" % (where, fam))
                if not order or order[-1] != fam:
                    if fam in order:
                        errs.append("%s: family %s is not contiguous" % (where, fam))
                    order.append(fam)
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$", line)
        if not m:
            errs.append("%s: bad sample line %r" % (where, line))
            continue
        name, labs, val = m.group(1), m.group(3) or "", m.group(4)
        labels = parse_labels(labs, where, errs)
        try:
            v = float(val.replace("Inf", "inf"))
        except ValueError:
            errs.append("%s: bad value %r" % (where, val))
            continue
        fam = family_of(name, types)
        if fam not in types or fam not in helps:
            errs.append("%s: %s has no TYPE/HELP before it" % (where, name))
        if order and order[-1] != fam:
            errs.append("%s: sample of %s outside its family block" % (where, name))
        key = (name, tuple(sorted(labels)))
        if key in series:
            errs.append("%s: duplicate series %s%s" % (where, name, labels))
        series.add(key)
        samples.setdefault(fam, []).append((name, dict(labels), v))
    for fam, t in types.items():
        if any(fam.endswith(u) or (u + "_") in fam for u in BAD_UNITS):
            errs.append("%s: %s is not in base units" % (src, fam))
        if t == "counter" and not fam.endswith("_total"):
            errs.append("%s: counter %s should end in _total" % (src, fam))
        if t == "histogram":
            check_hist(fam, samples.get(fam, []), src, errs)
    return errs, types


def check_hist(fam, rows, src, errs):
    groups = {}
    for name, labels, v in rows:
        base = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if name == fam + "_bucket":
            if "le" not in labels:
                errs.append("%s: %s bucket without le" % (src, fam))
                continue
            g["buckets"].append((float(labels["le"].replace("Inf", "inf")), v))
        elif name == fam + "_sum":
            g["sum"] = v
        elif name == fam + "_count":
            g["count"] = v
        else:
            errs.append("%s: %s sample %s in a histogram" % (src, fam, name))
    for base, g in groups.items():
        b = g["buckets"]
        les = [x for x, _ in b]
        if not b or les[-1] != math.inf:
            errs.append("%s: %s%s has no +Inf bucket" % (src, fam, base))
            continue
        if les != sorted(les) or len(set(les)) != len(les):
            errs.append("%s: %s%s le not ascending" % (src, fam, base))
        counts = [c for _, c in b]
        if counts != sorted(counts):
            errs.append("%s: %s%s buckets not cumulative" % (src, fam, base))
        if g["count"] is None or g["sum"] is None:
            errs.append("%s: %s%s lacks _sum or _count" % (src, fam, base))
        elif g["count"] != counts[-1]:
            errs.append("%s: %s%s _count %g != +Inf bucket %g" % (src, fam, base, g["count"], counts[-1]))


def main():
    args = sys.argv[1:]
    names = args[:1] == ["--names"]
    if names:
        args = args[1:]
    bad = 0
    for f in args:
        text = sys.stdin.read() if f == "-" else open(f).read()
        errs, types = check(text, f)
        if names:
            for t in sorted(types):
                print(t)
        for e in errs:
            print("promcheck:", e, file=sys.stderr)
        bad += len(errs)
        if not types:
            print("promcheck: %s: no metrics at all" % f, file=sys.stderr)
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
