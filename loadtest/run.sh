#!/usr/bin/env bash
# run.sh — the load-test tool: HTTP/1.1 servers side by side under wrk, in
# one run on this machine: ringo's examples/hello, its Go net/http twin
# (gohttp/main.go, Go 1.19, Debian golang-go), nginx (nginx/nginx.conf.in:
# one process, `return 200`, no access log) and any server of yours; over
# HTTPS, ringo's examples/https_hello, gohttp --cert/--key and nginx with
# nginx/tls.conf.in. It writes a Markdown report and two plots.
#
#   loadtest/run.sh                                # the default scenarios, 3 alternating repetitions (about 12 minutes)
#   REPS=1 SECS=2 loadtest/run.sh keepalive256     # a smoke run of one scenario
#   loadtest/run.sh tls256 tlsnew                  # HTTPS (or SCENARIOS="tls256 tlsnew")
#   SERVERS="go nginx" loadtest/run.sh             # without ringo
#   loadtest/run.sh --server myapp=9000:'./myapp --port 9000' keepalive256
#   PUBLISH=1 loadtest/run.sh                      # also copy the report and plots to loadtest/results/
#   REPS=1 SECS=2 PROFILE=1 loadtest/run.sh keepalive256 close   # with perf profiles of ringo in the report
#   loadtest/run.sh soak ARGS...                   # exec loadtest/soak.sh ARGS... (when it exists)
#
# On a machine shared with others, take the CPU lock around it:
#   flock /tmp/ringo-cpu.lock loadtest/run.sh
# (run.sh takes no lock itself: a nested flock on the same file would wait
# for ever.)
#
# Every run has one server on CPU 0 (ringo and Go with 1 proc, nginx as one
# process, yours as you start it) and `wrk -t1` on CPU 1, over 127.0.0.1:
#   keepalive16   16 keep-alive connections, GET /plaintext
#   keepalive64   64 keep-alive connections, GET /plaintext
#   keepalive256  256 keep-alive connections, GET /plaintext
#   keepalive1024 1024 keep-alive connections, GET /plaintext (needs
#                 `ulimit -n` above 1024 plus a margin; checked at start)
#   pipeline16    256 connections, each write carrying 16 GET /plaintext
#                 (wrk_http.lua), the next write after all 16 answers:
#                 TechEmpower's plaintext shape at its lowest concurrency;
#                 one read brings many requests, so parsing and answering
#                 weigh more than the syscalls. With ringo it also runs
#                 "ceiling": uring_responder.cc, a bare io_uring server
#                 that parses nothing (it counts "\r\n\r\n" and sends as
#                 many canned answers of hello's size), the upper bound of
#                 a server doing no HTTP work here; the ratio to it is
#                 ringo's share of what the machine allows
#   close         16 connections, `Connection: close`: a TCP connect,
#                 accept and close per request
#   echo1k        256 keep-alive connections, POST /echo with a 1 KiB body;
#                 not nginx, since stock nginx cannot echo a body
#   echo64k       the same with a 64 KiB body
#   abort10       256 keep-alive connections, GET /plaintext, but every
#                 10th request is GET /abort, which the server cuts
#                 mid-answer (hello: head and part of the body, then
#                 Goexit; Go: a flush, then panic(http.ErrAbortHandler));
#                 not nginx. wrk counts each cut as a read error and
#                 reconnects; the report lists the aborts sent, the other
#                 answers that came back OK and wrk's errors, and checks
#                 that errors <= aborts sent (any error beyond an abort is
#                 a request that should have been answered). wrk calls Lua
#                 for every request and answer here, so it is slower than
#                 in keepalive256: read the CPU per request, not the rate
#   tls256        HTTPS, 256 keep-alive connections, GET /plaintext: the
#                 record layer's cost per request
#   tlsnew        HTTPS, 16 connections, `Connection: close`: a TCP
#                 connection and a TLS handshake per request. wrk resumes:
#                 after each answer it reuses its SSL object, whose session
#                 holds the server's last ticket, so all but a connection's
#                 first handshake are TLS 1.3 resumptions (PSK with an
#                 X25519 exchange: no certificate, no signature), with every
#                 server, as all three issue tickets (one per handshake) and
#                 keep no session cache
#   reuseport     (ringo only) scale-out over this
#                 machine's two CPUs, keepalive256's load, three variants
#                 alternated: ringo-reuseport (two hello processes, each
#                 --procs 1 --reuseport, on one port: the kernel spreads
#                 connections between their listeners), ringo-procs2 (one
#                 hello, --procs 2) and ringo (the pinned baseline: one
#                 proc on CPU 0, wrk on CPU 1, as keepalive256). With only
#                 two CPUs and wrk needing one, no pinning is honest for the
#                 two scaled variants: their server processes and wrk are
#                 all left unpinned on both CPUs and share them as the
#                 scheduler decides. Their "busy" is over one CPU, so it can
#                 read up to 200%; a rate above the baseline's means the
#                 server took CPU time from wrk and still came out ahead.
# The default set is every scenario above except echo64k and reuseport.
#
# Your own server (any number of them): `--server NAME=PORT:COMMAND` or
# EXTRA_SERVERS="NAME=PORT:COMMAND;NAME=PORT:COMMAND". run.sh starts
# `bash -c COMMAND` pinned to CPU 0 (bash execs a single command, so its PID
# is the server's; the CPU time counted is that process's and its
# descendants'), waits up to 10 s for any HTTP answer to GET
# http://127.0.0.1:PORT/plaintext, runs, and stops it with SIGTERM by PID.
# It runs the plaintext scenarios (keepalive*, pipeline16, close) and echo*
# and abort10 (a server without POST /echo or GET /abort shows errors
# there), not the TLS ones nor reuseport.
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
# a SECS run and stops the server with SIGTERM (hello and https_hello get
# `--drain 0`, when the binary has that flag: their default drain on SIGTERM
# would add seconds to every run). It records wrk's requests/s, its latency
# p50, p99 and p99.9 (wrk 4.1's, which include its synthetic
# coordinated-omission samples; with pipelining each answer's latency runs
# from the start of its write), the bytes per answer, wrk's error counts (socket
# errors, answers outside 2xx/3xx), and the server's CPU time per request:
# utime + stime of the server process (all threads, /proc/PID/stat fields
# 14 and 15, with its descendants') across the measured run, over the
# requests wrk completed, and that CPU time over the run's length ("busy":
# below 100% of CPU 0 the server was not what limited requests/s; wrk or
# the loopback was).
# Each repetition runs every scenario on the servers in turn (A B C A B C),
# so drift hits all of them; the report shows medians, ranges and ratios.
#
# Output, in build/loadtest/http/: report.md (also printed at the end),
# throughput.svg (requests/s against keep-alive connections, from the
# keepalive scenarios that ran) and latency.svg (p50/p99/p99.9 at
# keepalive256), drawn by gnuplot (installed as gnuplot-nox if missing;
# .png twins beside them); each server's output in <server>.log, wrk's in
# wrk.log, the TLS checks' s_client output in tls/<server>.txt. PUBLISH=1
# copies report.md and the SVGs to loadtest/results/ (committed, shown by
# the README).
# Environment: REPS (3), SECS (5), SERVERS ("ringo go nginx"), SCENARIOS
# (the default set; arguments win), EXTRA_SERVERS, PUBLISH, PROFILE,
# PROFILE_SCENARIOS, PROFILE_SECS (below), HTTP_PORT
# (27380: ringo listens on it, Go on +1, nginx on +2, the ceiling on +3,
# over HTTP or HTTPS alike). The ports sit below Linux's ephemeral range (32768-60999 by
# default) on purpose: the close and tlsnew scenarios leave thousands of
# wrk's ports in TIME_WAIT, and one of them on a server's port makes that
# server's next bind fail.
#
# The profile (PROFILE=1; the default when the default set runs with ringo,
# as the published report is meant to name ringo's costs; about 9 s per
# scenario, under 30 s in all): after the measured runs, one more ringo run
# per profiled scenario (PROFILE_SCENARIOS, default keepalive256 pipeline16
# close, those of them in the run) with `perf record -e cpu-clock -F 1999
# -g` attached to the server for PROFILE_SECS (3) s in the middle of a wrk
# run. cpu-clock, as this VM has no hardware counters; frame-pointer call
# chains, as ringo is built with them (DWARF would write ~100 times the
# data). The report's "Where ringo's CPU goes" gives per scenario the
# shares by DSO, the 15 symbols with the most self time and the inclusive
# time of the main paths, each also in µs per request (share × the median
# CPU µs/request of the measured runs). perf is Debian's linux-perf,
# installed only when profiling; a perf that cannot record leaves a note and
# no section, never a failed run. Raw reports in perf-<scenario>.txt,
# perf.data in perf-<scenario>.data.
#
# Every step is bounded (a server must answer within 10 s and exit within
# 5 s of SIGTERM, else it is killed; wrk runs under `timeout`), so the run
# ends by itself; it stops only the processes it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == soak ]]; then
  shift
  [[ -f loadtest/soak.sh ]] || { echo "run.sh: soak mode runs loadtest/soak.sh, which this checkout lacks"; exit 2; }
  if [[ -x loadtest/soak.sh ]]; then exec loadtest/soak.sh "$@"; fi
  exec bash loadtest/soak.sh "$@"
