#!/usr/bin/env bash
# Builds tests/install/consumer against ringo and runs it; the consumer must
# exit 0 and print "ringo <version>".
#
#   run_install_test.sh find_package      installed into a scratch prefix:
#                                         find_package(ringo), then pkg-config
#   run_install_test.sh add_subdirectory  the source tree, add_subdirectory
#
# Options (tests/CMakeLists.txt passes them from the build under test):
#   --source DIR --build DIR --work DIR --cmake EXE --pkg-config EXE --cxx EXE
#   --build-type T --sanitize LIST --version X.Y.Z
set -euo pipefail
mode=$1
shift
src="" build="" work="" cmake=cmake pkgconfig=pkg-config cxx=c++ build_type=RelWithDebInfo sanitize="" version=""
while (($#)); do
  case $1 in
    --source) src=$2 ;;
    --build) build=$2 ;;
    --work) work=$2 ;;
    --cmake) cmake=$2 ;;
    --pkg-config) pkgconfig=$2 ;;
    --cxx) cxx=$2 ;;
    --build-type) build_type=$2 ;;
    --sanitize) sanitize=$2 ;;
    --version) version=$2 ;;
    *) echo "run_install_test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
consumer="$src/tests/install/consumer"
rm -rf "$work"
mkdir -p "$work"

# quiet <log> <command...>: the command's output only if it fails.
quiet() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "FAIL: $*" >&2
    exit 1
  fi
}

check() { # check <program>: exits 0 and prints the version
  local out rc=0
  out=$("$1" 2>&1) || rc=$?
  echo "$out"
  if ((rc != 0)) || [[ "$out" != *"ringo $version"* ]]; then
    echo "FAIL: $1 exited $rc; want status 0 and 'ringo $version' in its output" >&2
    exit 1
  fi
  echo "ok: $1"
}

consumer_cmake=(-DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$build_type"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

case $mode in
find_package)
  prefix="$work/prefix"
  quiet "$work/install.log" "$cmake" --install "$build" --prefix "$prefix"

  quiet "$work/fp-configure.log" "$cmake" -S "$consumer" -B "$work/fp" "${consumer_cmake[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix"
  # The package must come from the scratch prefix, not from a system install.
  found=$(sed -n 's/^ringo_DIR:PATH=//p' "$work/fp/CMakeCache.txt")
  [[ "$found" == "$prefix"/* ]] || { echo "FAIL: find_package(ringo) used '$found', not $prefix" >&2; exit 1; }
  quiet "$work/fp-build.log" "$cmake" --build "$work/fp"
  check "$work/fp/consumer"

  pcdir=$(dirname "$(find "$prefix" -name ringo.pc -print -quit)")
  flags=$(PKG_CONFIG_PATH="$pcdir" "$pkgconfig" --cflags --libs ringo)
  echo "pkg-config --cflags --libs ringo: $flags"
  [[ "$flags" == *"-I$prefix/"* ]] || { echo "FAIL: ringo.pc does not point into $prefix" >&2; exit 1; }
  # shellcheck disable=SC2086  # flags are a word list by design
  quiet "$work/pc-build.log" "$cxx" -O2 "$consumer/main.cc" -o "$work/pc-consumer" $flags
  check "$work/pc-consumer"
  ;;
add_subdirectory)
  quiet "$work/sub-configure.log" "$cmake" -S "$consumer" -B "$work/sub" "${consumer_cmake[@]}" \
    -DRINGO_SOURCE_DIR="$src" -DRINGO_SANITIZE="$sanitize"
  quiet "$work/sub-build.log" "$cmake" --build "$work/sub" -j2
  check "$work/sub/consumer"
  ;;
*)
  echo "run_install_test.sh: mode is find_package or add_subdirectory, not $mode" >&2
  exit 2
  ;;
esac
echo "install test ($mode) passed"
