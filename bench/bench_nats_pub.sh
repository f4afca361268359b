#!/bin/sh
# bench_nats_pub.sh — how fast one tp-pub --nats feeds JetStream: events/s
# into the events stream (every PubAck received), the producer's CPU per
# event and the server's CPU per message (from /proc). Run by hand:
#   bench/bench_nats_pub.sh [BUILD_DIR] [EVENTS] [RUNS] [TP_PUB...]
# (defaults: build-bench, 200000, 3, BUILD_DIR/tp-pub). Each run gets a fresh
# single nats-server (file storage in a temp dir) whose streams a short-lived
# touchpointd creates, so no run sees another's messages as duplicates. More
# than one TP_PUB binary compares them run by run (e.g. an older build).
set -eu
BUILD=${1:-build-bench}
EVENTS=${2:-200000}
RUNS=${3:-3}
shift $(($# < 3 ? $# : 3))
PUBS=${*:-$BUILD/tp-pub}
PARTS=8
. "$(dirname "$0")/lib.sh"
bench_init bench-natspub "$BUILD" touchpointd
gen "$EVENTS" 200
HZ=$(getconf CLK_TCK)

printf '%-40s %9s %8s %10s %14s %14s\n' "tp-pub" "messages" "seconds" "events/s" "tp-pub us/ev" "server us/msg"
for run in $(seq "$RUNS"); do
    for pub in $PUBS; do
        start_nats
        # A short-lived daemon creates the streams.
        daemon_yaml d "{ enabled: true, url: \"$URL\", partition_count: $PARTS }" "reliable_input: { enabled: false }"
        spawn d
        wait_ready d
        kill "$SPAWNED" 2>/dev/null || true; wait "$SPAWNED" 2>/dev/null || true
        s0=$(ticks "$NATS_PID"); t0=$(date +%s%N)
        /usr/bin/time -f "%U %S" -o "$WORK/time" "$pub" --nats "$URL" \
            --partitions $PARTS "$WORK/events.jsonl" 2>"$WORK/pub.err" || { cat "$WORK/pub.err" >&2; exit 1; }
        t1=$(date +%s%N); s1=$(ticks "$NATS_PID")
        msgs=$(sed -n 's/.*(\([0-9]*\) messages), acknowledged \([0-9]*\).*/\1/p' "$WORK/pub.err")
        acked=$(sed -n 's/.*(\([0-9]*\) messages), acknowledged \([0-9]*\).*/\2/p' "$WORK/pub.err")
        [ "$msgs" = "$acked" ] || { echo "bench_nats_pub: $acked of $msgs acknowledged" >&2; cat "$WORK/pub.err" >&2; exit 1; }
        read -r u s <"$WORK/time"
        awk -v p="$pub" -v m="$msgs" -v e="$EVENTS" -v ns=$((t1 - t0)) -v cpu="$u $s" -v st=$((s1 - s0)) -v hz="$HZ" \
            'BEGIN { split(cpu, c, " "); sec = ns / 1e9
                     printf "%-40s %9d %8.2f %10.0f %14.2f %14.2f\n", p, m, sec, e / sec,
                            (c[1] + c[2]) * 1e6 / e, st / hz * 1e6 / m }'
        stop_all
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
