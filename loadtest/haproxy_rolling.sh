#!/usr/bin/env bash
# haproxy_rolling.sh — a rolling restart behind HAProxy under load, with no
# request lost: the check that ringo's SIGTERM drain does what a load
# balancer needs.
#
#   loadtest/haproxy_rolling.sh [build/examples/hello]
#
# HAProxy (Debian's haproxy) listens on 127.0.0.1:$HAPROXY_PORT and
# balances over two examples/hello instances (ports +1 and +2), health
# checking each with GET /readyz every 200 ms (DOWN after 2 failures, UP
# after 1 success). wrk sends keep-alive GET /plaintext through HAProxy
# while each instance in turn gets SIGTERM and is started again once it has
# exited. An instance's SIGTERM starts its drain (--drain): /readyz answers
# 503 while it keeps serving, so HAProxy marks it DOWN and stops sending it
# work; then it shuts down (in-flight requests finish, idle connections
# close) and exits; the new one comes UP before the other is restarted.
#
# Passes when wrk reports no socket error (connect, read, write, timeout)
# and no answer outside 2xx/3xx, HAProxy counts no 5xx, no connection or
# response error, and neither retries nor redispatches (both are off —
# `retries 0`, no `option redispatch` — so no retry can hide a dropped
# request; their counters are printed anyway), every instance was marked
# DOWN while still alive (the drain was seen) and exited 0, and both new
# instances served requests.
#
# Environment: HAPROXY_PORT (27410; +1 and +2 for the instances, +3 for
# HAProxy's stats page; below Linux's ephemeral range so no outgoing
# connection can take an instance's port while it restarts), DRAIN (1.5 s),
# CONNS (16). Exit status: 0 passed, 1 failed, 77 skipped (no haproxy or
# wrk). Every wait is bounded; only the processes started here are
# stopped, by PID; everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-build/examples/hello}
base=${HAPROXY_PORT:-27410}
drain=${DRAIN:-1.5}
conns=${CONNS:-16}
front=$base stats=$((base + 3))
declare -A port=([a]=$((base + 1)) [b]=$((base + 2)))

for tool in haproxy wrk curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install $tool)"; exit 77; }
done
[[ -x $bin ]] || { echo "haproxy_rolling.sh: $bin is not built" >&2; exit 2; }

