#!/usr/bin/env bash
# bench_http.sh — HTTP/1.1 servers side by side under wrk, in one run on this
# machine: ringo's examples/hello, its Go net/http twin (gohttp/main.go, Go
# 1.19, Debian golang-go) and nginx (nginx/nginx.conf.in: one process,
# `return 200`, no access log); over HTTPS, ringo's examples/https_hello,
# gohttp --cert/--key and nginx with nginx/tls.conf.in.
#
#   loadtest/bench_http.sh                         # 5 alternating repetitions (about 7 minutes)
#   REPS=1 SECS=2 loadtest/bench_http.sh           # a smoke run
#   SERVERS="go nginx" loadtest/bench_http.sh      # without ringo
#   SCENARIOS="keepalive256 echo1k" loadtest/bench_http.sh
#   SCENARIOS="tls256 tlsnew" loadtest/bench_http.sh  # HTTPS
#
# Every run has one server on CPU 0 (ringo and Go with 1 proc, nginx as one
# process) and `wrk -t1` on CPU 1, over 127.0.0.1:
#   keepalive256  256 keep-alive connections, GET /plaintext
#   keepalive16   16 keep-alive connections, GET /plaintext
#   pipeline16    256 connections, each write carrying 16 GET /plaintext
#                 (wrk_http.lua), the next write after all 16 answers:
#                 TechEmpower's plaintext shape at its lowest concurrency;
#                 one read brings many requests, so parsing and answering
#                 weigh more than the syscalls
#   close         16 connections, `Connection: close`: a TCP connect,
#                 accept and close per request
#   echo1k        (not run by default) 256 keep-alive connections, POST
#                 /echo with a 1 KiB body; ringo and Go only, since stock
#                 nginx cannot echo a body
#   tls256        (not run by default) HTTPS, 256 keep-alive connections,
#                 GET /plaintext: the record layer's cost per request
#   tlsnew        (not run by default) HTTPS, 16 connections,
#                 `Connection: close`: a TCP connection and a TLS handshake
#                 per request. wrk resumes: after each answer it reuses its
#                 SSL object, whose session holds the server's last ticket,
#                 so all but a connection's first handshake are TLS 1.3
#                 resumptions (PSK with an X25519 exchange: no certificate,
#                 no signature), with every server, as all three issue
#                 tickets (one per handshake) and keep no session cache
#
# HTTPS: every run makes a certificate and key in build/loadtest/http/tls/
# with the openssl command (ECDSA P-256, self-signed for localhost and
# 127.0.0.1), served by all three. The TLS 1.3 suite is pinned on the
# client, the same for every server: wrk (and the check below) run with an
# OPENSSL_CONF that offers TLS_AES_128_GCM_SHA256 only, the suite Go picks by
# itself (Go's 1.3 suites cannot be set; OpenSSL servers, ringo's and
# nginx's, would pick AES_256_GCM from OpenSSL's default order). In the first
# repetition each server is checked with `openssl s_client` under that
# OPENSSL_CONF: the protocol, suite and key exchange it negotiates, and
# whether a second connection resumes with the first one's ticket; the
# report lists them.
#
# Each run starts a fresh server, discards a 1 s warm-up wrk run, measures
# a SECS run and stops the server with SIGTERM. It records wrk's requests/s,
# its latency p50 and p99 (wrk 4.1's, which include its synthetic
# coordinated-omission samples; with pipelining each answer's latency runs
# from the start of its write), the bytes per answer, wrk's error counts (socket
# errors, answers outside 2xx/3xx), and the server's CPU time per request:
# utime + stime of the server process (all threads, /proc/PID/stat fields
# 14 and 15) across the measured run, over the requests wrk completed, and
# that CPU time over the run's length ("busy": below 100% of CPU 0 the
# server was not what limited requests/s; wrk or the loopback was).
# Each repetition runs every scenario on the servers in turn (A B C A B C),
# so drift hits all of them; the table shows medians, ranges and ratios.
#
# Output: the table on stdout and in build/loadtest/http/report.md; each
# server's output in build/loadtest/http/<server>.log, wrk's in wrk.log,
# the TLS checks' s_client output in tls/<server>.txt.
# Environment: REPS (5), SECS (5), SERVERS ("ringo go nginx"), SCENARIOS
# ("keepalive256 pipeline16 close keepalive16"), HTTP_PORT (27380: ringo
# listens on it, Go on +1, nginx on +2, over HTTP or HTTPS alike). The ports
# sit below Linux's ephemeral range (32768-60999 by default) on purpose: the
# close and tlsnew scenarios leave thousands of wrk's ports in TIME_WAIT, and one of them on a server's
# port makes that server's next bind fail.
#
# Every step is bounded (a server must answer within 10 s and exit within
# 5 s of SIGTERM, else it is killed; wrk runs under `timeout`), so the run
# ends by itself; it stops only the processes it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ringo_install_deps

