#!/usr/bin/env python3
"""Fails when a source file includes a project header its module may not use.

The allowed graph comes from CMakeLists.txt (SC_MODULE_DEPS_*), passed as
--graph "core=;storage=core,assets;...". A module may include its own headers
and those of the modules it depends on, directly or through them. Files are
assigned to modules by their path:

  include/sc/<m>/...      module m (its public headers)
  src/<m>/...             module m (also its private headers, by plain name)
  tests/unit/<m>/...      module m's tests: m, its dependencies, and test support
  tests/integration, bench, src/main.cpp: app (everything)

Besides "sc/<m>/x.h" it refuses includes that reach into another module's
src/ directory ("../storage/payload.h", "src/http/form.h" from elsewhere).
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def parse_graph(text):
    graph = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, _, deps = part.partition("=")
        graph[name.strip()] = [d.strip() for d in deps.split(",") if d.strip()]
    return graph


def closure(graph, module):
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(graph.get(m, []))
    return seen


def module_of(rel, graph):
    parts = rel.split("/")
    if parts[0] == "include" and len(parts) > 2 and parts[1] == "sc":
        return parts[2], False
    if parts[0] == "src" and len(parts) > 2 and parts[1] in graph:
        return parts[1], False
    if parts[:2] == ["tests", "unit"] and len(parts) > 3:
        return parts[2], True
    return "app", rel.startswith("tests/")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--graph", required=True)
    args = ap.parse_args()
    graph = parse_graph(args.graph)
    root = os.path.abspath(args.root)
    problems = []
    checked = 0
    for top in ("include", "src", "tests", "bench"):
        for dirpath, dirnames, files in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d != "node_modules"]
            for f in files:
                if not f.endswith((".h", ".hpp", ".cpp", ".cc")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                module, is_test = module_of(rel, graph)
                if module not in graph:
                    problems.append(f"{rel}: module '{module}' is not in the graph")
                    continue
                allowed = closure(graph, module)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                checked += 1
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    line = text.count("\n", 0, m.start()) + 1
                    target = None
                    if inc.startswith("sc/"):
                        target = inc.split("/")[1]
                    elif inc.startswith("src/") or "/src/" in inc:
                        target = inc.split("src/", 1)[1].split("/")[0]
                    elif inc.split("/")[0] in graph and os.path.exists(os.path.join(root, "src", inc)):
                        target = inc.split("/")[0]  # a module's private header, through -I src
                    elif inc.startswith("../"):
                        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), inc)).replace(os.sep, "/")
                        target, _ = module_of(resolved, graph)
                    if target is None:
                        continue  # same-directory private header, tests/support, system
                    if target not in allowed:
                        who = f"tests of '{module}'" if is_test else f"module '{module}'"
                        problems.append(
                            f"{rel}:{line}: {who} includes \"{inc}\" from '{target}'; "
                            f"'{module}' may use only {sorted(allowed)}")
    for p in problems:
        print(p)
    if problems:
        print(f"check_includes: {len(problems)} include(s) break the module graph")
        return 1
    print(f"check_includes: {checked} files follow the module graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
