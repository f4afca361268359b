#!/bin/sh
# What Lua rules cost the rule engine (bench/README.md, "Lua rules"):
#   bench/bench_lua.sh [build-dir] [events]
# For 0, 1 (notes_quality) and 3 example rules of examples/rules/ beside the
# 13 built-in ones: events/s of bench_engine's hot workload at 1,000 open
# calls (best of 3) and instructions per event (callgrind, the same
# workload, `events` events, default 30,000). Then notes_quality's own
# instructions per call event it receives (everything under its on_event
# callback: building ev, the call, the fields it declares and reads, its
# alerts), on the workload's mix and on its dearest event that fires
# nothing (a complete submission of an open in-person call). Run by hand,
# never by ctest; the instruction counts do not depend on the machine's
# load, events/s do.
set -eu
b=${1:-build}
n=${2:-30000}
command -v valgrind >/dev/null || { echo "bench_lua.sh needs valgrind" >&2; exit 1; }

# instructions under function $2 over the run of `$b/bench_engine 1000`
# with environment $1
instr() {
    env $1 valgrind --tool=callgrind --callgrind-out-file=/dev/null --instr-atstart=no \
        --toggle-collect="$2" "$b/bench_engine" 1000 2>&1 >/dev/null |
        awk '/refs:/ { gsub(",", "", $4); print $4 }'
}

printf '%-16s %12s %14s\n' "example rules" "hot ev/s" "instr/event"
for r in 0 1 3; do
    best=0
    for _ in 1 2 3; do
        e=$(BENCH_LUA_RULES=$r BENCH_WORKLOAD=hot "$b/bench_engine" 1000 | awk 'NR == 2 { print int($2) }')
        [ "$e" -gt "$best" ] && best=$e
    done
    i=$(instr "BENCH_LUA_RULES=$r BENCH_WORKLOAD=hot BENCH_EVENTS=$n" tp_engine_handle_why)
    printf '%-16s %12d %14d\n' "$r" "$best" $((i / n))
done

# The hot mix is three call events in four (the fourth is feedback).
i=$(instr "BENCH_LUA_RULES=1 BENCH_WORKLOAD=hot BENCH_EVENTS=$n" s_lua_on_event)
printf 'notes_quality, per call event of the mix: %d instructions\n' $((i / (n * 3 / 4)))
i=$(instr "BENCH_LUA_RULES=1 BENCH_WORKLOAD=complete BENCH_EVENTS=$n" s_lua_on_event)
printf 'notes_quality, per complete in-person submission: %d instructions\n' $((i / n))
