/* tp_replay_server — the replay endpoint: journaled alerts for consumers
 * that missed them (the Clone pattern's snapshot side).
 *
 * A consumer subscribes to the alert PUB first, then its DEALER sends
 * ["REPLAY", "<n>"] to this ROUTER; it gets every journaled alert with
 * sequence > n as [topic, Alert], then ["END", "<last sequence sent>"], and
 * drops live duplicates by sequence. A bad request gets ["ERROR", reason].
 *
 * Streams are sent in chunks, one chunk per loop turn per consumer, so a
 * consumer replaying a million alerts never stalls event processing; a
 * consumer whose queue is full (ZMQ_ROUTER_MANDATORY says EAGAIN) is
 * resumed a little later, one that went away is forgotten.
 */
#pragma once

#include <stddef.h>

#include "tp_bus.h"
#include "tp_journal.h"
#include "tp_stats.h"

struct event_base;

#define TP_REPLAY_CHUNK   1000   /* alerts per consumer per loop turn */
#define TP_REPLAY_STREAMS 64     /* consumers replaying at once */

typedef struct tp_replay_server tp_replay_server_t;

/* Binds or connects the ROUTER on `ep` and serves `journal` (borrowed).
 * Counts requests in stats->replay_requests. 0 or negative errno. */
int tp_replay_server_new(struct event_base *base, tp_bus_t *bus, tp_journal_t *journal,
                        const tp_endpoint_t *ep, tp_stats_t *stats, tp_replay_server_t **ret);

void tp_replay_server_destroy(tp_replay_server_t **p);
