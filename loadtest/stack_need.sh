#!/usr/bin/env bash
# stack_need.sh — how much goroutine stack HTTP with OpenSSL needs: runs
# examples/https_hello with smaller and smaller stacks (RINGO_STACK_SIZE)
# and drives each with real TLS clients (curl GET and a 10 KiB+ POST over
# TLS 1.3, openssl s_client over TLS 1.2), with an ECDSA P-256 certificate
# and an RSA-4096 one. Stack overflows are caught by guard pages (this
# kernel has MADV_GUARD_INSTALL) and stop the server with "fatal error:
# stack overflow", so a size either serves everything or fails loudly.
#
#   loadtest/stack_need.sh            # after cmake --build build
#
# Prints one line per certificate and size: ok, or what failed. Bounded:
# every client has a timeout, each server is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/examples/https_hello
[[ -x $bin ]] || { echo "stack_need.sh: build $bin first (cmake --build build)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:4096 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$dir/rsa.key" -out "$dir/rsa.pem" 2>/dev/null
head -c 20000 /dev/urandom >"$dir/body"
port=27450
for cert in ecdsa rsa4096; do
  for size in 16K 32K; do  # 16 KiB is the smallest stack the runtime allows
    port=$((port + 1))
    args=(--addr "127.0.0.1:$port" --procs 1 --drain 0)
    if [[ $cert == ecdsa ]]; then args+=(--write-cert "$dir/ca.pem"); else args+=(--cert "$dir/rsa.pem" --key "$dir/rsa.key"); fi
    RINGO_STACK_SIZE=$size "$bin" "${args[@]}" >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$dir/log" && break; sleep 0.05; done
    ca=$dir/ca.pem
    [[ $cert == rsa4096 ]] && ca=$dir/rsa.pem
    c=(curl -sS --max-time 5 --cacert "$ca" --resolve "localhost:$port:127.0.0.1")
    why=""
    [[ $("${c[@]}" "https://localhost:$port/" 2>&1) == "Hello, World!" ]] || why+=" GET"
    cmp -s <("${c[@]}" --data-binary @"$dir/body" "https://localhost:$port/echo" 2>/dev/null) "$dir/body" || why+=" POST"
    printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
      timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -ign_eof 2>/dev/null | grep -q "Hello, World!" || why+=" s_client-1.2"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    grep -q "fatal error" "$dir/log" && why+=" ($(grep -m1 'fatal error' "$dir/log"))"
    echo "$cert stack=$size: ${why:- ok}"
  done
done
