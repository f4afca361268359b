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
. "$(dirname "$0")/lib.sh"
bench_init bench-natscpu "$BUILD" touchpointd tp-pub
gen "$EVENTS" 200
EV=$(wc -l <"$WORK/events.jsonl") # per event: per input line (a watermark is 8 messages in lease mode)
HZ=$(getconf CLK_TCK)

printf '%-34s %9s %8s %10s %10s\n' "run" "messages" "seconds" "msgs/s" "us/event"
for n in 1 3; do
    start_nats
    DPIDS=""
    ids=""
    for i in $(seq "$n"); do
        daemon_yaml "d$i" "{ enabled: true, url: \"$URL\", partition_count: $PARTS, ownership: lease, instance: b$i, lease_ttl: 60s }"
        spawn "d$i"
        DPIDS="$DPIDS $SPAWNED"
        ids="$ids d$i"
    done
    # shellcheck disable=SC2086
    wait_sum nats_partitions_owned $PARTS 600 $ids || true
    sleep 3 # late joiners' give-backs (a round is lease_ttl/3: none with 60 s once all own)
    # shellcheck disable=SC2086
    kill -STOP $DPIDS
    pub_nats $PARTS
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
    # shellcheck disable=SC2086
    wait_sum nats_acked_total "$MSGS" 12000 $ids || true
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
daemon_yaml z "{ enabled: false }" "reliable_input: { endpoint: \"ipc://$WORK/z/rel.sock\" }"
spawn z
ZP=$SPAWNED
wait_ready z
c0=$(ticks $ZP); t0=$(now_ms)
"$BUILD/tp-pub" --reliable -e "ipc://$WORK/z/rel.sock" "$WORK/events.jsonl" 2>"$WORK/tp-pub.err"
t1=$(now_ms); c1=$(ticks $ZP)
awk -v r="ZeroMQ reliable input, journal" -v m="$EV" -v ms=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$HZ" \
    'BEGIN { printf "%-34s %9d %8.2f %10.0f %10.2f\n", r, m, ms / 1000, m / (ms / 1000), c / hz * 1e6 / m }'
stop_all
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
