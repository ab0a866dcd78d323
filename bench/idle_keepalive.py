#!/usr/bin/env python3
"""Opens N keep-alive connections, makes one request on each and leaves them
idle, then times how long a new client waits for GET /healthz.

cpp-httplib serves each keep-alive connection on one pool thread for its
whole life; with a fixed pool, idle connections starve new clients. Usage:
  idle_keepalive.py HOST PORT [N]   -> prints one JSON line."""
import json, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
req = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode()

def one(sock):
    sock.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    return data.split(b" ", 2)[1].decode()

idle = []
for _ in range(n):
    s = socket.create_connection((host, port), timeout=5)
    assert one(s) == "200"
    idle.append(s)  # kept open and idle

worst = 0.0
for _ in range(20):
    t = time.monotonic()
    s = socket.create_connection((host, port), timeout=5)
    status = one(s)
    worst = max(worst, time.monotonic() - t)
    s.close()
    assert status == "200", status
# The idle ones must still be served too.
for s in idle[:10]:
    assert one(s) == "200"
print(json.dumps({"idle_connections": n, "new_client_worst_ms": round(worst * 1000, 2), "ok": worst < 1.0}))
sys.exit(0 if worst < 1.0 else 1)
