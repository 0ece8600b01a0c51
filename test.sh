#!/usr/bin/env bash
# test.sh — installs what is missing, then builds and runs every test suite in
# every build variant (the CI matrix). Usage: ./test.sh [variant...]
#
# Each variant is one line in VARIANTS: a name, then its CMake arguments and
# environment. All variants run the same test list; the script checks that.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh

declare -A VARIANT_CMAKE=(
  [release]="-DCMAKE_BUILD_TYPE=RelWithDebInfo"
  [asan]="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGO_SANITIZE=address,undefined -DRINGO_TEST_SCALE=0.1"
)
declare -A VARIANT_ENV=(
  [release]=""
  [asan]="ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
)
ALL_VARIANTS=(release asan)

variants=("$@")
if ((${#variants[@]} == 0)); then variants=("${ALL_VARIANTS[@]}"); fi
for v in "${variants[@]}"; do
  [[ -n "${VARIANT_CMAKE[$v]+x}" ]] || { echo "unknown variant: $v (have: ${ALL_VARIANTS[*]})" >&2; exit 2; }
done

t_start=$SECONDS
stage() { # stage <label> <command...>: runs it and prints how long it took
  local label=$1 t0=$SECONDS
  shift
  echo "== $label"
  "$@"
  echo "== $label: $((SECONDS - t0)) s"
}

stage "dependencies" ringo_install_deps

total_pass=0 total_fail=0 counts=() failed_variants=()
for v in "${variants[@]}"; do
  dir="build-$v"
  # shellcheck disable=SC2086
  stage "$v: configure" cmake --log-level=WARNING -S . -B "$dir" ${VARIANT_CMAKE[$v]}
  stage "$v: build" cmake --build "$dir" -j2
  log="$dir/ctest.log"
  t0=$SECONDS
  echo "== $v: test"
  set +e
  # shellcheck disable=SC2086
  env ${VARIANT_ENV[$v]} ctest --test-dir "$dir" -j2 --output-on-failure --timeout 300 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  echo "== $v: test: $((SECONDS - t0)) s"
  # ctest's summary: "100% tests passed, 0 tests failed out of 52"
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -n1 || true)
  if [[ -z "$line" ]]; then
    echo "== $v: no ctest summary (rc=$rc)" >&2
    failed_variants+=("$v")
    counts+=("$v=0")
    continue
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  ran=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  echo "== $v: ran $ran tests, $failed failed"
  total_pass=$((total_pass + ran - failed))
  total_fail=$((total_fail + failed))
  counts+=("$v=$ran")
  if ((rc != 0 || failed != 0)); then failed_variants+=("$v"); fi
done

echo "== tests per variant: ${counts[*]}"
first=${counts[0]#*=}
for c in "${counts[@]}"; do
  if [[ "${c#*=}" != "$first" ]]; then
    echo "== variants ran different numbers of tests" >&2
    failed_variants+=("count-mismatch")
  fi
done
echo "== total: $((SECONDS - t_start)) s"
echo "$total_pass passed, $total_fail failed"
if ((${#failed_variants[@]} != 0)); then
  echo "== failed: ${failed_variants[*]}" >&2
  exit 1
fi
