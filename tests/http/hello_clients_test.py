#!/usr/bin/env python3
"""examples/hello driven by real clients: curl and Python's http.client.

Starts build/examples/hello on 127.0.0.1:0 (it prints the port), runs each
check (the probes and /metrics too), then sends SIGTERM: /readyz must
turn 503 while the server keeps serving for the drain (--drain), and the
process must exit 0 no sooner than the drain's end. Every wait is
bounded; only the process started here is signalled.

  tests/http/hello_clients_test.py build/examples/hello
"""
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time


def main():
    binary = sys.argv[1]
    srv = subprocess.Popen([binary, "--addr", "127.0.0.1:0", "--procs", "1", "--drain", str(DRAIN)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The server prints its address on its first line; a watchdog bounds the wait.
    watchdog = threading.Timer(60, srv.kill)
    watchdog.start()
    try:
        line = srv.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        assert m, f"no address in {line!r}"
        host, port = m.group(1), int(m.group(2))
        base = f"http://{host}:{port}"
        try:
            failures = run_checks(host, port, base)
        except Exception as e:  # the server died mid-way: show why
            srv.kill()
            _, err = srv.communicate(timeout=20)
            raise RuntimeError(f"{e!r}; server stderr: {err[:6000]}") from e
        failures += check_probes(host, port)
        sent = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        failures += check_drain(host, port, sent)
        out, err = srv.communicate(timeout=20)
        if time.monotonic() - sent < DRAIN:
            failures.append(f"exited {time.monotonic() - sent:.3f} s after SIGTERM, before the {DRAIN} s drain")
        if "draining for" not in out:
            failures.append(f"no drain after SIGTERM: {out!r}")
        if srv.returncode != 0:
            failures.append(f"exit status {srv.returncode} after SIGTERM; stderr: {err[-2000:]}")
        if "bye" not in out:
            failures.append(f"no goodbye after SIGTERM: {out!r}")
    finally:
        watchdog.cancel()
        if srv.poll() is None:
            srv.kill()
    for f in failures:
        print("FAIL:", f)
    print(f"{'FAILED' if failures else 'ok'}: hello with curl and http.client")
    return 1 if failures else 0


# SIGTERM's drain: long enough for the checks below to run inside it.
DRAIN = 1.5


def get(host, port, path):
    """One GET on a new connection: (status, body, headers)."""
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read(), r
    finally:
        c.close()


def check_probes(host, port):
    """Before any signal: live, ready, and metrics in Prometheus' format."""
    failures = []
    for path, want in (("/healthz", b"ok\n"), ("/readyz", b"ok\n")):
        status, body, _ = get(host, port, path)
        if (status, body) != (200, want):
            failures.append(f"{path} before SIGTERM: {status} {body!r}")
    status, body, r = get(host, port, "/metrics")
    text = body.decode()
    if status != 200 or not r.getheader("Content-Type", "").startswith("text/plain; version=0.0.4"):
        failures.append(f"/metrics: {status} {r.getheader('Content-Type')}")
    for name in ("ringo_http_requests_total", "ringo_goroutines", "ringo_runqueue_length{p=\"0\"}",
                 "process_resident_memory_bytes", 'ringo_var{name="abortHeld"}'):
        if not re.search("^" + re.escape(name) + r" \d", text, re.M):
            failures.append(f"/metrics lacks {name}")
    return failures


def check_drain(host, port, sent):
    """Inside the drain that SIGTERM starts: /readyz turns 503 (at once,
    give or take the signal's delivery: polled for at most 1 s) while new
    connections are still accepted and served."""
    failures = []
    status = None
    while time.monotonic() - sent < 1.0:
        status, _, _ = get(host, port, "/readyz")
        if status == 503:
            break
    if status != 503:
        failures.append(f"/readyz during the drain: {status}, want 503")
    for path, want in (("/", b"Hello, World!"), ("/healthz", b"ok\n")):
        status, body, _ = get(host, port, path)
        if (status, body) != (200, want):
            failures.append(f"{path} during the drain: {status} {body!r}")
    if time.monotonic() - sent >= DRAIN:
        failures.append("the drain checks took longer than the drain: make DRAIN longer")
    return failures


def curl(*args, data=None):
    p = subprocess.run(["curl", "-sS", "--max-time", "20", *args], input=data,
                       capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def run_checks(host, port, base):
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    # curl: GET, HEAD, POST of 1 MiB, a stream, an abort.
    rc, out, _ = curl(base + "/")
    check(rc == 0 and out == b"Hello, World!", f"curl GET /: rc={rc} body={out!r}")
    rc, out, _ = curl("-i", base + "/plaintext")
    check(rc == 0 and b"Content-Length: 13" in out and b"Content-Type: text/plain" in out,
          f"curl GET /plaintext headers: {out!r}")
    rc, out, _ = curl("-I", base + "/plaintext")
    check(rc == 0 and b"HTTP/1.1 200 OK" in out and b"Content-Length: 13" in out, f"curl HEAD: {out!r}")
    body = bytes(range(256)) * 4096  # 1 MiB
    rc, out, _ = curl("--data-binary", "@-", "-H", "Content-Type: application/octet-stream",
                      base + "/echo", data=body)
    check(rc == 0 and out == body, f"curl POST /echo 1 MiB: rc={rc} len={len(out)}")
    rc, out, _ = curl("-H", "Expect: 100-continue", "--data-binary", "@-", base + "/echo", data=b"x" * 2048)
    check(rc == 0 and out == b"x" * 2048, f"curl POST with Expect: 100-continue: rc={rc}")
    rc, out, _ = curl(base + "/stream?n=1000000")
    check(rc == 0 and out == b"a" * 1000000, f"curl /stream: rc={rc} len={len(out)}")
    rc, out, err = curl(base + "/abort")
    # curl 18: "transfer closed with outstanding read data remaining": the
    # flushed part arrived, then the connection closed mid-body.
    check(rc == 18 and out.startswith(b"partial response"), f"curl /abort: rc={rc} out={out!r} err={err!r}")
    rc, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}", base + "/nope")
    check(out == b"404", f"curl 404: {out!r}")
    rc, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", base + "/plaintext")
    check(out == b"405", f"curl 405: {out!r}")

    # http.client: keep-alive on one connection, a chunked upload, the vars.
    c = http.client.HTTPConnection(host, port, timeout=20)
    for i in range(3):
        c.request("GET", "/plaintext")
        r = c.getresponse()
        check(r.status == 200 and r.read() == b"Hello, World!", f"http.client keep-alive #{i}")
    c.request("POST", "/echo", body=iter([b"hello ", b"chunked ", b"world"]),
              headers={"Transfer-Encoding": "chunked", "Content-Type": "text/plain"}, encode_chunked=True)
    r = c.getresponse()
    check(r.status == 200 and r.read() == b"hello chunked world" and r.getheader("Content-Type") == "text/plain",
          "http.client chunked upload")
    c.request("GET", "/debug/vars")
    r = c.getresponse()
    v = json.loads(r.read())
    check(r.getheader("Content-Type").startswith("application/json"), "vars content type")
    check(v["http"]["requests_aborted"] >= 1, f"vars: aborted {v['http']}")
    check(v["vars"]["abortHeld"] == 0, f"vars: abortHeld {v['vars']}")
    check(v["runtime"]["goroutines"] >= 2, f"vars: runtime {v['runtime']}")
    check(v["netpoll"]["backend"] in ("io_uring", "epoll"), f"vars: netpoll {v['netpoll']}")
    c.request("GET", "/debug/goroutines")
    r = c.getresponse()
    check(b"goroutine 1 [" in r.read(), "goroutine dump")
    c.close()
    return failures


if __name__ == "__main__":
    sys.exit(main())
