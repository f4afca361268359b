/* tp_dash_stream — the dashboard's Server-Sent Events streams
 * (GET /v1/alerts/stream): a snapshot of the open alerts, then every
 * transition as it is published; see tp_dash.h.
 *
 * Memory per stream is bounded whatever the client does. The snapshot is
 * not built up front (65,000 open alerts make a 12 MB one, and 32 clients
 * that never read would pin it 32 times): the stream keeps references to
 * the alerts it lists and writes SLICE bytes of them at a time, the next
 * slice only once libevent has handed the previous one to the kernel (the
 * connection's write callback). Live alerts wait, in the ring, until the
 * snapshot is out. Every write checks the stream's unsent bytes against
 * http.dashboard.max_client_buffer: past HARD_FACTOR times it the stream
 * is cut at once; past it and not reading for STALL_MS, at the next send.
 * A snapshot that takes nothing over a whole keep-alive interval is cut at
 * the keep-alive.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_contract.h"
#include "tp_dash_int.h"

#define WRITE_STALL_S   60    /* a stream that takes nothing for this long is closed */
#define STALL_MS        1000  /* behind and not reading this long: cut */
#define HARD_FACTOR     4     /* behind this many times the limit: cut at once */
#define SLICE           65536 /* snapshot bytes produced per write */
#define SNAP_IDLE_TICKS 2     /* keep-alive ticks a snapshot may take nothing (a full interval) */

struct tp_dash_client {
    tp_dash_client_t         *next, *prev;
    tp_dash_t                *d;
    struct evhttp_request    *req;
    struct evhttp_connection *conn;
    tp_dash_filter_t          f;
    uint64_t                  after;  /* what its snapshot or resume covered */
    size_t                    queued; /* unsent bytes right after our latest send */
    int64_t           stalled_since;  /* monotonic ms it was first seen behind and not reading */
    tp_dash_alert_t **snap;           /* the snapshot's alerts not yet written (a reference each) */
    size_t            n_snap, snap_at, snap_listed;
    bool              in_snap;    /* its snapshot event is being written */
    bool              took;       /* wrote something since the last keep-alive */
    unsigned          idle_ticks; /* keep-alives without progress during the snapshot */
};

static struct evbuffer *s_output(const tp_dash_client_t *c) {
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    return bev ? bufferevent_get_output(bev) : NULL;
}

static void s_snap_drop(tp_dash_client_t *c) {
    for (size_t i = c->snap_at; i < c->n_snap; i++)
        tp_dash_alert_unref(c->snap[i]);
    free(c->snap);
    c->snap = NULL;
    c->n_snap = c->snap_at = 0;
}

static void s_unlink(tp_dash_client_t *c) {
    tp_dash_t *d = c->d;
    if (c->prev)
        c->prev->next = c->next;
    else
        d->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    d->n_clients--;
    tp_metric_set(d->m_clients, NULL, (double)d->n_clients);
    tp_dash_filter_free(&c->f);
    s_snap_drop(c);
    free(c);
}

/* The peer went away (or the write stalled): libevent frees the
 * connection after this. A reply still being sent was detached from it
 * first (its evcon is NULL) and is ours to free: evhttp_send_reply_end
 * does that for a request without a connection. */
static void s_closed_cb(struct evhttp_connection *conn, void *arg) {
    (void)conn;
    tp_dash_client_t      *c = arg;
    struct evhttp_request *req = c->req;
    s_unlink(c);
    if (!evhttp_request_get_connection(req))
        evhttp_send_reply_end(req);
}

/* Closes one stream now, whatever it still has queued. */
static void s_close(tp_dash_client_t *c) {
    struct evhttp_connection *conn = c->conn;
    evhttp_connection_set_closecb(conn, NULL, NULL);
    s_unlink(c);
    evhttp_connection_free(conn);
}

void tp_dash_stream_close_all(tp_dash_t *d) {
    while (d->clients)
        s_close(d->clients);
}

