/* bench_zmq — the ZeroMQ and clock helpers every benchmark program uses
 * (bench_e2e and its parts, bench_dash): unbounded sockets, sending a
 * pre-packed frame, waiting for an XPUB's first subscriber. */
#pragma once

#include <stdint.h>

#include "bench_mix.h"

#define BENCH_WAIT_MS 300000 /* the longest any run may take */

/* CLOCK_MONOTONIC, nanoseconds. */
int64_t bench_now_ns(void);

/* A socket of `type` with no high-water marks (nothing dropped) and linger 0. */
void *bench_socket(void *ctx, int type);

/* Sends [topic, body] of one pre-packed frame. */
void bench_send(void *pub, const bench_frame_t *f);

/* XPUB: nothing is sent before the peer's SUB has subscribed (tp-pub's
 * way). 0, or -ETIMEDOUT after 10 s. */
int bench_wait_subscribed(void *xpub);
