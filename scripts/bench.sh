#!/bin/sh
# The performance benchmark, one command (bench/README.md):
#   scripts/bench.sh [bench_e2e options, e.g. --quick]
# Builds the project's default -O2 tree (RelWithDebInfo) in build-bench/,
# runs bench_e2e (touchpointd end to end against raw ZeroMQ PUB->SUB on the same machine, in the same run) and
# bench_engine (the rule engine alone), prints both tables and writes
# bench/results/<UTC date>.json (e2e), <date>-engine.json and <date>-dash.json
# (bench_dash: events/s with 10 open dashboards against none). Takes about
# three minutes on the 2-core development machine; every run stops by itself.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target touchpointd bench_e2e bench_engine bench_dash >/dev/null
mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
build-bench/bench_e2e --json "bench/results/$stamp.json" "$@"
echo
build-bench/bench_engine | tee "bench/results/$stamp-engine.txt" | head -n -1
tail -n 1 "bench/results/$stamp-engine.txt" > "bench/results/$stamp-engine.json"
rm "bench/results/$stamp-engine.txt"
echo
# The dashboard's cost: events/s with 10 open dashboards against none.
case " $* " in *" --quick "*) dash_opts=--quick ;; *) dash_opts= ;; esac
build-bench/bench_dash $dash_opts --json "bench/results/$stamp-dash.json"
echo
echo "results: bench/results/$stamp.json bench/results/$stamp-engine.json bench/results/$stamp-dash.json"