static void s_cut(tp_dash_client_t *c, size_t backlog, const char *why) {
    tp_dash_t *d = c->d;
    uint64_t   suppressed;
    tp_metric_add(d->m_cut, NULL, 1);
    if (tp_ratelimit_below(&d->cut_rl, tp_monotonic_ms(), &suppressed))
        log_warning("Dashboard stream cut: %zu bytes unsent, %s (http.dashboard."
                    "max_client_buffer %zu); the page reconnects and resumes",
                    backlog, why, d->cfg->http.dashboard.max_client_buffer);
    s_close(c);
}

/* Cuts a stream that is not reading: more than max_client_buffer bytes
 * unsent and nothing written since our previous send for STALL_MS. A
 * reader that keeps up but got a burst (a watermark firing thousands of
 * deadlines at once) is making progress and stays. True if it was cut. */
static bool s_cut_if_behind(tp_dash_client_t *c) {
    struct evbuffer *out = s_output(c);
    size_t           backlog = out ? evbuffer_get_length(out) : 0;
    size_t           limit = c->d->cfg->http.dashboard.max_client_buffer;
    bool             progress = backlog < c->queued; /* only we add to it: less is written */
    c->queued = backlog;
    int64_t now = tp_monotonic_ms();
    if (backlog <= limit || progress) {
        c->stalled_since = 0;
        return false;
    }
    if (!c->stalled_since)
        c->stalled_since = now;
    if (now - c->stalled_since < STALL_MS)
        return false;
    s_cut(c, backlog, "not reading");
    return true;
}

static void s_drained_cb(struct evhttp_connection *conn, void *arg);

/* Queues `b` (drained) on the stream, unless that would leave more than
 * HARD_FACTOR times max_client_buffer unsent: then the stream is cut and
 * this is false. Every write of a stream goes through here. The first
 * (at most a slice, or a resume from the bounded ring) may not cut: it is
 * made inside evhttp's request callback, where the connection must live. */
static bool s_send(tp_dash_client_t *c, struct evbuffer *b, bool may_cut) {
    struct evbuffer *out = s_output(c);
    size_t           backlog = out ? evbuffer_get_length(out) : 0, len = evbuffer_get_length(b);
    if (may_cut && backlog + len > HARD_FACTOR * c->d->cfg->http.dashboard.max_client_buffer) {
        evbuffer_drain(b, len);
        s_cut(c, backlog + len, "over 4 times the limit");
        return false;
    }
    tp_metric_add(c->d->m_sent, NULL, (double)len);
    /* With a callback, so the connection tells us when all is written. */
    evhttp_send_reply_chunk_with_cb(c->req, b, s_drained_cb, c);
    c->queued = out ? evbuffer_get_length(out) : 0;
    return true;
}

/* One SSE event. The JSON goes in with evbuffer_add: printf's %s copies
 * it a character at a time, and it is most of the bytes. */
static void s_add_event(struct evbuffer *b, const char *event, uint64_t id, const char *data) {
    evbuffer_add_printf(b, "id: %llu\nevent: %s\ndata: ", (unsigned long long)id, event);
    evbuffer_add(b, data, strlen(data));
    evbuffer_add(b, "\n\n", 2);
}

typedef struct {
    struct evbuffer        *b;
    const tp_dash_filter_t *f;
} s_resume_t;

static void s_resume_cb(void *ctx, tp_dash_alert_t *a) {
    s_resume_t *r = ctx;
    if (tp_dash_filter_match(r->f, a))
        s_add_event(r->b, "alert", a->seq, tp_dash_alert_json(a));
}

