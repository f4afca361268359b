#!/bin/bash
# bench_nats_takeover.sh — how long a JetStream lease-mode take-over takes
# as a partition's history grows, with and without partition snapshots.
# Run by hand:
#   bench/bench_nats_takeover.sh [BUILD_DIR] [SMALL] [LARGE] [EVERY]
# (defaults: build, 1000, 100000 events, nats.snapshot_every 10000).
#
# For each history size and for snapshot_every EVERY and 0 (no snapshots):
# a fresh nats-server, one partition, instance a serves it (event clock);
# the generated stream is published and acked, a is SIGKILLed, instance b
# takes over. "take-over ms" is b's nats_last_rebuild_seconds (lease
# claimed to live: snapshot load + replay, not the lease_ttl b waited for);
# "replayed" its nats_rebuild_events_total.
set -eu
BUILD=${1:-build}
SMALL=${2:-1000}
LARGE=${3:-100000}
EVERY=${4:-10000}
NATS=/usr/sbin/nats-server
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$NATS" ] || { echo "bench_nats_takeover: $NATS not installed" >&2; exit 1; }
[ -x "$BUILD/touchpointd" ] && [ -x "$BUILD/tp-pub" ] || { echo "bench_nats_takeover: build $BUILD first" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tp-bench-takeover-XXXXXX")
PIDS=""
stop_all() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

metric() { # $1 instance, $2 metric
    port=$(cat "$WORK/$1/state/http.port" 2>/dev/null || echo 0)
    v=$(curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null | awk -v m="touchpointd_$2" '$1 == m {print $2}')
    echo "${v:-0}"
}

spawn() { # $1 instance, $2 url, $3 snapshot_every
    rm -rf "$WORK/$1"; mkdir -p "$WORK/$1/state"
    cat >"$WORK/$1.yaml" <<YAML
inputs: [{ endpoint: "ipc://$WORK/$1/in.sock" }]
output: { endpoint: "ipc://$WORK/$1/out.sock" }
replay: { enabled: false }
reliable_input: { enabled: false }
journal: { enabled: false }
http: { listen: "127.0.0.1:0" }
clock: event
state_dir: $WORK/$1/state
nats: { enabled: true, url: "$2", partition_count: 1, ownership: lease, instance: $1, lease_ttl: 2s, snapshot_every: $3 }
YAML
    # stdout away from the caller's $(...), which would wait for it to close
    "$BUILD/touchpointd" --config "$WORK/$1.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" &
    echo $!
}

wait_metric() { # $1 instance, $2 metric, $3 at least
    for _ in $(seq 6000); do
        [ "$(awk -v a="$(metric "$1" "$2")" -v b="$3" 'BEGIN { print (a >= b) }')" = 1 ] && return 0
        sleep 0.05
    done
    echo "bench_nats_takeover: $1 never reached $2 >= $3" >&2
    exit 1
}

printf '%-10s %-14s %10s %12s %10s\n' "events" "snapshot_every" "replayed" "take-over ms" "snapshots"
for n in "$SMALL" "$LARGE"; do
    "$HERE/bench_nats_gen.sh" "$n" 200 >"$WORK/events.jsonl"
    for every in "$EVERY" 0; do
        rm -rf "$WORK/js"
        "$NATS" -a 127.0.0.1 -p -1 -js -sd "$WORK/js" >"$WORK/nats.log" 2>&1 &
        PIDS="$!"
        port=""
        for _ in $(seq 100); do
            port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/nats.log")
            [ -n "$port" ] && break
            sleep 0.1
        done
        URL="nats://127.0.0.1:$port"
        A=$(spawn a "$URL" "$every"); PIDS="$PIDS $A"
        wait_metric a nats_partitions_owned 1
        "$BUILD/tp-pub" --nats "$URL" --partitions 1 "$WORK/events.jsonl" 2>"$WORK/tp-pub.err"
        MSGS=$(sed -n 's/.*(\([0-9]*\) messages).*/\1/p' "$WORK/tp-pub.err")
        wait_metric a nats_acked_total "$MSGS"
        kill -KILL "$A"; wait "$A" 2>/dev/null || true
        B=$(spawn b "$URL" "$every"); PIDS="$PIDS $B"
        wait_metric b nats_rebuilds_total 1
        printf '%-10s %-14s %10s %12s %10s\n' "$MSGS" "$every" "$(metric b nats_rebuild_events_total)" \
            "$(awk -v s="$(metric b nats_last_rebuild_seconds)" 'BEGIN { printf "%.0f", s * 1000 }')" \
            "$(metric b nats_snapshots_loaded_total)"
        [ -z "${VERBOSE:-}" ] || grep -h "snapshot\|live:" "$WORK/a.err" "$WORK/b.err" >&2
        stop_all
    done
done
