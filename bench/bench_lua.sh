#!/bin/sh
# What Lua rules cost the rule engine (bench/README.md, "Lua rules"):
#   bench/bench_lua.sh [build-dir] [events]
# For 0, 1 (notes_quality) and 3 example rules of examples/rules/ beside the
# 13 built-in ones: events/s of bench_engine's hot workload at 1,000 open
# calls (best of 3), instructions per event of the whole engine (callgrind,
# the same workload, `events` events, default 30,000), and what the rules
# add per call event: the engine's instructions with them minus without
# them, over the call events. That difference is everything the engine does
# for the rules (the `where` filter, building ev, the calls, the fields they
# declare, their alerts), not only what runs inside their callbacks. It is
# given on the workload's mix (three call events in four: planned calls,
# complete and incomplete submissions) and on notes_quality's dearest event
# that fires nothing (a complete submission of an open in-person call:
# BENCH_WORKLOAD=complete, every event a call event). Run by hand, never
# by ctest; the instruction counts do not depend on the machine's load,
# events/s do.
set -eu
b=${1:-build}
n=${2:-30000}
command -v valgrind >/dev/null || { echo "bench_lua.sh needs valgrind" >&2; exit 1; }

# instructions of the engine (tp_engine_handle_why) over the run of
# `$b/bench_engine 1000` with $1 example rules on workload $2
instr() {
    env BENCH_LUA_RULES=$1 BENCH_WORKLOAD=$2 BENCH_EVENTS=$n \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null --instr-atstart=no \
        --toggle-collect=tp_engine_handle_why "$b/bench_engine" 1000 2>&1 >/dev/null |
        awk '/refs:/ { gsub(",", "", $4); print $4 }'
}

mix0=$(instr 0 hot)
all0=$(instr 0 complete)
printf '%-14s %10s %12s %22s %22s\n' "example rules" "hot ev/s" "instr/event" \
    "+instr/call ev (mix)" "+instr/call ev (dear)"
for r in 0 1 3; do
    best=0
    for _ in 1 2 3; do
        e=$(BENCH_LUA_RULES=$r BENCH_WORKLOAD=hot "$b/bench_engine" 1000 | awk 'NR == 2 { print int($2) }')
        [ "$e" -gt "$best" ] && best=$e
    done
    mix=$mix0 all=$all0
    [ "$r" -gt 0 ] && mix=$(instr $r hot) && all=$(instr $r complete)
    # the hot mix is three call events in four (the fourth is feedback)
    printf '%-14s %10d %12d %22d %22d\n' "$r" "$best" $((mix / n)) \
        $(((mix - mix0) / (n * 3 / 4))) $(((all - all0) / n))
done
