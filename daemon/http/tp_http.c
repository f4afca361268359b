/* tp_http — see tp_http.h. */
#include "tp_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "tp_cli.h"
#include "tp_contract.h"
#include "tp_dash.h"
#include "tp_http_conns.h"
#include "tp_http_reply.h"
#include "tp_kpi.h"
#include "tp_log.h"
#include "tp_lua_rules.h"
#include "tp_metrics.h"

#define MAX_HEADERS_BYTES 8192
#define MAX_BODY_BYTES    1024    /* nothing but ingest takes a body */
#define TICK_US           1000000 /* the loop-lag probe's period */

/* The engine counters exported as they are, by name. */
static const struct {
    const char *name, *help;
    size_t      off;
} s_counters[] = {
    { "messages_received_total",
      "Input messages, each ending in one of: events_accepted, "
      "duplicates, events_refused (any reason), messages_oversize, steps_dropped, "
      "cases_over_hcp_limit",
      offsetof(tp_stats_t, received) },
    { "events_accepted_total", "Events decoded, valid and not duplicates",
      offsetof(tp_stats_t, accepted) },
    { "duplicates_total", "Events whose event_id was seen before (ignored)",
      offsetof(tp_stats_t, duplicates) },
    { "sequence_gaps_total", "Times a source's sequence skipped ahead",
      offsetof(tp_stats_t, seq_gaps) },
    { "sequence_missing_total", "Events skipped over in those gaps",
      offsetof(tp_stats_t, seq_missing) },
    { "sequence_regressions_total", "Times a source's sequence went backwards (not to 1)",
      offsetof(tp_stats_t, seq_regressions) },
    { "sequence_restarts_total", "Times a source started its sequence again at 1",
      offsetof(tp_stats_t, seq_restarts) },
    { "sources_untracked_total", "Events from sources past limits.max_sources (no gap check)",
      offsetof(tp_stats_t, sources_dropped) },
    { "stale_call_versions_total", "Call versions older than the one held (ignored)",
      offsetof(tp_stats_t, stale_versions) },
    { "steps_dropped_total", "Step events refused: a contract had 32 distinct steps already",
      offsetof(tp_stats_t, steps_dropped) },
    { "alerts_published_dropped_total",
      "Alerts the PUB socket dropped for a full subscriber "
      "(the journal and replay still have them)",
      offsetof(tp_stats_t, alerts_dropped) },
    { "alerts_publish_errors_total", "Alerts the output socket refused",
      offsetof(tp_stats_t, publish_errors) },
    { "journal_commits_total", "Group commits of the journal",
      offsetof(tp_stats_t, journal_commits) },
    { "journal_commit_errors_total", "Failed journal commits (retried)",
      offsetof(tp_stats_t, journal_errors) },
    { "replay_requests_total", "REPLAY requests served", offsetof(tp_stats_t, replay_requests) },
    { "replay_refused_total", "Replay requests answered ERROR: malformed, bad sequence, oversize",
      offsetof(tp_stats_t, replay_refused) },
    { "replay_oversize_total", "Replay requests over the request size limit (also refused)",
      offsetof(tp_stats_t, replay_oversize) },
    { "replay_busy_total", "Replay requests answered busy: no free slot, or replay.max_per_peer",
      offsetof(tp_stats_t, replay_busy) },
    { "replay_timeouts_total",
      "Replays dropped: the consumer took nothing for replay.stall_timeout",
      offsetof(tp_stats_t, replay_timeouts) },
    { "cases_over_hcp_limit_total",
      "Step events refused: they would open a contract for an HCP "
      "at limits.max_open_cases_per_hcp",
      offsetof(tp_stats_t, cases_over_hcp_limit) },
    { "messages_oversize_total", "Input messages over limits.max_message_bytes (dropped)",
      offsetof(tp_stats_t, oversize) },
    { "curve_clients_refused_total", "CURVE handshakes the ZAP handler refused (key not allowed)",
      offsetof(tp_stats_t, zap_denied) },
};
#define N_COUNTERS (sizeof s_counters / sizeof s_counters[0])

