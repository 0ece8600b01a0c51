#!/usr/bin/env bash
# bench_net.sh — ringo's network benchmarks (net_bench.cc) side by side with
# their Go twins (gonet/main.go, Go 1.19, Debian golang-go), in one run on
# this machine: ringo on io_uring, ringo on epoll (RINGO_POLLER=epoll),
# ringo on io_uring with RINGO_POLLSPIN=$POLLSPIN (default 20 µs: an M
# with nothing to run keeps its P and polls that long before it sleeps), Go.
#
#   loadtest/bench_net.sh               # 5 alternating repetitions (about 5 minutes)
#   REPS=1 loadtest/bench_net.sh        # a smoke run
#
#   PingPong64   one connection, 64-byte round trips (PINGPONG_N, default
#                100000); procs 1 pinned to CPU 0, procs 2 to CPUs 0-1
#   Echo100      100 connections echoing 4 KiB writes for SECS (default 3);
#                procs 2 on CPUs 0-1
#   ...CPU       the process's CPU time (user + system, all threads) per
#                round trip, per 4 KiB echoed: the cost, where the rate is
#                bound by the kernel's loopback path
#   IdleConnRSS  RSS per idle connection: IDLE_CONNS (default 5000) connections
#                in one process, a server goroutine waiting on each (ringo:
#                Recv, which holds no buffer; Go: Read into 4 KiB, as
#                net/http's bufio.Reader); procs 2
#   AcceptRate   a server (procs 1, CPU 0) accepting and closing, against
#   AcceptCPU    net_bench accept-client (CPU 1) for SECS: a plain blocking
#                connect()/close() loop, the same for every server. The
#                client is usually the bottleneck, so AcceptCPU (the server's
#                CPU time per accept) is the server's own figure.
#
# Each repetition runs every benchmark on the four in turn, so drift hits
# all four; the table shows medians, ranges and ratios. Each program's
# stderr (ringo's poller counters, the accept client's count) is kept in
# build/loadtest/netbench/<impl>.log. ACCEPT_PORT (default 47311) is the
# accept server's port on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ringo_install_deps

reps=${REPS:-5}
pingpong_n=${PINGPONG_N:-100000}
secs=${SECS:-3}
addr=127.0.0.1:${ACCEPT_PORT:-47311}
idle_conns=${IDLE_CONNS:-5000}
pollspin=${POLLSPIN:-20}
impls=(ringo-uring ringo-epoll ringo-spin go)
out=build/loadtest/netbench
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.log

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target net_bench >/dev/null
GOCACHE="$PWD/build/gocache" GOPATH="$PWD/build/gopath" GOFLAGS=-mod=mod \
  go build -o build/loadtest/gonet loadtest/gonet/main.go

# Every program runs in the background with its PID recorded, so that an
# interrupted run stops all of them (each also has a 60 s watchdog).
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT  # only those still running
trap 'exit 130' INT TERM

start() { # impl procs cpus args... (stdout, stderr as the caller's): one program in the background; sets pid
  local impl=$1 procs=$2 cpus=$3
  shift 3
  case $impl in
    ringo-uring) RINGO_POLLER=uring RINGO_MAXPROCS=$procs taskset -c "$cpus" build/loadtest/net_bench "$@" & ;;
    ringo-epoll) RINGO_POLLER=epoll RINGO_MAXPROCS=$procs taskset -c "$cpus" build/loadtest/net_bench "$@" & ;;
    ringo-spin) RINGO_POLLER=uring RINGO_POLLSPIN=$pollspin RINGO_MAXPROCS=$procs taskset -c "$cpus" \
      build/loadtest/net_bench "$@" & ;;
    go) GOMAXPROCS=$procs taskset -c "$cpus" build/loadtest/gonet "$@" & ;;
    client) taskset -c "$cpus" build/loadtest/net_bench "$@" & ;;
  esac
  pid=$!
  pids+=("$pid")
}
finish() { # pid log what: waits for pid (then forgets it); on failure shows the log and stops
  local rc=0 p left=()
  wait "$1" || rc=$?
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || left+=("$p"); done
  pids=("${left[@]}")
  if ((rc != 0)); then
    echo "FAILED: $3 (exit status $rc); $2 says:"
    tail -n 20 "$2"
    exit 1
  fi
}

