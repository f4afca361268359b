/* bench_baseline — what the transport alone does: raw libzmq PUB -> SUB,
 * a receiver that only counts (bench_rx), the same pre-packed frames the
 * daemon gets in bench_e2e, on the same endpoint kind. */
#pragma once

#include "bench_mix.h"

/* Raw PUB -> SUB over `ep` (bind side: the receiver, as the daemon's
 * input binds); events/s from the first send to the last receipt. Exits
 * the program on failure. */
double bench_baseline(const char *ep, const bench_frames_t *mix);
