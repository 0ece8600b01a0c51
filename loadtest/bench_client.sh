#!/usr/bin/env bash
# bench_client.sh — HTTP clients side by side against nginx, in one run on
# this machine: ringo's http::Client (client_bench.cc) and Go's http.Client
# (goclient/main.go, Go 1.19, Debian golang-go).
#
#   loadtest/bench_client.sh                     # 3 alternating repetitions
#   REPS=1 REQUESTS=20000 loadtest/bench_client.sh   # a smoke run
#
# nginx (nginx/nginx.conf.in: one process, `return 200 "Hello, World!"`, no
# access log) runs on CPU 0; each client runs on CPU 1 with one proc
# (GOMAXPROCS=1 for Go), 64 goroutines over 64 keep-alive connections,
# sending GET /plaintext back to back until REQUESTS have been answered
# (after a warm-up request per connection, not counted). Runs alternate
# (ringo go ringo go ...), so drift hits both; the figures are medians of
# requests/s and their ratio.
#
# Output: the table on stdout and in build/loadtest/client/report.md; the
# raw lines in build/loadtest/client/<client>.txt.
# Environment: REPS (3), REQUESTS (200000), CONNS (64), CLIENT_PORT (27480).
# Every step is bounded; it stops only the processes it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ringo_install_deps

reps=${REPS:-3}
requests=${REQUESTS:-200000}
conns=${CONNS:-64}
port=${CLIENT_PORT:-27480}
out=build/loadtest/client
ngx="$PWD/$out/nginx"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ $reps =~ ^[1-9][0-9]*$ && $requests =~ ^[1-9][0-9]*$ && $conns =~ ^[1-9][0-9]*$ ]] ||
  { echo "bench_client.sh: REPS, REQUESTS and CONNS must be positive integers"; exit 2; }

mkdir -p "$out" "$ngx/tmp"
rm -f "$out"/*.txt "$out"/*.log "$out"/report.md

echo "== building"
build_log="$out/build.log"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$build_log" 2>&1 || { tail -n 30 "$build_log"; exit 1; }
cmake --build build -j2 --target client_bench >>"$build_log" 2>&1 || { tail -n 30 "$build_log"; exit 1; }
GOCACHE="$PWD/build/gocache" GOPATH="$PWD/build/gopath" GOFLAGS=-mod=mod \
  go build -o build/loadtest/goclient loadtest/goclient/main.go >>"$build_log" 2>&1 || { tail -n 30 "$build_log"; exit 1; }
sed -e "s|@PREFIX@|$ngx|g" -e "s|@PORT@|$port|g" loadtest/nginx/nginx.conf.in >"$ngx/nginx.conf"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
trap 'exit 130' INT TERM

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "FAILED: 127.0.0.1:$port is already taken (set CLIENT_PORT)"
  exit 1
fi
taskset -c 0 "$nginx_bin" -p "$ngx/" -c "$ngx/nginx.conf" -e stderr >>"$out/nginx.log" 2>&1 &
npid=$!
pids+=("$npid")
for ((i = 0; i < 100; i++)); do
  curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/plaintext" && break
  sleep 0.1
done
curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/plaintext" || { echo "FAILED: nginx did not start"; tail "$out/nginx.log"; exit 1; }

url="http://127.0.0.1:$port/plaintext"
run() { # client rep
  local line
  case $1 in
    ringo) line=$(timeout 300 taskset -c 1 build/loadtest/client_bench --url "$url" --conns "$conns" --requests "$requests" --procs 1) ;;
    go) line=$(timeout 300 taskset -c 1 build/loadtest/goclient --url "$url" --conns "$conns" --requests "$requests" --procs 1) ;;
  esac
  echo "$line" >>"$out/$1.txt"
  echo "  $1 run $2/$reps: $line"
}
echo "== $reps x (ringo, go), $requests requests over $conns connections each"
for ((r = 1; r <= reps; r++)); do
  run ringo "$r"
  run go "$r"
done
kill -TERM "$npid" 2>/dev/null || true
wait "$npid" 2>/dev/null || true
pids=()

median() { # file: the median of rps=
  sed 's/.*rps=\([0-9.]*\).*/\1/' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
rr=$(median "$out/ringo.txt")
gr=$(median "$out/go.txt")
{
  echo "HTTP client, GET to nginx (1 process, CPU 0) over $conns keep-alive connections, client on CPU 1 with 1 proc,"
  echo "$requests requests per run, $reps alternating runs, medians; $(go version | awk '{print $3}'), $("$nginx_bin" -v 2>&1 | sed 's/.*: //')"
  echo
  echo "| client | requests/s |"
  echo "|---|---|"
  echo "| ringo http::Client | $rr |"
  echo "| Go http.Client | $gr |"
  echo
  echo "ringo / Go: $(awk -v a="$rr" -v b="$gr" 'BEGIN { printf "%.2f", a / b }')"
} | tee "$out/report.md"
