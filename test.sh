#!/usr/bin/env bash
# test.sh — installs what is missing, then configures, builds and tests every
# variant of the CI matrix. Usage: ./test.sh [variant...]   (default: all)
#
# Prints the time of each stage, the tests each variant ran, and last a line
# "N passed, N failed, N skipped" (totals); exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh

# The matrix, one entry per variant, built in build-<name>/ (or in the
# build of the variant named last, which it then reuses):
#   name | CMake arguments | environment for ctest | extra ctest arguments [| build of]
# Fields are split on spaces. Variants with the same extra ctest arguments
# must run the same number of tests, so a test binary lost in one variant
# fails the run instead of passing quietly.
VARIANTS=(
  "release | -DCMAKE_BUILD_TYPE=RelWithDebInfo | |"
  # The whole suite again on the epoll poller (the others use io_uring
  # where the kernel allows it), on the release build.
  "epoll   | -DCMAKE_BUILD_TYPE=RelWithDebInfo | RINGO_POLLER=epoll | | release"
  "asan    | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGO_SANITIZE=address,undefined -DRINGO_TEST_SCALE=0.1
           | ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 |"
  # GCC 12's TSan allows about 8,000 live fibers (one per G): a small scale.
  "tsan    | -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGO_SANITIZE=thread -DRINGO_TEST_SCALE=0.005
           | TSAN_OPTIONS=halt_on_error=1:die_after_fork=0:second_deadlock_stack=1 |"
  # libFuzzer (clang): the request reader for 60 s, and every saved crash.
  "fuzz    | -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DRINGO_FUZZ=ON | | -L fuzz"
)
COMMON_CMAKE=(-DRINGO_WERROR=ON)
CTEST=(ctest -j2 --output-on-failure --timeout 300 --no-tests=error)

declare -A V_CMAKE V_ENV V_CTEST V_DIR
ALL=()
for entry in "${VARIANTS[@]}"; do
  IFS='|' read -r name cmake_args env_args ctest_args build_of <<<"${entry//$'\n'/ }"
  name=${name//[[:space:]]/} build_of=${build_of//[[:space:]]/}
  ALL+=("$name")
  V_CMAKE[$name]=$cmake_args V_ENV[$name]=$env_args V_CTEST[$name]=$ctest_args
  V_DIR[$name]=build-${build_of:-$name}
done

selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for v in "${selected[@]}"; do
  [[ -n "${V_CMAKE[$v]+x}" ]] || { echo "test.sh: unknown variant '$v' (have: ${ALL[*]})" >&2; exit 2; }
done

t_start=$SECONDS
stage_time=0
stage() { # stage <label> <command...>: runs it, prints and keeps its time
  local label=$1 t0=$SECONDS rc=0
  shift
  echo "== $label"
  "$@" || rc=$?
  stage_time=$((SECONDS - t0))
  echo "== $label: ${stage_time} s$( ((rc == 0)) || echo ", FAILED (exit $rc)")"
  return $rc
}

stage "dependencies" ringo_install_deps

total_pass=0 total_fail=0 total_skip=0
failed=() report=()
declare -A first_count first_name
for v in "${selected[@]}"; do
  dir=${V_DIR[$v]}
  read -ra cmake_args <<<"${V_CMAKE[$v]}"
  read -ra env_args <<<"${V_ENV[$v]}"
  read -ra ctest_args <<<"${V_CTEST[$v]}"
  times=""
  # A variant that does not build counts as one failed test, so the summary
  # line never reads "0 failed" for a broken run.
  if ! stage "$v: configure" cmake --log-level=WARNING -S . -B "$dir" "${COMMON_CMAKE[@]}" "${cmake_args[@]}"; then
    failed+=("$v(configure)") total_fail=$((total_fail + 1)) report+=("$v: configure failed")
    continue
  fi
  times="configure ${stage_time} s"
  if ! stage "$v: build" cmake --build "$dir" -j2; then
    failed+=("$v(build)") total_fail=$((total_fail + 1)) report+=("$v: $times, build failed")
    continue
  fi
  times+=", build ${stage_time} s"

  log="$dir/ctest-$v.log"
  t0=$SECONDS
  set +e
  stage "$v: test" env "${env_args[@]}" "${CTEST[@]}" --test-dir "$dir" "${ctest_args[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  times+=", test $((SECONDS - t0)) s"

  # ctest ends with "100% tests passed, 0 tests failed out of 74"; skipped
  # tests are among the passed ones and listed under "did not run".
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
  if [[ -z "$summary" ]]; then
    echo "== $v: no ctest summary (exit $rc)" >&2
    failed+=("$v(test)") total_fail=$((total_fail + 1)) report+=("$v: $times, no tests ran")
    continue
  fi
  n_fail=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$summary")
  n_ran=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  n_skip=$(grep -cE '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' "$log" || true)
  n_pass=$((n_ran - n_fail - n_skip))
  total_pass=$((total_pass + n_pass)) total_fail=$((total_fail + n_fail)) total_skip=$((total_skip + n_skip))
  report+=("$v: $times; ran $n_ran tests: $n_pass passed, $n_fail failed, $n_skip skipped")
  if ((rc != 0 || n_fail != 0)); then failed+=("$v(test)"); fi

  key="ctest:${V_CTEST[$v]//[[:space:]]/}"
  if [[ -z "${first_count[$key]+x}" ]]; then
    first_count[$key]=$n_ran first_name[$key]=$v
  elif ((first_count[$key] != n_ran)); then
    echo "== $v ran $n_ran tests but ${first_name[$key]} ran ${first_count[$key]}" >&2
    failed+=("$v(test count)") total_fail=$((total_fail + 1))
  fi
done

echo
echo "== summary"
printf '   %s\n' "${report[@]}"
echo "   total time: $((SECONDS - t_start)) s"
((${#failed[@]} == 0)) || echo "   failed: ${failed[*]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
((${#failed[@]} == 0))
