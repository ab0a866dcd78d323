#!/usr/bin/env python3
"""Fails when a function (or a lambda) in the given directories is longer
than --max lines, counted from its opening brace to its closing one.

A long function is split into named steps (issue 15): each step can be read,
and named in a review, on its own. Comments and string literals are blanked
before braces are matched. Usage:

  check_function_length.py --root DIR --max 80 src/http src/dispatch
  check_function_length.py --self-test
"""
import argparse
import os
import re
import sys

CONTROL = re.compile(r"\b(if|for|while|switch|catch)\s*\(")


def blank(text):
    """Comments and literals replaced by nothing, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i) and re.match(r'R"[^(\s]*\(', text[i:]):
            d = re.match(r'R"([^(\s]*)\(', text[i:]).group(1)
            j = text.find(")" + d + '"', i)
            j = n if j < 0 else j + len(d) + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(q + q)
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def long_functions(text, limit):
    """Yields (first line, last line, signature) of bodies over limit lines."""
    t = blank(text)
    stack = []
    for i, c in enumerate(t):
        if c == "{":
            k = max(t.rfind(";", 0, i), t.rfind("{", 0, i), t.rfind("}", 0, i))
            head = t[k + 1:i]
            last = head.strip().split("\n")[-1] if head.strip() else ""
            stack.append((i, ")" in head and not CONTROL.search(last), head))
        elif c == "}" and stack:
            start, is_function, head = stack.pop()
            if is_function:
                a, b = t.count("\n", 0, start) + 1, t.count("\n", 0, i) + 1
                if b - a + 1 > limit:
                    yield a, b, " ".join(head.split())[-90:]


def check(root, dirs, limit):
    problems, checked = [], 0
    for d in dirs:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in sorted(files):
                if not f.endswith((".h", ".hpp", ".cpp", ".cc")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                checked += 1
                for a, b, sig in long_functions(text, limit):
                    problems.append(f"{rel}:{a}: {b - a + 1} lines (at most {limit}): {sig}")
    return problems, checked


def self_test():
    body = "\n".join(f"  x += {k};" for k in range(8))
    text = ("int short_one() {\n" + body + "\n}\n"
            "int long_one(int x) {\n" + body + "\n" + body + "\n  if (x) {\n" + body +
            "\n  }\n  // a } in a comment, and \"{\" in a string\n  return x;\n}\n"
            "struct S {\n  void inline_long() {\n" + body + "\n" + body + "\n  }\n};\n")
    found = [(sig, b - a + 1) for a, b, sig in long_functions(text, 12)]
    want = [("int long_one(int x)", 30), ("void inline_long()", 18)]
    ok = found == want
    print("check_function_length self-test: " + ("ok" if ok else f"FAILED: {found} != {want}"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("dirs", nargs="*")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.root or not args.dirs:
        ap.error("--root and at least one directory are required (or --self-test)")
    problems, checked = check(os.path.abspath(args.root), args.dirs, args.max)
    for p in problems:
        print(p)
    if problems:
        print(f"check_function_length: {len(problems)} function(s) longer than {args.max} lines")
        return 1
    print(f"check_function_length: no function over {args.max} lines in {checked} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