reps=${REPS:-5}
secs=${SECS:-5}
read -ra servers <<<"${SERVERS:-ringo go nginx}"
read -ra scenarios <<<"${SCENARIOS:-keepalive256 pipeline16 close keepalive16}"
base_port=${HTTP_PORT:-27380}
out=build/loadtest/http
ngx="$PWD/$out/nginx" # nginx's prefix: its config, pid file and temp paths
tlsd="$PWD/$out/tls" # the TLS scenarios' certificate, key and client OPENSSL_CONF
clk_tck=$(getconf CLK_TCK)
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

port_of() {
  case $1 in
    ringo) echo $((base_port)) ;;
    go) echo $((base_port + 1)) ;;
    nginx) echo $((base_port + 2)) ;;
  esac
}
scenario() { # name: sets conns, path, hdr (extra wrk flags), sargs (wrk_http.lua's arguments), tls (1: HTTPS)
  hdr=() sargs=() tls=0
  case $1 in
    keepalive256) conns=256 path=/plaintext ;;
    keepalive16) conns=16 path=/plaintext ;;
    pipeline16) conns=256 path=/plaintext sargs=(pipeline 16) ;;
    close) conns=16 path=/plaintext hdr=(-H "Connection: close") ;;
    echo1k) conns=256 path=/echo sargs=(body 1024) ;;
    tls256) conns=256 path=/plaintext tls=1 ;;
    tlsnew) conns=16 path=/plaintext hdr=(-H "Connection: close") tls=1 ;;
    *) return 1 ;;
  esac
}
runs_in() { # scenario server: whether that pair is run
  [[ $1 != echo1k || $2 != nginx ]]
}
url_of() { # server: the URL of $path on it, https for a TLS scenario
  local scheme=http
  if ((tls)); then scheme=https; fi
  echo "$scheme://127.0.0.1:$(port_of "$1")$path"
}

for s in "${servers[@]}"; do
  [[ -n $(port_of "$s") ]] || { echo "bench_http.sh: unknown server '$s' (ringo, go, nginx)"; exit 2; }
done
any_http=0 any_tls=0
for c in "${scenarios[@]}"; do
  scenario "$c" || { echo "bench_http.sh: unknown scenario '$c' (keepalive256 keepalive16 pipeline16 close echo1k tls256 tlsnew)"; exit 2; }
  if ((tls)); then any_tls=1; else any_http=1; fi
done
[[ $reps =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ ]] || { echo "bench_http.sh: REPS and SECS must be positive integers"; exit 2; }
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
if ((base_port + 2 >= eph_lo && base_port <= eph_hi)); then
  echo "note: HTTP_PORT $base_port..$((base_port + 2)) is in the ephemeral range $eph_lo-$eph_hi: a server may fail to bind after the close scenario"
fi

mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.log "$out"/report.md
rm -rf "$tlsd"

runs=0
for c in "${scenarios[@]}"; do for s in "${servers[@]}"; do if runs_in "$c" "$s"; then runs=$((runs + 1)); fi; done; done
runs=$((runs * reps))
# About 1.5 s per run besides SECS (warm-up, start, stop); at most 11 s to
# start, the two wrk runs' timeouts (duration + 12 s each) and 5 s to stop.
echo "== $runs runs of ${secs} s: about $(((runs * (secs * 10 + 15) / 10 + 59) / 60)) minutes, at most $(((runs * (secs + 1 + 24 + 11 + 5) + 59) / 60))"

