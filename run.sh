#!/usr/bin/env bash
# run.sh — installs what is missing, builds ringo (release) into build/, runs
# the seeds' program (build/examples/goexit: print 4, 1, 2), then starts the
# HTTP example, build/examples/hello, on 127.0.0.1:8080 until Ctrl-C.
#
#   ./run.sh                      # goexit, then hello
#   ./run.sh goexit [args...]     # only goexit (e.g. --no-goexit)
#   ./run.sh hello [args...]      # only hello (e.g. --addr 127.0.0.1:9000 --procs 2)
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
ringo_install_deps

cmake --log-level=WARNING -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2 --target goexit hello
what=${1:-both}
[ $# -gt 0 ] && shift
case "$what" in
  goexit)
    echo "== build/examples/goexit $*"
    exec build/examples/goexit "$@" ;;
  hello)
    echo "== build/examples/hello $*"
    exec build/examples/hello "$@" ;;
  both)
    echo "== build/examples/goexit"
    build/examples/goexit
    echo "== build/examples/hello --addr 127.0.0.1:8080 (try: curl 127.0.0.1:8080/; Ctrl-C stops it)"
    exec build/examples/hello --addr 127.0.0.1:8080 ;;
  *)
    echo "usage: $0 [goexit|hello] [args...]" >&2
    exit 2 ;;
esac