struct tp_http {
    const tp_config_t          *cfg;
    tp_engine_t                *engine;
    struct evhttp              *http;
    struct evhttp_bound_socket *bound;       /* the listening socket, for a reload moving it */
    struct event               *tick;        /* the loop-lag probe */
    int64_t                     tick_due_us; /* when the probe should fire (monotonic) */
    int64_t                     lag_bad_until_ms;
    int64_t                     lag_bad_ms; /* the last bad lag */
    bool                        commit_failed;
    unsigned                    port;
    time_t                      started;
    tp_metrics_t               *m;
    tp_kpi_t                   *kpi;    /* borrowed: the daemon's, fed since the rebuild */
    tp_metrics_t               *kpi_m;  /* borrowed: the KPI families, rendered after m's */
    tp_ingest_t                *ingest; /* POST /v1/events (answers 404 while disabled) */
    tp_dash_t                  *dash;   /* /dashboard/, /v1/alerts, /v1/kpi (404 while disabled) */
    tp_http_conns_t            *conns;  /* the connection limit and request deadline */
    tp_metric_t                *counters[N_COUNTERS];
    tp_metric_t                *refused, *alerts, *lag, *commit;
    tp_metric_t                *open_alerts, *open_calls, *open_cases, *deadlines, *start_time;
    tp_metric_t                *lua_calls, *lua_errors; /* per Lua rule (lua_rules) */
    tp_http_collect_fn          collect;                /* more families (JetStream), or NULL */
    void                       *collect_ctx;
    bool                        collected; /* collect was called with first = true */
};

/* The Lua rules' calls and abandoned calls (by reason); with `list`, one
 * object per rule for /status (name, file, calls, errors, last_error,
 * keys, memory). */
static void s_collect_lua(tp_http_t *h, json_t *list) {
    tp_lua_rule_stats_t st[TP_MAX_LUA_RULES];
    size_t n = tp_lua_rules_stats(tp_engine_lua_rules(h->engine), st, TP_MAX_LUA_RULES);
    for (size_t i = 0; i < n && i < TP_MAX_LUA_RULES; i++) {
        const char *rule[] = { st[i].name };
        json_t     *errors = list ? json_object() : NULL;
        tp_metric_set(h->lua_calls, rule, (double)st[i].calls);
        for (int r = 0; r < TP_LUA_ERR_COUNT; r++) {
            const char *v[] = { st[i].name, tp_lua_error_reason(r) };
            tp_metric_set(h->lua_errors, v, (double)st[i].errors[r]);
            if (errors)
                json_object_set_new(errors, v[1], json_integer((json_int_t)st[i].errors[r]));
        }
        if (list)
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:I, s:o, s:s, s:I, s:I}", "name", st[i].name, "file",
                                st[i].file, "calls", (json_int_t)st[i].calls, "errors", errors,
                                "last_error", st[i].last_error, "keys", (json_int_t)st[i].keys,
                                "memory_bytes", (json_int_t)st[i].memory));
    }
}

/* The engine's counters and gauges, read when someone asks. */
static void s_collect(tp_http_t *h) {
    const tp_stats_t *st = tp_engine_stats(h->engine);
    for (size_t i = 0; i < N_COUNTERS; i++)
        tp_metric_set(h->counters[i], NULL,
                      (double)*(const uint64_t *)((const char *)st + s_counters[i].off));
    for (int i = 1; i < TP_BAD__COUNT; i++) {
        const char *reason[] = { tp_bad_name((tp_bad_t)i) };
        tp_metric_set(h->refused, reason, (double)st->bad[i]);
    }
    tp_metric_set(h->open_alerts, NULL, (double)tp_engine_open_alerts(h->engine));
    tp_metric_set(h->open_calls, NULL, (double)tp_engine_calls(h->engine));
    tp_metric_set(h->open_cases, NULL, (double)tp_engine_cases(h->engine));
    tp_metric_set(h->deadlines, NULL, (double)tp_engine_deadlines(h->engine));
    s_collect_lua(h, NULL);
    tp_kpi_collect(h->kpi, h->engine, tp_clock_now(tp_engine_clock(h->engine)));
    if (h->collect) {
        h->collect(h->collect_ctx, h->m, !h->collected);
        h->collected = true;
    }
}

