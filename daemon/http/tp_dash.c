/* tp_dash — see tp_dash.h. */
#include "tp_dash.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tp_cli.h"
#include "tp_contract.h"
#include "tp_ingest.h"
#include "tp_dash_alerts.h"
#include "tp_log.h"

#define WRITE_STALL_S 60           /* a stream that takes nothing for this long is closed */
/* Alerts one snapshot or /v1/alerts answer lists at most, oldest first:
 * the first listing encodes each as JSON on the event loop (about 15 us
 * each; cached after), so this bounds that pause to a fraction of a
 * second. "open" always says how many there are. */
#define MAX_LIST      20000
#define STALL_MS      1000         /* behind and not reading this long: cut */
#define KPI_CACHE_MS  1000         /* /v1/kpi is computed at most this often, for all pages */
#define HARD_FACTOR   4            /* behind this many times the limit: cut anyway */

/* What a client asked to see; NULL = any. */
enum { F_KIND, F_RULE, F_TERRITORY, F_REP, F_CTYPE, F_HCP, F_CONTRACT, F_CALL, F__COUNT };
static const char *const s_fnames[F__COUNT] = { "kind", "rule", "territory", "rep",
                                                "contract_type", "hcp", "contract", "call" };
typedef struct {
    char *v[F__COUNT];
} s_filter_t;

typedef struct s_client {
    struct s_client *next, *prev;
    tp_dash_t *d;
    struct evhttp_request    *req;
    struct evhttp_connection *conn;
    s_filter_t f;
    uint64_t   after;            /* what its snapshot or resume covered */
    size_t     queued;           /* unsent bytes right after our latest send */
    int64_t    stalled_since;    /* monotonic ms it was first seen behind and not reading */
} s_client_t;

struct tp_dash {
    const tp_config_t *cfg;
    tp_engine_t   *engine;
    const tp_kpi_t *kpi;
    struct event  *heartbeat;
    bool           on;
    char          *token;        /* NULL = none required */
    tp_dash_alerts_t *alerts;    /* open ones, recent transitions, pending ones */
    s_client_t    *clients;
    size_t         n_clients;
    tp_dash_alert_t **batch;     /* published this loop turn, not yet sent (a reference each) */
    size_t         n_batch, cap_batch;
    struct event  *send_ev;      /* sends the batch once the turn's publishing is done */
    tp_ratelimit_t cut_rl;
    char          *kpi_text;     /* the latest /v1/kpi answer, reused for KPI_CACHE_MS */
    int64_t        kpi_at_ms;
    tp_metric_t   *m_clients, *m_cut, *m_refused, *m_sent;
};

static bool s_match(const s_filter_t *f, const tp_dash_alert_t *a) {
    const char *have[F__COUNT] = {
        tp_alert_kind_prefix(a->kind), a->s[TP_DA_RULE], a->s[TP_DA_TERRITORY], a->s[TP_DA_REP],
        a->s[TP_DA_CTYPE], a->s[TP_DA_HCP], a->s[TP_DA_CONTRACT], a->s[TP_DA_CALL],
    };
    for (int i = 0; i < F__COUNT; i++)
        if (f->v[i] && strcasecmp(f->v[i], have[i]) != 0)
            return false;
    return true;
}

static void s_filter_free(s_filter_t *f) {
    for (int i = 0; i < F__COUNT; i++)
        free(f->v[i]);
}

/* The request's filters (empty values ignored). -ENOMEM. */
static int s_filter_parse(struct evhttp_request *req, s_filter_t *ret) {
    memset(ret, 0, sizeof *ret);
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq kv = { 0 };
    if (!q || evhttp_parse_query_str(q, &kv) < 0)
        return 0;
    int r = 0;
    for (int i = 0; i < F__COUNT && r == 0; i++) {
        const char *v = evhttp_find_header(&kv, s_fnames[i]);
        if (v && *v && !(ret->v[i] = strdup(v)))
            r = -ENOMEM;
    }
    evhttp_clear_headers(&kv);
    if (r < 0)
        s_filter_free(ret);
    return r;
}

/* ---- access ---------------------------------------------------------- */

/* Constant time in the token's length: a wrong guess learns nothing from
 * how fast it was refused. */
