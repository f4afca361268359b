/* tp_ingest — POST /v1/events: events as JSON over HTTP, for webhook
 * senders (SaaS tools) that do not speak ZeroMQ.
 *
 * Part of the HTTP endpoint: tp_http routes the path here (when
 * http.ingest.enabled) and owns the metrics registry this module adds its
 * two families to. A body is one Envelope in the contract's JSON form (as
 * tp-pub reads it, tp_json), an array of up to TP_INGEST_MAX_ITEMS of them,
 * or NDJSON lines. Each item becomes [topic, Envelope] and goes to the
 * daemon (tp_ingest_ops_t), which processes it exactly as the reliable
 * input does; the reply waits until the daemon says everything submitted
 * is durable, so a 200 promises what an ACK promises.
 *
 *   200 every item accepted or a duplicate; 422 some item refused (the
 *   others are processed and durable all the same); body
 *   {"accepted": N, "duplicates": N, "refused": [{index, event_id, error}]}.
 *   400 not JSON (with line and column), 401 bearer token missing or wrong,
 *   405 a method other than POST, 413 more items than allowed (evhttp
 *   itself answers 413 to a body over max_body_bytes), 415 a content type
 *   other than application/json or application/x-ndjson, 503 the journal's
 *   commit is failing. Errors are {"error": "..."}.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tp_codec.h"
#include "tp_config.h"
#include "tp_metrics.h"

#define TP_INGEST_MAX_ITEMS 10000 /* events in one request */

struct evhttp_request;
typedef struct tp_ingest tp_ingest_t;

/* Called once what was submitted before is durable: r = 0, or a negative
 * errno if it could not be stored (the reply is then 503). */
typedef void (*tp_ingest_done_fn)(void *arg, int r);

/* What the daemon does for this module (ctx is passed back). */
typedef struct {
    /* One event [topic, Envelope] through the reliable input's path:
     * TP_ACCEPTED, TP_DUPLICATE, TP_REFUSED (reason in why), or a negative
     * errno on an internal failure. */
    int (*submit)(void *ctx, const tp_frame_t frames[2], char *why, size_t whylen);
    /* Calls done(arg, r) once everything submitted so far is committed
     * (at once, maybe before returning, when nothing needs committing).
     * 0, or a negative errno and done is never called. */
    int (*when_durable)(void *ctx, tp_ingest_done_fn done, void *arg);
    void *ctx;
} tp_ingest_ops_t;

/* Adds the ingest metric families to `m` (borrowed; outlives it); `ops`
 * is copied. Starts disabled (tp_ingest_configure). 0 or -ENOMEM. */
int tp_ingest_new(tp_metrics_t *m, const tp_ingest_ops_t *ops, tp_ingest_t **ret);

/* Applies cfg->http.ingest (borrowed) and `token` (from
 * tp_token_file_read; taken over, NULL = none). Requests already waiting
 * for their commit are answered as before. */
void tp_ingest_configure(tp_ingest_t *in, const tp_config_t *cfg, char *token);

bool tp_ingest_enabled(const tp_ingest_t *in);

/* The last journal commit failed (new requests get 503) or succeeded. */
void tp_ingest_set_commit_failed(tp_ingest_t *in, bool failed);

/* Answers one request for /v1/events, now or once its events are durable. */
void tp_ingest_handle(tp_ingest_t *in, struct evhttp_request *req);

/* Frees the module. Every when_durable callback must have been called
 * (the daemon answers what still waits before it closes the endpoint).
 * Accepts NULL. */
void tp_ingest_destroy(tp_ingest_t **p);