/* Starts a snapshot: references to the alerts it lists, and its head. */
static int s_snap_start(tp_dash_client_t *c, struct evbuffer *b) {
    tp_dash_t *d = c->d;
    size_t     cap = tp_dash_alerts_count(d->alerts);
    if (cap > TP_DASH_MAX_LIST)
        cap = TP_DASH_MAX_LIST;
    s_snap_drop(c);
    if (cap && !(c->snap = malloc(cap * sizeof *c->snap)))
        return -ENOMEM;
    for (tp_dash_alert_t *a = tp_dash_alerts_open(d->alerts); a && c->n_snap < cap; a = a->hh.next)
        if (tp_dash_filter_match(&c->f, a))
            c->snap[c->n_snap++] = tp_dash_alert_ref(a);
    c->snap_listed = c->n_snap;
    c->after = tp_dash_alerts_last_seq(d->alerts);
    c->in_snap = true;
    c->idle_ticks = 0;
    evbuffer_add_printf(b,
                        "id: %llu\nevent: snapshot\ndata: {\"last_sequence\": %llu, "
                        "\"open\": %zu, \"alerts\": [",
                        (unsigned long long)c->after, (unsigned long long)c->after,
                        tp_dash_alerts_count(d->alerts));
    return 0;
}

/* Adds the snapshot's next SLICE bytes to b; at its end, its tail and what
 * was published meanwhile (from the ring; if the ring lost some, a fresh
 * snapshot follows). */
static void s_snap_fill(tp_dash_client_t *c, struct evbuffer *b) {
    size_t slice = c->d->cfg->http.dashboard.max_client_buffer;
    if (slice > SLICE)
        slice = SLICE; /* a slice never trips the limit on its own */
    while (c->snap_at < c->n_snap && evbuffer_get_length(b) < slice) {
        tp_dash_alert_t *a = c->snap[c->snap_at++];
        if (c->snap_at > 1)
            evbuffer_add(b, ", ", 2);
        const char *json = tp_dash_alert_json(a);
        evbuffer_add(b, json, strlen(json));
        tp_dash_alert_unref(a);
    }
    if (c->snap_at < c->n_snap)
        return;
    evbuffer_add_printf(b, "], \"listed\": %zu}\n\n", c->snap_listed);
    s_snap_drop(c);
    c->in_snap = false;
    s_resume_t rs = { b, &c->f };
    if (!tp_dash_alerts_since(c->d->alerts, c->after, s_resume_cb, &rs)) {
        if (s_snap_start(c, b) < 0)
            c->in_snap = false; /* ENOMEM: live alerts only; a reconnect heals */
        return;
    }
    c->after = tp_dash_alerts_last_seq(c->d->alerts);
}

/* All written: the next slice of a snapshot. */
static void s_drained_cb(struct evhttp_connection *conn, void *arg) {
    (void)conn;
    tp_dash_client_t *c = arg;
    c->took = true;
    if (!c->in_snap)
        return;
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return; /* the keep-alive cuts it if it never moves again */
    s_snap_fill(c, b);
    if (evbuffer_get_length(b))
        s_send(c, b, true);
    evbuffer_free(b);
}

