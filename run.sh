#!/usr/bin/env bash
# run.sh — installs what is missing, builds ringo into build/, and runs the
# main example. Extra arguments go to the example.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
ringo_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target goexit
echo "== build/examples/goexit $*"
exec build/examples/goexit "$@"
