#!/usr/bin/env python3
"""Fails when a comment cites a file that is not in the repository.

Comments in C++ (// and /* */), CMake, Python and shell files are searched
for path-like tokens: a name with a known extension (form.h,
schema/queries/sqlite/outbox.sql) or a path under a top-level directory of
the repository (tests/support/, docs/). A token is found when it names a file
or directory relative to the repository root, the citing file's directory,
include/, src/ or tests/ (the include paths), or, for a bare file name, any
file of that name in the tree. Anything else is reported: a file renamed or
removed since, or one outside the repository (../shared/...).

--self-test checks the check on a small tree of its own.
"""
import argparse
import glob
import os
import re
import sys

SOURCE_EXT = (".h", ".hpp", ".cpp", ".cc", ".py", ".cmake", ".sh")
SOURCE_NAMES = ("CMakeLists.txt",)
TOP_DIRS = ("src", "include", "tests", "schema", "docs", "cmake", "deploy", "bench",
            "scripts", "templates", ".ci", ".github")
FILE_EXT = ("h", "hpp", "cpp", "cc", "py", "md", "sql", "json", "txt", "sh", "env", "cmake",
            "mustache", "yml", "yaml", "service", "toml", "csv", "html", "pem")
TOKEN = re.compile(
    r"(?<![\w./:@-])"                      # not inside a longer word, URL or address
    r"((?:\.\./|\./)*(?:[\w.-]+/)*[\w-][\w.-]*\.(?:" + "|".join(FILE_EXT) + r")"
    r"|(?:\.\./|\./)*(?:" + "|".join(re.escape(d) for d in TOP_DIRS) + r")/(?:[\w.-]+/?)*)"
    r"(?![\w/-]|\.\w)")
SKIP_DIRS = {".git", "node_modules", "build", "build-asan", "build-release", "build-tsan",
             "__pycache__", "third_party"}


def comments(path, text):
    """Yields (line number, comment text)."""
    if path.endswith((".h", ".hpp", ".cpp", ".cc")):
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if text.startswith("//", i):
                j = text.find("\n", i)
                j = n if j < 0 else j
                yield text.count("\n", 0, i) + 1, text[i + 2:j]
                i = j
            elif text.startswith("/*", i):
                j = text.find("*/", i + 2)
                j = n if j < 0 else j
                start = text.count("\n", 0, i) + 1
                for k, line in enumerate(text[i + 2:j].split("\n")):
                    yield start + k, line
                i = j + 2
            elif text.startswith('R"', i):
                m = re.match(r'R"([^(\s]*)\(', text[i:])
                if not m:
                    i += 1
                    continue
                end = text.find(")" + m.group(1) + '"', i)
                i = n if end < 0 else end + len(m.group(1)) + 2
            elif c in "\"'":
                j = i + 1
                while j < n and text[j] != c and text[j] != "\n":
                    j += 2 if text[j] == "\\" else 1
                i = j + 1
            else:
                i += 1
    else:
        for k, line in enumerate(text.split("\n")):
            s = line.lstrip()
            if s.startswith("#") and not s.startswith("#!"):
                yield k + 1, s[1:]
            elif " # " in line:
                yield k + 1, line.split(" # ", 1)[1]


def source_files(root):
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build"))
        for f in sorted(files):
            if f.endswith(SOURCE_EXT) or f in SOURCE_NAMES:
                yield os.path.join(dirpath, f)


def all_names(root):
    names = set()
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build")]
        names.update(files)
        names.update(dirnames)
    return names


# Made by a tool, not kept in the repository (npm install).
GENERATED = ("node_modules",)
# Where third-party headers cited in comments (<httplib.h>, curl/curl.h) live.
SYSTEM_INCLUDE_DIRS = ("/usr/include", "/usr/local/include") + tuple(
    glob.glob("/usr/include/*-linux-gnu"))


def exists(root, rel_dir, token, names):
    t = token.rstrip("/")
    if any(g in t.split("/") for g in GENERATED):
        return True
    bases = [root, os.path.join(root, rel_dir), os.path.join(root, "include"),
             os.path.join(root, "src"), os.path.join(root, "tests")]
    for b in bases:
        path = os.path.normpath(os.path.join(b, t))
        if os.path.exists(path):
            return True
        # A module cited without its extension: tests/support/db_inspect.
        parent, stem = os.path.split(path)
        if os.path.isdir(parent) and any(f.startswith(stem + ".") for f in os.listdir(parent)):
            return True
    if any(os.path.exists(os.path.join(d, t)) for d in SYSTEM_INCLUDE_DIRS):
        return True
    if "/" not in t:
        return t in names
    return False


def check(root):
    names = all_names(root)
    problems, checked = [], 0
    for path in source_files(root):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        checked += 1
        for line, comment in comments(rel, text):
            for m in TOKEN.finditer(comment):
                token = m.group(1).rstrip(".")  # the end of a sentence
                if not exists(root, os.path.dirname(rel), token, names):
                    problems.append(f"{rel}:{line}: the comment cites {token}, which is not in the repository")
    return problems, checked


SELF_TEST_FILES = {
    "src/http/form.h": "// Parses forms; see form.cpp and docs/api.md.\n",
    "src/http/form.cpp": '#include "form.h"\n// Uses sc/core/text.h, http/form.h and tests/support/.\n'
                         'const char* s = "// not a comment: gone.h";\n',
    "include/sc/core/text.h": "/* Text helpers (text.cpp; see\n   ../shared/STYLE.md). */\n",
    "src/core/text.cpp": "// Was src/core/strings.cpp; https://example.org/x.h is a URL.\n",
    "docs/api.md": "# API\n",
    "tests/support/x.h": "// nothing cited; version 1.2 and e.g. a.b are no files.\n"
                         "// See tests/support/x and tests/support/. Installs into\n"
                         "// tests/e2e/node_modules; <stdio.h>. Parses partials/<name>.txt.mustache.\n",
    "CMakeLists.txt": "# builds src/ (see cmake/gone.cmake)\n",
}
SELF_TEST_BREAKS = ["include/sc/core/text.h:2: the comment cites ../shared/STYLE.md",
                    "src/core/text.cpp:1: the comment cites src/core/strings.cpp",
                    "CMakeLists.txt:1: the comment cites cmake/gone.cmake"]


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        for rel, text in SELF_TEST_FILES.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        problems, _ = check(root)
    failures = [f"not reported: {w}" for w in SELF_TEST_BREAKS
                if not any(p.startswith(w) for p in problems)]
    failures += [f"reported wrongly: {p}" for p in problems
                 if not any(p.startswith(w) for w in SELF_TEST_BREAKS)]
    for f in failures:
        print(f)
    print("check_comment_paths self-test: " + ("FAILED" if failures else
          f"all {len(SELF_TEST_BREAKS)} bad citations reported, nothing else"))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.root:
        ap.error("--root is required (or --self-test)")
    problems, checked = check(os.path.abspath(args.root))
    for p in problems:
        print(p)
    if problems:
        print(f"check_comment_paths: {len(problems)} comment(s) cite files not in the repository")
        return 1
    print(f"check_comment_paths: every file cited in the comments of {checked} files exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
