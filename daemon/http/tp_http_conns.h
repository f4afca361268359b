/* tp_http_conns — the HTTP endpoint's connections, counted and bounded.
 *
 * libevent 2.1's evhttp keeps every connection it accepts and times out a
 * read only when nothing arrives for a while: a client sending one byte a
 * second holds a connection forever, and nothing caps how many. This
 * module creates each connection's bufferevent (evhttp_set_bevcb), so it
 * sees every accept, and:
 *
 *   - past http.max_connections, answers 503 and closes the new one at
 *     once (http_connections_refused_total);
 *   - gives each request http.request_timeout from its first byte (from
 *     the accept, for a connection's first) to arrive whole, header and
 *     body; one that has not been dispatched by then is closed
 *     (http_connections_timed_out_total). A dispatched request (an SSE
 *     stream, an ingest batch waiting for its commit) is not timed.
 *
 * It holds a reference on each bufferevent, so a connection evhttp freed
 * is still safe to look at: evhttp's bufferevent_free clears its
 * callbacks, which is how a closed one is recognised (at every accept and
 * every sweep), and then the reference is dropped.
 */
#pragma once

#include <stdint.h>

#include "tp_metrics.h"

struct event_base;
struct evhttp;
struct evhttp_request;
typedef struct tp_http_conns tp_http_conns_t;

/* Installs itself as `http`'s bufferevent factory and registers its
 * metrics in `m`. 0 or -ENOMEM. */
int tp_http_conns_new(struct event_base *base, struct evhttp *http, tp_metrics_t *m,
                      tp_http_conns_t **ret);

/* The limits (reload: they apply to the next accept and the next request). */
void tp_http_conns_configure(tp_http_conns_t *c, unsigned max_connections,
                             int64_t request_timeout_ms);

/* `req` was read whole and is being answered: its deadline is off. */
void tp_http_conns_dispatched(tp_http_conns_t *c, struct evhttp_request *req);

/* Forgets connections evhttp has closed and updates the gauge (the 1 s tick). */
void tp_http_conns_sweep(tp_http_conns_t *c);

/* Drops every reference; call after evhttp_free. */
void tp_http_conns_destroy(tp_http_conns_t **p);