void tp_http_set_collector(tp_http_t *h, tp_http_collect_fn fn, void *ctx) {
    h->collect = fn;
    h->collect_ctx = ctx;
    h->collected = false;
}

/* NULL when healthy, else why not. */
static const char *s_unhealthy(const tp_http_t *h, char *buf, size_t len) {
    if (h->commit_failed)
        return "journal: the last commit failed";
    if (tp_monotonic_ms() < h->lag_bad_until_ms) {
        snprintf(buf, len, "event loop: a 1 s timer fired %lld ms late", (long long)h->lag_bad_ms);
        return buf;
    }
    return NULL;
}

static void s_healthz(tp_http_t *h, struct evhttp_request *req) {
    char        buf[128];
    const char *why = s_unhealthy(h, buf, sizeof buf);
    if (why) {
        char body[160];
        int  n = snprintf(body, sizeof body, "%s\n", why);
        tp_http_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", body, (size_t)n,
                      NULL);
    } else
        tp_http_reply(req, HTTP_OK, "OK", "text/plain; charset=utf-8", "ok\n", 3, NULL);
}

static void s_metrics(tp_http_t *h, struct evhttp_request *req) {
    char  *text;
    size_t len;
    char  *kpi_text = NULL;
    size_t kpi_len = 0;
    s_collect(h);
    if (tp_metrics_render(h->m, &text, &len) < 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    if (tp_metrics_render(h->kpi_m, &kpi_text, &kpi_len) < 0) {
        free(text);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    char *all = realloc(text, len + kpi_len + 1);
    if (!all) {
        free(text);
        free(kpi_text);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    memcpy(all + len, kpi_text, kpi_len + 1);
    free(kpi_text);
    tp_http_reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", all,
                  len + kpi_len, NULL);
    free(all);
}

static void s_status(tp_http_t *h, struct evhttp_request *req) {
    char buf[128];
    s_collect(h);
    const char *why = s_unhealthy(h, buf, sizeof buf);
    json_t     *doc = json_object(), *metrics = tp_metrics_to_json(h->m), *lua = json_array();
    json_t     *kpi_metrics = tp_metrics_to_json(h->kpi_m);
    if (metrics && kpi_metrics)
        json_object_update(metrics, kpi_metrics);
    json_decref(kpi_metrics);
    char *text = NULL;
    s_collect_lua(h, lua);
    if (doc && metrics && json_object_set_new(doc, "version", json_string(TP_VERSION)) == 0 &&
        json_object_set_new(doc, "uptime_seconds",
                            json_integer((json_int_t)(time(NULL) - h->started))) == 0 &&
        json_object_set_new(doc, "healthy", json_boolean(!why)) == 0 &&
        json_object_set_new(doc, "health", json_string(why ? why : "ok")) == 0 &&
        json_object_set(doc, "metrics", metrics) == 0 &&
        json_object_set_new(doc, "lua_rules", lua) == 0)
        text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(metrics);
    json_decref(doc);
    if (!text) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    tp_http_reply(req, HTTP_OK, "OK", "application/json", text, strlen(text), NULL);
    free(text);
}

static void s_request_cb(struct evhttp_request *req, void *arg) {
    tp_http_t               *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char              *path = uri ? evhttp_uri_get_path(uri) : NULL;
    void (*handler)(tp_http_t *, struct evhttp_request *) = NULL;
    tp_http_conns_dispatched(h->conns, req);
    if (path && !strcmp(path, "/healthz"))
        handler = s_healthz;
    else if (path && !strcmp(path, "/metrics"))
        handler = s_metrics;
    else if (path && !strcmp(path, "/status"))
        handler = s_status;
    else if (path && !strcmp(path, "/v1/events") && tp_ingest_enabled(h->ingest)) {
        tp_ingest_handle(h->ingest, req);
        return;
    } else if (path && tp_dash_handle(h->dash, req, path))
        return;
    if (!handler) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    handler(h, req);
}

/* Loop lag: how late a periodic timer fires against when it was due. A
 * busy loop (a long commit, a flood of events) delays every callback,
 * /metrics included; this is how long. */
static void s_tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_http_t *h = arg;
    int64_t    now = tp_monotonic_us();
    int64_t    lag = now > h->tick_due_us ? now - h->tick_due_us : 0;
    tp_metric_observe(h->lag, NULL, (double)lag / 1e6);
    if (lag / 1000 >= TP_HTTP_LAG_BAD_MS) {
        h->lag_bad_ms = lag / 1000;
        h->lag_bad_until_ms = now / 1000 + TP_HTTP_LAG_HOLD_MS;
    }
    h->tick_due_us = now + TICK_US;
    tp_http_conns_sweep(h->conns);
    struct timeval tv = { TICK_US / 1000000, TICK_US % 1000000 };
    evtimer_add(h->tick, &tv);
}

static int s_families(tp_http_t *h) {
    static const double      lag_b[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
    static const double      commit_b[] = { 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                            0.05,   0.1,    0.25,  0.5,    1,     2.5 };
    static const char *const reason[] = { "reason", NULL };
    static const char *const rule_status[] = { "rule", "status", NULL };
    tp_metrics_t            *m = h->m;
    bool                     ok = true;
    for (size_t i = 0; i < N_COUNTERS; i++)
        ok = ok && (h->counters[i] = tp_metrics_add(m, TP_METRIC_COUNTER, s_counters[i].name,
                                                    s_counters[i].help, NULL, NULL, 0));
    static const char *const lua_rule[] = { "rule", NULL };
    static const char *const lua_reason[] = { "rule", "reason", NULL };
    const tp_metric_def_t    defs[] = {
           { &h->refused, TP_METRIC_COUNTER, "events_refused_total",
             "Bus messages refused, by reason (frames, topic, decode, mismatch, invalid, empty)",
             reason },
           { &h->alerts, TP_METRIC_COUNTER, "alerts_total",
             "Alerts raised, by rule and status (FIRING, RESOLVED)", rule_status },
           { &h->open_alerts, TP_METRIC_GAUGE, "open_alerts", "Alerts FIRING now", NULL },
           { &h->open_calls, TP_METRIC_GAUGE, "open_calls",
             "Calls held in state (until limits.call_retention forgets them)", NULL },
           { &h->open_cases, TP_METRIC_GAUGE, "open_cases",
             "Contracting cases held in state (open, or closed within limits.case_retention)", NULL },
           { &h->deadlines, TP_METRIC_GAUGE, "armed_deadlines", "Rule and retention deadlines armed",
             NULL },
           { &h->lua_calls, TP_METRIC_COUNTER, "lua_rule_calls_total",
             "Calls into a Lua rule (on_event, on_deadline)", lua_rule },
           { &h->lua_errors, TP_METRIC_COUNTER, "lua_rule_errors_total",
             "Calls into a Lua rule abandoned, by reason (instructions, memory, error, "
                "bad_argument, store_full)",
             lua_reason },
           { &h->start_time, TP_METRIC_GAUGE, "start_time_seconds",
             "When the daemon started, unix seconds", NULL },
    };
    int r = tp_metrics_add_all(m, defs, sizeof defs / sizeof defs[0]);
    h->lag = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "loop_lag_seconds",
                            "How late a 1 s timer fires: the event loop's delay", NULL, lag_b,
                            sizeof lag_b / sizeof lag_b[0]);
    h->commit = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "journal_commit_seconds",
                               "Time of one journal group commit", NULL, commit_b,
                               sizeof commit_b / sizeof commit_b[0]);
    if (r < 0 || !ok || !h->lag || !h->commit)
        return -ENOMEM;
    /* Every reason and every status at 0 from the start, so a rate() has a base. */
    for (int i = 1; i < TP_BAD__COUNT; i++) {
        const char *v[] = { tp_bad_name((tp_bad_t)i) };
        tp_metric_set(h->refused, v, 0);
    }
    tp_metric_set(h->start_time, NULL, (double)h->started);
    return 0;
}

