#!/usr/bin/env bash
# bench_http.sh — the former name of run.sh (the load-test tool), kept for the docs and habits that use it.
exec "$(dirname "$0")/run.sh" "$@"
