/* tp_pub_reliable — tp-pub's --reliable mode: the producer side of the
 * reliable ingest protocol (DESIGN.md, "Reliable paths").
 *
 * Used by tp_pub_run_reliable() at the end of tp_pub_reliable.c, which
 * takes the events from tp-pub's reader (tp_pub.h). This module owns the
 * rest: the DEALER talking to touchpointd's reliable_input ROUTER, and the
 * window of events sent but not yet answered, keyed by event_id (uthash).
 * Each event goes out as [topic, Envelope]; ["ACK", event_id] or ["NACK",
 * event_id, reason] ends it; an event without an answer within
 * --ack-timeout-ms is resent, the delay doubling per event up to 30 s. A
 * daemon restart is only a longer silence: ZeroMQ reconnects the DEALER and the window is resent.
 *
 * Like the rest of tp-pub it reports refused events on stderr itself
 * ("tp-pub: FILE:LINE: refused by the daemon: reason"). Not thread-safe;
 * times are CLOCK_MONOTONIC nanoseconds.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "tp_curve_key.h"

typedef struct tp_pub_reliable tp_pub_reliable_t;

struct tp_pub_reliable_config {
    const char              *endpoint;       /* touchpointd's reliable_input ROUTER */
    bool                     bind;           /* bind the endpoint instead of connecting */
    const char              *input_name;     /* FILE as named in messages */
    size_t                   window;         /* most events unanswered at once, > 0 */
    uint64_t                 ack_timeout_ms; /* first resend after this long, > 0 */
    uint64_t                 wait_ms;        /* give up after this long without an answer */
    const tp_curve_client_t *curve;          /* CURVE client identity, NULL = plain; borrowed */
};

struct tp_pub_reliable_stats {
    uint64_t published;    /* lines sent (a repeated event_id counts again) */
    uint64_t acknowledged; /* window entries ACKed */
    uint64_t refused;      /* window entries NACKed (reported) */
    uint64_t resent;       /* sends after the first, per entry */
    uint64_t pending;      /* entries still unanswered */
};

/* Opens its own ZeroMQ context and the DEALER, connected or bound to
 * cfg->endpoint; `cfg` is copied, its strings are borrowed and must outlive
 * the client. 0, -ENOMEM, or the negative zmq errno (bad endpoint...). */
int tp_pub_reliable_new(const struct tp_pub_reliable_config *cfg, tp_pub_reliable_t **ret);

/* Closes the DEALER (linger 0: whatever is unanswered is dropped) and the
 * context, frees the window. Accepts NULL and *p == NULL; sets *p to NULL. */
void tp_pub_reliable_destroy(tp_pub_reliable_t **p);

/* Publishes one event read from line `lineno`: waits until the window has
 * room and the clock reaches `not_before_ns` (0: now), handling answers and
 * resends meanwhile, then sends [topic, buf]. Takes `buf` (malloc'd) in
 * every case; `topic` must be static; `event_id` is copied and non-empty.
 * An event_id still in the window is sent again and shares its entry (the
 * newer bytes and line replace the older; one answer ends both).
 * 0; -ETIMEDOUT when the window stayed full for wait_ms without any answer
 * (nothing sent); -ENOMEM; other negative errno from ZeroMQ. */
int tp_pub_reliable_send(tp_pub_reliable_t *r, const char *event_id, const char *topic,
                         uint8_t *buf, size_t len, size_t lineno, uint64_t not_before_ns);

/* Waits up to wait_ms until a daemon is connected (ZeroMQ can take an
 * event), so that the first events, and --rate, do not start in the void.
 * 0; -ETIMEDOUT; other negative errno from ZeroMQ. */
int tp_pub_reliable_wait_peer(tp_pub_reliable_t *r);

/* Waits until every event in the window is answered, resending as due.
 * 0; -ETIMEDOUT after wait_ms without any answer (stats.pending tells how
 * many are left); other negative errno from ZeroMQ. */
int tp_pub_reliable_drain(tp_pub_reliable_t *r);

/* The counters so far. */
void tp_pub_reliable_get_stats(const tp_pub_reliable_t *r, struct tp_pub_reliable_stats *ret);