static bool s_token_equal(const char *want, const char *got, size_t len) {
    size_t wl = strlen(want);
    unsigned char diff = (unsigned char)(wl != len);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < len ? got[i] : 0));
    return diff == 0;
}

static void s_json_reply(struct evhttp_request *req, int code, const char *reason,
                         const char *text) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    if (!b || evbuffer_add(b, text, strlen(text)) < 0) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

/* True if the request may read data; else answers 401 and is false. */
static bool s_authorized(tp_dash_t *d, struct evhttp_request *req) {
    if (!d->token)
        return true;
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        a += strspn(a, " \t");
        size_t len = strlen(a);
        while (len > 0 && (a[len - 1] == ' ' || a[len - 1] == '\t'))
            len--;
        if (s_token_equal(d->token, a, len))
            return true;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      a ? "Bearer realm=\"touchpointd\", error=\"invalid_token\""
                        : "Bearer realm=\"touchpointd\"");
    s_json_reply(req, 401, "Unauthorized",
                 "{\"error\": \"a bearer token is required: Authorization: Bearer <token>\"}\n");
    return false;
}

/* ---- streams --------------------------------------------------------- */

static struct evbuffer *s_client_output(const s_client_t *c) {
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    return bev ? bufferevent_get_output(bev) : NULL;
}

static void s_client_unlink(s_client_t *c) {
    tp_dash_t *d = c->d;
    if (c->prev)
        c->prev->next = c->next;
    else
        d->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    d->n_clients--;
    tp_metric_set(d->m_clients, NULL, (double)d->n_clients);
    s_filter_free(&c->f);
    free(c);
}

/* The peer went away (or the write stalled): libevent frees the
 * connection after this. A reply still being sent was detached from it
 * first (its evcon is NULL) and is ours to free: evhttp_send_reply_end
 * does that for a request without a connection. */
static void s_client_closed_cb(struct evhttp_connection *conn, void *arg) {
    (void)conn;
    s_client_t *c = arg;
    struct evhttp_request *req = c->req;
    s_client_unlink(c);
    if (!evhttp_request_get_connection(req))
        evhttp_send_reply_end(req);
}

/* Closes one stream now, whatever it still has queued. */
static void s_client_close(s_client_t *c) {
    struct evhttp_connection *conn = c->conn;
    evhttp_connection_set_closecb(conn, NULL, NULL);
    s_client_unlink(c);
    evhttp_connection_free(conn);
}

/* Cuts a stream that is not reading: more than max_client_buffer bytes
 * unsent and nothing written since our previous send for STALL_MS, or
 * more than HARD_FACTOR times that at all. A reader that keeps up but got
 * a burst (a watermark firing thousands of deadlines at once) is making
 * progress and stays; one that stopped never grows our memory past the
 * limit plus what arrives in STALL_MS, and never slows anyone else. True
 * if it was cut. */
static bool s_client_cut_if_behind(s_client_t *c) {
    tp_dash_t *d = c->d;
    struct evbuffer *out = s_client_output(c);
    size_t backlog = out ? evbuffer_get_length(out) : 0;
    size_t limit = d->cfg->http.dashboard.max_client_buffer;
    bool progress = backlog < c->queued;   /* only we add to it: less is written */
    c->queued = backlog;
    int64_t now = tp_monotonic_ms();
    if (backlog <= limit || (progress && backlog <= HARD_FACTOR * limit)) {
        c->stalled_since = 0;
        return false;
    }
    if (backlog <= HARD_FACTOR * limit) {
        if (!c->stalled_since)
            c->stalled_since = now;
        if (now - c->stalled_since < STALL_MS)
            return false;
    }
    uint64_t suppressed;
    tp_metric_add(d->m_cut, NULL, 1);
    if (tp_ratelimit_below(&d->cut_rl, now, &suppressed))
        log_warning("Dashboard stream cut: %zu bytes unsent and not reading (http.dashboard."
                    "max_client_buffer %zu); the page reconnects and resumes", backlog, limit);
    s_client_close(c);
    return true;
}

/* Queues `b` (drained) on the stream. */
static void s_client_send(s_client_t *c, struct evbuffer *b) {
    tp_metric_add(c->d->m_sent, NULL, (double)evbuffer_get_length(b));
    evhttp_send_reply_chunk(c->req, b);
    struct evbuffer *out = s_client_output(c);
    c->queued = out ? evbuffer_get_length(out) : 0;
}

