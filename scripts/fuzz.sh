#!/bin/sh
# Builds the libFuzzer targets (fuzz/) with clang and runs each one for N
# seconds (default 60) over a temporary copy of its seed corpus, so the
# repository is never written to. Fails on any crash, leak, UB, timeout or
# out-of-memory; a failing input is kept in $BUILD/fuzz-artifacts/ and
# replayed once more with its full report.
#
#   scripts/fuzz.sh [SECONDS]           all targets, one after the other
#   FUZZ_TARGETS="fuzz_json" scripts/fuzz.sh 600
#
# Needs clang and libclang-rt-14-dev (.ci/run installs them; apt-get install -y clang libclang-rt-14-dev).
# Run from anywhere; the build goes to $BUILD (default build-fuzz in the
# repository root).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-60}
BUILD=${BUILD:-$ROOT/build-fuzz}
TARGETS=${FUZZ_TARGETS:-"fuzz_engine fuzz_json fuzz_config"}
CC=${CC:-clang}

case "$SECONDS_EACH" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz.sh: $CC not found (install clang and libclang-rt-14-dev)" >&2
    exit 1
fi

CC="$CC" cmake -S "$ROOT" -B "$BUILD" -DTP_FUZZ=ON -DTP_BUILD_TESTS=OFF >/dev/null
# shellcheck disable=SC2086 # one argument per target
cmake --build "$BUILD" -j"$(nproc)" --target $TARGETS >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/touchpointd-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ARTIFACTS="$BUILD/fuzz-artifacts"
mkdir -p "$ARTIFACTS"

# Longest input per target: room for a few dozen records, a long JSON line,
# the sample config (5 KB).
max_len() {
    case "$1" in
        fuzz_json) echo 4096 ;;
        *)         echo 8192 ;;
    esac
}

failed=0
for t in $TARGETS; do
    bin="$BUILD/fuzz/$t"
    corpus="$WORK/$t"
    mkdir -p "$corpus" "$ARTIFACTS/$t"
    rm -f "$ARTIFACTS/$t/"*
    cp "$ROOT/fuzz/corpus/$t/"* "$corpus/"
    dict=""
    if [ -f "$ROOT/fuzz/$t.dict" ]; then
        dict="-dict=$ROOT/fuzz/$t.dict"
    fi
    log="$WORK/$t.log"
    start=$(date +%s)
    # -close_fd_mask=2: the engine's (rate-limited) bad-input log lines go
    # nowhere; libFuzzer and sanitizer reports still print.
    rc=0
    # shellcheck disable=SC2086 # $dict is empty or one argument
    "$bin" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=2 \
        -artifact_prefix="$ARTIFACTS/$t/" $dict "$corpus" >"$log" 2>&1 || rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
    if [ "$rc" -eq 0 ]; then
        status="clean"
    else
        status="FAILED (exit $rc)"
        failed=1
    fi
    echo "$t: ${secs}s, ${execs:-?} execs (${rate}/s), cov ${cov:-?}, ft ${ft:-?}: $status"
    if [ "$rc" -ne 0 ]; then
        grep -v '^#[0-9]' "$log" | tail -n 60 >&2
        for a in "$ARTIFACTS/$t/"*; do
            [ -f "$a" ] || continue
            echo "--- $t: replaying $a" >&2
            "$bin" "$a" >&2 2>&1 || true
        done
    fi
done
exit "$failed"