fi

all_scenarios="keepalive16 keepalive64 keepalive256 keepalive1024 pipeline16 close echo1k echo64k abort10 tls256 tlsnew reuseport"
default_scenarios=$all_scenarios # every scenario an issue-9 goal needs: about 12 minutes
usage() {
  echo "usage: loadtest/run.sh [--server NAME=PORT:COMMAND]... [scenario...]   (or: loadtest/run.sh soak ARGS...)"
  echo "scenarios: $all_scenarios"
  exit "${1:-2}"
}

# Arguments: --server specs and scenario names.
specs=() args=()
if [[ -n ${EXTRA_SERVERS:-} ]]; then IFS=';' read -ra specs <<<"$EXTRA_SERVERS"; fi
while (($#)); do
  case $1 in
    --server) (($# >= 2)) || usage; specs+=("$2"); shift 2 ;;
    --server=*) specs+=("${1#--server=}"); shift ;;
    -h | --help) usage 0 ;;
    -*) usage ;;
    *) args+=("$1"); shift ;;
  esac
done

source scripts/deps.sh
ringo_install_deps gnuplot-nox

reps=${REPS:-3}
secs=${SECS:-5}
read -ra servers <<<"${SERVERS:-ringo go nginx}"
if ((${#args[@]})); then scenarios=("${args[@]}"); else read -ra scenarios <<<"${SCENARIOS:-$default_scenarios}"; fi
base_port=${HTTP_PORT:-27380}
out=build/loadtest/http
ngx="$PWD/$out/nginx" # nginx's prefix: its config, pid file and temp paths
tlsd="$PWD/$out/tls" # the TLS scenarios' certificate, key and client OPENSSL_CONF
clk_tck=$(getconf CLK_TCK)
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# Your servers: NAME=PORT:COMMAND each.
declare -A extra_port=() extra_cmd=()
for spec in "${specs[@]}"; do
  [[ -z ${spec//[[:space:]]/} ]] && continue
  if [[ ! $spec =~ ^([A-Za-z0-9_.]+)=([0-9]+):(.+)$ ]]; then
    echo "run.sh: bad server '$spec': want NAME=PORT:COMMAND (NAME of letters, digits, _ and .)"
    exit 2
  fi
  name=${BASH_REMATCH[1]}
  case $name in ringo | go | nginx | ceiling)
    echo "run.sh: server name '$name' is taken by a built-in server"
    exit 2
    ;;
  esac
  extra_port[$name]=${BASH_REMATCH[2]} extra_cmd[$name]=${BASH_REMATCH[3]}
  servers+=("$name")
done

port_of() {
  case $1 in
    ringo | ringo-procs2 | ringo-reuseport) echo $((base_port)) ;;
    go) echo $((base_port + 1)) ;;
    nginx) echo $((base_port + 2)) ;;
    ceiling) echo $((base_port + 3)) ;;
    *) echo "${extra_port[$1]:-}" ;;
  esac
}
builtin() { [[ $1 == ringo || $1 == go || $1 == nginx ]]; }
scenario() { # name: sets conns, path, hdr (extra wrk flags), sargs (wrk_http.lua's arguments), tls (1: HTTPS)
  hdr=() sargs=() tls=0
  case $1 in
    keepalive16 | keepalive64 | keepalive256 | keepalive1024) conns=${1#keepalive} path=/plaintext ;;
    pipeline16) conns=256 path=/plaintext sargs=(pipeline 16) ;;
    close) conns=16 path=/plaintext hdr=(-H "Connection: close") ;;
    echo1k) conns=256 path=/echo sargs=(body 1024) ;;
    echo64k) conns=256 path=/echo sargs=(body 65536) ;;
    abort10) conns=256 path=/plaintext sargs=(abort 10) ;;
    tls256) conns=256 path=/plaintext tls=1 ;;
    tlsnew) conns=16 path=/plaintext hdr=(-H "Connection: close") tls=1 ;;
    reuseport) conns=256 path=/plaintext ;;
    *) return 1 ;;
  esac
}
servers_of() { # scenario: sets run_servers, the servers it runs on, in order
  local s
  run_servers=()
  if [[ $1 == reuseport ]]; then
    # The first is the one the ratios are of (see table).
    if [[ " ${servers[*]} " == *" ringo "* ]]; then run_servers=(ringo-reuseport ringo-procs2 ringo); fi
    return 0
  fi
  for s in "${servers[@]}"; do
    case $1-$s in
      echo*-nginx | abort10-nginx) ;; # stock nginx cannot echo, and has no /abort
      pipeline16-ringo) run_servers+=(ringo ceiling) ;; # ringo's pipelining against the bare io_uring responder
      tls*-*) if builtin "$s"; then run_servers+=("$s"); fi ;;
      *) run_servers+=("$s") ;;
    esac
  done
}
pinned() { # server: on CPU 0 with wrk on CPU 1 (else both unpinned: reuseport's scaled variants)
  [[ $1 != ringo-procs2 && $1 != ringo-reuseport ]]
}
url_of() { # server: the URL of $path on it, https for a TLS scenario
  local scheme=http
  if ((tls)); then scheme=https; fi
  echo "$scheme://127.0.0.1:$(port_of "$1")$path"
}

