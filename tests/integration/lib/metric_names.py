#!/usr/bin/env python3
"""metric_names.py - every metric a dashboard or rule file queries exists.

usage: metric_names.py --scrape F [--scrape F...] FILE...

FILE: deploy/grafana/dropnet.json (every target's expr) or a Prometheus rule
file (deploy/prometheus/alerts.yml: every `expr:`). A name counts as present
when a scrape declares it (# TYPE) or it is a histogram's _bucket/_sum/_count.
Labels too, where the scrapes show the metric's samples: a matcher
(`name{label="..."}`) must name a label the metric's samples carry, and a
`by (...)` label one that some metric of the expression carries (or job,
instance: Prometheus's own), so a typo in a label is caught like one in a
name. A metric with no samples in the scrapes has its labels unchecked.
For a rule file it also checks the shape promtool would reject (in place of
`promtool check rules`, see docs/metrics.md): each rule has `alert:`, a
one-line `expr:` with balanced brackets, `for:` a duration, and labels and
annotations where given. Exit 1 with one line per problem.
"""
import json
import re
import sys

TOKEN = re.compile(r"\b((?:dropnet|process)_[a-zA-Z0-9_]+)\b")


def families(paths):
    fams = {}
    for p in paths:
        for line in open(p):
            m = re.match(r"^# TYPE (\S+) (\S+)", line)
            if m:
                fams[m.group(1)] = m.group(2)
    return fams


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ")
LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
TARGET_LABELS = {"job", "instance"}


def sample_labels(paths, fams):
    """family -> label names its samples carry (histograms: their series')."""
    out = {}
    for p in paths:
        for line in open(p):
            m = SAMPLE.match(line)
            if not m or line.startswith("#"):
                continue
            name = m.group(1)
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and fams.get(name[: -len(suf)]) == "histogram":
                    out.setdefault(name, set()).update(LABEL.findall(m.group(2) or ""))
                    name = name[: -len(suf)]
            out.setdefault(name, set()).update(LABEL.findall(m.group(2) or ""))
    return out


def label_errors(e, labels):
    """The label typos of one expression (see the module's doc)."""
    errs, names = [], TOKEN.findall(e)
    for name, matchers in re.findall(r"\b((?:dropnet|process)_[a-zA-Z0-9_]+)\{([^}]*)\}", e):
        for lab in LABEL.findall(matchers):
            if name in labels and lab not in labels[name] | TARGET_LABELS:
                errs.append("%s has no label %r (it has %s)" % (name, lab, sorted(labels[name])))
    if not any(n in labels for n in names):
        return errs
    have = set(TARGET_LABELS)
    for n in names:
        have |= labels.get(n, set())
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
        for lab in [x.strip() for x in group.split(",") if x.strip()]:
            if lab not in have:
                errs.append("by (%s): no metric of the expression has that label: %s" % (lab, e))
    return errs


def present(name, fams):
    if name in fams:
        return True
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and fams.get(name[: -len(suf)]) == "histogram":
            return True
    return False


def balanced(e):
    pairs, stack, quote = {")": "(", "]": "[", "}": "{"}, [], None
    for ch in e:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack and quote is None


def rule_exprs(path, errs):
    exprs, rule = [], None
    for n, line in enumerate(open(path), 1):
        s = line.strip()
        if s.startswith("- alert:") or s.startswith("- record:"):
            rule = {"line": n, "name": s.split(":", 1)[1].strip()}
            if not re.match(r"^[A-Za-z_:][A-Za-z0-9_:]*$", rule["name"]):
                errs.append("%s:%d: bad rule name %r" % (path, n, rule["name"]))
        elif s.startswith("expr:"):
            e = s[5:].strip()
            if rule is None or "expr" in rule:
                errs.append("%s:%d: expr outside a rule" % (path, n))
                continue
            rule["expr"] = e
            if e in ("", "|", ">") or not balanced(e):
                errs.append("%s:%d: expr is empty, multi-line or unbalanced: %s" % (path, n, e))
            exprs.append(e)
        elif s.startswith("for:"):
            if not re.match(r"^\d+[smhd]$", s[4:].strip()):
                errs.append("%s:%d: bad duration %r" % (path, n, s[4:].strip()))
        elif s.startswith("summary:") and not balanced(s[8:].replace("{{", "(").replace("}}", ")")):
            errs.append("%s:%d: unbalanced template" % (path, n))
    if not exprs:
        errs.append("%s: no rules" % path)
    if not open(path).read().startswith("#") and "groups:" not in open(path).read():
        errs.append("%s: no groups" % path)
    return exprs


def dash_exprs(path, errs):
    out = []
    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "expr" and isinstance(x, str):
                    out.append(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(json.load(open(path)))
    for e in out:
        if not balanced(e):
            errs.append("%s: unbalanced expr %s" % (path, e))
    if not out:
        errs.append("%s: no queries" % path)
    return out


def main():
    args, scrapes, files = sys.argv[1:], [], []
    while args:
        if args[0] == "--scrape":
            scrapes.append(args[1])
            args = args[2:]
        else:
            files.append(args.pop(0))
    fams, errs, checked = families(scrapes), [], set()
    labels = sample_labels(scrapes, fams)
    for f in files:
        exprs = dash_exprs(f, errs) if f.endswith(".json") else rule_exprs(f, errs)
        for e in exprs:
            for name in TOKEN.findall(e):
                checked.add(name)
                if not present(name, fams):
                    errs.append("%s: %s is not in any /metrics scraped" % (f, name))
            errs.extend("%s: %s" % (f, x) for x in label_errors(e, labels))
    for e in errs:
        print("metric_names:", e, file=sys.stderr)
    print("metric_names: %d names checked in %d files" % (len(checked), len(files)))
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