/* One SSE event. The JSON goes in with evbuffer_add: printf's %s copies
 * it a character at a time, and it is most of the bytes. */
static void s_add_event(struct evbuffer *b, const char *event, uint64_t id, const char *data) {
    evbuffer_add_printf(b, "id: %llu\nevent: %s\ndata: ", (unsigned long long)id, event);
    evbuffer_add(b, data, strlen(data));
    evbuffer_add(b, "\n\n", 2);
}

/* `sep` then a JSON text, into a list being written. */
static void s_add_item(struct evbuffer *b, const char *sep, const char *json) {
    evbuffer_add(b, sep, strlen(sep));
    evbuffer_add(b, json, strlen(json));
}

/* "snapshot": every open alert the filter lets through, as one JSON
 * array, with the latest sequence as its id. */
static void s_add_snapshot(tp_dash_t *d, struct evbuffer *b, const s_filter_t *f) {
    unsigned long long last = tp_dash_alerts_last_seq(d->alerts);
    evbuffer_add_printf(b, "id: %llu\nevent: snapshot\ndata: {\"last_sequence\": %llu, "
                        "\"open\": %zu, \"alerts\": [", last, last,
                        tp_dash_alerts_count(d->alerts));
    size_t n = 0;
    for (tp_dash_alert_t *a = tp_dash_alerts_open(d->alerts); a && n < MAX_LIST; a = a->hh.next) {
        if (!s_match(f, a))
            continue;
        s_add_item(b, n++ ? ", " : "", tp_dash_alert_json(a));
    }
    evbuffer_add_printf(b, "], \"listed\": %zu}\n\n", n);
}

typedef struct {
    struct evbuffer  *b;
    const s_filter_t *f;
} s_resume_t;

static void s_resume_cb(void *ctx, tp_dash_alert_t *a) {
    s_resume_t *r = ctx;
    if (s_match(r->f, a))
        s_add_event(r->b, "alert", a->seq, tp_dash_alert_json(a));
}

static void s_stream(tp_dash_t *d, struct evhttp_request *req) {
    if (d->n_clients >= d->cfg->http.dashboard.max_clients) {
        tp_metric_add(d->m_refused, NULL, 1);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "10");
        s_json_reply(req, 503, "Service Unavailable",
                     "{\"error\": \"too many dashboard streams (http.dashboard.max_clients)\"}\n");
        return;
    }
    s_client_t *c = calloc(1, sizeof *c);
    struct evbuffer *b = evbuffer_new();
    if (!c || !b || s_filter_parse(req, &c->f) < 0) {
        free(c);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    c->d = d;
    c->req = req;
    c->conn = evhttp_request_get_connection(req);
    /* Resume: EventSource sends Last-Event-ID; a fetch() reader may too. */
    const char *last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
    char *end = NULL;
    unsigned long long after = last ? strtoull(last, &end, 10) : 0;
    s_resume_t rs = { b, &c->f };
    bool resumed = last && end && end != last && !*end &&
                   tp_dash_alerts_since(d->alerts, after, s_resume_cb, &rs);
    if (!resumed)
        s_add_snapshot(d, b, &c->f);
    c->after = tp_dash_alerts_last_seq(d->alerts);
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
    evhttp_connection_set_closecb(c->conn, s_client_closed_cb, c);
    c->next = d->clients;
    if (d->clients)
        d->clients->prev = c;
    d->clients = c;
    d->n_clients++;
    tp_metric_set(d->m_clients, NULL, (double)d->n_clients);
    evhttp_send_reply_start(req, HTTP_OK, "OK");
    evbuffer_add_printf(b, "retry: 2000\n\n");
    s_client_send(c, b);
    evbuffer_free(b);
}

static void s_heartbeat_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_dash_t *d = arg;
    struct evbuffer *b = evbuffer_new();
    for (s_client_t *c = d->clients, *next; b && c; c = next) {
        next = c->next;
        if (s_client_cut_if_behind(c))
            continue;
        evbuffer_add(b, ": keep-alive\n\n", 14);
        s_client_send(c, b);
    }
    if (b)
        evbuffer_free(b);
}

/* ---- live alerts --------------------------------------------------------- */

static int s_seed_cb(void *ctx, const uint8_t *buf, size_t len) {
    tp_dash_t *d = ctx;
    return tp_dash_alerts_seed(d->alerts, buf, len) < 0;   /* ENOMEM: stop */
}