for s in "${servers[@]}"; do
  [[ -n $(port_of "$s") ]] || { echo "run.sh: unknown server '$s' (ringo, go, nginx, or add one with --server)"; exit 2; }
done
any_http=0 any_tls=0 max_conns=0
for c in "${scenarios[@]}"; do
  scenario "$c" || { echo "run.sh: unknown scenario '$c' ($all_scenarios)"; exit 2; }
  if ((tls)); then any_tls=1; else any_http=1; fi
  if ((conns > max_conns)); then max_conns=$conns; fi
done
[[ $reps =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: REPS and SECS must be positive integers"; exit 2; }
# The profile (see the top): on by default for the default set only, so
# the published report names ringo's costs and smoke runs stay short.
profile=0 profiled=() psecs=${PROFILE_SECS:-3}
if [[ " ${servers[*]} " == *" ringo "* ]]; then
  if [[ -n ${PROFILE:-} ]]; then profile=$PROFILE
  elif ((${#args[@]} == 0)) && [[ -z ${SCENARIOS:-} ]]; then profile=1; fi
fi
[[ $profile == [01] && $psecs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: PROFILE must be 0 or 1, PROFILE_SECS a positive integer"; exit 2; }
if ((profile)); then
  for c in ${PROFILE_SCENARIOS:-keepalive256 pipeline16 close}; do
    if [[ " ${scenarios[*]} " != *" $c "* || $c == reuseport ]]; then
      # Only a measured scenario has the CPU µs/request its shares convert to.
      if [[ -n ${PROFILE_SCENARIOS:-} ]]; then echo "note: PROFILE_SCENARIOS: $c is not in this run (or is reuseport); not profiled"; fi
      continue
    fi
    profiled+=("$c")
  done
  if ((${#profiled[@]})) && ! command -v perf >/dev/null; then ringo_install_deps linux-perf || true; fi
  if ((${#profiled[@]})) && ! command -v perf >/dev/null; then
    echo "note: no perf (Debian's linux-perf did not install): no profile"
    profiled=()
  fi
fi
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
if ((base_port + 3 >= eph_lo && base_port <= eph_hi)); then
  echo "note: HTTP_PORT $base_port..$((base_port + 3)) is in the ephemeral range $eph_lo-$eph_hi: a server may fail to bind after the close scenario"
fi
# wrk and every server inherit this limit: each connection is a descriptor
# on both sides, plus a few dozen for the program itself.
nofile=$(ulimit -n)
if [[ $nofile != unlimited ]] && ((nofile < max_conns + 64)); then
  echo "run.sh: ulimit -n is $nofile; $max_conns connections need at least $((max_conns + 64)) (raise it, or leave keepalive1024 out)"
  exit 2
fi

mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.log "$out"/*.dat "$out"/*.tsv "$out"/*.rate "$out"/*.data "$out"/*.svg "$out"/*.png "$out"/report.md
rm -rf "$tlsd"

runs=0
for c in "${scenarios[@]}"; do servers_of "$c"; runs=$((runs + ${#run_servers[@]})); done
runs=$((runs * reps))
# About 1.5 s per run besides SECS (warm-up, start, stop); at most 11 s to
# start, the two wrk runs' timeouts (duration + 12 s each) and 5 s to stop.
echo "== $runs runs of ${secs} s: about $(((runs * (secs * 10 + 15) / 10 + 59) / 60)) minutes, at most $(((runs * (secs + 1 + 24 + 11 + 5) + 59) / 60))"
if ((${#profiled[@]})); then
  # Each: start, the 1 s warm-up, wrk for PROFILE_SECS + 2 s, stop, perf report.
  echo "== then ${#profiled[@]} profiled ringo runs (${profiled[*]}): about $((${#profiled[@]} * (psecs + 6))) s more"
fi

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
drain=() # hello's and https_hello's flag for an immediate stop, when they have it
for s in "${servers[@]}"; do
  case $s in
    ringo)
      cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$build_log" 2>&1 || built "(configuring)"
      targets=$(cmake --build build --target help 2>&1) || true
      for t in $( ((any_http)) && echo hello) $( ((any_tls)) && echo https_hello) \
        $([[ " ${scenarios[*]} " == *" pipeline16 "* ]] && echo uring_responder); do
        if ! grep -qE "^(\.\.\. )?$t(:|\$)" <<<"$targets"; then # Makefiles list "... hello", Ninja "hello: phony"
          echo "FAILED: there is no $t target yet (examples/$t.cc); run with SERVERS=\"go nginx\""
          exit 1
        fi
        cmake --build build -j2 --target "$t" >>"$build_log" 2>&1 || built "$t"
      done
      # Older hellos lack --drain (and stop at once anyway); their usage
      # message would refuse it. The flag's name is in the binary iff it
      # parses it.
      if grep -qaF -- --drain build/examples/hello; then
        drain=(--drain 0)
      else
        echo "note: build/examples/hello has no --drain flag; started without it"
      fi
      if [[ " ${scenarios[*]} " == *" reuseport "* ]] && ! grep -qaF -- --reuseport build/examples/hello; then
        echo "note: build/examples/hello has no --reuseport flag yet: the reuseport scenario will fail"
      fi
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
# cpu_ticks pid...: utime + stime of these processes and their descendants,
# all threads (fields 14 and 15; after the parenthesised name they are the
# 12th and 13th, the parent PID the 2nd). A process that exits during the
# run takes its time with it, unless its parent has reaped it (cutime is not
# counted: it would add a reaped child's whole life).
cpu_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v roots=" $* " '
    { pid = $1; sub(/^.*\) /, ""); parent[pid] = $2; t[pid] = $12 + $13 }
    END {
      for (p in t)
        for (q = p; q > 1; q = parent[q])
          if (index(roots, " " q " ")) { sum += t[p]; break }
      print sum + 0
    }'
}
port_busy() { # port: something on 127.0.0.1 accepts connections on it
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
listeners() { # port: how many sockets listen on it (two with reuseport)
  ss -Hltn "sport = :$1" | wc -l
}
fail() { # log what: shows the log's tail and stops
  echo "FAILED: $2; $1 says:"
  tail -n 20 "$1"
  exit 1
}

launch() { # server log command...: starts it in the background, pinned to CPU 0 if the server is; adds its PID to spids
  local s=$1 log=$2
  shift 2
  if pinned "$s"; then
    taskset -c 0 "$@" >>"$log" 2>&1 &
  else
    "$@" >>"$log" 2>&1 &
  fi
  spids+=("$!")
  pids+=("$!")
}
start_server() { # server: in the background (HTTPS if $tls); returns once it answers; sets spids
  local s=$1 port log="$out/$1.log" deadline url p want=1 curlf=(-f) tlsargs=()
  port=$(port_of "$s")
  spids=()
  if ((tls)); then tlsargs=(--cert "$tlsd/cert.pem" --key "$tlsd/key.pem"); fi
  if port_busy "$port"; then
    echo "FAILED: 127.0.0.1:$port is already taken, before starting $s (set HTTP_PORT, or pick another port)"
    exit 1
  fi
  echo "--- $(date +%T) $s: $scen, run $r/$reps" >>"$log"
  case $s-$tls in
    ringo-0) launch "$s" "$log" build/examples/hello --addr "127.0.0.1:$port" --procs 1 "${drain[@]}" ;;
    ceiling-0) launch "$s" "$log" build/loadtest/uring_responder --port "$port" ;;
    ringo-1) launch "$s" "$log" build/examples/https_hello --addr "127.0.0.1:$port" --procs 1 "${drain[@]}" "${tlsargs[@]}" ;;
    ringo-procs2-0) launch "$s" "$log" build/examples/hello --addr "127.0.0.1:$port" --procs 2 "${drain[@]}" ;;
    ringo-reuseport-0)
      want=2
      for p in 1 2; do launch "$s" "$log" build/examples/hello --addr "127.0.0.1:$port" --procs 1 --reuseport "${drain[@]}"; done
      ;;
    go-*) launch "$s" "$log" build/loadtest/gohttp --addr "127.0.0.1:$port" --procs 1 "${tlsargs[@]}" ;;
    nginx-0) launch "$s" "$log" "$nginx_bin" -p "$ngx/" -c "$ngx/nginx.conf" -e stderr ;;
    nginx-1) launch "$s" "$log" "$nginx_bin" -p "$ngx/" -c "$ngx/nginx-tls.conf" -e stderr ;;
    *-0)
      curlf=() # any HTTP answer will do: yours may not have /plaintext
      launch "$s" "$log" bash -c "${extra_cmd[$s]}"
      ;;
  esac
  url=$(path=/plaintext url_of "$s")
  deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    for p in "${spids[@]}"; do alive "$p" || fail "$log" "$s exited at start"; done
    if curl -sk "${curlf[@]}" -o /dev/null --max-time 1 "$url" && ((want == 1 || $(listeners "$port") >= want)); then return 0; fi
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
stop_server() { # server: SIGTERM to each of spids, 5 s, then SIGKILL; reaps them
  local log="$out/$1.log" rc i p
  for p in "${spids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    for p in "${spids[@]}"; do alive "$p" && break; done
    alive "$p" || break
    sleep 0.1
  done
  for p in "${spids[@]}"; do
    if alive "$p"; then
      echo "     note: $1 (PID $p) still running 5 s after SIGTERM; killed" | tee -a "$log"
      kill -KILL "$p" 2>/dev/null || true
    fi
    rc=0
    wait "$p" || rc=$?
    forget "$p"
    # 143: ended by the SIGTERM itself (a server without a handler for it).
    if ((rc != 0 && rc != 143)); then echo "     note: $1 exited with status $rc after SIGTERM (see $log)"; fi
  done
}

wrk_run() { # server duration: one wrk run of $scen against it, its output in $out/last.txt
  local rc=0 wpid
  local env=() pin=()
  if ((tls)); then env=(OPENSSL_CONF="$tlsd/client.cnf"); fi # the pinned TLS 1.3 suite
  if pinned "$1"; then pin=(taskset -c 1); fi
  echo "--- $(date +%T) $1: $scen, run $r/$reps, $2" >>"$out/wrk.log"
  env "${env[@]}" "${pin[@]}" timeout -k 2 $(($2 + 10)) wrk -t1 -c"$conns" -d"$2"s --timeout 2s \
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

elapsed() { # seconds -> 3m10s
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# bench server: one measured run of $scen; appends to $out/<server>.txt
#   scenario req/s p50_us p99_us cpu_us/req bytes/answer connect read write timeout status hidden busy% p999_us aborts ok
# (hidden: the fraction of wrk's latency samples its percentile() cannot reach, see wrk_http.lua;
# busy%: the server's CPU time over the run's length, 100 when it used all of one CPU;
# aborts, ok: abort10's /abort requests sent and other answers 2xx/3xx, else 0)
done_runs=0
bench() {
  local s=$1 t0 t1 line
  done_runs=$((done_runs + 1))
  echo "[$done_runs/$runs $(elapsed $SECONDS)] $scen $s run $r/$reps ..."
  start_server "$s"
  if ((tls)) && [[ ! -f $tlsd/$s.check ]]; then tls_check "$s"; fi
  wrk_run "$s" 1 # warm-up, discarded
  t0=$(cpu_ticks "${spids[@]}")
  wrk_run "$s" "$secs"
  t1=$(cpu_ticks "${spids[@]}")
  for p in "${spids[@]}"; do alive "$p" || fail "$out/$s.log" "$s died during the run"; done
  stop_server "$s"
  line=$(awk -v scen="$scen" -v ticks=$((t1 - t0)) -v hz="$clk_tck" '
    /^RESULT / {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n = v["requests"]
      if (n == 0) exit 1
      printf "%s %.0f %d %d %.3f %.1f %d %d %d %d %d %s %.1f %d %d %d\n", scen, n / (v["duration_us"] / 1e6),
        v["p50_us"], v["p99_us"], ticks / hz * 1e6 / n, v["bytes"] / n,
        v["connect"], v["read"], v["write"], v["timeout"], v["status"], v["hidden"],
        100 * ticks / hz * 1e6 / v["duration_us"], v["p999_us"], v["aborts"], v["ok"]
    }' "$out/last.txt") || fail "$out/last.txt" "wrk completed no request against $s ($scen)"
  echo "$line" >>"$out/$s.txt"
  awk -v s="$s" '{ e = $7 + $8 + $9 + $10 + $11
    printf "     %-6s %9s req/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  %7.2f µs CPU/request  %3.0f%% busy  %5.1f B/answer%s%s%s\n",
      s, $2, $3 / 1000, $4 / 1000, $14 / 1000, $5, $13, $6, e ? "  errors " e : "",
      ($15 > 0 ? sprintf("  (aborts sent %d, others OK %d)", $15, $16) : ""),
      ($12 > 0 ? sprintf("  (percentiles over %.2f%% of the latency samples; see wrk_http.lua)", 100 - 100 * $12) : "") }' <<<"$line"
}

for ((r = 1; r <= reps; r++)); do
  for scen in "${scenarios[@]}"; do
    scenario "$scen"
    servers_of "$scen"
    if ((${#run_servers[@]} == 0)); then
      if ((r == 1)); then echo "== $scen: none of the servers runs it; skipped"; fi
      continue
    fi
    echo "== run $r/$reps: $scen: wrk -t1 -c$conns${hdr[*]:+ ${hdr[*]}} $path${sargs[*]:+ -- ${sargs[*]}}, ${secs} s"
    for s in "${run_servers[@]}"; do bench "$s"; done
  done
done
echo "== $runs runs in $(elapsed $SECONDS)"

# profile_run scenario: one more ringo run of it under `perf record` (see the
# top): perf.data in $out/perf-<scenario>.data, perf's reports in
# perf-<scenario>.txt, the report's tables in perf-<scenario>.{dso,sym,incl}.tsv.
# A perf that cannot record leaves a note, never a failed run.
perf_tsv() { # data perf-report-args...: perf's rows as tab-separated fields, padding trimmed
  local data=$1
  shift
  perf report -i "$data" --stdio -t $'\t' -g none "$@" 2>/dev/null |
    awk -F'\t' '!/^#/ && NF > 1 { for (i = 1; i <= NF; i++) { gsub(/^ +| +$/, "", $i); sub(/^\[[.k]\] /, "", $i) }
      $1 = $1; print }' OFS='\t'
}
profile_run() {
  local c=$1 data="$out/perf-$1.data" raw="$out/perf-$1.txt" plog="$out/perf-$1.log" ppid rc=0
  scen=$c r=profile
  scenario "$c"
  echo "[profile $(elapsed $SECONDS)] $c ringo under perf record, ${psecs} s ..."
  start_server ringo
  wrk_run ringo 1 # warm-up, discarded
  # perf on CPU 1 beside wrk, so the server keeps CPU 0 to itself; it
  # attaches a second into wrk's run and detaches a second before its end.
  # Frame-pointer call chains: ringo is built with them (RingoHelpers.cmake)
  # and the tables below need none; DWARF would write ~100 times the data.
  (sleep 1 && exec taskset -c 1 perf record -e cpu-clock -F 1999 -g -N -o "$data" -p "${spids[0]}" -- sleep "$psecs") >"$plog" 2>&1 &
  ppid=$!
  pids+=("$ppid")
  wrk_run ringo $((psecs + 2))
  wait "$ppid" || rc=$?
  forget "$ppid"
  stop_server ringo
  if ((rc != 0)) || [[ ! -s $data ]] || ! perf report -i "$data" --stdio >/dev/null 2>&1; then
    echo "     note: perf could not record ringo in $c (status $rc); no profile of it. $plog says:"
    tail -n 5 "$plog" | sed 's/^/       /'
    rm -f "$data"
    return 0
  fi
  awk '/^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["duration_us"] > 0) printf "%.0f\n", v["requests"] / (v["duration_us"] / 1e6) }' "$out/last.txt" >"$out/perf-$c.rate"
  perf_tsv "$data" --no-children --sort dso >"$out/perf-$c.dso.tsv"
  perf_tsv "$data" --no-children -F overhead,dso,sym --percent-limit 0.1 >"$out/perf-$c.sym.tsv"
  perf_tsv "$data" --children -F overhead_children,overhead,dso,sym --percent-limit 1 >"$out/perf-$c.incl.tsv"
  {
    echo "# ringo (build/examples/hello), $c: perf record -e cpu-clock -F 1999 -g -p PID, ${psecs} s under wrk"
    echo "# $(grep -h 'Captured and wrote' "$plog")"
    echo "# wrk under perf: $(cat "$out/perf-$c.rate") requests/s; perf.data: $data (perf report -i it)"
    echo
    echo "## Self time by DSO"
    perf report -i "$data" --stdio --no-children --sort dso -g none 2>&1 | grep -v '^#' | grep -v '^$'
    echo
    echo "## Self time by symbol (>= 0.2%)"
    perf report -i "$data" --stdio --no-children -F overhead,dso,sym -g none --percent-limit 0.2 2>&1 | grep -v '^#' | grep -v '^$'
    echo
    echo "## Inclusive time (self + callees, frame-pointer call chains; >= 2%)"
    perf report -i "$data" --stdio --children -F overhead_children,overhead,dso,sym -g none --percent-limit 2 2>&1 | grep -v '^#' | grep -v '^$'
    echo
    echo "## Callers of the symbols with >= 3% self time"
    perf report -i "$data" --stdio --no-children -F overhead,dso,sym -g graph,0.5,callee,function,percent --percent-limit 3 2>&1 | grep -v '^#'
  } >"$raw"
  echo "     $(grep -h 'Captured and wrote' "$plog" | sed 's/^\[ perf record: //; s/ \]$//'); $(cat "$out/perf-$c.rate") requests/s under perf; $raw"
}
if ((${#profiled[@]})); then
  echo "== profiles: ${profiled[*]}"
  for c in "${profiled[@]}"; do profile_run "$c"; done
fi

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
ms() { median "$@" | awk '{ print $1 / 1000 }'; }

describe() { # scenario: one line on what it runs
  case $1 in
    keepalive*) echo "$conns keep-alive connections, GET /plaintext" ;;
    pipeline16) echo "256 connections, 16 GET /plaintext per write (the next write after all 16 answers)" ;;
    close) echo "16 connections, \`Connection: close\`: a TCP connection per request" ;;
    echo1k | echo64k) echo "256 keep-alive connections, POST /echo with a ${sargs[1]}-byte body; nginx skipped (stock nginx cannot echo a body)" ;;
    abort10) echo "256 keep-alive connections, GET /plaintext with every 10th request GET /abort (cut mid-answer by the server); nginx skipped (no /abort)" ;;
    tls256) echo "HTTPS, 256 keep-alive connections, GET /plaintext" ;;
    tlsnew) echo "HTTPS, 16 connections, \`Connection: close\`: a TLS 1.3 resumption per request" ;;
    reuseport) echo "256 keep-alive connections, GET /plaintext: ringo-reuseport (2 processes × --procs 1 --reuseport) and ringo-procs2 (1 process, --procs 2), servers and wrk unpinned on both CPUs, against ringo pinned as in keepalive256 (busy % is of one CPU: up to 200)" ;;
  esac
}

table() { # scenario: its Markdown table, ratios of its first server to each other
  local c=$1 s a first
  servers_of "$c"
  first=${run_servers[0]}
  echo "| server | requests/s median [min–max] | p50 ms | p99 ms | p99.9 ms | CPU µs/request median [min–max] | busy % | wrk errors (all runs) | $first/this requests/s | $first/this CPU µs/request |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for s in "${run_servers[@]}"; do
    a="$out/$s.txt"
    if [[ ! -f $a ]] || ! grep -q "^$c " "$a"; then continue; fi
    echo "| $s | $(fmt %.0f "$(median "$a" "$c" 2)") [$(range "$a" "$c" 2 %.0f)] |" \
      "$(fmt %.2f "$(ms "$a" "$c" 3)") | $(fmt %.2f "$(ms "$a" "$c" 4)") | $(fmt %.2f "$(ms "$a" "$c" 14)") |" \
      "$(fmt %.2f "$(median "$a" "$c" 5)") [$(range "$a" "$c" 5 %.2f)] | $(fmt %.0f "$(median "$a" "$c" 13)") |" \
      "$(errors "$a" "$c") |" \
      "$(if [[ $s == "$first" ]]; then echo "1"; else ratio "$(median "$out/$first.txt" "$c" 2)" "$(median "$a" "$c" 2)"; fi) |" \
      "$(if [[ $s == "$first" ]]; then echo "1"; else ratio "$(median "$out/$first.txt" "$c" 5)" "$(median "$a" "$c" 5)"; fi) |"
  done
  if [[ $c == abort10 ]]; then
    echo
    echo "Aborted requests, summed over the runs: wrk's errors must not exceed the /abort requests sent (each cut answer is one read error; a request in flight when the run ends is neither)."
    echo
    echo "| server | /abort requests sent | other answers OK | wrk errors | errors ≤ aborts sent |"
    echo "|---|---|---|---|---|"
    for s in "${run_servers[@]}"; do
      [[ -f $out/$s.txt ]] || continue
      awk -v c="$c" -v s="$s" '$1 == c { sent += $15; ok += $16; e += $7 + $8 + $9 + $10 + $11; n++ }
        END { if (n) printf "| %s | %d | %d | %d | %s |\n", s, sent, ok, e, e <= sent ? "yes" : "**NO**" }' "$out/$s.txt"
    done
  fi
}

# The profile's tables: perf's shares of the server's CPU samples, and each
# as µs per request (share × the median CPU µs/request of the measured runs).
perf_table() { # tsv us-per-request header rows: a Markdown table of the tsv's first rows
  awk -F'\t' -v us="$2" -v head="$3" -v rows="$4" 'BEGIN {
      n = split(head, h, "|"); line = "|"; rule = "|"
      for (i = 1; i <= n; i++) { line = line " " h[i] " |"; rule = rule "---|" }
      print line; print rule }
    function md(s) { if (length(s) > 90) s = substr(s, 1, 89) "…"; gsub(/\|/, "\\|", s); return "`" s "`" }
    NR <= rows { share = $1; sub(/%$/, "", share)
      if (NF == 2) printf "| %s | %.1f%% | %.2f |\n", md($2), share, share / 100 * us
      else if (NF == 3) printf "| %d | %s | %s | %.1f%% | %.2f |\n", NR, md($3), $2, share, share / 100 * us
      else { self = $2; sub(/%$/, "", self)
        printf "| %s | %s | %.1f%% | %.2f | %.1f%% |\n", md($4), $3, share, share / 100 * us, self } }' "$1"
}
profile_report() {
  local c us rate any=0
  for c in "${profiled[@]}"; do if [[ -f $out/perf-$c.sym.tsv ]]; then any=1; fi; done
  ((any)) || return 0
  echo
  echo "## Where ringo's CPU goes"
  echo
  echo "After the measured runs, one more ringo run per scenario below, with \`perf record -e cpu-clock -F 1999 -g\`"
  echo "attached to the server for ${psecs} s (perf itself on CPU 1 beside wrk). A share is of the server's CPU samples,"
  echo "user and kernel; µs/request is that share times the median CPU µs/request of the measured runs (the DSO rows"
  echo "add up to a request's CPU cost). Inclusive time follows frame-pointer call chains: the poller's io_uring_enter,"
  echo "under \`schedule\`, runs the sends and receives the connections' goroutines queued, and a send over loopback"
  echo "delivers the packet to wrk's socket in a softirq on the server's CPU. cpu-clock is a timer (no hardware counters"
  echo "on this VM): a tick that comes while interrupts are off is taken where they come back on, so"
  echo "\`_raw_spin_unlock_irqrestore\`, \`_raw_spin_unlock_irq\` and \`handle_softirqs\` carry the cost of the code"
  echo "before them. perf's own overhead shows in the requests/s under perf. Raw reports, with call graphs:"
  echo "perf-<scenario>.txt beside this report (perf-<scenario>.data for \`perf report -i\`)."
  if grep -qs $'\[kernel[^\t]*\t0x\|\[unknown\]\t0xffff' "$out"/perf-*.sym.tsv "$out"/perf-*.dso.tsv; then
    echo
    echo "**Kernel symbols did not resolve ([unknown] or raw addresses): /proc/kallsyms hid them (kptr_restrict, or perf not run as root).**"
  fi
  for c in "${profiled[@]}"; do
    [[ -f $out/perf-$c.sym.tsv ]] || continue
    us=$(median "$out/ringo.txt" "$c" 5)
    rate=$(cat "$out/perf-$c.rate" 2>/dev/null || true)
    echo
    echo "### $c"
    echo
    echo "$(fmt %.2f "$us") CPU µs/request (median of the measured runs, $(fmt %.0f "$(median "$out/ringo.txt" "$c" 2)") requests/s);" \
      "$(fmt %.0f "$rate") requests/s under perf."
    echo
    echo "By DSO (self time):"
    echo
    perf_table "$out/perf-$c.dso.tsv" "$us" "DSO|share|µs/request" 8
    echo
    echo "The 15 symbols with the most self time:"
    echo
    perf_table "$out/perf-$c.sym.tsv" "$us" "#|symbol|DSO|self share|µs/request" 15
    echo
    echo "Inclusive time (self + callees) of the request's main paths:"
    echo
    awk -F'\t' '$4 ~ /^(io_(send|recv|accept|close|connect|read|write|sendmsg|recvmsg|shutdown)|handle_softirqs|io_submit_sqes|__x64_sys_[a-z0-9_]+|ringo::http::detail::conn::[A-Za-z]+|llhttp__internal_execute|ringo::runtime::(gopark|goready|schedule|findRunnable)|ringo::netpoll::.*::poll)$/' \
      "$out/perf-$c.incl.tsv" | perf_table - "$us" "function|DSO|inclusive share|µs/request|self share" 20
  done
}

version() { "$@" 2>&1 | head -n 1 || true; }
report() {
  local c s dirty=""
  if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then dirty=" (with uncommitted changes)"; fi
  echo "# HTTP load test"
  echo
  echo "- date: $(date '+%Y-%m-%d %H:%M %Z')"
  echo "- machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs ($(grep -c '^processor' /proc/cpuinfo) in /proc/cpuinfo)"
  echo "- kernel: $(uname -r)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo ?)$dirty"
  echo "- peers: $(version go version | awk '{ print $3 }'), $(version "$nginx_bin" -v | sed 's/.*: //'), $(version wrk -v | awk '{ print $1, $2 }'), $(version openssl version | awk '{ print $1, $2 }')"
  echo "- runs: $reps alternating repetitions of ${secs} s per scenario and server, each after a 1 s warm-up, a fresh server per run"
  for s in "${servers[@]}"; do
    if ! builtin "$s"; then echo "- $s: \`${extra_cmd[$s]}\` on 127.0.0.1:$(port_of "$s")"; fi
  done
  echo
  echo "One server on CPU 0 (ringo and Go with one proc, nginx as one process), \`wrk -t1\` on CPU 1, over 127.0.0.1."
  echo "Latencies are wrk's (with its coordinated-omission correction). CPU µs/request: the server's user + system CPU"
  echo "time over the measured run, over the requests answered; busy: that time over the run's length (100% is all of"
  echo "CPU 0: below it the server was not the bottleneck). Ratios are of medians: requests/s above 1 and CPU µs/request"
  echo "below 1 favour the first server."
  if ((any_tls)); then
    echo
    echo "HTTPS (tls256, tlsnew): one ECDSA P-256 self-signed certificate for all; wrk offers TLS_AES_128_GCM_SHA256 only"
    echo "(OPENSSL_CONF); in tlsnew wrk resumes with the last ticket, so every handshake but a connection's first is a"
    echo "TLS 1.3 resumption (PSK + X25519). Negotiated, by openssl s_client under wrk's OPENSSL_CONF:"
    echo
    for s in "${servers[@]}"; do
      if [[ -f $tlsd/$s.check ]]; then sed 's/^/- /' "$tlsd/$s.check"; fi
    done
  fi
  for c in "${scenarios[@]}"; do
    scenario "$c"
    servers_of "$c"
    ((${#run_servers[@]})) || continue
    echo
    echo "## $c"
    echo
    echo "$(describe "$c")."
    echo
    table "$c"
  done
  profile_report
  if [[ -f $out/throughput.svg ]]; then
    echo
    echo "![requests/s against keep-alive connections](throughput.svg)"
  fi
  if [[ -f $out/latency.svg ]]; then
    echo
    echo "![latency percentiles at 256 keep-alive connections](latency.svg)"
  fi
}

# gnuplot_both NAME: draws the gnuplot script on stdin (without terminal
# and output) to NAME.svg and, for a quick look, NAME.png.
gnuplot_both() {
  local script term ext
  script=$(cat)
  for term in "svg size 720,450 dynamic font 'sans,13' background rgb 'white'" "pngcairo size 720,450 font 'sans,11'"; do
    ext=${term%% *}
    ext=${ext/pngcairo/png}
    printf 'set terminal %s\nset output %s\n%s\n' "$term" "'$out/$1.$ext'" "$script" | gnuplot ||
      echo "note: gnuplot failed on $1.$ext"
  done
}

# The plots' data: one column per server, medians.
plots() {
  local c s n=0 row
  command -v gnuplot >/dev/null || { echo "note: no gnuplot; no plots"; return 0; }
  rm -f "$out/throughput.dat" "$out/latency.dat"
  for c in 16 64 256 1024; do
    [[ " ${scenarios[*]} " == *" keepalive$c "* ]] || continue
    n=$((n + 1))
    row=$c
    for s in "${servers[@]}"; do row+=" $(median "$out/$s.txt" "keepalive$c" 2 | awk '{ print } END { if (!NR) print "-" }')"; done
    echo "$row" >>"$out/throughput.dat"
  done
  if ((n)); then
    sed -i "1i connections ${servers[*]}" "$out/throughput.dat"
    gnuplot_both throughput <<EOF
set title 'Requests/s against keep-alive connections (medians)'
set offsets 0, 0, graph 0.08, 0
set xlabel 'keep-alive connections'
set ylabel 'requests/s'
set logscale x 2
set xtics (16, 64, 256, 1024)
set xrange [11:1500]
set yrange [0:*]
set format y '%.0s%c'
set key outside right top
set grid ytics
set datafile missing '-'
plot for [i=2:$((${#servers[@]} + 1))] '$out/throughput.dat' using 1:i with linespoints lw 2 pt 7 title columnheader(i)
EOF
  fi
  if [[ " ${scenarios[*]} " == *" keepalive256 "* ]]; then
    {
      echo "percentile ${servers[*]}"
      for k in "p50 3" "p99 4" "p99.9 14"; do
        row=${k% *}
        for s in "${servers[@]}"; do row+=" $(median "$out/$s.txt" keepalive256 "${k#* }" | awk '{ print $1 / 1000 } END { if (!NR) print "-" }')"; done
        echo "$row"
      done
    } >"$out/latency.dat"
    gnuplot_both latency <<EOF
set title 'Latency at 256 keep-alive connections (wrk, medians of runs)'
set ylabel 'ms (log scale)'
set logscale y
set xrange [-0.3:2.3]
set key outside right top
set grid ytics mytics
set datafile missing '-'
plot for [i=2:$((${#servers[@]} + 1))] '$out/latency.dat' using 0:i:xtic(1) with linespoints lw 2 pt 7 title columnheader(i)
EOF
  fi
}

echo
plots
report | tee "$out/report.md"
echo
echo "== report: $out/report.md$( [[ -f $out/throughput.svg ]] && echo ", $out/throughput.svg")$( [[ -f $out/latency.svg ]] && echo ", $out/latency.svg")"
if [[ ${PUBLISH:-0} == 1 ]]; then
  mkdir -p loadtest/results
  cp "$out/report.md" loadtest/results/
  for f in throughput.svg latency.svg; do
    if [[ -f $out/$f ]]; then cp "$out/$f" loadtest/results/; fi
  done
  echo "== published to loadtest/results/ (commit it to show it in the README)"
fi
