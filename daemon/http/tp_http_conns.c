/* tp_http_conns — see tp_http_conns.h. */
#include "tp_http_conns.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <uthash.h>

#include "tp_log.h"

typedef struct s_conn {
    UT_hash_handle      hh; /* by bev */
    tp_http_conns_t    *owner;
    struct bufferevent *bev;     /* our reference */
    struct event       *ev;      /* adopt (active once), then the request deadline */
    bool                adopted; /* evhttp has made its connection on bev */
    bool                refuse;  /* over the limit when accepted */
    bool                waiting; /* a request is being read (the deadline runs) */
} s_conn_t;

struct tp_http_conns {
    struct event_base *base;
    s_conn_t          *conns;
    unsigned           n, max;
    int64_t            timeout_ms;
    tp_ratelimit_t     rl;
    tp_metric_t       *m_open, *m_refused, *m_timed_out;
};

static void s_arm(s_conn_t *k) {
    struct timeval tv = { (time_t)(k->owner->timeout_ms / 1000),
                          (suseconds_t)(k->owner->timeout_ms % 1000) * 1000 };
    k->waiting = true;
    event_add(k->ev, &tv);
}

/* evhttp's connection on bev, or NULL once evhttp has freed it (its
 * bufferevent_free cleared the callbacks; our reference keeps bev valid). */
static struct evhttp_connection *s_evcon(const s_conn_t *k) {
    bufferevent_data_cb  r = NULL, w = NULL;
    bufferevent_event_cb e = NULL;
    void                *arg = NULL;
    bufferevent_getcb(k->bev, &r, &w, &e, &arg);
    return r ? arg : NULL;
}

static void s_input_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg);

static void s_forget(s_conn_t *k) {
    tp_http_conns_t *c = k->owner;
    HASH_DEL(c->conns, k);
    c->n--;
    event_free(k->ev);
    /* bev can outlive our reference (libevent finalizes it later) and still
     * read: its input callback must not reach k once freed. */
    evbuffer_remove_cb(bufferevent_get_input(k->bev), s_input_cb, k);
    bufferevent_decref(k->bev);
    free(k);
}

void tp_http_conns_sweep(tp_http_conns_t *c) {
    s_conn_t *k, *tmp;
    HASH_ITER(hh, c->conns, k, tmp) {
        if (k->adopted && !s_evcon(k))
            s_forget(k);
    }
    tp_metric_set(c->m_open, NULL, (double)c->n);
}

/* A new request's first bytes (after the previous one was dispatched). */
static void s_input_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg) {
    (void)b;
    s_conn_t *k = arg;
    if (info->n_added && !k->waiting && k->adopted && s_evcon(k))
        s_arm(k);
}

static void s_event_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    s_conn_t                 *k = arg;
    tp_http_conns_t          *c = k->owner;
    struct evhttp_connection *evcon = s_evcon(k);
    if (!k->adopted) { /* evhttp has just made its connection on bev */
        k->adopted = true;
        if (!evcon)
            return;
        if (k->refuse) {
            /* Straight to the socket: no request was read to answer. */
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
            evutil_socket_t   s = bufferevent_getfd(k->bev);
            if (s >= 0 && send(s, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                (void)0; /* it is closed either way */
            evhttp_connection_free(evcon);
            return;
        }
        s_arm(k);
        return;
    }
    if (!evcon || !k->waiting)
        return;
    uint64_t suppressed;
    tp_metric_add(c->m_timed_out, NULL, 1);
    if (tp_ratelimit_below(&c->rl, tp_monotonic_ms(), &suppressed))
        log_warning("HTTP connection closed: a request not received whole within "
                    "http.request_timeout (%lld ms)",
                    (long long)c->timeout_ms);
    k->waiting = false;
    evhttp_connection_free(evcon);
}

static struct bufferevent *s_bev_cb(struct event_base *base, void *arg) {
    tp_http_conns_t *c = arg;
    tp_http_conns_sweep(c); /* the closed ones do not count against the limit */
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    s_conn_t           *k = bev ? calloc(1, sizeof *k) : NULL;
    if (k && !(k->ev = event_new(base, -1, 0, s_event_cb, k))) {
        free(k);
        k = NULL;
    }
    if (!k)
        return bev; /* out of memory: served, just not counted */
    k->owner = c;
    k->bev = bev;
    bufferevent_incref(bev);
    evbuffer_add_cb(bufferevent_get_input(bev), s_input_cb, k);
    if (c->n >= c->max) {
        k->refuse = true;
        tp_metric_add(c->m_refused, NULL, 1);
        uint64_t suppressed;
        if (tp_ratelimit_below(&c->rl, tp_monotonic_ms(), &suppressed))
            log_warning("HTTP connection refused: http.max_connections (%u) open", c->max);
    }
    HASH_ADD_PTR(c->conns, bev, k);
    c->n++;
    tp_metric_set(c->m_open, NULL, (double)c->n);
    /* evhttp sets bev up when we return; the rest happens after that. */
    event_active(k->ev, EV_TIMEOUT, 0);
    return bev;
}

void tp_http_conns_dispatched(tp_http_conns_t *c, struct evhttp_request *req) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent       *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    s_conn_t                 *k = NULL;
    if (bev)
        HASH_FIND_PTR(c->conns, &bev, k);
    if (k && k->waiting) {
        k->waiting = false;
        event_del(k->ev);
    }
}

int tp_http_conns_new(struct event_base *base, struct evhttp *http, tp_metrics_t *m,
                      tp_http_conns_t **ret) {
    tp_http_conns_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->base = base;
    c->max = 256;
    c->timeout_ms = 30000; /* until tp_http_conns_configure */
    c->rl = (tp_ratelimit_t){ .interval_ms = 10000, .burst = 5 };
    const tp_metric_def_t defs[] = {
        { &c->m_open, TP_METRIC_GAUGE, "http_connections", "HTTP connections open now", NULL },
        { &c->m_refused, TP_METRIC_COUNTER, "http_connections_refused_total",
          "HTTP connections answered 503 and closed at accept: http.max_connections were "
          "open",
          NULL },
        { &c->m_timed_out, TP_METRIC_COUNTER, "http_connections_timed_out_total",
          "HTTP connections closed because a request did not arrive whole within "
          "http.request_timeout",
          NULL },
    };
    if (tp_metrics_add_all(m, defs, sizeof defs / sizeof defs[0]) < 0) {
        free(c);
        return -ENOMEM;
    }
    tp_metric_set(c->m_open, NULL, 0);
    tp_metric_add(c->m_refused, NULL, 0);
    tp_metric_add(c->m_timed_out, NULL, 0);
    evhttp_set_bevcb(http, s_bev_cb, c);
    *ret = c;
    return 0;
}

void tp_http_conns_configure(tp_http_conns_t *c, unsigned max_connections,
                             int64_t request_timeout_ms) {
    c->max = max_connections;
    c->timeout_ms = request_timeout_ms;
}

void tp_http_conns_destroy(tp_http_conns_t **p) {
    tp_http_conns_t *c = p ? *p : NULL;
    if (!c)
        return;
    s_conn_t *k, *tmp;
    HASH_ITER(hh, c->conns, k, tmp) {
        s_forget(k);
    }
    free(c);
    *p = NULL;
}