static void s_batch_drop(tp_dash_t *d) {
    for (size_t i = 0; i < d->n_batch; i++)
        tp_dash_alert_unref(d->batch[i]);
    d->n_batch = 0;
}

/* Forgets every alert and closes every stream (switched off, destroyed). */
static void s_clear(tp_dash_t *d) {
    while (d->clients)
        s_client_close(d->clients);
    free(d->kpi_text);
    d->kpi_text = NULL;
    s_batch_drop(d);
    tp_dash_alerts_clear(d->alerts);
}

/* The turn's alerts to every stream, one chunk each (one write per
 * client per turn, however many alerts a commit published). */
static void s_send_batch_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_dash_t *d = arg;
    if (!d->n_batch)
        return;                  /* switched off meanwhile */
    /* Streams without filters (the page's) share one copy of the turn's
     * events; filtered ones get theirs. */
    struct evbuffer *all = NULL, *b = d->clients ? evbuffer_new() : NULL;
    for (s_client_t *c = d->clients, *next; b && c; c = next) {
        next = c->next;
        if (s_client_cut_if_behind(c))
            continue;
        bool any = true;
        for (int i = 0; i < F__COUNT; i++)
            any = any && !c->f.v[i];
        if (any && c->after < d->batch[0]->seq) {
            if (!all && (all = evbuffer_new()))
                for (size_t i = 0; i < d->n_batch; i++)
                    s_add_event(all, "alert", d->batch[i]->seq, tp_dash_alert_json(d->batch[i]));
            if (all)
                evbuffer_add_buffer_reference(b, all);
        } else {
            for (size_t i = 0; i < d->n_batch; i++)
                if (d->batch[i]->seq > c->after && s_match(&c->f, d->batch[i]))
                    s_add_event(b, "alert", d->batch[i]->seq, tp_dash_alert_json(d->batch[i]));
        }
        if (evbuffer_get_length(b))
            s_client_send(c, b);
    }
    if (all)
        evbuffer_free(all);
    if (b)
        evbuffer_free(b);
    s_batch_drop(d);
}

void tp_dash_raised(tp_dash_t *d, const char *topic, const uint8_t *buf, size_t len,
                    const Touchpoint__V1__Alert *alert) {
    if (d && d->on)
        tp_dash_alerts_raised(d->alerts, topic, buf, len, alert);
}

void tp_dash_publish(tp_dash_t *d, const char *topic, const uint8_t *buf, size_t len) {
    if (!d || !d->on)
        return;
    tp_dash_alert_t *a = tp_dash_alerts_published(d->alerts, topic, buf, len);
    if (!a)
        return;                  /* ENOMEM: the page misses one; a reconnect's snapshot heals */
    if (d->clients && d->n_batch == d->cap_batch) {
        size_t cap = d->cap_batch ? d->cap_batch * 2 : 64;
        tp_dash_alert_t **nb = realloc(d->batch, cap * sizeof *nb);
        if (nb) {
            d->batch = nb;
            d->cap_batch = cap;
        }
    }
    if (!d->clients || d->n_batch == d->cap_batch) {
        tp_dash_alert_unref(a);
        return;
    }
    d->batch[d->n_batch++] = a;  /* our reference, until sent */
    if (d->n_batch == 1)
        event_active(d->send_ev, EV_TIMEOUT, 0);
}

/* ---- JSON answers -------------------------------------------------------- */

static void s_list(tp_dash_t *d, struct evhttp_request *req) {
    s_filter_t f;
    struct evbuffer *b = evbuffer_new();
    if (!b || s_filter_parse(req, &f) < 0) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add_printf(b, "{\"last_sequence\": %llu, \"open\": %zu, \"alerts\": [",
                        (unsigned long long)tp_dash_alerts_last_seq(d->alerts),
                        tp_dash_alerts_count(d->alerts));
    size_t n = 0;
    for (tp_dash_alert_t *a = tp_dash_alerts_open(d->alerts); a; a = a->hh.next) {
        if (!s_match(&f, a))
            continue;
        if (n == MAX_LIST)
            break;
        s_add_item(b, n ? ",\n " : "", tp_dash_alert_json(a));
        n++;
    }
    evbuffer_add_printf(b, "], \"listed\": %zu}\n", n);
    s_filter_free(&f);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, HTTP_OK, "OK", b);
    evbuffer_free(b);
}