dir=$(mktemp -d /tmp/ringo-haproxy.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${failed:-1} == 0 ]]; then rm -rf "$dir"; else echo "logs kept in $dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$SECONDS
say() { echo "[$((SECONDS - t0))s] $*"; }
fail() {
  echo "FAIL: $*"
  failed=1
  for f in "$dir"/*.log; do echo "--- $f"; tail -n 15 "$f"; done
  exit 1
}

cat >"$dir/haproxy.cfg" <<EOF
global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  # No retry and no redispatch: a request the old instance dropped must show
  # as an error, not be replayed on the other one.
  retries 0
  no option redispatch

frontend web
  bind 127.0.0.1:$front
  default_backend ringo

backend ringo
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  default-server check inter 200ms fall 2 rise 1
  server a 127.0.0.1:${port[a]}
  server b 127.0.0.1:${port[b]}

listen stats
  bind 127.0.0.1:$stats
  stats enable
  stats uri /stats
EOF
haproxy -c -q -f "$dir/haproxy.cfg" >"$dir/haproxy-check.log" 2>&1 || fail "haproxy rejects its configuration"

# hstat SERVER COLUMN: one field of HAProxy's CSV statistics for a server of
# backend ringo (or the backend itself: SERVER=BACKEND, the frontend:
# FRONTEND with proxy web).
hstat() {
  local proxy=ringo
  [[ $1 == FRONTEND ]] && proxy=web
  curl -s --max-time 2 "http://127.0.0.1:$stats/stats;csv" |
    awk -F, -v px="$proxy" -v sv="$1" -v col="$2" '
      NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) idx[$i] = i; next }
      $1 == px && $2 == sv { print $(idx[col]) }' || true # not up yet: nothing
}
# wait_status SERVER WANT: until HAProxy reports the server WANT (UP or
# DOWN), at most 10 s.
wait_status() {
  local i s
  for ((i = 0; i < 200; i++)); do
    s=$(hstat "$1" status)
    [[ $s == "$2"* ]] && return 0
    sleep 0.05
  done
  fail "server $1 is '$s' after 10 s, want $2"
}

declare -A pid gen
start() { # NAME: starts an instance and waits for it to listen (10 s)
  local n=$1 i
  gen[$n]=$((${gen[$n]:-0} + 1))
  local log="$dir/$n.${gen[$n]}.log"
  "$bin" --addr "127.0.0.1:${port[$n]}" --procs 1 --drain "$drain" >"$log" 2>&1 &
  pid[$n]=$!
  pids+=("${pid[$n]}")
  for ((i = 0; i < 200; i++)); do
    grep -q "listening on" "$log" && return 0
    kill -0 "${pid[$n]}" 2>/dev/null || fail "instance $n exited at start"
    sleep 0.05
  done
  fail "instance $n does not listen after 10 s"
}

restart() { # NAME: SIGTERM, DOWN while alive, exit 0, start again, UP
  local n=$1 p=${pid[$1]} i rc=0 sent=$SECONDS
  say "SIGTERM to $n (pid $p)"
  kill -TERM "$p"
  wait_status "$n" DOWN
  kill -0 "$p" 2>/dev/null || fail "instance $n had exited before HAProxy marked it DOWN: no drain"
  say "  HAProxy marked $n DOWN while it drains"
  for ((i = 0; i < 300; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$p" 2>/dev/null && fail "instance $n still runs 15 s after SIGTERM"
  wait "$p" || rc=$?
  ((rc == 0)) || fail "instance $n exited with status $rc"
  say "  $n exited 0 after $((SECONDS - sent)) s; starting it again"
  start "$n"
  wait_status "$n" UP
  served0[$n]=$(hstat "$n" hrsp_2xx)
  say "  $n is UP again"
}

say "instances a and b, HAProxy on 127.0.0.1:$front"
start a
start b
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
hpid=$!
pids+=("$hpid")
wait_status a UP
wait_status b UP

# The load outlasts both restarts (each: drain + exit + start + first check).
secs=$(awk -v d="$drain" 'BEGIN { printf "%d", 2 * (d + 3) + 5 }')
say "wrk: $conns connections for $secs s through HAProxy"
timeout $((secs + 20)) wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$front/plaintext" >"$dir/wrk.log" 2>&1 &
wpid=$!
pids+=("$wpid")
declare -A served0
sleep 2 # load on both before the first restart
restart a
sleep 1
restart b
kill -0 "$wpid" 2>/dev/null || fail "the restarts outlasted wrk's run: make it longer"
say "restarts done; waiting for wrk"
rc=0
wait "$wpid" || rc=$?
((rc == 0)) || fail "wrk exited with status $rc"
cat "$dir/wrk.log"

problems=()
grep -q "Socket errors" "$dir/wrk.log" && problems+=("wrk: $(grep 'Socket errors' "$dir/wrk.log")")
grep -q "Non-2xx" "$dir/wrk.log" && problems+=("wrk: $(grep 'Non-2xx' "$dir/wrk.log")")
reqs=$(awk '/requests in/ { print $1 }' "$dir/wrk.log")
[[ ${reqs:-0} -gt 0 ]] || problems+=("wrk completed no request")
echo "HAProxy:   server   2xx   5xx  retries  redispatches  conn-errors  resp-errors"
for sv in a b BACKEND; do
  printf '           %-7s %5s %5s %8s %13s %12s %12s\n' "$sv" "$(hstat $sv hrsp_2xx)" "$(hstat $sv hrsp_5xx)" \
    "$(hstat $sv wretr)" "$(hstat $sv wredis)" "$(hstat $sv econ)" "$(hstat $sv eresp)"
  for col in hrsp_5xx wretr wredis econ eresp; do
    v=$(hstat $sv $col)
    [[ ${v:-0} == 0 ]] || problems+=("HAProxy $sv $col=$v")
  done
done
v=$(hstat FRONTEND hrsp_5xx)
[[ ${v:-0} == 0 ]] || problems+=("HAProxy frontend hrsp_5xx=$v")
for n in a b; do
  now=$(hstat "$n" hrsp_2xx)
  ((now > ${served0[$n]})) || problems+=("the new instance $n served nothing ($now answers, ${served0[$n]} when it came UP)")
done
if ((${#problems[@]})); then
  printf '  %s\n' "${problems[@]}"
  fail "requests were lost in the rolling restart"
fi
failed=0
say "ok: $reqs requests through two rolling restarts, none failed"