/* <state_dir>/http.port, written whole (rename) so a reader never sees half. */
static int s_write_port(const tp_http_t *h) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/http.port", h->cfg->state_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "%u\n", h->port);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int r = -errno;
        unlink(tmp);
        return r;
    }
    return 0;
}

static unsigned s_bound_port(struct evhttp_bound_socket *bs) {
    struct sockaddr_storage ss;
    socklen_t               len = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* The bearer token of cfg's ingest settings (NULL: ingest off or no
 * token file), or a negative errno with the reason in why. */
static int s_ingest_token(const tp_config_t *cfg, char **ret_token, char *why, size_t whylen) {
    const char *path = cfg->http.ingest.enabled ? cfg->http.ingest.bearer_token_file : NULL;
    return tp_token_file_read("http.ingest.bearer_token_file", path, ret_token, why, whylen);
}

/* Ingest on: bodies up to its limit; off: none worth the name. The
 * connection limits too: they apply to the next accept and request. */
static void s_apply_ingest(tp_http_t *h, const tp_config_t *cfg, char *token) {
    tp_ingest_configure(h->ingest, cfg, token);
    evhttp_set_max_body_size(h->http, cfg->http.ingest.enabled
                                          ? (ev_ssize_t)cfg->http.ingest.max_body_bytes
                                          : MAX_BODY_BYTES);
    struct timeval idle = { (time_t)(cfg->http.idle_timeout_ms / 1000),
                            (suseconds_t)(cfg->http.idle_timeout_ms % 1000) * 1000 };
    evhttp_set_timeout_tv(h->http, &idle);
    tp_http_conns_configure(h->conns, cfg->http.max_connections, cfg->http.request_timeout_ms);
}

