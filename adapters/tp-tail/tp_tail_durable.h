/* tp_tail_durable — tp-tail's --durable mode: the Clone-pattern client
 * (DESIGN.md, "Reliable paths") and its position file.
 *
 * Called only by tp-tail's main loop (tp_tail.c), which owns the alert SUB
 * (tp_tail_sub.c), hands alerts to the sinks and polls. This module owns
 * the rest: the position FILE (loaded at start, replaced through FILE.tmp +
 * fsync + rename at most every 200 ms), the replay DEALER that asks for
 * every alert after the saved sequence, the queue holding live alerts back
 * while a replay runs, the gaps (holes) passed over while the replay
 * endpoint is down, and the 5 s retry. Every alert it lets through goes to
 * the caller's `emit` in order; duplicates are dropped by sequence.
 *
 * Like the rest of tp-tail it reports what happens to the replay (failed,
 * works again, missing alerts, position not saved) on stderr itself. Not
 * thread-safe; all times are CLOCK_MONOTONIC milliseconds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "tp_curve_key.h"

typedef struct tp_tail_durable tp_tail_durable_t;

/* What the durable client needs from tp-tail. All three are called only
 * from inside the tp_tail_durable_* calls below. */
struct tp_tail_durable_config {
    const char              *path;              /* position file; FILE.tmp is written beside it */
    const char              *replay_endpoint;   /* touchpointd's replay ROUTER, connected to */
    uint64_t                 replay_timeout_ms; /* replay silence before going live-only, > 0 */
    const tp_curve_client_t *curve;             /* CURVE client identity, NULL = plain; borrowed */
    /* Replay from sequence 0 at start, whatever FILE says (--alertmanager
     * rebuilds its open set so); FILE then never goes below what it said. */
    bool  from_zero;
    void *userdata; /* passed to the callbacks */
    /* Takes `line` (owned by the callee from here on), the next alert in
     * order, sequence `seq`; NULL is an alert --topic filtered out (nothing
     * to deliver, but its sequence is passed). */
    void (*emit)(void *userdata, uint64_t seq, char *line);
    /* The lowest sequence emitted but not delivered yet (tp-tail's sinks
     * and digests), UINT64_MAX when everything emitted was delivered. FILE
     * never says more than one below it, so a crash or a kill re-delivers
     * what a webhook had not taken. NULL: emitted counts as delivered. */
    uint64_t (*floor)(void *userdata);
    /* True once tp-tail has printed all it was asked to (--count): held
     * alerts then stay held. */
    bool (*done)(void *userdata);
    /* Decodes one replayed [topic, Alert] message like a live one: its
     * sequence in *ret_seq, its JSON line (malloc'd, NULL if filtered out)
     * in *ret_line. -EBADMSG with a reason in `why` when malformed (an alert
     * without a sequence is), other negative errno on fatal errors. */
    int (*decode)(void *userdata, zmq_msg_t frames[2], size_t n_frames, char *why, size_t whylen,
                  uint64_t *ret_seq, char **ret_line);
};

/* Reads the sequence saved in cfg->path (0 when the file does not exist)
 * and returns a client positioned after it in *ret; `cfg` is copied, the
 * strings it points to are borrowed and must outlive the client. Nothing
 * is sent before tp_tail_durable_start. 0; -EBADMSG unless FILE is one
 * decimal number and an optional newline; -ENOMEM; other negative errno
 * when FILE cannot be read. */
int tp_tail_durable_new(const struct tp_tail_durable_config *cfg, tp_tail_durable_t **ret);

/* The sequence FILE held at start (0: none). */
uint64_t tp_tail_durable_loaded(const tp_tail_durable_t *d);

/* Frees the client: live alerts still held are dropped unprinted, the
 * DEALER is closed; the position is not saved (tp_tail_durable_save does
 * that). Accepts NULL and *p == NULL; sets *p to NULL. */
void tp_tail_durable_destroy(tp_tail_durable_t **p);

/* Sends the first REPLAY, opening the DEALER in `zmq_ctx` (borrowed, must
 * outlive the client). Call once, after the alert SUB has subscribed, so
 * nothing falls between the replay and the live stream. A failure is not
 * fatal: it is reported and retried, live alerts are printed meanwhile. */
void tp_tail_durable_start(tp_tail_durable_t *d, void *zmq_ctx, uint64_t now);

/* The DEALER to poll for ZMQ_POLLIN (hand what arrives to
 * tp_tail_durable_on_replay), or NULL while there is none. Owned by the
 * client; it may be closed and replaced by any call but this one. */
void *tp_tail_durable_socket(const tp_tail_durable_t *d);

/* Does what is due at `now`: gives up on a replay silent past its
 * deadline, retries the replay endpoint while it is down, saves the
 * position if it moved and 200 ms have passed since the last write. Returns
 * when it next wants to be called (UINT64_MAX: only after other events);
 * tp-tail polls no longer than that. */
uint64_t tp_tail_durable_tick(tp_tail_durable_t *d, uint64_t now);

/* True while a REPLAY was sent and its END has not arrived: tp-tail's
 * --timeout-ms does not count then. */
bool tp_tail_durable_replaying(const tp_tail_durable_t *d);

/* When the last replay ended or failed (0: none yet). tp-tail counts
 * --timeout-ms from here or from the last message, whichever is later. */
uint64_t tp_tail_durable_settled_ms(const tp_tail_durable_t *d);

/* A decoded live alert (`line` owned by the client from here on, NULL if
 * filtered out): emitted if it is the next one, dropped if already seen;
 * after a gap it is held and a replay started (or, with the replay
 * endpoint down, the gap is remembered as a hole and it is emitted). */
void tp_tail_durable_on_live(tp_tail_durable_t *d, uint64_t seq, char *line, uint64_t now);

/* One message received from tp_tail_durable_socket (frames borrowed, at
 * most the first two of n_frames): a replayed alert, ["END", n] or
 * ["ERROR", reason]. 0 when handled (an ERROR makes the replay fail, which
 * is reported); -EBADMSG with a reason in `why` when malformed or
 * unexpected (tp-tail reports and counts it); other negative errno from
 * `decode` on fatal errors. */
int tp_tail_durable_on_replay(tp_tail_durable_t *d, zmq_msg_t frames[2], size_t n_frames,
                              uint64_t now, char *why, size_t whylen);

/* tp-tail stopped reading for a while (its sink queue was full, or a
 * delivery blocked): a running replay's silence deadline restarts at `now`,
 * since the silence was tp-tail's, not the replay endpoint's. */
void tp_tail_durable_defer(tp_tail_durable_t *d, uint64_t now);

/* Writes the position to FILE now if it moved since the last write, e.g.
 * at exit. A failure is reported once (until a write succeeds again).
 * 0 or negative errno. */
int tp_tail_durable_save(tp_tail_durable_t *d, uint64_t now);
