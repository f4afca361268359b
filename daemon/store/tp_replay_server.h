/* tp_replay_server — the replay endpoint: journaled alerts for consumers
 * that missed them (the Clone pattern's snapshot side).
 *
 * A consumer subscribes to the alert PUB first, then its DEALER sends
 * ["REPLAY", "<n>"] to this ROUTER; it gets every journaled alert with
 * sequence > n as [topic, Alert], then ["END", "<m>"], and drops live
 * duplicates by sequence. m is the sequence of the last alert this replay
 * sent, or n itself when it sent none (nothing after n is journaled, n
 * past the end included): a consumer may store m as its position, which
 * never becomes a number it was not sent or did not already hold.
 *
 * n is strict: decimal digits only, no sign, at most 2^63-1 (the journal's
 * sequence space). Anything else, a request over TP_REPLAY_MAX_REQUEST
 * bytes, or no free slot gets ["ERROR", reason] and is counted
 * (stats->replay_refused, _oversize, _busy). A request over libzmq's
 * memory ceiling for the socket (16 MiB) makes libzmq drop the connection.
 *
 * Streams are sent in chunks, one chunk per loop turn per consumer, so a
 * consumer replaying a million alerts never stalls event processing. What
 * a replay may hold in the daemon is bounded: the ROUTER queues at most
 * TP_REPLAY_WINDOW messages per consumer (ZMQ_SNDHWM), a chunk stops at
 * the first message it refuses (ZMQ_ROUTER_MANDATORY says EAGAIN) and is
 * resumed a little later from there. A consumer that takes nothing for
 * stall_timeout_ms loses its slot (stats->replay_timeouts), one that went
 * away is forgotten, and one peer address holds at most max_per_peer of
 * the TP_REPLAY_STREAMS slots (peers without an address, ipc://, are
 * limited per connection: asking again replaces the running replay).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_bus.h"
#include "tp_journal.h"
#include "tp_stats.h"

struct event_base;

#define TP_REPLAY_CHUNK       1000 /* alerts per consumer per loop turn */
#define TP_REPLAY_STREAMS     64   /* consumers replaying at once */
#define TP_REPLAY_WINDOW      256  /* messages queued per consumer (ZMQ_SNDHWM) */
#define TP_REPLAY_MAX_REQUEST 4096 /* bytes of a request, all frames */

typedef struct {
    int64_t  stall_timeout_ms; /* a replay that sends nothing this long is dropped */
    unsigned max_per_peer;     /* replays at once from one peer address */
} tp_replay_limits_t;

typedef struct tp_replay_server tp_replay_server_t;

/* Binds or connects the ROUTER on `ep` (its hwm is replaced by
 * TP_REPLAY_WINDOW) and serves `journal` (borrowed). Counts in `stats`
 * (borrowed): replay_requests, replay_refused, replay_oversize,
 * replay_busy, replay_timeouts. 0 or negative errno. */
int tp_replay_server_new(struct event_base *base, tp_bus_t *bus, tp_journal_t *journal,
                         const tp_endpoint_t *ep, const tp_replay_limits_t *limits,
                         tp_stats_t *stats, tp_replay_server_t **ret);

/* New limits (a reload); running replays keep their slots. */
void tp_replay_server_set_limits(tp_replay_server_t *r, const tp_replay_limits_t *limits);

void tp_replay_server_destroy(tp_replay_server_t **p);
