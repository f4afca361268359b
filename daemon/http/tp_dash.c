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
#include "tp_dash_int.h"
#include "tp_http_reply.h"
#include "tp_kpi_trend.h"

#define KPI_CACHE_MS 1000 /* /v1/kpi is computed at most this often, for all pages */

static const char *const s_fnames[F__COUNT] = { "kind",          "rule", "territory", "rep",
                                                "contract_type", "hcp",  "contract",  "call" };

bool tp_dash_filter_match(const tp_dash_filter_t *f, const tp_dash_alert_t *a) {
    const char *have[F__COUNT] = {
        tp_alert_kind_prefix(a->kind),
        a->s[TP_DA_RULE],
        a->s[TP_DA_TERRITORY],
        a->s[TP_DA_REP],
        a->s[TP_DA_CTYPE],
        a->s[TP_DA_HCP],
        a->s[TP_DA_CONTRACT],
        a->s[TP_DA_CALL],
    };
    for (int i = 0; i < F__COUNT; i++)
        if (f->v[i] && strcasecmp(f->v[i], have[i]) != 0)
            return false;
    return true;
}

bool tp_dash_filter_any(const tp_dash_filter_t *f) {
    for (int i = 0; i < F__COUNT; i++)
        if (f->v[i])
            return false;
    return true;
}

void tp_dash_filter_free(tp_dash_filter_t *f) {
    for (int i = 0; i < F__COUNT; i++)
        free(f->v[i]);
}

int tp_dash_filter_parse(struct evhttp_request *req, tp_dash_filter_t *ret) {
    memset(ret, 0, sizeof *ret);
    const char      *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
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
        tp_dash_filter_free(ret);
    return r;
}

/* ---- access ---------------------------------------------------------- */

/* Constant time in the token's length: a wrong guess learns nothing from
 * how fast it was refused. */
static bool s_token_equal(const char *want, const char *got, size_t len) {
    size_t        wl = strlen(want);
    unsigned char diff = (unsigned char)(wl != len);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < len ? got[i] : 0));
    return diff == 0;
}

void tp_dash_json_reply(struct evhttp_request *req, int code, const char *reason,
                        const char *text) {
    tp_http_reply(req, code, reason, "application/json", text, strlen(text), NULL);
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
    tp_dash_json_reply(
        req, 401, "Unauthorized",
        "{\"error\": \"a bearer token is required: Authorization: Bearer <token>\"}\n");
    return false;
}

/* ---- live alerts --------------------------------------------------------- */

static int s_seed_cb(void *ctx, const uint8_t *buf, size_t len) {
    tp_dash_t *d = ctx;
    return tp_dash_alerts_seed(d->alerts, buf, len) < 0; /* ENOMEM: stop */
}

static void s_batch_drop(tp_dash_t *d) {
    for (size_t i = 0; i < d->n_batch; i++)
        tp_dash_alert_unref(d->batch[i]);
    d->n_batch = 0;
}

/* Forgets every alert and closes every stream (switched off, destroyed). */
static void s_clear(tp_dash_t *d) {
    tp_dash_stream_close_all(d);
    free(d->kpi_text);
    d->kpi_text = NULL;
    s_batch_drop(d);
    tp_dash_alerts_clear(d->alerts);
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
        return; /* ENOMEM: the page misses one; a reconnect's snapshot heals */
    if (d->clients && d->n_batch == d->cap_batch) {
        size_t            cap = d->cap_batch ? d->cap_batch * 2 : 64;
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
    d->batch[d->n_batch++] = a; /* our reference, until sent */
    if (d->n_batch == 1)
        event_active(d->send_ev, EV_TIMEOUT, 0);
}

/* ---- JSON answers -------------------------------------------------------- */

static void s_list(tp_dash_t *d, struct evhttp_request *req) {
    tp_dash_filter_t f;
    struct evbuffer *b = evbuffer_new();
    if (!b || tp_dash_filter_parse(req, &f) < 0) {
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
        if (!tp_dash_filter_match(&f, a))
            continue;
        if (n == TP_DASH_MAX_LIST)
            break;
        const char *json = tp_dash_alert_json(a);
        if (n)
            evbuffer_add(b, ",\n ", 3);
        evbuffer_add(b, json, strlen(json));
        n++;
    }
    evbuffer_add_printf(b, "], \"listed\": %zu}\n", n);
    tp_dash_filter_free(&f);
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
            json_array_append_new(
                detr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "hcp", a->s[TP_DA_HCP], "nps",
                                a->s[TP_DA_NPS], "effort_score", a->s[TP_DA_EFFORT], "feedback_at",
                                a->s[TP_DA_FEEDBACK_AT], "due_at", a->s[TP_DA_DUE_AT])) < 0)
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
        char   *text = NULL;
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
    tp_dash_json_reply(req, HTTP_OK, "OK", d->kpi_text);
}

/* The period a trend request names: absent, "period" (whatever
 * kpi.trend_bucket is), or "week" / "day" when that is what it is. */
static bool s_bucket_ok(const tp_config_t *cfg, const char *bucket) {
    return !bucket || !strcmp(bucket, "period") ||
           (!strcmp(bucket, "week") && cfg->kpi.trend_bucket_ms == 7 * 86400000LL) ||
           (!strcmp(bucket, "day") && cfg->kpi.trend_bucket_ms == 86400000LL);
}

