#!/usr/bin/env python3
"""examples/rest and examples/sse driven by Python's http.client.

Each server is started on 127.0.0.1:0 (it prints its address), checked,
then stopped with SIGTERM and expected to exit 0. Every wait is bounded;
only processes started here are signalled.

  tests/http/examples_test.py build/examples
"""
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading


class Server:
    def __init__(self, binary):
        self.p = subprocess.Popen([binary, "--addr", "127.0.0.1:0", "--procs", "1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.watchdog = threading.Timer(60, self.p.kill)
        self.watchdog.start()
        line = self.p.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            self.p.kill()
            raise RuntimeError(f"{binary}: no address in {line!r}: {self.p.stderr.read()}")
        self.host, self.port = m.group(1), int(m.group(2))

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=20)

    def stop(self, failures, name):
        self.p.send_signal(signal.SIGTERM)
        try:
            _, err = self.p.communicate(timeout=20)
            if self.p.returncode != 0:
                failures.append(f"{name}: exit {self.p.returncode} after SIGTERM: {err[:5000]}")
        finally:
            self.watchdog.cancel()
            if self.p.poll() is None:
                self.p.kill()


def call(c, method, path, body=None):
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    data = r.read()
    return r.status, r, data


def rest_checks(s, check):
    c = s.conn()
    st, r, data = call(c, "POST", "/items", json.dumps({"name": "tea", "price": 3}))
    check(st == 201 and r.getheader("Location") == "/items/1", f"rest create: {st} {data!r}")
    check(json.loads(data) == {"id": 1, "name": "tea", "price": 3}, f"rest create body: {data!r}")
    st, _, data = call(c, "GET", "/items/1")
    check(st == 200 and json.loads(data)["name"] == "tea", f"rest get: {st} {data!r}")
    st, _, data = call(c, "PUT", "/items/1", json.dumps({"name": "tea", "price": 4}))
    check(st == 200 and json.loads(data)["price"] == 4, f"rest put: {st} {data!r}")
    st, _, data = call(c, "GET", "/items")
    check(st == 200 and [i["id"] for i in json.loads(data)] == [1], f"rest list: {st} {data!r}")
    st, _, data = call(c, "POST", "/items", "{not json")
    check(st == 400 and "error" in json.loads(data), f"rest bad json: {st} {data!r}")
    st, _, data = call(c, "GET", "/items/x")
    check(st == 400, f"rest bad id: {st}")
    st, _, data = call(c, "DELETE", "/items/1")
    check(st == 204 and data == b"", f"rest delete: {st} {data!r}")
    st, _, data = call(c, "GET", "/items/1")
    check(st == 404 and json.loads(data) == {"error": "no such item"}, f"rest 404: {st} {data!r}")
    st, r, _ = call(c, "PATCH", "/items/1")
    check(st == 405 and "PUT" in r.getheader("Allow", ""), f"rest 405: {st} {r.getheader('Allow')}")
    c.close()


def sse_checks(s, check):
    stream = s.conn()
    stream.request("GET", "/events")
    r = stream.getresponse()
    check(r.status == 200 and r.getheader("Content-Type") == "text/event-stream", "sse headers")
    # The raw stream is chunked: read lines until ": subscribed" (sent once
    # we are registered), then until the data line.
    first = b""
    for _ in range(10):
        first += r.fp.readline()
        if b": subscribed" in first:
            break
    check(b": subscribed" in first, f"sse hello: {first!r}")
    pub = s.conn()
    st, _, data = call(pub, "POST", "/publish", "hello")
    check(st == 200 and data == b"delivered to 1\n", f"sse publish: {st} {data!r}")
    got = b""
    for _ in range(20):
        got += r.fp.readline()
        if b"data: hello" in got:
            break
    check(b"data: hello" in got, f"sse event: {got!r}")
    # The client goes away: its stream ends and the next publish reaches nobody.
    stream.sock.shutdown(socket.SHUT_RDWR)  # at once, whatever still refers to the socket
    stream.close()
    for _ in range(100):
        st, _, data = call(pub, "POST", "/publish", "again")
        if data == b"delivered to 0\n":
            break
        threading.Event().wait(0.02)
    check(data == b"delivered to 0\n", f"sse after the client left: {data!r}")
    pub.close()


def main():
    bindir = sys.argv[1]
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    for name, fn in (("rest", rest_checks), ("sse", sse_checks)):
        s = Server(f"{bindir}/{name}")
        try:
            fn(s, check)
        except Exception as e:
            failures.append(f"{name}: {e!r}")
        finally:
            s.stop(failures, name)
    for f in failures:
        print("FAIL:", f)
    print(f"{'FAILED' if failures else 'ok'}: rest and sse examples")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