void tp_dash_stream_open(tp_dash_t *d, struct evhttp_request *req) {
    if (d->n_clients >= d->cfg->http.dashboard.max_clients) {
        tp_metric_add(d->m_refused, NULL, 1);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "10");
        tp_dash_json_reply(req, 503, "Service Unavailable",
                           "{\"error\": \"too many dashboard streams "
                           "(http.dashboard.max_clients)\"}\n");
        return;
    }
    tp_dash_client_t *c = calloc(1, sizeof *c);
    struct evbuffer  *b = evbuffer_new();
    if (!c || !b || tp_dash_filter_parse(req, &c->f) < 0) {
        free(c);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    c->d = d;
    c->req = req;
    c->conn = evhttp_request_get_connection(req);
    evbuffer_add_printf(b, "retry: 2000\n\n");
    /* Resume: EventSource sends Last-Event-ID; a fetch() reader may too.
     * An id the ring no longer reaches back to (or from another daemon)
     * gets a fresh snapshot. */
    const char *last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
    char       *end = NULL;
    unsigned long long after = last ? strtoull(last, &end, 10) : 0;
    s_resume_t         rs = { b, &c->f };
    bool               resumed = last && end && end != last && !*end &&
                   tp_dash_alerts_since(d->alerts, after, s_resume_cb, &rs);
    if (resumed)
        c->after = tp_dash_alerts_last_seq(d->alerts);
    else if (s_snap_start(c, b) < 0) {
        tp_dash_filter_free(&c->f);
        free(c);
        evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    /* Each write takes all the kernel will (libevent's default is 16 KiB a
     * loop turn): a reader that keeps up never looks behind after a burst. */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    if (bev)
        bufferevent_set_max_single_write(bev, EV_SSIZE_MAX);
    /* A peer that leaves is seen at once (libevent reads for EOF while it
     * answers), and a write that cannot progress for WRITE_STALL_S closes
     * the stream too: closecb either way. */
    evhttp_connection_set_timeout(c->conn, WRITE_STALL_S);
    evhttp_connection_set_closecb(c->conn, s_closed_cb, c);
    c->next = d->clients;
    if (d->clients)
        d->clients->prev = c;
    d->clients = c;
    d->n_clients++;
    tp_metric_set(d->m_clients, NULL, (double)d->n_clients);
    evhttp_send_reply_start(req, HTTP_OK, "OK");
    if (c->in_snap)
        s_snap_fill(c, b);
    s_send(c, b, false);
    evbuffer_free(b);
}

void tp_dash_stream_heartbeat_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_dash_t       *d = arg;
    struct evbuffer *b = evbuffer_new();
    for (tp_dash_client_t *c = d->clients, *next; b && c; c = next) {
        next = c->next;
        if (c->in_snap) { /* no comment inside its data line */
            struct evbuffer *out = s_output(c);
            size_t           backlog = out ? evbuffer_get_length(out) : 0;
            bool             progress = c->took || backlog < c->queued;
            c->took = false;
            c->queued = backlog;
            c->idle_ticks = progress ? 0 : c->idle_ticks + 1;
            if (c->idle_ticks >= SNAP_IDLE_TICKS)
                s_cut(c, backlog, "its snapshot not read for a keep-alive interval");
            continue;
        }
        c->took = false;
        if (s_cut_if_behind(c))
            continue;
        evbuffer_add(b, ": keep-alive\n\n", 14);
        s_send(c, b, true);
    }
    if (b)
        evbuffer_free(b);
}

/* The turn's alerts to every stream, one chunk each (one write per
 * client per turn, however many alerts a commit published). A stream
 * still in its snapshot gets them from the ring when that is out. */
void tp_dash_stream_send_batch_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_dash_t *d = arg;
    if (!d->n_batch)
        return; /* switched off meanwhile */
    /* Streams without filters (the page's) share one copy of the turn's
     * events; filtered ones get theirs. */
    struct evbuffer *all = NULL, *b = d->clients ? evbuffer_new() : NULL;
    for (tp_dash_client_t *c = d->clients, *next; b && c; c = next) {
        next = c->next;
        if (c->in_snap || s_cut_if_behind(c))
            continue;
        if (tp_dash_filter_any(&c->f) && c->after < d->batch[0]->seq) {
            if (!all && (all = evbuffer_new()))
                for (size_t i = 0; i < d->n_batch; i++)
                    s_add_event(all, "alert", d->batch[i]->seq, tp_dash_alert_json(d->batch[i]));
            if (all)
                evbuffer_add_buffer_reference(b, all);
        } else {
            for (size_t i = 0; i < d->n_batch; i++)
                if (d->batch[i]->seq > c->after && tp_dash_filter_match(&c->f, d->batch[i]))
                    s_add_event(b, "alert", d->batch[i]->seq, tp_dash_alert_json(d->batch[i]));
        }
        if (evbuffer_get_length(b))
            s_send(c, b, true);
    }
    if (all)
        evbuffer_free(all);
    if (b)
        evbuffer_free(b);
    for (size_t i = 0; i < d->n_batch; i++)
        tp_dash_alert_unref(d->batch[i]);
    d->n_batch = 0;
}
