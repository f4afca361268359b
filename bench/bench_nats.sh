#!/bin/sh
# bench_nats.sh — events/s through JetStream lease mode with 1, 2 and 3
# touchpointd instances (docs/jetstream.md). Run by hand, not in ctest:
#   bench/bench_nats.sh [BUILD_DIR] [EVENTS]        (defaults: build-bench, 20000)
# Needs nats-server and a built tree (scripts/bench.sh builds build-bench with
# -O2; any build dir with touchpointd and tp-pub works).
#
# For each instance count: a fresh single nats-server (JetStream, file storage
# in a temp dir, a random loopback port), N daemons (ownership: lease, 8
# partitions, clock: event, HTTP on a free loopback port), waited for until
# they serve all 8 partitions; then tp-pub --nats publishes the generated
# stream (calls in every status, feedback, contracting, a watermark per
# round) and the clock runs until the daemons' nats_received_total add up
# to every message published. The first line is the baseline of the same
# run: tp-pub alone into the stream (no daemon consuming), the producer's
# ceiling. "rebuilds" counts take-overs (8 when nothing moved during the
# run), "lost" leases lost to renewals not answered in time (CPU
# starvation). Everything runs on this machine: with 2 cores, N instances share
# the cores with the server and the producer, so the table shows the cost of
# partitioning, not a speed-up.
set -eu
BUILD=${1:-build-bench}
EVENTS=${2:-20000}
PARTS=8
HCPS=200
NATS=/usr/sbin/nats-server
[ -x "$NATS" ] || { echo "bench_nats: $NATS not installed" >&2; exit 1; }
[ -x "$BUILD/touchpointd" ] && [ -x "$BUILD/tp-pub" ] || { echo "bench_nats: build $BUILD first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/tp-bench-nats-XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

now_ms() { date +%s%3N; }

"$(dirname "$0")/bench_nats_gen.sh" "$EVENTS" "$HCPS" >"$WORK/events.jsonl"

# A fresh nats-server on a random port; sets URL.
start_nats() {
    rm -rf "$WORK/js" "$WORK/nats.log"
    "$NATS" -a 127.0.0.1 -p -1 -js -sd "$WORK/js" >"$WORK/nats.log" 2>&1 &
    NATS_PID=$!
    PIDS="$PIDS $NATS_PID"
    for _ in $(seq 100); do
        port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/nats.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    URL="nats://127.0.0.1:$port"
}

stop_all() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}

# Sum of a metric over the running daemons 1..n.
metric_sum() {
    total=0
    for i in $(seq "$1"); do
        port=$(cat "$WORK/d$i/state/http.port" 2>/dev/null || echo 0)
        v=$(curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null | awk -v m="touchpointd_$2" '$1 == m {print $2}')
        total=$(awk -v a="$total" -v b="${v:-0}" 'BEGIN { printf "%d", a + b }')
    done
    echo "$total"
}

publish() {
    "$BUILD/tp-pub" --nats "$URL" --partitions $PARTS "$WORK/events.jsonl" 2>"$WORK/tp-pub.err"
    MSGS=$(sed -n 's/.*(\([0-9]*\) messages).*/\1/p' "$WORK/tp-pub.err")
}

printf '%-28s %10s %12s %10s %9s %6s\n' "run" "messages" "seconds" "events/s" "rebuilds" "lost"
# Baseline: the producer alone (the daemon creates the streams; stopped first).
start_nats
mkdir -p "$WORK/d1/state"
cat >"$WORK/d1.yaml" <<EOF
inputs: [{ endpoint: "ipc://$WORK/d1/in.sock" }]
output: { endpoint: "ipc://$WORK/d1/out.sock" }
replay: { enabled: false }
reliable_input: { enabled: false }
journal: { enabled: false }
http: { listen: "127.0.0.1:0" }
clock: event
state_dir: $WORK/d1/state
nats: { enabled: true, url: "$URL", partition_count: $PARTS, ownership: lease, instance: b1, lease_ttl: 3s }
EOF
"$BUILD/touchpointd" --config "$WORK/d1.yaml" 2>"$WORK/d1.err" &
dp=$!
sleep 2
kill "$dp"; wait "$dp" 2>/dev/null || true
t0=$(now_ms); publish; t1=$(now_ms)
awk -v r="tp-pub alone (baseline)" -v m="$MSGS" -v ms=$((t1 - t0)) \
    'BEGIN { printf "%-28s %10d %12.2f %10.0f\n", r, m, ms / 1000, m / (ms / 1000) }'
stop_all

for n in 1 2 3; do
    start_nats
    for i in $(seq "$n"); do
        rm -rf "$WORK/d$i"; mkdir -p "$WORK/d$i/state"
        cat >"$WORK/d$i.yaml" <<EOF
inputs: [{ endpoint: "ipc://$WORK/d$i/in.sock" }]
output: { endpoint: "ipc://$WORK/d$i/out.sock" }
replay: { enabled: false }
reliable_input: { enabled: false }
journal: { enabled: false }
http: { listen: "127.0.0.1:0" }
clock: event
state_dir: $WORK/d$i/state
nats: { enabled: true, url: "$URL", partition_count: $PARTS, ownership: lease, instance: b$i }
EOF
        "$BUILD/touchpointd" --config "$WORK/d$i.yaml" 2>"$WORK/d$i.err" &
        PIDS="$PIDS $!"
    done
    for _ in $(seq 300); do
        [ "$(metric_sum "$n" nats_partitions_owned)" -eq $PARTS ] && break
        sleep 0.1
    done
    sleep 4       # let the give-backs to late joiners settle (a round is lease_ttl/3)
    t0=$(now_ms)
    publish
    for _ in $(seq 6000); do
        [ "$(metric_sum "$n" nats_received_total)" -ge "$MSGS" ] && break
        sleep 0.05
    done
    t1=$(now_ms)
    awk -v r="$n instance(s), $PARTS partitions" -v m="$MSGS" -v ms=$((t1 - t0)) \
        -v rb="$(metric_sum "$n" nats_rebuilds_total)" -v lost="$(metric_sum "$n" nats_leases_lost_total)" \
        'BEGIN { printf "%-28s %10d %12.2f %10.0f %9d %6d\n", r, m, ms / 1000, m / (ms / 1000), rb, lost }'
    stop_all
done
