#!/usr/bin/env python3
"""Runs every attack of issue 7 point 5 against a running stayconnected and
prints, per attack, what the service answered and its RSS at the start and
at the peak (VmHWM, reset through /proc/PID/clear_refs before each attack).

    bench/edge_attacks.py HOST PORT PID

Then the slow-client flood: 2,000 connections from 127.0.0.1 dribbling one
header byte every 3 s (reconnecting when closed, as an attacker would) while
a new client on 127.0.0.2 asks GET /healthz; prints its slowest answer.
"""
import gzip
import os
import selectors
import socket
import sys
import threading
import time

HOST, PORT, PID = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MB = 1024 * 1024
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def rss_kb(field="VmRSS"):
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    with open(f"/proc/{PID}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def connect(source=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((HOST, PORT))
    return s


def read_all(s, timeout=10.0):
    """Reads until the server closes (True) or the timeout passes (False)."""
    s.settimeout(timeout)
    out = b""
    end = time.time() + timeout
    try:
        while time.time() < end:
            b = s.recv(65536)
            if not b:
                return out, True
            out += b
    except (socket.timeout, TimeoutError):
        return out, False
    except ConnectionResetError:
        return out, True
    return out, False


def send_stream(s, head, chunk, total, chunked=False):
    """Sends head, then `total` bytes of body in `chunk`s until the server
    stops reading; returns the bytes sent."""
    sent = 0
    try:
        s.sendall(head)
        s.settimeout(5)
        while sent < total:
            data = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") if chunked else chunk
            s.sendall(data)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, socket.timeout, TimeoutError):
        pass
    return sent


def status_of(resp):
    return resp[9:12].decode() if resp.startswith(b"HTTP/1.1 ") else "none"


results = []


def attack(name, fn):
    reset_peak()
    time.sleep(0.2)
    start = rss_kb()
    detail = fn()
    time.sleep(0.3)
    peak = rss_kb("VmHWM")
    results.append((name, detail, start, peak))
    print(f"{name:<44} {detail:<46} RSS start {start / 1024:6.1f} MB  peak {peak / 1024:6.1f} MB"
          f"  (+{(peak - start) / 1024:5.1f} MB)", flush=True)


def streaming(head, total, chunked=False):
    s = connect()
    resp = {}

    def reader():
        resp["r"] = read_all(s, 30)

    t = threading.Thread(target=reader)
    t.start()
    sent = send_stream(s, head, b"a" * 65536, total, chunked)
    t.join()
    out, closed = resp["r"]
    s.close()
    return f"{status_of(out)}, closed={closed}, sent {sent / MB:.1f} MB"


def chunked_200mb():
    return streaming(b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n", 200 * MB, chunked=True)


def no_length_50mb():
    # By RFC 9112 the body is empty: the request is answered at once and the
    # bytes after it are garbage for the next request (400 and closed).
    return streaming(b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n",
                     50 * MB)


def gzip_bombs():
    bomb = gzip.compress(b"\0" * (60 * MB), 9)
    outs = []

    def one():
        s = connect()
        s.sendall(b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb)
        outs.append(read_all(s, 10))
        s.close()

    ts = [threading.Thread(target=one) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return f"8 x {len(bomb) // 1024} KB: " + ",".join(sorted({status_of(o) for o, _ in outs})) + \
        f", closed={all(c for _, c in outs)}"


def range_amplification():
    ranges = b"bytes=0-" + b",0-" * 2700
    s = connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nRange: " + ranges + b"\r\nConnection: close\r\n\r\n")
    out, _ = read_all(s, 10)
    s.close()
    return f"{status_of(out)}, {len(ranges) // 1024} KB asked, {len(out) // 1024} KB answered"


def many_headers():
    s = connect()
    resp = {}
    t = threading.Thread(target=lambda: resp.setdefault("r", read_all(s, 30)))
    t.start()
    sent = 0
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Filler: " + b"f" * 1012 + b"\r\n"
        for _ in range(100000):
            s.sendall(line)
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    t.join()
    out, closed = resp["r"]
    s.close()
    return f"{status_of(out)}, closed={closed}, {sent} headers sent"


def framing(name, raw):
    def run():
        s = connect()
        s.sendall(raw + SMUGGLED)
        out, closed = read_all(s, 5)
        s.close()
        return f"{status_of(out)}, closed={closed}, responses={out.count(b'HTTP/1.1 ')}"
    attack(name, run)


def slow_clients(n=2000, drip=3.0, seconds=15):
    sel = selectors.DefaultSelector()
    conns = {}
    opened = refused = 0

    def open_one():
        nonlocal opened
        try:
            s = connect()
        except OSError:
            return
        s.setblocking(False)
        try:
            s.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            s.close()
            return
        conns[s] = time.time()
        sel.register(s, selectors.EVENT_READ)
        opened += 1

    reset_peak()
    time.sleep(0.2)
    start = rss_kb()
    for _ in range(n):
        open_one()
    worst = 0.0
    asked = 0
    t_end = time.time() + seconds
    next_probe = time.time() + 1
    while time.time() < t_end:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                del conns[s]
                refused += 1
                open_one()  # an attacker reconnects at once
        now = time.time()
        for s, last in list(conns.items()):
            if now - last >= drip:
                try:
                    s.send(b"a")
                    conns[s] = now
                except OSError:
                    pass
        if now >= next_probe:
            next_probe = now + 1
            t0 = time.time()
            c = connect("127.0.0.2")
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            out, _ = read_all(c, 20)
            c.close()
            took = time.time() - t0
            asked += 1
            worst = max(worst, took)
            if status_of(out) != "200":
                print(f"  /healthz answered {status_of(out)} after {took:.3f} s", flush=True)
    peak = rss_kb("VmHWM")
    for s in list(conns):
        s.close()
    print(f"{'slow clients: ' + str(n) + ' conns from 127.0.0.1':<44} "
          f"{str(opened) + ' opened, ' + str(refused) + ' closed by the server':<46} RSS start {start / 1024:6.1f} MB"
          f"  peak {peak / 1024:6.1f} MB  (+{(peak - start) / 1024:5.1f} MB)")
    print(f"  GET /healthz from 127.0.0.2 during the flood: {asked} asked, slowest {worst * 1000:.1f} ms")
    return worst, peak - start


print(f"# edge attacks against {HOST}:{PORT} (pid {PID}), {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC")
attack("chunked body, 200 MB", chunked_200mb)
attack("gzip body 61 KB -> 60 MB, 8 at once", gzip_bombs)
attack("POST without length, then 50 MB", no_length_50mb)
attack("Range: bytes=0-,0-,... (2,700 parts) on GET /", range_amplification)
attack("100,000 headers of 1 KB", many_headers)
framing("two different Content-Length", b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}")
framing("Content-Length + chunked", b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
framing("Transfer-Encoding: identity, chunked", b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n")
framing("malformed Content-Length", b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 2x\r\n\r\n{}")
framing("Transfer-Encoding: %63hunked", b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: %63hunked\r\n\r\n0\r\n\r\n")
worst, grew = slow_clients()
bad = [r for r in results if r[3] - r[2] > 32 * 1024]
print(f"# targets: /healthz within 1 s: {'yes' if worst < 1 else 'NO'} ({worst * 1000:.1f} ms); "
      f"every attack within 32 MB of its start: {'yes' if not bad and grew <= 32 * 1024 else 'NO'}")
sys.exit(0 if worst < 1 and not bad and grew <= 32 * 1024 else 1)
