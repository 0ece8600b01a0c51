#!/usr/bin/env python3
"""Hold N idle keep-alive HTTP connections to a server (for RSS per idle
connection): each connection sends one GET, reads its response, then stays
open and quiet. Prints "ready N" when all are idle, then waits for stdin to
close (or 120 s) before closing them.

  loadtest/idle_http.py 127.0.0.1:8080 10000
"""
import selectors
import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    n = int(sys.argv[2])
    req = f"GET /plaintext HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    socks = []
    pending = {}
    for i in range(n):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
        socks.append(s)
        # Keep the number in flight bounded so the server's accept queue
        # (and ours) never overflow.
        while len(pending) > 256:
            drain(sel, pending, 5)
    while pending:
        if not drain(sel, pending, 30):
            sys.exit(f"timed out with {len(pending)} responses missing")
    print(f"ready {len(socks)}", flush=True)
    sys.stdin.read()  # until the caller closes our stdin
    for s in socks:
        s.close()


def drain(sel, pending, timeout):
    events = sel.select(timeout)
    for key, _ in events:
        s = key.fileobj
        data = s.recv(4096)
        if not data:
            sys.exit("server closed a connection")
        pending[s] += data
        if b"Hello, World!" in pending[s]:
            sel.unregister(s)
            del pending[s]
    return bool(events)


if __name__ == "__main__":
    main()
