#!/usr/bin/env python3
"""Rough structure figures for a crate's src/: module import cycles (from `crate::`/`super::`
paths in the code), lines per file, and the longest functions (brace-counted bodies).

    scripts/measure.py crates/node/src [crates/cli/src ...]
"""
import re
import sys
from pathlib import Path


def module_of(root, path):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts) or "crate"


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def edges(root, files, modules):
    graph = {m: set() for m in modules}
    for path in files:
        me = module_of(root, path)
        text = strip_comments(path.read_text())
        # `#[cfg(test)] mod tests` blocks are not layers; drop them.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        refs = re.findall(r"crate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)", text)
        base = me.split("::")
        for sup in re.findall(r"\bsuper::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)", text):
            parent = base[:-1] 
            refs.append("::".join(parent + [sup]) if parent else sup)
        # `use crate::{a, b::c}` groups
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            refs += [g.strip() for g in group.split(",") if g.strip()]
        for ref in refs:
            target = longest_module(ref, modules)
            if target and target != me:
                graph[me].add(target)
    return graph


def longest_module(ref, modules):
    parts = ref.split("::")
    for n in range(len(parts), 0, -1):
        candidate = "::".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [sorted(c) for c in out if len(c) > 1]


def functions(path):
    lines = path.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?fn\s+([a-zA-Z0-9_]+)", lines[i])
        if m and not lines[i].rstrip().endswith(";"):
            depth, started, j = 0, False, i
            while j < len(lines):
                code = strip_comments(lines[j])
                if ";" in code and not started and "{" not in code:
                    break
                depth += code.count("{") - code.count("}")
                if "{" in code:
                    started = True
                if started and depth <= 0:
                    break
                j += 1
            if started:
                found.append((j - i + 1, m.group(5), f"{path}:{i + 1}"))
        i += 1
    return found


def main():
    for root in map(Path, sys.argv[1:]):
        files = sorted(root.rglob("*.rs"))
        modules = {module_of(root, f) for f in files}
        graph = edges(root, files, modules)
        cycles = sccs(graph)
        print(f"== {root}")
        print(f"module edges: {sum(len(v) for v in graph.values())}; cyclic groups: {len(cycles)}")
        for c in cycles:
            print("  cycle:", " <-> ".join(c))
        print("lines per file:")
        for f in sorted(files, key=lambda f: -len(f.read_text().splitlines())):
            print(f"  {len(f.read_text().splitlines()):5} {f}")
        fns = sorted((x for f in files for x in functions(f)), reverse=True)
        over = [x for x in fns if x[0] > 70]
        print(f"functions: {len(fns)}; over 70 lines: {len(over)}; longest:")
        for n, name, where in fns[:12]:
            print(f"  {n:4} {name} ({where})")


main()
