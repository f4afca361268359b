#!/bin/sh
# bench_nats_takeover.sh — how long a JetStream lease-mode take-over takes
# as a partition's history grows, with and without partition snapshots.
# Run by hand:
#   bench/bench_nats_takeover.sh [BUILD_DIR] [SMALL] [LARGE] [EVERY]
# (defaults: build, 1000, 100000 events, nats.snapshot_every 500).
#
# For each history size and for snapshot_every EVERY and 0 (no snapshots):
# a fresh nats-server, one partition, instance a serves it (event clock);
# the generated stream is published and settled (acked or terminated), a
# is SIGKILLed, instance b takes over. "take-over ms" is b's
# nats_last_rebuild_seconds (lease claimed to live: snapshot load + replay,
# not the lease_ttl b waited for); "replayed" its nats_rebuild_events_total,
# "load ms" the snapshot load alone (from b's log).
set -eu
BUILD=${1:-build}
SMALL=${2:-1000}
LARGE=${3:-100000}
EVERY=${4:-500}
. "$(dirname "$0")/lib.sh"
bench_init bench-takeover "$BUILD" touchpointd tp-pub

yaml() { # $1 instance, $2 snapshot_every
    daemon_yaml "$1" "{ enabled: true, url: \"$URL\", partition_count: 1, ownership: lease, instance: $1, lease_ttl: 2s, snapshot_every: $2 }"
}

printf '%-10s %-14s %10s %12s %8s %10s %12s\n' "events" "snapshot_every" "replayed" "take-over ms" "load ms" "snapshots" "bytes"
for n in "$SMALL" "$LARGE"; do
    gen "$n"
    for every in "$EVERY" 0; do
        start_nats
        yaml a "$every"; spawn a; A=$SPAWNED
        wait_sum nats_partitions_owned 1 600 a || { echo "$BENCH: a never owned the partition" >&2; exit 1; }
        pub_nats 1
        for _ in $(seq 6000); do
            [ $(($(metric_sum nats_acked_total a) + $(metric_sum nats_termed_total a))) -ge "$MSGS" ] && break
            sleep 0.05
        done
        kill -KILL "$A"; wait "$A" 2>/dev/null || true
        yaml b "$every"; spawn b
        wait_sum nats_rebuilds_total 1 6000 b || { echo "$BENCH: b never took over" >&2; exit 1; }
        load=$(sed -n 's/.*snapshot of partition 0 loaded: sequence [0-9]* (\([0-9]*\) bytes) in \([0-9]*\) ms.*/\2 \1/p' "$WORK/b.err")
        printf '%-10s %-14s %10s %12s %8s %10s %12s\n' "$MSGS" "$every" "$(metric b nats_rebuild_events_total)" \
            "$(awk -v s="$(metric b nats_last_rebuild_seconds)" 'BEGIN { printf "%.0f", s * 1000 }')" \
            "${load% *}" "$(metric b nats_snapshots_loaded_total)" "${load#* }"
        [ -z "${VERBOSE:-}" ] || grep -ah "snapshot\|live:" "$WORK/a.err" "$WORK/b.err" >&2
        [ -z "${KEEP:-}" ] || cat "$WORK/b.err" >"$WORK/b-$n-$every.err"
        stop_all
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
