#!/usr/bin/env bash
# echo_example_test.sh <echo binary> — examples/echo serves a connection and
# shuts down cleanly on SIGTERM (its open connection is closed, it exits 0).
set -euo pipefail
bin=$1
out=$(mktemp)
# Port 0: the kernel picks a free one, and echo prints it.
"$bin" --addr 127.0.0.1:0 --procs 2 >"$out" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
port=$(sed -n 's/^echo: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
[[ -n $port ]] || { cat "$out"; echo "FAIL: echo did not start"; exit 1; }
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'ping\n' >&3
read -r -t 5 line <&3
[[ $line == ping ]] || { echo "FAIL: echoed '$line'"; exit 1; }
kill -TERM "$pid"
# The server closes our connection and exits 0.
if read -r -t 5 extra <&3; then echo "FAIL: unexpected '$extra'"; exit 1; fi
rc=0
timeout 5 tail --pid="$pid" -f /dev/null || { echo "FAIL: echo did not exit"; exit 1; }
wait "$pid" || rc=$?
[[ $rc == 0 ]] || { cat "$out"; echo "FAIL: exit status $rc"; exit 1; }
grep -q "echo: bye" "$out" || { cat "$out"; echo "FAIL: no clean shutdown"; exit 1; }
echo "ok: echoed, shut down on SIGTERM, exit 0"
