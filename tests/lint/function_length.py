#!/usr/bin/env python3
"""function_length.py - no function in coordinator/ (the daemon, the machine,
the replica layer, dropctl) is longer than 100 lines (issue 8).

A function here is house style's (STYLE.md): its opening brace alone at the
start of a line, its closing brace alone at the start of a line; the lines
between them are counted. Prints the longest; fails on any over the limit.

usage: function_length.py SOURCE_DIR [LIMIT]
"""
import os
import re
import sys

root = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "coordinator")
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 100
name_re = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
found = []
for d, _, names in os.walk(root):
    for f in sorted(names):
        if not f.endswith(".c"):
            continue
        path = os.path.join(d, f)
        lines = open(path).read().split("\n")
        i = 0
        while i < len(lines):
            if lines[i] == "{":
                j = i - 1
                while j >= 0 and "(" not in lines[j]:
                    j -= 1
                m = name_re.search(lines[j]) if j >= 0 else None
                k = i + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                found.append((k - i - 1, os.path.relpath(path, os.path.dirname(root)),
                              m.group(1) if m else "?"))
                i = k
            i += 1
found.sort(reverse=True)
for n, path, fn in found[:5]:
    print("%4d %s %s" % (n, path, fn))
over = [x for x in found if x[0] > limit]
for n, path, fn in over:
    print("FAIL: %s %s is %d lines (limit %d)" % (path, fn, n, limit))
print("function_length: %d functions, %s" % (len(found), "clean" if not over else
      "%d over %d lines" % (len(over), limit)))
sys.exit(1 if over or not found else 0)
