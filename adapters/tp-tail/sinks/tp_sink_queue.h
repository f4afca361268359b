/* tp_sink_queue — tp-tail's delivery: an ordered, bounded queue in front
 * of one sink (tp_sink.h), with retries and counters.
 *
 * Messages (alert lines or digests) are delivered strictly in the order
 * they were pushed, one at a time. A message the sink could not take now
 * (-EAGAIN) stays first in line and is retried after an exponential
 * back-off with jitter (100 ms doubling to 30 s), forever unless a retry
 * limit is set; reaching the limit stops delivery (tp-tail exits and, with
 * --durable, keeps its position before that message). A message the sink
 * refuses for good (-EBADMSG, a 4xx other than 408/429) is skipped: counted
 * as failed and reported on stderr with its label and whole body, so
 * nothing disappears silently.
 *
 * Each message carries the lowest alert sequence it contains; the lowest
 * over the queue is what --durable may not save past (tp_sink_queue_floor).
 * The queue reports failures on stderr itself (like tp_tail_durable): the
 * first of an outage, then at most one line every 10 s, and the recovery.
 * Not thread-safe; times are CLOCK_MONOTONIC milliseconds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_sink.h"

typedef struct tp_sink_queue tp_sink_queue_t;

struct tp_sink_counters {
    uint64_t delivered; /* messages the sink took */
    uint64_t retried;   /* failed attempts that were (or will be) retried */
    uint64_t failed;    /* messages refused for good, or given up on */
};

/* A queue delivering to `sink` (owned from here on, also on failure).
 * `max` is the length at which tp_sink_queue_full() says stop reading;
 * `retries` the attempts after the first before giving up, 0 = forever.
 * 0 or -ENOMEM. */
int tp_sink_queue_new(tp_sink_t *sink, size_t max, uint64_t retries, tp_sink_queue_t **ret);

/* Frees the queue, its undelivered messages and the sink. Accepts NULL and
 * *p == NULL; sets *p to NULL. */
void tp_sink_queue_destroy(tp_sink_queue_t **p);

/* Appends a message: `body` (malloc'd, `len` bytes) is owned by the queue
 * from here on, also on failure; `min_seq` is the lowest alert sequence in
 * it (0: none known), `label` names it in logs ("alert <id>", copied).
 * Never refused for length (the caller stops reading at full()); 0 or
 * -ENOMEM. */
int tp_sink_queue_push(tp_sink_queue_t *q, char *body, size_t len, uint64_t min_seq,
                       const char *label);

/* Messages waiting (including one in back-off). */
size_t tp_sink_queue_length(const tp_sink_queue_t *q);

/* True when length >= max: the caller reads no more alerts until not. */
bool tp_sink_queue_full(const tp_sink_queue_t *q);

/* The lowest `min_seq` of any waiting message, UINT64_MAX when none. */
uint64_t tp_sink_queue_floor(const tp_sink_queue_t *q);

/* Delivers what is due at `now`, in order, until the queue is empty, the
 * first message is in back-off, or 64 were delivered (so the caller polls
 * in between). *ret_next: when to call again (UINT64_MAX: after the next
 * push). 0; -ETIME when the retry limit was reached (reported; the message
 * stays queued). A message in flight (-EINPROGRESS) stays first; the
 * sink's own background work (ops->pump) is moved on too. */
int tp_sink_queue_pump(tp_sink_queue_t *q, uint64_t now, uint64_t *ret_next);

/* The fds the sink waits on (an HTTP transfer in flight), up to `max`;
 * *ret_next: the latest time to pump again even if none wakes. */
size_t tp_sink_queue_pollfds(tp_sink_queue_t *q, struct pollfd *fds, size_t max, uint64_t now,
                             uint64_t *ret_next);

/* Something waits for delivery: a queued message, or one the sink took but
 * has not brought to its destination yet (the sink's floor). */
bool tp_sink_queue_busy(const tp_sink_queue_t *q);

/* SIGHUP: asks the sink to reopen its file. Reports a failure (the sink
 * keeps the old one). 0 or negative errno. */
int tp_sink_queue_reopen(tp_sink_queue_t *q);

struct tp_sink_counters tp_sink_queue_counters(const tp_sink_queue_t *q);
