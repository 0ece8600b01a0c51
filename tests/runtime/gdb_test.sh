#!/usr/bin/env bash
# gdb_test.sh — runtime/ringo-gdb.py against a live program with parked
# goroutines: `info goroutines` lists them with their wait reasons, and
# `goroutine N bt` shows the function each one parked in.
#   gdb_test.sh <gdb_target> <ringo-gdb.py>
set -uo pipefail
target=$1 script=$2
if ! command -v gdb >/dev/null; then
  echo "SKIP: gdb is not installed"
  exit 77
fi
out=$(timeout 60 gdb -nx -batch -ex "source $script" -ex run -ex "info goroutines" \
  -ex "goroutine 2 bt" -ex "goroutine 3 bt" -ex kill --args "$target" 2>&1)
echo "$out"
fail=0
expect() {
  if ! grep -Eq "$1" <<<"$out"; then
    echo "FAIL: no match for: $1"
    fail=1
  fi
}
expect '^goroutine 2 \[waiting \(chanReceive\)\] in '
expect '^goroutine 3 \[waiting \(syncMutexLock\)\] in '
expect 'parkInRecv'
expect 'parkInLock'
expect 'ringo::runtime::chanrecv'
expect 'goexit'
exit $fail
