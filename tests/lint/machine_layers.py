#!/usr/bin/env python3
"""machine_layers.py - the coordinator machine's files call each other in one
direction only (issue 8: "no ring"), and only the store files speak SQL.

For every public function defined in coordinator/machine/*.c, finds which
other files call it; fails when two files call each other, directly or
through a longer cycle, or when a file other than store*.c calls a
sqlite3_* / db_bind_* / db_col_* function. Prints the layering it found.

usage: machine_layers.py SOURCE_DIR
"""
import os
import re
import sys

src = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "coordinator", "machine")
files = sorted(f for f in os.listdir(src) if f.endswith(".c"))
text = {f: open(os.path.join(src, f)).read() for f in files}
define = re.compile(r"^[a-z_][a-z0-9_ ]*[ *]([a-z_][a-z0-9_]*)\(", re.M)
owner = {}
for f in files:
    for m in define.finditer(text[f]):
        line = text[f][m.start():text[f].find("\n", m.start())]
        if not line.startswith("static") and not line.rstrip().endswith(";"):
            owner.setdefault(m.group(1), f)
# The store (store.c and its store_*.c areas) is one module split in files:
# the machine files call into it, it calls nothing of theirs.
graph = {f: set() for f in files}
for f in files:
    for fn, d in owner.items():
        if d != f and re.search(r"\b%s\(" % re.escape(fn), text[f]):
            if not (f.startswith("store") and d.startswith("store")):
                graph[f].add(d)
bad = []
for f in files:
    if f.startswith("store"):
        continue
    sql = re.findall(r"\b(sqlite3_[a-z_]+|db_bind_[a-z0-9_]+|db_col_[a-z0-9_]+)\(", text[f])
    if sql:
        bad.append("%s speaks SQL: %s" % (f, ", ".join(sorted(set(sql)))))
state = {}
def visit(u, path):
    state[u] = 1
    for v in sorted(graph[u]):
        if state.get(v) == 1:
            bad.append("ring: " + " -> ".join(path[path.index(v):] + [v]))
        elif v not in state:
            visit(v, path + [v])
    state[u] = 2
for f in files:
    if f not in state:
        visit(f, [f])
for f in files:
    if graph[f] and not f.startswith("store"):
        print("%-16s -> %s" % (f, " ".join(sorted(g for g in graph[f] if not g.startswith("store")))))
for b in bad:
    print("FAIL:", b)
print("machine_layers: %d files, %s" % (len(files), "clean" if not bad else "%d problem(s)" % len(bad)))
sys.exit(1 if bad else 0)