static void s_bad_request(struct evhttp_request *req, const char *why) {
    json_t *j = json_pack("{s:s}", "error", why);
    char   *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text)
        tp_dash_json_reply(req, HTTP_BADREQUEST, "Bad Request", text);
    else
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
    free(text);
}

/* GET /v1/kpi/trend?metric=NAME[&by=..][&kind=..][&bucket=week][&format=csv]:
 * tp_kpi_trend_query as JSON, or CSV with format=csv or Accept: text/csv. */
static void s_trend(tp_dash_t *d, struct evhttp_request *req) {
    const char      *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq kv = { 0 };
    if (q && evhttp_parse_query_str(q, &kv) < 0) {
        s_bad_request(req, "malformed query");
        return;
    }
    const char *format = evhttp_find_header(&kv, "format");
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
    bool        csv = format ? !strcmp(format, "csv") : accept && strstr(accept, "text/csv");
    json_t     *doc = NULL;
    int         r = -EINVAL;
    if (!s_bucket_ok(d->cfg, evhttp_find_header(&kv, "bucket")))
        s_bad_request(req, "bucket: this daemon keeps one period, kpi.trend_bucket; ask for "
                           "bucket=period (or week when it is 7d)");
    else if (format && strcmp(format, "csv") && strcmp(format, "json"))
        s_bad_request(req, "format: csv or json");
    else if ((r = tp_kpi_trend_json(d->kpi, evhttp_find_header(&kv, "metric"),
                                    evhttp_find_header(&kv, "by"), evhttp_find_header(&kv, "kind"),
                                    &doc)) == -EINVAL)
        s_bad_request(req, "metric: completeness, late_rate, channel_match, nps, effort, "
                           "resolution_median_seconds (by territory, kind or all; kind=...) or "
                           "cycle_median_seconds (by contract_type or all)");
    else if (r < 0)
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
    evhttp_clear_headers(&kv);
    if (r < 0)
        return;
    char  *text = NULL;
    size_t len = 0;
    if (csv ? tp_kpi_trend_csv(doc, &text, &len) < 0 : !(text = json_dumps(doc, JSON_COMPACT)))
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
    else if (csv)
        tp_http_reply(req, HTTP_OK, "OK", "text/csv; charset=utf-8; header=present", text, len,
                      NULL);
    else
        tp_dash_json_reply(req, HTTP_OK, "OK", text);
    free(text);
    json_decref(doc);
}

bool tp_dash_handle(tp_dash_t *d, struct evhttp_request *req, const char *path) {
    if (!d || !d->on)
        return false;
    void (*api)(tp_dash_t *, struct evhttp_request *) = NULL;
    bool page = !strncmp(path, "/dashboard/", 11) || !strcmp(path, "/dashboard");
    if (!strcmp(path, "/v1/alerts"))
        api = s_list;
    else if (!strcmp(path, "/v1/alerts/stream"))
        api = tp_dash_stream_open;
    else if (!strcmp(path, "/v1/kpi"))
        api = s_kpi;
    else if (!strcmp(path, "/v1/kpi/trend"))
        api = s_trend;
    else if (!page)
        return false;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && (cmd != EVHTTP_REQ_HEAD || api == tp_dash_stream_open)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          api == tp_dash_stream_open ? "GET" : "GET, HEAD");
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

/* The keep-alive at http.dashboard.keepalive (again after a reload). */
static int s_heartbeat_arm(tp_dash_t *d) {
    int64_t        ms = d->cfg->http.dashboard.keepalive_ms;
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    return event_add(d->heartbeat, &tv) < 0 ? -ENOMEM : 0;
}

/* Switches on (seeding from the engine) or off (forgetting all). */
static int s_switch(tp_dash_t *d, bool on) {
    if (on == d->on)
        return on ? s_heartbeat_arm(d) : 0;
    s_clear(d);
    d->on = on;
    if (on) {
        tp_engine_foreach_open_alert(d->engine, s_seed_cb, d);
        return s_heartbeat_arm(d);
    }
    event_del(d->heartbeat);
    return 0;
}

int tp_dash_new(struct event_base *base, const tp_config_t *cfg, tp_engine_t *engine,
                const tp_kpi_t *kpi, tp_metrics_t *m, char *why, size_t whylen, tp_dash_t **ret) {
    char *token = NULL;
    int   r = s_read_token(cfg, &token, why, whylen);
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
    const tp_metric_def_t defs[] = {
        { &d->m_clients, TP_METRIC_GAUGE, "dashboard_streams",
          "Dashboard alert streams (/v1/alerts/stream) open now", NULL },
        { &d->m_cut, TP_METRIC_COUNTER, "dashboard_streams_cut_total",
          "Dashboard streams closed because the client did not read "
          "(http.dashboard.max_client_buffer)",
          NULL },
        { &d->m_refused, TP_METRIC_COUNTER, "dashboard_streams_refused_total",
          "Dashboard streams refused: http.dashboard.max_clients open", NULL },
        { &d->m_sent, TP_METRIC_COUNTER, "dashboard_stream_bytes_total",
          "Bytes queued to dashboard streams", NULL },
    };
    r = -ENOMEM;
    if (tp_dash_alerts_new(&d->alerts) < 0 ||
        tp_metrics_add_all(m, defs, sizeof defs / sizeof defs[0]) < 0 ||
        !(d->heartbeat = event_new(base, -1, EV_PERSIST, tp_dash_stream_heartbeat_cb, d)) ||
        !(d->send_ev = event_new(base, -1, 0, tp_dash_stream_send_batch_cb, d)) ||
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
