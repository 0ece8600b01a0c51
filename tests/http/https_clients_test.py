#!/usr/bin/env python3
"""examples/https_hello driven by real TLS clients: curl, openssl s_client,
Python's ssl module (with session resumption) and wrk.

Starts build/examples/https_hello on 127.0.0.1:0 with a self-signed
certificate written to a temporary file (the clients trust it with
--cacert / -CAfile / a context), runs each check, then sends SIGTERM and
expects a graceful exit 0. Every wait is bounded; only the process started
here is signalled.

  tests/http/https_clients_test.py build/examples/https_hello
"""
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.0, on purpose


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="ringo_https_")
    ca = os.path.join(tmp, "cert.pem")
    srv = subprocess.Popen([binary, "--addr", "127.0.0.1:0", "--procs", "1", "--drain", "0", "--write-cert", ca],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(90, srv.kill)
    watchdog.start()
    try:
        port = None
        for _ in range(5):  # a line about the certificate, then the address
            line = srv.stdout.readline()
            m = re.search(r"listening on (\S+):(\d+)", line)
            if m:
                port = int(m.group(2))
                break
        assert port, "https_hello printed no address"
        try:
            failures = run_checks(port, ca)
        except Exception as e:
            srv.kill()
            _, err = srv.communicate(timeout=20)
            raise RuntimeError(f"{e!r}; server stderr: {err[:6000]}") from e
        srv.send_signal(signal.SIGTERM)
        out, err = srv.communicate(timeout=20)
        if srv.returncode != 0:
            failures.append(f"exit status {srv.returncode} after SIGTERM; stderr: {err[-2000:]}")
        if "bye" not in out:
            failures.append(f"no goodbye after SIGTERM: {out!r}")
        # Each refused client is one log line, never a crash.
        if err.count("TLS handshake error") < 2:
            failures.append(f"expected handshake errors logged; stderr: {err[-2000:]}")
    finally:
        watchdog.cancel()
        if srv.poll() is None:
            srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print(f"{'FAILED' if failures else 'ok'}: https_hello with curl, s_client, ssl and wrk")
    return 1 if failures else 0


def run(*args, data=None, timeout=30):
    p = subprocess.run(list(args), input=data, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_checks(port, ca):
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    base = f"https://localhost:{port}"
    resolve = ["--resolve", f"localhost:{port}:127.0.0.1"]
    curl = ["curl", "-sS", "--max-time", "20", "--cacert", ca, *resolve]

    # curl, verifying the certificate: GET, POST 1 MiB, keep-alive reuse.
    rc, out, err = run(*curl, base + "/")
    check(rc == 0 and out == b"Hello, World!", f"curl GET /: rc={rc} body={out!r} err={err!r}")
    body = bytes(range(256)) * 4096
    rc, out, _ = run(*curl, "--data-binary", "@-", base + "/echo", data=body)
    check(rc == 0 and out == body, f"curl POST /echo 1 MiB over TLS: rc={rc} len={len(out)}")
    rc, out, err = run(*curl, "-v", base + "/", base + "/plaintext")
    check(rc == 0 and b"Re-using existing connection" in err or b"Reusing existing connection" in err,
          f"curl keep-alive over TLS: {err[-800:]!r}")
    check(b"ALPN: server accepted http/1.1" in err, f"curl ALPN: {err[-800:]!r}")
    # Without the CA, curl refuses the self-signed certificate.
    rc, _, _ = run("curl", "-sS", "--max-time", "20", *resolve, base + "/")
    check(rc == 60, f"curl without --cacert: want exit 60 (certificate problem), got {rc}")

    # openssl s_client: verification, TLS 1.2 and 1.3, resumption by ticket.
    def s_client(*extra, data=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"):
        return run("openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                   "-CAfile", ca, "-verify_return_error", "-ign_eof", *extra, data=data)
    rc, out, _ = s_client("-tls1_3")
    check(rc == 0 and b"Verify return code: 0 (ok)" in out and b"TLSv1.3" in out and b"Hello, World!" in out,
          f"s_client -tls1_3: rc={rc} {out[-600:]!r}")
    rc, out, _ = s_client("-tls1_2")
    check(rc == 0 and b"Protocol  : TLSv1.2" in out and b"Hello, World!" in out,
          f"s_client -tls1_2: rc={rc} {out[-600:]!r}")
    sess = os.path.join(os.path.dirname(ca), "sess.pem")
    rc, out, _ = s_client("-sess_out", sess)
    rc2, out2, _ = s_client("-sess_in", sess)
    check(rc == 0 and rc2 == 0 and b"Reused, TLSv1.3" in out2, f"s_client resumption: {out2[:600]!r}")
    rc, out, _ = s_client("-tls1_2", "-sess_out", sess)
    rc2, out2, _ = s_client("-tls1_2", "-sess_in", sess)
    check(rc == 0 and rc2 == 0 and b"Reused, TLSv1.2" in out2, f"s_client TLS 1.2 ticket resumption: {out2[:600]!r}")

    # Python's ssl: http.client over a verifying context, and a resumed session.
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=20)
    conn._create_connection = lambda addr, *a, **k: socket.create_connection(("127.0.0.1", port), *a, **k)
    for path in ("/", "/plaintext"):
        conn.request("GET", path)
        r = conn.getresponse()
        check(r.status == 200 and r.read() == b"Hello, World!", f"http.client GET {path} over TLS")
    conn.close()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s1:
            s1.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            got = s1.recv(4096)  # the ticket arrives with (before) the answer
            check(b"Hello, World!" in got, f"ssl socket GET: {got!r}")
            session = s1.session
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s2:
            check(s2.session_reused, "Python ssl: session not resumed")
            check(s2.version() == "TLSv1.3", f"Python ssl version {s2.version()}")

    # A client that offers only TLS 1.0 is refused (the server's minimum is 1.2).
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1
        refused = False
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
            try:
                with old.wrap_socket(raw) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            except (ssl.SSLError, ConnectionResetError):
                refused = True
        check(refused, "a TLS 1.0-only client was not refused")
    except ValueError as e:  # this Python cannot even offer TLS 1.0: nothing to show
        print(f"skip TLS 1.0 client check: {e}")

    # Plain HTTP to the TLS port: Go's 400.
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    check(got.startswith(b"HTTP/1.0 400 Bad Request") and b"HTTPS server" in got, f"plain HTTP: {got!r}")

    # wrk over HTTPS: bounded (1 s, 8 connections), every answer a 200.
    if shutil.which("wrk"):
        rc, out, err = run("wrk", "-t1", "-c8", "-d1s", "--timeout", "5s", f"https://127.0.0.1:{port}/plaintext",
                           timeout=30)
        text = out.decode()
        m = re.search(r"(\d+) requests in", text)
        check(rc == 0 and m and int(m.group(1)) > 0, f"wrk over HTTPS: {text!r} {err!r}")
        check("Non-2xx" not in text and "Socket errors" not in text, f"wrk errors over HTTPS: {text!r}")
    else:
        print("skip wrk: not installed")
    return failures


if __name__ == "__main__":
    sys.exit(main())