static int s_count(json_t *obj, const char *key) {
    if (!key || !*key)
        key = "_none";
    json_t *v = json_object_get(obj, key);
    return json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* What the open alerts say in numbers: by rule, friction by step, and the
 * detractors nobody followed up (by HCP: that is what those alerts carry). */
static json_t *s_open_json(const tp_dash_t *d) {
    json_t *by_rule = json_object(), *by_step = json_object(), *detr = json_array();
    if (!by_rule || !by_step || !detr)
        goto fail;
    for (const tp_dash_alert_t *a = tp_dash_alerts_open(d->alerts); a; a = a->hh.next) {
        if (s_count(by_rule, a->s[TP_DA_RULE]) < 0)
            goto fail;
        if (a->kind == TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION && *a->s[TP_DA_STEP] &&
            s_count(by_step, a->s[TP_DA_STEP]) < 0)
            goto fail;
        if (!strcmp(a->s[TP_DA_RULE], "follow_up_missing") &&
            json_array_append_new(detr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "hcp",
                a->s[TP_DA_HCP], "nps", a->s[TP_DA_NPS], "effort_score", a->s[TP_DA_EFFORT],
                "feedback_at", a->s[TP_DA_FEEDBACK_AT], "due_at", a->s[TP_DA_DUE_AT])) < 0)
            goto fail;
    }
    /* "o" steals the three references, on failure too. */
    return json_pack("{s:I, s:o, s:o, s:o}", "total", (json_int_t)tp_dash_alerts_count(d->alerts),
                     "by_rule", by_rule, "friction_by_step", by_step,
                     "detractors_without_follow_up", detr);
fail:
    json_decref(by_rule);
    json_decref(by_step);
    json_decref(detr);
    return NULL;
}

/* /v1/kpi walks every open alert: with many pages polling, the answer is
 * made at most once per KPI_CACHE_MS and shared. */
static void s_kpi(tp_dash_t *d, struct evhttp_request *req) {
    int64_t now = tp_monotonic_ms();
    if (!d->kpi_text || now - d->kpi_at_ms >= KPI_CACHE_MS) {
        json_t *doc = NULL, *open = s_open_json(d);
        char *text = NULL;
        if (open && tp_kpi_to_json(d->kpi, &doc) == 0 &&
            json_object_set_new(doc, "open_alerts", open) == 0 &&
            json_object_set_new(doc, "last_sequence",
                                json_integer((json_int_t)tp_dash_alerts_last_seq(d->alerts))) == 0)
            text = json_dumps(doc, JSON_COMPACT);
        else if (!doc)
            json_decref(open);
        json_decref(doc);
        if (!text) {
            evhttp_send_error(req, HTTP_INTERNAL, NULL);
            return;
        }
        free(d->kpi_text);
        d->kpi_text = text;
        d->kpi_at_ms = now;
    }
    s_json_reply(req, HTTP_OK, "OK", d->kpi_text);
}

bool tp_dash_handle(tp_dash_t *d, struct evhttp_request *req, const char *path) {
    if (!d || !d->on)
        return false;
    void (*api)(tp_dash_t *, struct evhttp_request *) = NULL;
    bool page = !strncmp(path, "/dashboard/", 11) || !strcmp(path, "/dashboard");
    if (!strcmp(path, "/v1/alerts"))
        api = s_list;
    else if (!strcmp(path, "/v1/alerts/stream"))
        api = s_stream;
    else if (!strcmp(path, "/v1/kpi"))
        api = s_kpi;
    else if (!page)
        return false;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && (cmd != EVHTTP_REQ_HEAD || api == s_stream)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          api == s_stream ? "GET" : "GET, HEAD");
        evhttp_send_error(req, 405, "Method Not Allowed");
        return true;
    }
    if (page && !strcmp(path, "/dashboard")) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/dashboard/");
        evhttp_send_reply(req, 301, "Moved Permanently", NULL);
    } else if (page)
        tp_dash_static_serve(tp_dash_static_root(d->cfg), req, path + 11);
    else if (s_authorized(d, req))
        api(d, req);
    return true;
}

/* ---- life cycle ------------------------------------------------------------ */

