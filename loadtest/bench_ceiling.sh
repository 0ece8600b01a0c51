#!/usr/bin/env bash
# bench_ceiling.sh — ringo's pipelined plaintext against its ceiling: the
# bare io_uring responder (uring_responder.cc, no HTTP work). Issue 9 asks
# for ringo at ≥ 0.5× the ceiling's requests/s at pipeline depth 16.
#
#   loadtest/bench_ceiling.sh                 # 3 alternating runs of 5 s
#   REPS=1 SECS=2 loadtest/bench_ceiling.sh   # a smoke run
#
# Each run: a fresh server alone on CPU 0 (hello with --procs 1, plus
# --drain 0 where that build accepts it), a discarded 1 s warm-up, then
# `wrk -t1 -c256 -s wrk_http.lua -- pipeline 16` on CPU 1 for SECS; the
# servers alternate (ringo, ceiling, ringo, ...) so drift hits both. Recorded:
# requests/s, wrk's errors and the server's CPU µs per request (utime +
# stime from /proc/PID/stat across the run, over the requests answered).
# Output: the table on stdout and in build/loadtest/ceiling/report.md.
# Environment: REPS (3), SECS (5), HTTP_PORT (27396: ringo; +1: the ceiling).
#
# Bounded: a server must answer within 10 s and exit within 5 s of SIGTERM
# (else SIGKILL); wrk runs under `timeout`. Only PIDs started here are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

reps=${REPS:-3}
secs=${SECS:-5}
port=${HTTP_PORT:-27396}
out=build/loadtest/ceiling
clk_tck=$(getconf CLK_TCK)
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.log

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/build.log" 2>&1
cmake --build build -j2 --target hello uring_responder >>"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log"; exit 1; }
drain=()
if build/examples/hello --help 2>&1 | grep -q -- --drain; then drain=(--drain 0); fi # usage lists it once main has it

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
trap 'exit 130' INT TERM

alive() { # pid: running (a zombie is not)
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && ${st:0:1} != Z ]]
}
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime, all threads

run() { # server: one measured run; appends "reqs/s cpu_us/req errors" to $out/<server>.txt
  local s=$1 p pid deadline t0 t1 line i
  case $s in
    ringo) p=$port; taskset -c 0 build/examples/hello --addr "127.0.0.1:$p" --procs 1 "${drain[@]}" >>"$out/$s.log" 2>&1 & ;;
    ceiling) p=$((port + 1)); taskset -c 0 build/loadtest/uring_responder --port "$p" >>"$out/$s.log" 2>&1 & ;;
  esac
  pid=$!
  pids+=("$pid")
  deadline=$((SECONDS + 10))
  until curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$p/plaintext"; do
    ((SECONDS < deadline)) || { echo "FAILED: $s did not answer within 10 s"; tail "$out/$s.log"; exit 1; }
    sleep 0.1
  done
  local wrk=(taskset -c 1 wrk -t1 -c256 --timeout 2s -s loadtest/wrk_http.lua "http://127.0.0.1:$p/plaintext")
  timeout -k 2 15 "${wrk[@]}" -d1s -- pipeline 16 >/dev/null # warm-up, discarded
  t0=$(cpu_ticks "$pid")
  timeout -k 2 $((secs + 10)) "${wrk[@]}" -d"${secs}"s -- pipeline 16 >"$out/last.txt"
  t1=$(cpu_ticks "$pid")
  cat "$out/last.txt" >>"$out/wrk.log"
  line=$(grep '^RESULT' "$out/last.txt")
  awk -v t="$((t1 - t0))" -v hz="$clk_tck" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { e = v["connect"] + v["read"] + v["write"] + v["timeout"] + v["status"]
      printf "%.0f %.2f %d\n", v["requests"] / (v["duration_us"] / 1e6), t / hz * 1e6 / v["requests"], e }' \
    <<<"$line" | tee -a "$out/$s.txt" | awk -v s="$s" '{ printf "     %-8s %9.0f requests/s, %.2f CPU µs/request, %d errors\n", s, $1, $2, $3 }'
  kill -TERM "$pid"
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then echo "     note: $s still running 5 s after SIGTERM; killed"; kill -KILL "$pid"; fi
  wait "$pid" 2>/dev/null || true
  pids=() # reaped: nothing of ours left running
}

for ((r = 1; r <= reps; r++)); do
  echo "== run $r/$reps: wrk -t1 -c256 pipeline 16, ${secs} s"
  run ringo
  run ceiling
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
rr=$(awk '{ print $1 }' "$out/ringo.txt" | median)
rc=$(awk '{ print $1 }' "$out/ceiling.txt" | median)
{
  echo "pipeline16 (wrk -t1 -c256, 16 requests per write) over 127.0.0.1, server on CPU 0, wrk on CPU 1;"
  echo "$reps alternating runs of $secs s, medians (all runs); $(uname -r), commit $(git rev-parse --short HEAD)"
  echo
  echo "busy: CPU µs/request × requests/s, the share of CPU 0 the server used (below 100%, wrk on CPU 1 set the pace)."
  echo
  echo "| server | requests/s | CPU µs/request | busy % | wrk errors |"
  echo "|---|---|---|---|---|"
  for s in ringo ceiling; do
    echo "| $s | $(awk '{ print $1 }' "$out/$s.txt" | median) ($(awk '{ print $1 }' "$out/$s.txt" | sort -g | paste -sd' ')) |" \
      "$(awk '{ print $2 }' "$out/$s.txt" | median) |" \
      "$(awk '{ print $1 * $2 / 1e4 }' "$out/$s.txt" | median | awk '{ printf "%.0f", $1 }') |" \
      "$(awk '{ e += $3 } END { print e }' "$out/$s.txt") |"
  done
  echo
  echo "ringo / ceiling requests/s: $(awk -v a="$rr" -v b="$rc" 'BEGIN { printf "%.3f", a / b }') (issue 9 asks ≥ 0.5)"
} | tee "$out/report.md"