int tp_http_new(struct event_base *base, const tp_config_t *cfg, tp_engine_t *engine,
                struct tp_kpi *kpi, tp_metrics_t *kpi_m, const tp_ingest_ops_t *ingest, char *why,
                size_t whylen, tp_http_t **ret) {
    char     host[64], *token = NULL;
    unsigned port;
    snprintf(why, whylen, "http.listen '%s'", cfg->http.listen);
    if (tp_config_listen_parse(cfg->http.listen, host, sizeof host, &port) < 0)
        return -EINVAL;
    int r = s_ingest_token(cfg, &token, why, whylen);
    if (r < 0)
        return r;
    tp_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        free(token);
        return -ENOMEM;
    }
    h->cfg = cfg;
    h->engine = engine;
    h->kpi = kpi;
    h->kpi_m = kpi_m;
    h->started = time(NULL);
    r = -ENOMEM;
    if (tp_metrics_new("touchpointd_", &h->m) < 0 || s_families(h) < 0 ||
        tp_ingest_new(h->m, ingest, &h->ingest) < 0 || !(h->http = evhttp_new(base)) ||
        tp_http_conns_new(base, h->http, h->m, &h->conns) < 0 ||
        !(h->tick = evtimer_new(base, s_tick_cb, h))) {
        free(token);
        snprintf(why, whylen, "HTTP endpoint");
        goto fail;
    }
    if ((r = tp_dash_new(base, cfg, engine, h->kpi, h->m, why, whylen, &h->dash)) < 0) {
        free(token);
        goto fail;
    }
    evhttp_set_max_headers_size(h->http, MAX_HEADERS_BYTES);
    s_apply_ingest(h, cfg, token);
    /* Other methods reach s_request_cb to be answered 405 (libevent itself
     * would say 501); TRACE and CONNECT get libevent's 501. */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(h->http, s_request_cb, h);
    /* A body over max_body_bytes: read (and drop) it before answering 413.
     * Closing with the body unread makes the kernel reset the connection,
     * and a client still sending never sees the 413 (test_ingest/test_limits
     * failed 1 run in 15 that way). The connection timeout still bounds it. */
    evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
    errno = 0;
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
    if (!bs) {
        r = errno ? -errno : -EADDRNOTAVAIL;
        goto fail;
    }
    h->bound = bs;
    h->port = s_bound_port(bs);
    if ((r = s_write_port(h)) < 0) {
        snprintf(why, whylen, "%s/http.port", cfg->state_dir);
        goto fail;
    }
    h->tick_due_us = tp_monotonic_us() + TICK_US;
    struct timeval tv = { TICK_US / 1000000, TICK_US % 1000000 };
    evtimer_add(h->tick, &tv);
    *ret = h;
    return 0;
