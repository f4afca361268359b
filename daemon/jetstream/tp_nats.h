/* tp_nats — JetStream mode: events in from a stream, alerts out to another.
 *
 * One natsConnection attached to the daemon's libevent loop through
 * libnats' libevent adapter, so socket I/O runs on the loop. libnats still
 * delivers subscription messages on its own delivery thread: tp_nats hands
 * each one to the loop through a locked queue and one event_active(), so
 * the engine, the journal and every callback here run on the loop thread
 * only. main() must call tp_nats_global_init() before creating the
 * event_base (libevent locking, for event_active from that thread).
 *
 * Input: one durable push consumer per owned partition, "<consumer>-p<N>"
 * on "tp.events.<N>.>", explicit acks, AckWait nats.ack_wait. Each message
 * is handed to fn as [topic, Envelope]; the daemon then calls tp_nats_ack
 * (after the commit that stored it), tp_nats_term (it can never be
 * accepted) or tp_nats_release (not handled: redelivered after AckWait).
 *
 * Output: tp_nats_publish_alert() publishes asynchronously to
 * "tp.alerts.<kind>.<rule>" with Nats-Msg-Id "<alert_id>:<STATUS>:<detected_at_ms>";
 * failures are counted. At start, journaled alerts after the last one the
 * alerts stream holds are published again (the server drops duplicates).
 *
 * Streams are created if missing; setup (blocking JetStream API requests)
 * runs on a helper thread while tp_nats_new turns the loop, since a
 * request's reply is read by the loop itself.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "tp_codec.h"
#include "tp_config.h"

struct event_base;
typedef struct tp_nats tp_nats_t;

/* One event from partition `partition`: frames[0] the topic, frames[1] the
 * Envelope, valid during the call; msg is the handle to settle. */
typedef void (*tp_nats_recv_fn)(void *arg, void *msg, const tp_frame_t frames[2]);

/* Counters, for the stats line (loop thread reads; libnats threads add). */
typedef struct {
    uint64_t received, acked, termed, released;
    uint64_t alerts_published, alerts_republished, publish_errors;
} tp_nats_stats_t;

/* Before event_base_new(): libevent locking for the delivery thread. */
void tp_nats_global_init(void);

/* Connects to cfg->nats.url, creates the streams if missing, finds the
 * last alert the alerts stream holds and subscribes the owned partitions
 * (messages reach fn once the loop runs after this returns). `cfg` is
 * borrowed. `why` gets the reason on failure. 0 or negative errno. */
int tp_nats_new(struct event_base *base, const tp_config_t *cfg, tp_nats_recv_fn fn, void *arg,
                char *why, size_t whylen, tp_nats_t **ret);

/* The sequence of the last alert the alerts stream holds (0 if none), as
 * found at start. */
uint64_t tp_nats_last_alert_sequence(const tp_nats_t *n);

/* Settle one message (each destroys it). */
void tp_nats_ack(tp_nats_t *n, void *msg);
void tp_nats_term(tp_nats_t *n, void *msg);
void tp_nats_release(tp_nats_t *n, void *msg);

/* Publishes a packed Alert asynchronously (topic "<kind>.<rule>"), its
 * Nats-Msg-Id taken from the Alert. 0 or negative errno (counted). */
int tp_nats_publish_alert(tp_nats_t *n, const char *topic, const void *body, size_t len);

void tp_nats_get_stats(const tp_nats_t *n, tp_nats_stats_t *ret);

/* Shared with tp_cluster (lease mode). */

/* Connects to cfg->nats.url (comma-separated list, reconnecting forever):
 * on base's loop when base is set, else on libnats' own threads. */
int tp_nats_connect(const tp_config_t *cfg, struct event_base *base, natsConnection **ret,
                    char *why, size_t whylen);

/* A JetStream context on nc whose async publishes (at most PUB_MAX_PENDING
 * in flight) report each PubAck to ack_cb(closure); stall_wait_ms > 0 makes
 * a publish into a full window fail after that long instead of blocking
 * (0: libnats' default). 0, or a negative errno with `why` set. */
int tp_nats_jetstream(natsConnection *nc, jsPubAckHandler ack_cb, void *closure,
                      int64_t stall_wait_ms, jsCtx **ret, char *why, size_t whylen);

/* Creates the events and alerts streams if missing (nats.replicas,
 * nats.duplicate_window); blocking, so never on the loop thread. */
int tp_nats_ensure_streams(jsCtx *js, const tp_config_t *cfg, char *why, size_t whylen);

/* Creates stream `name` on `subject` (file storage, max_age ns, 0: none;
 * nats.duplicate_window, nats.replicas) unless it exists: an existing one
 * is left as the operator configured it. Blocking. */
int tp_nats_ensure_stream(jsCtx *js, const tp_config_t *cfg, const char *name, const char *subject,
                          int64_t max_age, char *why, size_t whylen);

/* The Nats-Msg-Id of an alert: "<alert_id>:<FIRING|RESOLVED>:<detected_at_ms>". */
void tp_nats_alert_msg_id(char *buf, size_t len, const Touchpoint__V1__Alert *a);

/* Unsubscribes and closes; queued, unsettled messages are released (the
 * server redelivers them). Accepts NULL. */
void tp_nats_destroy(tp_nats_t **p);
