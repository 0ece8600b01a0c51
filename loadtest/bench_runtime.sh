#!/usr/bin/env bash
# bench_runtime.sh — ringo's runtime micro-benchmarks side by side with their
# Go twins (Go 1.19, Debian golang-go), in one run on this machine.
#
#   loadtest/bench_runtime.sh            # 5 alternating repetitions
#   REPS=9 loadtest/bench_runtime.sh
#
# For GOMAXPROCS=1 both programs are pinned to CPU 0; for 2, to CPUs 0-1.
# Each repetition runs ringo then Go (alternating, so drift hits both);
# the table shows medians and ringo's time as a fraction of Go's (lower is
# better for ringo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ringo_install_deps

reps=${REPS:-5}
rss_n=${RSS_GOROUTINES:-10000}
out=build/loadtest/bench
mkdir -p "$out"
rm -f "$out"/*.txt

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target runtime_bench >/dev/null
GOCACHE="$PWD/build/gocache" GOPATH="$PWD/build/gopath" GOFLAGS=-mod=mod \
  go build -o build/loadtest/gobench loadtest/gobench/main.go

ringo_run() { # procs cpus
  RINGO_MAXPROCS=$1 taskset -c "$2" build/loadtest/runtime_bench --benchmark_format=csv 2>/dev/null |
    awk -F, '/^"BM_/ { n = $1; gsub(/"|BM_|\/real_time/, "", n); printf "%s %.1f\n", n, $3 / 1000 }'
  RINGO_MAXPROCS=$1 taskset -c "$2" build/loadtest/runtime_bench --rss "$rss_n" | sed 's/^rss_per_parked_goroutine/ParkedRSS/'
}
go_run() { # procs cpus
  GOMAXPROCS=$1 taskset -c "$2" build/loadtest/gobench
  GOMAXPROCS=$1 taskset -c "$2" build/loadtest/gobench -rss "$rss_n" | sed 's/^rss_per_parked_goroutine/ParkedRSS/'
}

for procs in 1 2; do
  cpus=0
  [[ $procs == 2 ]] && cpus=0,1
  for ((r = 1; r <= reps; r++)); do
    echo "== GOMAXPROCS=$procs run $r/$reps: ringo"
    ringo_run $procs $cpus >>"$out/ringo.$procs.txt"
    echo "== GOMAXPROCS=$procs run $r/$reps: go"
    go_run $procs $cpus >>"$out/go.$procs.txt"
  done
done

median() { # file name -> median of the values named name
  awk -v n="$2" '$1 == n { print $2 }' "$1" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
range() {
  awk -v n="$2" '$1 == n { print $2 }' "$1" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'
}

echo
echo "Runtime benchmarks, $reps alternating runs, medians (ns per goroutine or call; bytes for RSS)"
echo "machine: $(nproc) CPUs, $(uname -r), $(go version | awk '{print $3}'), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
echo
echo "| benchmark | GOMAXPROCS | ringo | Go 1.19 | ringo / Go | ringo range | Go range |"
echo "|---|---|---|---|---|---|---|"
for procs in 1 2; do
  for name in SpawnExit Gosched DeferGoexit ChanPingPong ChanBuffered MutexUncontended Select4 ParkedRSS; do
    r=$(median "$out/ringo.$procs.txt" $name)
    g=$(median "$out/go.$procs.txt" $name)
    ratio=$(awk -v r="$r" -v g="$g" 'BEGIN { if (g > 0) printf "%.2f", r / g; else print "-" }')
    echo "| $name | $procs | $r | $g | $ratio | $(range "$out/ringo.$procs.txt" $name) | $(range "$out/go.$procs.txt" $name) |"
  done
done
