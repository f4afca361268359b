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
. "$(dirname "$0")/lib.sh"
bench_init bench-nats "$BUILD" touchpointd tp-pub
gen "$EVENTS" "$HCPS"

names() { for i in $(seq "$1"); do printf 'd%s ' "$i"; done; }

printf '%-28s %10s %12s %10s %9s %6s\n' "run" "messages" "seconds" "events/s" "rebuilds" "lost"
# Baseline: the producer alone (the daemon creates the streams; stopped first).
start_nats
daemon_yaml d1 "{ enabled: true, url: \"$URL\", partition_count: $PARTS, ownership: lease, instance: b1, lease_ttl: 3s }"
spawn d1
sleep 2
kill "$SPAWNED"; wait "$SPAWNED" 2>/dev/null || true
t0=$(now_ms); pub_nats $PARTS; t1=$(now_ms)
awk -v r="tp-pub alone (baseline)" -v m="$MSGS" -v ms=$((t1 - t0)) \
    'BEGIN { printf "%-28s %10d %12.2f %10.0f\n", r, m, ms / 1000, m / (ms / 1000) }'
stop_all

for n in 1 2 3; do
    start_nats
    for i in $(seq "$n"); do
        daemon_yaml "d$i" "{ enabled: true, url: \"$URL\", partition_count: $PARTS, ownership: lease, instance: b$i }"
        spawn "d$i"
    done
    # shellcheck disable=SC2046
    wait_sum nats_partitions_owned $PARTS 600 $(names "$n") || true
    sleep 4       # let the give-backs to late joiners settle (a round is lease_ttl/3)
    t0=$(now_ms)
    pub_nats $PARTS
    # shellcheck disable=SC2046
    wait_sum nats_received_total "$MSGS" 6000 $(names "$n") || true
    t1=$(now_ms)
    # shellcheck disable=SC2046
    awk -v r="$n instance(s), $PARTS partitions" -v m="$MSGS" -v ms=$((t1 - t0)) \
        -v rb="$(metric_sum nats_rebuilds_total $(names "$n"))" -v lost="$(metric_sum nats_leases_lost_total $(names "$n"))" \
        'BEGIN { printf "%-28s %10d %12.2f %10.0f %9d %6d\n", r, m, ms / 1000, m / (ms / 1000), rb, lost }'
    stop_all
done
