#!/usr/bin/env python3
"""Fails when a C++ source under src/ holds SQL in a string literal.

SQL lives in schema/queries/<dialect>/*.sql as named blocks (and the
migrations in schema/migrations/); code asks for a statement by its name.
A string literal counts as SQL when it holds a statement's shape:
SELECT ..., INSERT [OR x] INTO, UPDATE t SET, DELETE FROM, PRAGMA x,
CREATE TABLE/INDEX/TRIGGER/VIEW, or is a whole transaction statement
(BEGIN, COMMIT, ROLLBACK, SAVEPOINT x, RELEASE x). Keywords are matched in
upper case, so prose ("select a topic") and HTTP methods ("DELETE") pass.

  check_sql.py --root DIR     check DIR/src
  check_sql.py --self-test    check the checker on samples
"""
import argparse
import os
import re
import sys

SQL = [
    re.compile(r"\bSELECT\s+(DISTINCT\s+)?[\w*(?'\"]"),
    re.compile(r"\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b"),
    re.compile(r"\bUPDATE\s+\w+\s+SET\b"),
    re.compile(r"\bDELETE\s+FROM\b"),
    re.compile(r"\bPRAGMA\s+\w"),
    re.compile(r"\bCREATE\s+(TEMP\s+|UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\b"),
    re.compile(r"^\s*(BEGIN(\s+(IMMEDIATE|DEFERRED|EXCLUSIVE|TRANSACTION))?|COMMIT|"
               r"ROLLBACK(\s+TO\s+\w+)?|SAVEPOINT\s+\w+|RELEASE\s+\w+)\s*;?\s*$"),
]


def literals(text):
    """Yields (line, contents) of every string literal, skipping comments and chars."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            k = text.find("(", i + 2)
            delim = text[i + 2:k]
            end = text.find(")" + delim + '"', k)
            end = n if end < 0 else end
            yield line, text[k + 1:end]
            line += text.count("\n", i, end)
            i = end + len(delim) + 2
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            yield line, text[i + 1:j]
            i = j + 1
        elif c == "'" and not (i > 0 and text[i - 1].isalnum()):  # not a digit separator
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        else:
            i += 1


def problems_in(rel, text):
    out = []
    for line, lit in literals(text):
        if any(p.search(lit) for p in SQL):
            out.append(f"{rel}:{line}: SQL in a string literal (put it in schema/queries/): \"{lit[:60]}\"")
    return out


def self_test():
    flagged = ['"SELECT id FROM outbox WHERE id = ?"', '"INSERT OR IGNORE INTO t (a) VALUES (?)"',
               '"UPDATE outbox SET state = ?"', '"DELETE FROM provider_events"',
               '"PRAGMA journal_mode=WAL"', '"BEGIN IMMEDIATE"', '"ROLLBACK TO job"', '"COMMIT"',
               '"CREATE TABLE IF NOT EXISTS x (a)"', 'R"(SELECT 1)"', '"SELECT count(*) FROM x"']
    passed = ['"DELETE"', '"-----BEGIN PUBLIC KEY-----"', '"Select a topic"', '"commit"',
              '// SELECT id FROM outbox\n', '/* UPDATE x SET y */', "'\"'", '"outbox.mark_sent"',
              '"UPDATE"', '"INSERT"', "1'000", '"we COMMIT to it"', '"END"', '"STOP"']
    bad = [s for s in flagged if not problems_in("t.cpp", s)]
    bad += [s for s in passed if problems_in("t.cpp", s)]
    for s in bad:
        print(f"check_sql self-test: misjudged {s}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    root = os.path.abspath(args.root)
    problems, checked = [], 0
    for dirpath, _, files in os.walk(os.path.join(root, "src")):
        for f in sorted(files):
            if not f.endswith((".h", ".hpp", ".cpp", ".cc")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8", errors="replace") as fh:
                problems += problems_in(rel, fh.read())
            checked += 1
    for p in problems:
        print(p)
    if problems:
        print(f"check_sql: {len(problems)} SQL string(s) outside schema/queries")
        return 1
    print(f"check_sql: {checked} files hold no SQL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
