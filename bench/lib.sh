# bench/lib.sh — what the NATS bench scripts share (bench_nats.sh, _cpu,
# _pub, _takeover): a work dir cleaned up on exit, a fresh nats-server, a
# daemon's config and start, its metrics. Sourced, POSIX sh:
#   . "$(dirname "$0")/lib.sh"; bench_init NAME BUILD [touchpointd tp-pub]
# Sets WORK (a temp dir), NATS (the server binary), HERE (bench/); PIDS
# holds what stop_all stops (a stopped process is continued first).

NATS=/usr/sbin/nats-server
HERE=$(cd "$(dirname "$0")" && pwd)
PIDS=""

# bench_init NAME BUILD [BINARY...]: checks nats-server and BUILD/BINARY
# (touchpointd by default), makes WORK, stops everything and removes WORK
# on exit.
bench_init() {
    BENCH=$1
    BUILD=$2
    shift 2
    [ -x "$NATS" ] || { echo "$BENCH: $NATS not installed" >&2; exit 1; }
    for b in ${*:-touchpointd}; do
        [ -x "$BUILD/$b" ] || { echo "$BENCH: build $BUILD first (no $b)" >&2; exit 1; }
    done
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tp-$BENCH-XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM
}

# The daemons first, then the server: a daemon stopping saves its
# partitions' snapshots into it.
stop_all() {
    for p in $PIDS; do
        [ "$p" = "${NATS_PID:-}" ] && continue
        kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true
    done
    for p in $PIDS; do [ "$p" = "${NATS_PID:-}" ] || wait "$p" 2>/dev/null || true; done
    for p in $PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PIDS=""
}

bench_cleanup() { stop_all; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }

now_ms() { date +%s%3N; }

# CPU ticks (user + system) of the given processes, every thread.
ticks() { t=0; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo $t; }

# gen EVENTS [HCPS]: the generated stream (bench_nats_gen.sh) into $WORK/events.jsonl.
gen() { "$HERE/bench_nats_gen.sh" "$1" "${2:-200}" >"$WORK/events.jsonl"; }

# A fresh single nats-server (JetStream, file storage under WORK, a random
# loopback port), added to PIDS; sets NATS_PID and URL.
start_nats() {
    rm -rf "$WORK/js" "$WORK/nats.log"
    "$NATS" -a 127.0.0.1 -p -1 -js -sd "$WORK/js" >"$WORK/nats.log" 2>&1 &
    NATS_PID=$!
    PIDS="$PIDS $NATS_PID"
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/nats.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "$BENCH: nats-server did not start" >&2; exit 1; }
    URL="nats://127.0.0.1:$port"
}

# daemon_yaml NAME NATS_MAP [EXTRA]: $WORK/NAME.yaml for a daemon whose
# state is $WORK/NAME (made empty): ipc endpoints, no replay, HTTP on a
# free loopback port, event clock, `nats: NATS_MAP`; EXTRA lines appended
# (default: reliable input and journal off).
daemon_yaml() {
    rm -rf "${WORK:?}/$1"; mkdir -p "$WORK/$1/state"
    extra="reliable_input: { enabled: false }
journal: { enabled: false }"
    [ $# -lt 3 ] || extra=$3
    cat >"$WORK/$1.yaml" <<YAML
inputs: [{ endpoint: "ipc://$WORK/$1/in.sock" }]
output: { endpoint: "ipc://$WORK/$1/out.sock" }
replay: { enabled: false }
http: { listen: "127.0.0.1:0" }
clock: event
state_dir: $WORK/$1/state
nats: $2
$extra
YAML
}

# spawn NAME: starts touchpointd on $WORK/NAME.yaml (log in NAME.err),
# added to PIDS; its pid in SPAWNED. Not in a $(...): stdout is the caller's.
spawn() {
    "$BUILD/touchpointd" --config "$WORK/$1.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" &
    SPAWNED=$!
    PIDS="$PIDS $SPAWNED"
}

# wait_ready NAME: until the daemon logged "Ready:" (10 s at most).
wait_ready() {
    for _ in $(seq 100); do grep -q "Ready:" "$WORK/$1.err" 2>/dev/null && return 0; sleep 0.1; done
    echo "$BENCH: touchpointd $1 did not start:" >&2; cat "$WORK/$1.err" >&2; exit 1
}

# metric NAME METRIC: daemon NAME's touchpointd_METRIC (0 if none yet).
metric() {
    mport=$(cat "$WORK/$1/state/http.port" 2>/dev/null || echo 0)
    v=$(curl -s "http://127.0.0.1:$mport/metrics" 2>/dev/null | awk -v m="touchpointd_$2" '$1 == m {print $2}')
    echo "${v:-0}"
}

# metric_sum METRIC NAME...: the sum over those daemons, an integer.
metric_sum() {
    m=$1; shift; total=0
    for d in "$@"; do total=$(awk -v a="$total" -v b="$(metric "$d" "$m")" 'BEGIN { printf "%d", a + b }'); done
    echo "$total"
}

# wait_sum METRIC AT_LEAST TRIES NAME...: until metric_sum reaches AT_LEAST,
# polling every 50 ms up to TRIES times; 1 if it never did.
wait_sum() {
    m=$1; want=$2; tries=$3; shift 3
    for _ in $(seq "$tries"); do
        [ "$(metric_sum "$m" "$@")" -ge "$want" ] && return 0
        sleep 0.05
    done
    return 1
}

# pub_nats PARTS: tp-pub --nats the events into URL; MSGS the messages sent.
pub_nats() {
    "$BUILD/tp-pub" --nats "$URL" --partitions "$1" "$WORK/events.jsonl" 2>"$WORK/tp-pub.err"
    MSGS=$(sed -n 's/.*(\([0-9]*\) messages).*/\1/p' "$WORK/tp-pub.err")
}
