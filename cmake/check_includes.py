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
src/ directory ("../storage/payload.h", "src/http/form.h" from elsewhere),
and third-party headers outside the places that own them (THIRD_PARTY):
SQLite only in storage (and the tests' db_inspect and storage tests),
cpp-httplib only in http, providers, tests and benchmarks, libcurl only in
providers and tests.

--self-test runs the check on a small tree of its own with one break of
each kind and fails unless every break, and nothing else, is reported.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.M)

# Third-party headers: (what, header pattern, path prefixes that may include it).
THIRD_PARTY = [
    # Each database's client library only in its driver (src/storage/driver.h).
    ("SQLite", re.compile(r"^(SQLiteCpp/|sqlite3\.h$)"),
     ("src/storage/sqlite_driver.", "tests/unit/storage/", "tests/support/db_inspect.")),
    ("libpq", re.compile(r"^libpq-fe\.h$"),
     ("src/storage/pg_driver.", "src/storage/location.", "tests/")),
    ("cpp-httplib", re.compile(r"^httplib\.h$"),
     ("src/http/", "src/providers/", "tests/", "bench/")),
    ("libcurl", re.compile(r"^curl/"), ("src/providers/", "tests/")),
]


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


def third_party_problems(rel, text):
    problems = []
    for m in SYSTEM_INCLUDE.finditer(text):
        inc = m.group(1)
        for what, pattern, allowed in THIRD_PARTY:
            if pattern.search(inc) and not rel.startswith(allowed):
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: includes <{inc}> ({what}), which only "
                                f"{', '.join(allowed)} may include")
    return problems


def check(root, graph):
    """Returns (problems, number of files checked) for the tree at root."""
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
                problems.extend(third_party_problems(rel, text))
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
    return problems, checked


# The self-test's tree: path -> text, and the breaks it must find (path:line).
SELF_TEST_GRAPH = "core=;storage=core;http=core;providers=core;app=core,storage,http,providers"
SELF_TEST_FILES = {
    "include/sc/core/a.h": "#pragma once\n#include <string>\n",
    "include/sc/storage/s.h": '#pragma once\n#include "sc/core/a.h"\n',
    "src/storage/sqlite_driver.cpp": "#include <SQLiteCpp/SQLiteCpp.h>\n#include <sqlite3.h>\n",
    "src/storage/pg_driver.cpp": "#include <libpq-fe.h>\n",
    "src/http/h.cpp": '#include <httplib.h>\n#include "sc/core/a.h"\n',
    "src/providers/p.cpp": "#include <curl/curl.h>\n#include <httplib.h>\n",
    "tests/unit/storage/t.cpp": "#include <SQLiteCpp/SQLiteCpp.h>\n",
    "tests/unit/providers/t.cpp": "#include <curl/curl.h>\n#include <httplib.h>\n",
    "tests/support/db_inspect.cpp": "#include <SQLiteCpp/SQLiteCpp.h>\n",
    "bench/b.cpp": "#include <httplib.h>\n",
    # The breaks:
    "src/core/bad_module.cpp": '#include "sc/storage/s.h"\n',
    "src/core/bad_sqlite.cpp": "#include <string>\n#  include <SQLiteCpp/Database.h>\n",
    "src/http/bad_sqlite.cpp": "#include <sqlite3.h>\n",
    "src/storage/bad_sqlite.cpp": "#include <sqlite3.h>\n",
    "src/storage/bad_libpq.cpp": "#include <libpq-fe.h>\n",
    "src/core/bad_httplib.cpp": "#include <httplib.h>\n",
    "src/http/bad_curl.cpp": "#include <curl/curl.h>\n",
    "tests/integration/bad_sqlite.cpp": "#include <SQLiteCpp/SQLiteCpp.h>\n",
    "bench/bad_curl.cpp": "#include <curl/easy.h>\n",
}
SELF_TEST_BREAKS = [
    "src/core/bad_module.cpp:1:", "src/core/bad_sqlite.cpp:2:", "src/http/bad_sqlite.cpp:1:",
    "src/storage/bad_sqlite.cpp:1:", "src/storage/bad_libpq.cpp:1:",
    "src/core/bad_httplib.cpp:1:", "src/http/bad_curl.cpp:1:",
    "tests/integration/bad_sqlite.cpp:1:", "bench/bad_curl.cpp:1:",
]


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        for rel, text in SELF_TEST_FILES.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        problems, checked = check(root, parse_graph(SELF_TEST_GRAPH))
    failures = []
    for want in SELF_TEST_BREAKS:
        if not any(p.startswith(want) for p in problems):
            failures.append(f"not reported: {want}")
    for p in problems:
        if not any(p.startswith(want) for want in SELF_TEST_BREAKS):
            failures.append(f"reported wrongly: {p}")
    for f in failures:
        print(f)
    if failures or checked != len(SELF_TEST_FILES):
        print(f"check_includes self-test: FAILED ({checked} of {len(SELF_TEST_FILES)} files checked)")
        return 1
    print(f"check_includes self-test: all {len(SELF_TEST_BREAKS)} breaks reported, nothing else")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--graph")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.root or not args.graph:
        ap.error("--root and --graph are required (or --self-test)")
    problems, checked = check(os.path.abspath(args.root), parse_graph(args.graph))
    for p in problems:
        print(p)
    if problems:
        print(f"check_includes: {len(problems)} include(s) break the module graph")
        return 1
    print(f"check_includes: {checked} files follow the module graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
