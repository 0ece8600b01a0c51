#!/usr/bin/env bash
# bench_idle_http.sh — server memory per idle keep-alive HTTP connection:
# ringo's examples/hello against its Go net/http twin (loadtest/gohttp).
# Each server (procs 1, CPU 0) first answers one request; its RSS is read;
# then loadtest/idle_http.py opens IDLE_CONNS (default 10000) connections,
# each sends one GET, reads the answer and stays open; RSS is read again
# 2.5 s later (ringo's idle connections trim their stacks after 1 s);
# the difference over the connections is the figure. REPS (default 3) runs
# alternate the servers; the table shows medians.
#
#   loadtest/bench_idle_http.sh
#   IDLE_CONNS=2000 REPS=1 loadtest/bench_idle_http.sh    # a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ringo_install_deps

reps=${REPS:-3}
conns=${IDLE_CONNS:-10000}
port=${HTTP_PORT:-27390}
out=build/loadtest/idle
mkdir -p "$out"
ulimit -n 20000

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target hello >/dev/null
GOCACHE="$PWD/build/gocache" GOPATH="$PWD/build/gopath" GOFLAGS=-mod=mod \
  go build -o build/loadtest/gohttp loadtest/gohttp/main.go

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

one() { # server -> prints KiB per connection
  local server=$1 pid
  case "$server" in
    ringo) taskset -c 0 build/examples/hello --addr "127.0.0.1:$port" --procs 1 --drain 0 >"$out/$server.log" 2>&1 & ;;
    go) taskset -c 0 build/loadtest/gohttp --addr "127.0.0.1:$port" --procs 1 >"$out/$server.log" 2>&1 & ;;
  esac
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/plaintext" && break; sleep 0.1; done
  local before after
  before=$(rss_kib "$pid")
  coproc CLIENT { exec taskset -c 1 timeout 180 python3 loadtest/idle_http.py "127.0.0.1:$port" "$conns"; }
  pids+=("$CLIENT_PID")
  local line
  read -r -t 150 line <&"${CLIENT[0]}" || true
  [[ "$line" == "ready $conns" ]] || { echo "client failed: $line" >&2; exit 1; }
  sleep 2.5  # idle connections give back their stack pages after 1 s without a request
  after=$(rss_kib "$pid")
  exec {CLIENT[1]}>&-  # the client closes its connections and exits
  wait "$CLIENT_PID" 2>/dev/null || true
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  python3 -c "print(round(($after - $before) / $conns, 2))"
}

declare -A res
for r in $(seq "$reps"); do
  for s in ringo go; do
    v=$(one "$s")
    echo "rep $r/$reps  $s: $v KiB per idle connection"
    res[$s]+="$v "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mr=$(echo "${res[ringo]}" | median)
mg=$(echo "${res[go]}" | median)
echo
echo "| server | KiB per idle keep-alive connection (median of $reps, $conns connections) |"
echo "|---|---|"
echo "| ringo (hello, procs 1) | $mr |"
echo "| Go net/http (gohttp, GOMAXPROCS 1) | $mg |"
echo "| ratio ringo/Go | $(python3 -c "print(round($mr / $mg, 2))") |"
