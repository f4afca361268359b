/* tp_pub_nats — tp-pub's --nats mode: events into the JetStream stream
 * touchpointd consumes in JetStream mode (docs/jetstream.md).
 *
 * Used by tp_pub_run_nats() at the end of tp_pub_nats.c, which takes the
 * events from tp-pub's reader (tp_pub.h). Each event goes to
 * "tp.events.<p>.<kind>", p from tp_partition (FNV-1a 32 of hcp_id mod --partitions), with
 * Nats-Msg-Id = event_id, so a resend within the stream's duplicate window
 * is dropped by the server; a watermark goes to every partition (Msg-Id
 * "<event_id>@<p>"). Publishes are asynchronous, at most `window` awaiting
 * their PubAck; drain waits for all of them. libnats runs its own threads
 * here (no event loop): tp-pub is a batch tool.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "touchpoint/v1/events.pb-c.h"

typedef struct tp_pub_nats tp_pub_nats_t;

struct tp_pub_nats_stats {
    uint64_t published;    /* messages sent (a watermark counts once per partition) */
    uint64_t acknowledged; /* PubAcks, duplicates included */
    uint64_t duplicates;   /* PubAcks saying the Msg-Id was already stored */
    uint64_t failed;       /* PubAck errors (reported on stderr) */
};

/* Connects to url (comma-separated list). 0, or a negative errno with the
 * reason in err. */
int tp_pub_nats_new(const char *url, unsigned partitions, uint64_t window, uint64_t wait_ms,
                    char *err, size_t errlen, tp_pub_nats_t **ret);

/* Publishes one encoded event: env (for its partition key and event_id),
 * topic ("crm.<kind>") and the packed bytes. 0, or a negative errno with
 * the reason in err. */
int tp_pub_nats_send(tp_pub_nats_t *p, const Touchpoint__V1__Envelope *env, const char *topic,
                     const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Waits up to wait_ms for every PubAck. 0, -ETIMEDOUT, or another
 * negative errno (tp_nats_status_errno). */
int tp_pub_nats_drain(tp_pub_nats_t *p);

void tp_pub_nats_get_stats(tp_pub_nats_t *p, struct tp_pub_nats_stats *ret);

void tp_pub_nats_destroy(tp_pub_nats_t **p);
