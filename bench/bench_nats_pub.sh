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
NATS=/usr/sbin/nats-server
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$NATS" ] || { echo "bench_nats_pub: $NATS not installed" >&2; exit 1; }
[ -x "$BUILD/touchpointd" ] || { echo "bench_nats_pub: build $BUILD first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/tp-bench-natspub-XXXXXX)
NATS_PID=""
cleanup() {
    [ -n "$NATS_PID" ] && kill "$NATS_PID" 2>/dev/null && wait "$NATS_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
"$HERE/bench_nats_gen.sh" "$EVENTS" 200 >"$WORK/events.jsonl"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

printf '%-40s %9s %8s %10s %14s %14s\n' "tp-pub" "messages" "seconds" "events/s" "tp-pub us/ev" "server us/msg"
for run in $(seq "$RUNS"); do
    for pub in $PUBS; do
        rm -rf "$WORK/js" "$WORK/state"; mkdir -p "$WORK/state"
        "$NATS" -a 127.0.0.1 -p -1 -js -sd "$WORK/js" >"$WORK/nats.log" 2>&1 &
        NATS_PID=$!
        port=""
        for _ in $(seq 100); do
            port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/nats.log")
            [ -n "$port" ] && break
            sleep 0.1
        done
        cat >"$WORK/d.yaml" <<YAML
inputs: [{ endpoint: "ipc://$WORK/in.sock" }]
output: { endpoint: "ipc://$WORK/out.sock" }
replay: { enabled: false }
reliable_input: { enabled: false }
clock: event
http: { listen: "127.0.0.1:0" }
state_dir: $WORK/state
nats: { enabled: true, url: "nats://127.0.0.1:$port", partition_count: $PARTS }
YAML
        "$BUILD/touchpointd" --config "$WORK/d.yaml" 2>"$WORK/d.err" &
        dp=$!
        for _ in $(seq 100); do grep -q "Ready:" "$WORK/d.err" 2>/dev/null && break; sleep 0.1; done
        grep -q "Ready:" "$WORK/d.err" || { echo "bench_nats_pub: touchpointd did not start:" >&2; cat "$WORK/d.err" >&2; exit 1; }
        kill "$dp" 2>/dev/null || true; wait "$dp" 2>/dev/null || true
        s0=$(ticks "$NATS_PID"); t0=$(date +%s%N)
        /usr/bin/time -f "%U %S" -o "$WORK/time" "$pub" --nats "nats://127.0.0.1:$port" \
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
        kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null || true; NATS_PID=""
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
