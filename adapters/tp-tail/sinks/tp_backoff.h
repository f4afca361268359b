/* tp_backoff — the retry wait of tp-tail's sinks (tp_sink_queue.c for a
 * message, tp_sink_alertmanager.c per Alertmanager): exponential back-off
 * with "equal jitter", half the step fixed and half random, so many
 * tp-tails hitting one receiver do not retry in lockstep.
 */
#pragma once

#include <stdint.h>

#define TP_BACKOFF_MIN_MS 100

/* The wait before retry number `attempts` (1 = first retry): 100 ms
 * doubling up to `max_ms` (>= 100), jittered with *rng (xorshift32, not
 * security relevant; never 0). */
static inline uint64_t tp_backoff_ms(uint32_t *rng, uint64_t attempts, uint64_t max_ms) {
    uint64_t step = TP_BACKOFF_MIN_MS;
    for (uint64_t i = 1; i < attempts && step < max_ms; i++)
        step *= 2;
    if (step > max_ms)
        step = max_ms;
    *rng ^= *rng << 13;
    *rng ^= *rng >> 17;
    *rng ^= *rng << 5;
    return step / 2 + *rng % (step / 2 + 1);
}
