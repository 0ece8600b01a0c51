#!/usr/bin/env bash
# run.sh — installs what is missing, builds ringo (release) into build/, and
# runs the main example, build/examples/goexit. Extra arguments go to it.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
ringo_install_deps

cmake --log-level=WARNING -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2 --target goexit
echo "== build/examples/goexit $*"
exec build/examples/goexit "$@"
