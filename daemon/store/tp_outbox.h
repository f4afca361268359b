/* tp_outbox — what waits for the group commit.
 *
 * An alert is published, a reliable producer ACKed, an HTTP ingest request
 * answered and a JetStream message acked only once the journal commit that
 * stores what they promise has succeeded. The daemon queues each here as it
 * happens (in order), seals what one loop turn queued with the journal
 * position that turn's records end at, and delivers the items whose
 * position the writer thread has committed through its callbacks; a
 * failed commit keeps the queue (retried) but answers the HTTP requests
 * at once. Called by tp_daemon.c only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_outbox tp_outbox_t;

/* Told a queued request's outcome: 0 once committed, else negative errno
 * (the HTTP ingest answers through one of these). */
typedef void (*tp_outbox_done_fn)(void *arg, int r);

typedef struct {
    /* Publish [topic, body]. */
    void (*alert)(void *ctx, const char *topic, const void *body, size_t len);
    /* ACK event_id to the reliable producer with this ROUTER identity. */
    void (*ack)(void *ctx, const void *identity, size_t len, const char *event_id);
    /* JetStream message: ack it (stored) or release it (not stored, at
     * destroy: the server redelivers it). */
    void (*nats)(void *ctx, void *msg, bool stored);
} tp_outbox_ops_t;

/* An empty queue into *ret; ops and ctx are borrowed. 0 or -ENOMEM. */
int tp_outbox_new(const tp_outbox_ops_t *ops, void *ctx, tp_outbox_t **ret);

/* Queue one item (copies what it is given). 0 or -ENOMEM. */
int tp_outbox_alert(tp_outbox_t *ob, const char *topic, const void *body, size_t len);
int tp_outbox_ack(tp_outbox_t *ob, const void *identity, size_t len, const char *event_id);
int tp_outbox_http(tp_outbox_t *ob, tp_outbox_done_fn done, void *arg);
int tp_outbox_nats(tp_outbox_t *ob, void *msg);

/* Takes back the item queued last (its commit record could not be made). */
void tp_outbox_drop_last(tp_outbox_t *ob);

/* Answers every waiting HTTP request with r (< 0) and drops it: after a
 * failed commit (503; the client sends again and dedup recognises what was
 * stored after all), or when the HTTP endpoint closes. */
void tp_outbox_fail_http(tp_outbox_t *ob, int r);

/* Everything queued since the last seal waits for the journal to be
 * committed up to pos (tp_journal_submit's position). */
void tp_outbox_seal(tp_outbox_t *ob, uint64_t pos);

/* Whether anything was queued since the last seal. */
bool tp_outbox_unsealed(const tp_outbox_t *ob);

/* The journal is committed up to `committed`: delivers, in order, the
 * sealed items waiting for no more than that. */
void tp_outbox_deliver_upto(tp_outbox_t *ob, uint64_t committed);

/* Delivers everything queued, in order (sealed or not). */
void tp_outbox_deliver(tp_outbox_t *ob);

/* Frees what is left undelivered (JetStream messages are released);
 * accepts NULL; NULLs *p. HTTP waiters must have been failed before. */
void tp_outbox_destroy(tp_outbox_t **p);