if ((any_tls)); then
  echo "== a certificate for the TLS scenarios"
  mkdir -p "$tlsd"
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$tlsd/key.pem" -out "$tlsd/cert.pem" \
    >"$tlsd/openssl.log" 2>&1; then
    echo "FAILED: making the certificate:"
    tail -n 20 "$tlsd/openssl.log"
    exit 1
  fi
  # wrk's OpenSSL reads this at start: its ClientHello offers one TLS 1.3
  # suite, so every server negotiates the same one (see the top).
  printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'ssl_conf = ssl_sect' '[ssl_sect]' \
    'system_default = system_default_sect' '[system_default_sect]' \
    'Ciphersuites = TLS_AES_128_GCM_SHA256' >"$tlsd/client.cnf"
fi

echo "== building"
build_log="$out/build.log"
built() { # what: on failure shows the build log and stops
  echo "FAILED: building $1; $build_log says:"
  tail -n 30 "$build_log"
  exit 1
}
for s in "${servers[@]}"; do
  case $s in
    ringo)
      cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$build_log" 2>&1 || built "(configuring)"
      targets=$(cmake --build build --target help 2>&1) || true
      for t in $( ((any_http)) && echo hello) $( ((any_tls)) && echo https_hello); do
        if ! grep -qE "^(\.\.\. )?$t(:|\$)" <<<"$targets"; then # Makefiles list "... hello", Ninja "hello: phony"
          echo "FAILED: there is no $t target yet (examples/$t.cc); run with SERVERS=\"go nginx\""
          exit 1
        fi
        cmake --build build -j2 --target "$t" >>"$build_log" 2>&1 || built "$t"
      done
      ;;
    go)
      GOCACHE="$PWD/build/gocache" GOPATH="$PWD/build/gopath" GOFLAGS=-mod=mod \
        go build -o build/loadtest/gohttp loadtest/gohttp/main.go >>"$build_log" 2>&1 || built gohttp
      ;;
    nginx)
      mkdir -p "$ngx/tmp"
      sed -e "s|@PREFIX@|$ngx|g" -e "s|@PORT@|$(port_of nginx)|g" -e "s|@SSL@||" loadtest/nginx/nginx.conf.in >"$ngx/nginx.conf"
      # The TLS variant: tls.conf.in in place of the "# @TLS@" line (in a
      # first pass: what sed's r inserts escapes its s commands).
      sed -e "/^ *# @TLS@$/{r loadtest/nginx/tls.conf.in" -e "d}" loadtest/nginx/nginx.conf.in |
        sed -e "s|@PREFIX@|$ngx|g" -e "s|@PORT@|$(port_of nginx)|g" -e "s|@SSL@| ssl|" \
          -e "s|@CERT@|$tlsd/cert.pem|g" -e "s|@KEY@|$tlsd/key.pem|g" >"$ngx/nginx-tls.conf"
      for f in $( ((any_http)) && echo nginx.conf) $( ((any_tls)) && echo nginx-tls.conf); do
        "$nginx_bin" -t -q -p "$ngx/" -c "$ngx/$f" -e stderr >>"$out/nginx.log" 2>&1 || {
          echo "FAILED: nginx -t rejects $ngx/$f:"
          tail -n 20 "$out/nginx.log"
          exit 1
        }
      done
      ;;
  esac
done

# Every program runs in the background with its PID recorded, so that an
# interrupted run stops all of them, and only them.
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT # only those not yet reaped
trap 'exit 130' INT TERM