static int s_read_token(const tp_config_t *cfg, char **ret, char *why, size_t whylen) {
    const char *path = cfg->http.dashboard.enabled ? cfg->http.dashboard.bearer_token_file : NULL;
    return tp_token_file_read("http.dashboard.bearer_token_file", path, ret, why, whylen);
}

static void s_set_token(tp_dash_t *d, char *token) {
    if (d->token) {
        explicit_bzero(d->token, strlen(d->token));
        free(d->token);
    }
    d->token = token;
}

/* Switches on (seeding from the engine) or off (forgetting all). */
static int s_switch(tp_dash_t *d, bool on) {
    if (on == d->on)
        return 0;
    s_clear(d);
    d->on = on;
    if (on) {
        tp_engine_foreach_open_alert(d->engine, s_seed_cb, d);
        struct timeval tv = { TP_DASH_HEARTBEAT_S, 0 };
        return event_add(d->heartbeat, &tv) < 0 ? -ENOMEM : 0;
    }
    event_del(d->heartbeat);
    return 0;
}

int tp_dash_new(struct event_base *base, const tp_config_t *cfg, tp_engine_t *engine,
                const tp_kpi_t *kpi, tp_metrics_t *m, char *why, size_t whylen,
                tp_dash_t **ret) {
    char *token = NULL;
    int r = s_read_token(cfg, &token, why, whylen);
    if (r < 0)
        return r;
    tp_dash_t *d = calloc(1, sizeof *d);
    if (!d) {
        free(token);
        return -ENOMEM;
    }
    d->cfg = cfg;
    d->engine = engine;
    d->kpi = kpi;
    d->token = token;
    d->cut_rl = (tp_ratelimit_t){ .interval_ms = cfg->log_interval_ms, .burst = cfg->log_burst };
    snprintf(why, whylen, "dashboard");
    d->m_clients = tp_metrics_add(m, TP_METRIC_GAUGE, "dashboard_streams",
                                  "Dashboard alert streams (/v1/alerts/stream) open now", NULL,
                                  NULL, 0);
    d->m_cut = tp_metrics_add(m, TP_METRIC_COUNTER, "dashboard_streams_cut_total",
                              "Dashboard streams closed because the client did not read "
                              "(http.dashboard.max_client_buffer)", NULL, NULL, 0);
    d->m_refused = tp_metrics_add(m, TP_METRIC_COUNTER, "dashboard_streams_refused_total",
                                  "Dashboard streams refused: http.dashboard.max_clients open",
                                  NULL, NULL, 0);
    d->m_sent = tp_metrics_add(m, TP_METRIC_COUNTER, "dashboard_stream_bytes_total",
                               "Bytes queued to dashboard streams", NULL, NULL, 0);
    r = -ENOMEM;
    if (tp_dash_alerts_new(&d->alerts) < 0 || !d->m_clients || !d->m_cut || !d->m_refused ||
        !d->m_sent ||
        !(d->heartbeat = event_new(base, -1, EV_PERSIST, s_heartbeat_cb, d)) ||
        !(d->send_ev = event_new(base, -1, 0, s_send_batch_cb, d)) ||
        (r = s_switch(d, cfg->http.dashboard.enabled)) < 0) {
        tp_dash_destroy(&d);
        return r;
    }
    tp_metric_set(d->m_clients, NULL, 0);
    *ret = d;
    return 0;
}

int tp_dash_read_token(const tp_config_t *cfg, char **ret_token, char *why, size_t whylen) {
    return s_read_token(cfg, ret_token, why, whylen);
}

void tp_dash_apply(tp_dash_t *d, const tp_config_t *cfg, char *token) {
    s_set_token(d, token);
    d->cfg = cfg;
    if (s_switch(d, cfg->http.dashboard.enabled) < 0)
        log_warning("Dashboard: no heartbeat timer; streams go without keep-alives");
}

void tp_dash_destroy(tp_dash_t **p) {
    tp_dash_t *d = p ? *p : NULL;
    if (!d)
        return;
    if (d->alerts)
        s_clear(d);
    tp_dash_alerts_destroy(&d->alerts);
    if (d->heartbeat)
        event_free(d->heartbeat);
    if (d->send_ev)
        event_free(d->send_ev);
    free(d->batch);
    s_set_token(d, NULL);
    free(d);
    *p = NULL;
}