# bench impl procs cpus mode args...: one run; appends "name procs value unit" to $out/impl.txt
bench() {
  local impl=$1 procs=$2 cpus=$3 mode=$4 log="$out/$1.log"
  shift 3
  start "$impl" "$procs" "$cpus" "$@" >"$out/last.txt" 2>>"$log"
  finish "$pid" "$log" "$impl $mode"
  report "$impl" "$procs"
}
accept_run() { # impl: the server on CPU 0 with one P, the client on CPU 1
  local impl=$1 log="$out/$1.log" server
  start "$impl" 1 0 accept-server -addr "$addr" >"$out/last.txt" 2>>"$log"
  server=$pid
  start client - 1 accept-client -addr "$addr" -secs "$secs" 2>>"$log"
  finish "$pid" "$log" "accept-client against $impl"
  finish "$server" "$log" "$impl accept-server"
  report "$impl" 1
}
report() { # impl procs: files and shows last.txt's lines
  awk -v p="$2" '{ print $1, p, $2, $3 }' "$out/last.txt" >>"$out/$1.txt"
  awk -v i="$1" -v p="$2" '{ printf "     %-12s procs=%s  %s %s %s\n", i, p, $1, $2, $3 }' "$out/last.txt"
}

for ((r = 1; r <= reps; r++)); do
  echo "== run $r/$reps: PingPong64, procs 1 on CPU 0"
  for i in "${impls[@]}"; do bench "$i" 1 0 pingpong -n "$pingpong_n"; done
  echo "== run $r/$reps: PingPong64, procs 2 on CPUs 0,1"
  for i in "${impls[@]}"; do bench "$i" 2 0,1 pingpong -n "$pingpong_n"; done
  echo "== run $r/$reps: Echo100, procs 2 on CPUs 0,1"
  for i in "${impls[@]}"; do bench "$i" 2 0,1 throughput -conns 100 -secs "$secs" -size 4096; done
  echo "== run $r/$reps: IdleConnRSS, $idle_conns connections, procs 2 on CPUs 0,1"
  for i in "${impls[@]}"; do bench "$i" 2 0,1 idle -conns "$idle_conns"; done
  echo "== run $r/$reps: accept, server procs 1 on CPU 0, net_bench accept-client on CPU 1"
  for i in "${impls[@]}"; do accept_run "$i"; done
done

median() { # file name procs -> median of the values named name at procs
  awk -v n="$2" -v p="$3" '$1 == n && $2 == p { print $3 }' "$1" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
range() {
  awk -v n="$2" -v p="$3" '$1 == n && $2 == p { print $3 }' "$1" | sort -g |
    awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "Network benchmarks over 127.0.0.1, $reps alternating runs, medians (min–max)"
echo "machine: $(nproc) CPUs, $(uname -r), $(go version | awk '{print $3}'), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
echo
echo "Ratios are plain quotients of the medians: for ns (time) lower is better, so a ratio below 1 favours the"
echo "numerator; for MB/s and /s (rates) higher is better, so a ratio above 1 favours it."
echo
echo "ringo-spin is ringo-uring with RINGO_POLLSPIN=$pollspin (an M with nothing to run polls up to $pollspin µs before it sleeps)."
echo
echo "| benchmark | procs | unit (better) | ringo-uring | ringo-epoll | ringo-spin | Go 1.19 | uring / Go | epoll / Go | uring / epoll | spin / Go |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for row in "PingPong64 1 ns/round trip (lower)" "PingPong64 2 ns/round trip (lower)" \
  "PingPong64CPU 1 CPU ns/round trip (lower)" "PingPong64CPU 2 CPU ns/round trip (lower)" \
  "Echo100 2 MB/s (higher)" "Echo100CPU 2 CPU ns/4 KiB echoed (lower)" \
  "IdleConnRSS 2 bytes/connection (lower)" "AcceptRate 1 accepts/s (higher)" "AcceptCPU 1 server CPU ns/accept (lower)"; do
  read -r name procs unit <<<"$row"
  u=$(median "$out/ringo-uring.txt" "$name" "$procs")
  e=$(median "$out/ringo-epoll.txt" "$name" "$procs")
  sp=$(median "$out/ringo-spin.txt" "$name" "$procs")
  g=$(median "$out/go.txt" "$name" "$procs")
  echo "| $name | $procs | $unit | $u ($(range "$out/ringo-uring.txt" "$name" "$procs")) |" \
    "$e ($(range "$out/ringo-epoll.txt" "$name" "$procs")) | $sp ($(range "$out/ringo-spin.txt" "$name" "$procs")) |" \
    "$g ($(range "$out/go.txt" "$name" "$procs")) |" \
    "$(ratio "$u" "$g") | $(ratio "$e" "$g") | $(ratio "$u" "$e") | $(ratio "$sp" "$g") |"
done