fail:
    tp_http_destroy(&h);
    return r;
}

int tp_http_reconfigure(tp_http_t *h, const tp_config_t *cfg, char *why, size_t whylen) {
    /* The token file first (re-read on every reload, so rotating the token
     * is an edit and a SIGHUP): if it is refused, nothing changed. */
    char *token = NULL;
    int   r = s_ingest_token(cfg, &token, why, whylen);
    if (r < 0)
        return r;
    char *dash_token = NULL;
    if ((r = tp_dash_read_token(cfg, &dash_token, why, whylen)) < 0) {
        free(token);
        return r;
    }
    if (strcmp(cfg->http.listen, h->cfg->http.listen) != 0) {
        char     host[64];
        unsigned port;
        snprintf(why, whylen, "http.listen '%s'", cfg->http.listen);
        if (tp_config_listen_parse(cfg->http.listen, host, sizeof host, &port) < 0)
            r = -EINVAL;
        /* The new address next: if it cannot be bound, nothing changed. */
        errno = 0;
        struct evhttp_bound_socket *bs =
            r < 0 ? NULL : evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
        if (!bs) {
            free(token);
            free(dash_token);
            return r < 0 ? r : errno ? -errno : -EADDRNOTAVAIL;
        }
        evhttp_del_accept_socket(h->http, h->bound);
        h->bound = bs;
        h->port = s_bound_port(bs);
    }
    s_apply_ingest(h, cfg, token);
    tp_dash_apply(h->dash, cfg, dash_token);
    h->cfg = cfg;
    r = s_write_port(h);
    if (r < 0)
        log_warning_errno(r, "Failed to write %s/http.port: %m", cfg->state_dir);
    return 0;
}

unsigned tp_http_port(const tp_http_t *h) {
    return h->port;
}

void tp_http_observe_commit(tp_http_t *h, double seconds, bool ok) {
    tp_metric_observe(h->commit, NULL, seconds);
    h->commit_failed = !ok;
    tp_ingest_set_commit_failed(h->ingest, !ok);
}

void tp_http_observe_alert(tp_http_t *h, const char *rule, int status) {
    const char *v[] = { rule, status == TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED
                                  ? "RESOLVED"
                                  : "FIRING" };
    tp_metric_add(h->alerts, v, 1);
}

void tp_http_alert_raised(tp_http_t *h, const char *topic, const void *buf, size_t len,
                          const Touchpoint__V1__Alert *alert) {
    tp_dash_raised(h->dash, topic, buf, len, alert);
}

void tp_http_publish_alert(tp_http_t *h, const char *topic, const void *buf, size_t len) {
    tp_dash_publish(h->dash, topic, buf, len);
}

void tp_http_destroy(tp_http_t **p) {
    tp_http_t *h = p ? *p : NULL;
    if (!h)
        return;
    if (h->port) { /* a stale port file would send a reader elsewhere */
        char path[4096];
        snprintf(path, sizeof path, "%s/http.port", h->cfg->state_dir);
        unlink(path);
    }
    tp_dash_destroy(&h->dash); /* its streams first: they live on h->http's connections */
    if (h->http)
        evhttp_free(h->http);
    tp_http_conns_destroy(&h->conns); /* after evhttp_free: it holds a reference on each */
    if (h->tick)
        event_free(h->tick);
    tp_ingest_destroy(&h->ingest);
    tp_metrics_destroy(&h->m);
    free(h);
    *p = NULL;
}
