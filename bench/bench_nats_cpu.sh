#!/bin/sh
# bench_nats_cpu.sh — the daemons' own cost in JetStream lease mode: CPU per
# event (from /proc, every thread of every instance) and how fast they drain
# a stream that is already full, for 1 and 3 instances, beside the same
# events through the ZeroMQ reliable input. Run by hand:
#   bench/bench_nats_cpu.sh [BUILD_DIR] [EVENTS] [PROFILE]
# (defaults: build-bench, 100000; PROFILE=perf records the 1-instance drain
# with `perf record -e cpu-clock -g` into $PWD/nats-lease.perf).
#
# Lease mode: a fresh nats-server, N instances (8 partitions, event clock,
# lease_ttl 60 s so that no lease moves while they are stopped) waited for
# until they serve all 8 partitions, then stopped (SIGSTOP) while tp-pub
# --nats fills the stream, so the producer never competes with them for the
# CPU; then continued and timed until their nats_acked_total add up to every
# message. "us/event" is their CPU over that drain per event. ZeroMQ: one
# daemon (journal on, as by default), tp-pub --reliable; its CPU from start
# of the publish to the last ACK, per event (there the producer runs at the
# same time: compare the CPU columns, not the seconds).
set -eu
BUILD=${1:-build-bench}
EVENTS=${2:-100000}
PROFILE=${3:-}
PARTS=8
NATS=/usr/sbin/nats-server
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$NATS" ] || { echo "bench_nats_cpu: $NATS not installed" >&2; exit 1; }
[ -x "$BUILD/touchpointd" ] && [ -x "$BUILD/tp-pub" ] || { echo "bench_nats_cpu: build $BUILD first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/tp-bench-natscpu-XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
"$HERE/bench_nats_gen.sh" "$EVENTS" 200 >"$WORK/events.jsonl"
EV=$(wc -l <"$WORK/events.jsonl") # per event: per input line (a watermark is 8 messages in lease mode)
HZ=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
ticks() { t=0; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo $t; }

stop_all() {
    for p in $PIDS; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}

metric_sum() { # $1 metric, then the instance numbers
    m=$1; shift; total=0
    for i in "$@"; do
        port=$(cat "$WORK/d$i/state/http.port" 2>/dev/null || echo 0)
        v=$(curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null | awk -v m="touchpointd_$m" '$1 == m {print $2}')
        total=$(awk -v a="$total" -v b="${v:-0}" 'BEGIN { printf "%d", a + b }')
    done
    echo "$total"
}

printf '%-34s %9s %8s %10s %10s\n' "run" "messages" "seconds" "msgs/s" "us/event"
for n in 1 3; do
    rm -rf "$WORK/js"
    "$NATS" -a 127.0.0.1 -p -1 -js -sd "$WORK/js" >"$WORK/nats.log" 2>&1 &
    PIDS="$PIDS $!"
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/nats.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    URL="nats://127.0.0.1:$port"
    DPIDS=""
    for i in $(seq "$n"); do
        rm -rf "$WORK/d$i"; mkdir -p "$WORK/d$i/state"
        cat >"$WORK/d$i.yaml" <<YAML
inputs: [{ endpoint: "ipc://$WORK/d$i/in.sock" }]
output: { endpoint: "ipc://$WORK/d$i/out.sock" }
replay: { enabled: false }
reliable_input: { enabled: false }
journal: { enabled: false }
http: { listen: "127.0.0.1:0" }
clock: event
state_dir: $WORK/d$i/state
nats: { enabled: true, url: "$URL", partition_count: $PARTS, ownership: lease, instance: b$i, lease_ttl: 60s }
YAML
        "$BUILD/touchpointd" --config "$WORK/d$i.yaml" 2>"$WORK/d$i.err" &
        DPIDS="$DPIDS $!"
    done
    PIDS="$PIDS $DPIDS"
    ids=$(seq "$n")
    for _ in $(seq 600); do
        # shellcheck disable=SC2086
        [ "$(metric_sum nats_partitions_owned $ids)" -eq $PARTS ] && break
        sleep 0.1
    done
    sleep 3 # late joiners' give-backs (a round is lease_ttl/3: none with 60 s once all own)
    # shellcheck disable=SC2086
    kill -STOP $DPIDS
    "$BUILD/tp-pub" --nats "$URL" --partitions $PARTS "$WORK/events.jsonl" 2>"$WORK/tp-pub.err"
    MSGS=$(sed -n 's/.*(\([0-9]*\) messages).*/\1/p' "$WORK/tp-pub.err")
    # shellcheck disable=SC2086
    c0=$(ticks $DPIDS); t0=$(now_ms)
    if [ "$n" = 1 ] && [ "$PROFILE" = perf ]; then
        # shellcheck disable=SC2086
        perf record -e cpu-clock -g -o "$PWD/nats-lease.perf" -p "$(echo $DPIDS)" 2>/dev/null &
        PERF=$!
        sleep 0.3
    fi
    # shellcheck disable=SC2086
    kill -CONT $DPIDS
    for _ in $(seq 12000); do
        # shellcheck disable=SC2086
        [ "$(metric_sum nats_acked_total $ids)" -ge "$MSGS" ] && break
        sleep 0.05
    done
    # shellcheck disable=SC2086
    t1=$(now_ms); c1=$(ticks $DPIDS)
    if [ -n "${PERF:-}" ]; then kill -INT "$PERF"; wait "$PERF" || true; PERF=""; fi
    # shellcheck disable=SC2086
    acked=$(metric_sum nats_acked_total $ids)
    # shellcheck disable=SC2086
    rebuilds=$(metric_sum nats_rebuilds_total $ids)
    awk -v r="lease, $n instance(s), drain" -v m="$acked" -v ms=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$HZ" -v e="$EV" -v rb="$rebuilds" \
        'BEGIN { printf "%-34s %9d %8.2f %10.0f %10.2f   (rebuilds %d)\n", r, m, ms / 1000, m / (ms / 1000), c / hz * 1e6 / e, rb }'
    stop_all
done

# The ZeroMQ path: reliable input, journal on.
rm -rf "$WORK/z"; mkdir -p "$WORK/z/state"
cat >"$WORK/z.yaml" <<YAML
inputs: [{ endpoint: "ipc://$WORK/z/in.sock" }]
output: { endpoint: "ipc://$WORK/z/out.sock" }
replay: { enabled: false }
reliable_input: { endpoint: "ipc://$WORK/z/rel.sock" }
http: { listen: "127.0.0.1:0" }
clock: event
state_dir: $WORK/z/state
YAML
"$BUILD/touchpointd" --config "$WORK/z.yaml" 2>"$WORK/z.err" &
ZP=$!
PIDS="$PIDS $ZP"
for _ in $(seq 100); do grep -q "Ready:" "$WORK/z.err" 2>/dev/null && break; sleep 0.1; done
c0=$(ticks $ZP); t0=$(now_ms)
"$BUILD/tp-pub" --reliable -e "ipc://$WORK/z/rel.sock" "$WORK/events.jsonl" 2>"$WORK/tp-pub.err"
t1=$(now_ms); c1=$(ticks $ZP)
awk -v r="ZeroMQ reliable input, journal" -v m="$EV" -v ms=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$HZ" \
    'BEGIN { printf "%-34s %9d %8.2f %10.0f %10.2f\n", r, m, ms / 1000, m / (ms / 1000), c / hz * 1e6 / m }'
stop_all
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
