# deps.sh — sourced by run.sh and test.sh: installs the Debian packages ringo
# needs, only those missing, with one `apt-get update` first.
#
#   ringo_install_deps               # RINGO_DEPS below
#   ringo_install_deps gnuplot-nox   # those and the named extras (a script's
#                                    # own tools, not installed for everyone)
#
# build: compiler, CMake, pkg-config, GoogleTest, Google Benchmark
# later layers and peers: liburing, OpenSSL, llhttp (C sources), wrk, curl,
# Go 1.19 and nginx for side-by-side runs, clang for libFuzzer, gdb for the
# goroutine script's test, python3 for the HTTP client tests (http.client),
# nlohmann-json3-dev for the JSON example, openssl (the command: the TLS
# tests' s_client), ca-certificates (the client's default trust store) and
# haproxy (loadtest/haproxy_rolling.sh: rolling restarts behind it).
RINGO_DEPS=(build-essential cmake pkg-config googletest libgtest-dev libbenchmark-dev
  liburing-dev libssl-dev node-llhttp wrk curl golang-go nginx clang gdb python3 nlohmann-json3-dev
  openssl ca-certificates haproxy)

ringo_install_deps() {
  local missing=() p
  for p in "${RINGO_DEPS[@]}" "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "== dependencies: all $((${#RINGO_DEPS[@]} + $#)) packages installed"
    return 0
  fi
  echo "== installing: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