forget() { # pid: reaped, so no longer ours to kill
  local p left=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || left+=("$p"); done
  pids=("${left[@]}")
}
alive() { # pid: running (a zombie, exited but not yet reaped, is not)
  local s
  s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $s && ${s:0:1} != Z ]]
}
cpu_ticks() { # pid: utime + stime of the process, all its threads (fields 14 and 15, after the parenthesised name)
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
port_busy() { # port: something on 127.0.0.1 accepts connections on it
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
fail() { # log what: shows the log's tail and stops
  echo "FAILED: $2; $1 says:"
  tail -n 20 "$1"
  exit 1
}

start_server() { # server: on CPU 0 in the background (HTTPS if $tls); returns once it answers; sets spid
  local s=$1 port log="$out/$1.log" deadline url tlsargs=()
  port=$(port_of "$s")
  if ((tls)); then tlsargs=(--cert "$tlsd/cert.pem" --key "$tlsd/key.pem"); fi
  if port_busy "$port"; then
    echo "FAILED: 127.0.0.1:$port is already taken, before starting $s (set HTTP_PORT)"
    exit 1
  fi
  echo "--- $(date +%T) $s: $scen, run $r/$reps" >>"$log"
  case $s-$tls in
    ringo-0) taskset -c 0 build/examples/hello --addr "127.0.0.1:$port" --procs 1 >>"$log" 2>&1 & ;;
    ringo-1) taskset -c 0 build/examples/https_hello --addr "127.0.0.1:$port" --procs 1 "${tlsargs[@]}" >>"$log" 2>&1 & ;;
    go-*) taskset -c 0 build/loadtest/gohttp --addr "127.0.0.1:$port" --procs 1 "${tlsargs[@]}" >>"$log" 2>&1 & ;;
    nginx-0) taskset -c 0 "$nginx_bin" -p "$ngx/" -c "$ngx/nginx.conf" -e stderr >>"$log" 2>&1 & ;;
    nginx-1) taskset -c 0 "$nginx_bin" -p "$ngx/" -c "$ngx/nginx-tls.conf" -e stderr >>"$log" 2>&1 & ;;
  esac
  spid=$!
  pids+=("$spid")
  url=$(path=/plaintext url_of "$s")
  deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    alive "$spid" || fail "$log" "$s exited at start"
    if curl -sfk -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.1
  done
  fail "$log" "$s did not answer GET $url within 10 s"
}
# tls_check server: what wrk's OpenSSL negotiates with it (s_client under
# wrk's OPENSSL_CONF) and whether a second connection resumes with the
# first one's ticket: one line in $tlsd/<server>.check, s_client's output in
# $tlsd/<server>.txt. The half-second stdin keeps s_client connected until
# the server's ticket has come.
tls_check() {
  local s=$1 i log="$tlsd/$1.txt" line sessin=()
  for i in 1 2; do
    { sleep 0.5 | OPENSSL_CONF="$tlsd/client.cnf" timeout 5 openssl s_client -connect "127.0.0.1:$(port_of "$s")" \
      -servername localhost -sess_out "$tlsd/$s.sess" "${sessin[@]}" 2>&1 || true; } >>"$log"
    sessin=(-sess_in "$tlsd/$s.sess")
  done
  line=$(awk '/^Server Temp Key:/ && !kx { kx = $4; sub(/,$/, "", kx) }
    /^Peer signature type:/ && !sig { sig = $4 }
    /^(New|Reused), / { v[++n] = $0 }
    END { split(v[1], a, /, | is /)
      printf "%s %s, key exchange %s, signature %s; a second connection: %s", a[2], a[4],
        kx ? kx : "?", sig ? sig : "?", v[2] ~ /^Reused/ ? "resumed (ticket)" : "full handshake" }' "$log")
  echo "$s: $line" >"$tlsd/$s.check"
  echo "     $s negotiates $line"
}
stop_server() { # server pid: SIGTERM, 5 s, then SIGKILL; reaps it
  local log="$out/$1.log" rc=0 i
  kill -TERM "$2" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$2" || break
    sleep 0.1
  done
  if alive "$2"; then
    echo "     note: $1 still running 5 s after SIGTERM; killed" | tee -a "$log"
    kill -KILL "$2" 2>/dev/null || true
  fi
  wait "$2" || rc=$?
  forget "$2"
  # 143: ended by the SIGTERM itself (a server without a handler for it).
  if ((rc != 0 && rc != 143)); then echo "     note: $1 exited with status $rc after SIGTERM (see $log)"; fi
}

wrk_run() { # server duration: one wrk run of $scen against it, its output in $out/last.txt
  local rc=0 wpid
  local env=()
  if ((tls)); then env=(OPENSSL_CONF="$tlsd/client.cnf"); fi # the pinned TLS 1.3 suite
  echo "--- $(date +%T) $1: $scen, run $r/$reps, $2" >>"$out/wrk.log"
  env "${env[@]}" taskset -c 1 timeout -k 2 $(($2 + 10)) wrk -t1 -c"$conns" -d"$2"s --timeout 2s \
    -s loadtest/wrk_http.lua "${hdr[@]}" "$(url_of "$1")" -- "${sargs[@]}" \
    >"$out/last.txt" 2>&1 &
  wpid=$!
  pids+=("$wpid")
  wait "$wpid" || rc=$?
  forget "$wpid"
  cat "$out/last.txt" >>"$out/wrk.log"
  ((rc == 0)) || fail "$out/last.txt" "wrk against $1 ($scen; exit status $rc)"
  grep -q '^RESULT ' "$out/last.txt" || fail "$out/last.txt" "wrk against $1 ($scen) printed no RESULT line"
}

# bench server: one measured run of $scen; appends to $out/<server>.txt
#   scenario req/s p50_us p99_us cpu_us/req bytes/answer connect read write timeout status hidden busy%
# (hidden: the fraction of wrk's latency samples its percentile() cannot reach, see wrk_http.lua;
# busy%: the server's CPU time over the run's length, 100 when it used all of CPU 0)
bench() {
  local s=$1 t0 t1 line
  start_server "$s"
  if ((tls)) && [[ ! -f $tlsd/$s.check ]]; then tls_check "$s"; fi
  wrk_run "$s" 1 # warm-up, discarded
  t0=$(cpu_ticks "$spid")
  wrk_run "$s" "$secs"
  t1=$(cpu_ticks "$spid")
  alive "$spid" || fail "$out/$s.log" "$s died during the run"
  stop_server "$s" "$spid"
  line=$(awk -v scen="$scen" -v ticks=$((t1 - t0)) -v hz="$clk_tck" '
    /^RESULT / {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n = v["requests"]
      if (n == 0) exit 1
      printf "%s %.0f %d %d %.3f %.1f %d %d %d %d %d %s %.1f\n", scen, n / (v["duration_us"] / 1e6),
        v["p50_us"], v["p99_us"], ticks / hz * 1e6 / n, v["bytes"] / n,
        v["connect"], v["read"], v["write"], v["timeout"], v["status"], v["hidden"],
        100 * ticks / hz * 1e6 / v["duration_us"]
    }' "$out/last.txt") || fail "$out/last.txt" "wrk completed no request against $s ($scen)"
  echo "$line" >>"$out/$s.txt"
  awk -v s="$s" '{ e = $7 + $8 + $9 + $10 + $11
    printf "     %-6s %9s req/s  p50 %7.2f ms  p99 %7.2f ms  %7.2f µs CPU/request  CPU 0 %3.0f%% busy  %5.1f B/answer%s%s\n",
      s, $2, $3 / 1000, $4 / 1000, $5, $13, $6, e ? "  errors " e : "",
      ($12 > 0 ? sprintf("  (percentiles over %.2f%% of the latency samples; see wrk_http.lua)", 100 - 100 * $12) : "") }' <<<"$line"
}

for ((r = 1; r <= reps; r++)); do
  for scen in "${scenarios[@]}"; do
    scenario "$scen"
    echo "== run $r/$reps: $scen: wrk -t1 -c$conns${hdr[*]:+ ${hdr[*]}} $path${sargs[*]:+ -- ${sargs[*]}}, ${secs} s"
    for s in "${servers[@]}"; do
      if runs_in "$scen" "$s"; then bench "$s"; fi
    done
  done
done

col() { # file scenario column -> that column's values for the scenario, sorted
  [[ -f $1 ]] || return 0
  awk -v c="$2" -v k="$3" '$1 == c { print $k }' "$1" | sort -g
}
median() {
  col "$@" | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
range() { # file scenario column format
  col "$1" "$2" "$3" | awk -v f="$4" 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf f "–" f, lo, hi }'
}
errors() { # file scenario -> wrk's error counts summed over the runs
  [[ -f $1 ]] || return 0
  awk -v c="$2" '$1 == c { for (i = 7; i <= 11; i++) e[i] += $i; n++ }
    END { if (!n) exit; split("connect read write timeout non-2xx/3xx", name, " ")
      for (i = 7; i <= 11; i++) if (e[i]) { s = s (s ? ", " : "") name[i - 6] " " e[i] }
      print s ? s : "none" }' "$1"
}
fmt() { awk -v f="$1" -v v="$2" 'BEGIN { if (v == "") print "-"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }

table() {
  local s c a o
  echo "HTTP/1.1 over 127.0.0.1: one server on CPU 0, wrk -t1 on CPU 1, $reps alternating runs of $secs s, medians (min–max)"
  echo "machine: $(nproc) CPUs, $(uname -r), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?);" \
    "$(go version | awk '{print $3}'), $("$nginx_bin" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(openssl version | awk '{ print $1, $2 }')"
  echo
  if ((any_tls)); then
    echo "HTTPS (tls256, tlsnew): one ECDSA P-256 self-signed certificate for all; wrk offers TLS_AES_128_GCM_SHA256 only"
    echo "(OPENSSL_CONF); in tlsnew wrk resumes with the last ticket, so every handshake but a connection's first is a"
    echo "TLS 1.3 resumption (PSK + X25519). Negotiated, by openssl s_client under wrk's OPENSSL_CONF:"
    echo
    for s in "${servers[@]}"; do
      if [[ -f $tlsd/$s.check ]]; then sed 's/^/- /' "$tlsd/$s.check"; fi
    done
    echo
  fi
  echo "server CPU µs/request: the server's user + system CPU time over the measured run, over the requests answered;"
  echo "busy: that CPU time over the run's length (100% is all of CPU 0: below it, the server was not the bottleneck)."
  echo
  echo "| scenario | server | requests/s | p50 ms | p99 ms | server CPU µs/request | busy % | bytes/answer | wrk errors (all runs) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for c in "${scenarios[@]}"; do
    for s in "${servers[@]}"; do
      runs_in "$c" "$s" || continue
      a="$out/$s.txt"
      echo "| $c | $s | $(fmt %.0f "$(median "$a" "$c" 2)") ($(range "$a" "$c" 2 %.0f)) |" \
        "$(fmt %.2f "$(median "$a" "$c" 3 | awk '{ print $1 / 1000 }')") |" \
        "$(fmt %.2f "$(median "$a" "$c" 4 | awk '{ print $1 / 1000 }')") |" \
        "$(fmt %.2f "$(median "$a" "$c" 5)") ($(range "$a" "$c" 5 %.2f)) |" \
        "$(fmt %.0f "$(median "$a" "$c" 13)") | $(fmt %.0f "$(median "$a" "$c" 6)") | $(errors "$a" "$c") |"
    done
  done
  ((${#servers[@]} > 1)) || return 0
  a=${servers[0]}
  echo
  echo "Ratios of medians, $a over each other server: requests/s above 1 and CPU µs/request below 1 favour $a."
  echo
  printf '| scenario |'
  for o in "${servers[@]:1}"; do printf ' %s/%s requests/s | %s/%s CPU µs/request |' "$a" "$o" "$a" "$o"; done
  echo
  printf '|---|'
  for o in "${servers[@]:1}"; do printf -- '---|---|'; done
  echo
  for c in "${scenarios[@]}"; do
    printf '| %s |' "$c"
    for o in "${servers[@]:1}"; do
      printf ' %s | %s |' \
        "$(ratio "$(median "$out/$a.txt" "$c" 2)" "$(median "$out/$o.txt" "$c" 2)")" \
        "$(ratio "$(median "$out/$a.txt" "$c" 5)" "$(median "$out/$o.txt" "$c" 5)")"
    done
    echo
  done
}

echo
table | tee "$out/report.md"
