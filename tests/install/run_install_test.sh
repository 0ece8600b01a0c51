#!/usr/bin/env bash
# Builds tests/install/consumer against ringo three ways and runs it:
# installed + find_package, installed + pkg-config, and add_subdirectory.
# Usage: run_install_test.sh <ringo source dir> <scratch dir> <cmake>
set -euo pipefail
src=$1 work=$2 cmake=${3:-cmake}
rm -rf "$work"
mkdir -p "$work"
consumer="$src/tests/install/consumer"
expect="ringo 0.1.0 consumer: 3"

check() {
  local out
  out=$("$@")
  if [[ "$out" != "$expect" ]]; then
    echo "FAIL: $* printed '$out', want '$expect'" >&2
    exit 1
  fi
  echo "ok: $*"
}

# 1. Install ringo into a prefix.
"$cmake" -S "$src" -B "$work/ringo-build" -DCMAKE_BUILD_TYPE=Release \
  -DRINGO_BUILD_TESTS=OFF -DRINGO_BUILD_EXAMPLES=OFF -DRINGO_INSTALL=ON \
  -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
"$cmake" --build "$work/ringo-build" -j2 >/dev/null
"$cmake" --install "$work/ringo-build" >/dev/null

# 2. find_package(ringo).
"$cmake" -S "$consumer" -B "$work/fp" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
"$cmake" --build "$work/fp" >/dev/null
check "$work/fp/consumer"

# 3. pkg-config.
libdir=$(ls -d "$work"/prefix/lib*/pkgconfig | head -n1)
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs ringo)
# shellcheck disable=SC2086
c++ "$consumer/main.cc" -o "$work/pc-consumer" $flags
check "$work/pc-consumer"

# 4. add_subdirectory.
"$cmake" -S "$consumer" -B "$work/sub" -DRINGO_SOURCE_DIR="$src" >/dev/null
"$cmake" --build "$work/sub" -j2 >/dev/null
check "$work/sub/consumer"
echo "install test passed"
