/* tp_dash_int — what the dashboard's files share (tp_dash.c: routes,
 * access, JSON answers, life cycle; tp_dash_stream.c: the SSE streams).
 * Not for use outside daemon/http/tp_dash*.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <event2/util.h>
#include <stdint.h>

#include "tp_dash.h"
#include "tp_dash_alerts.h"
#include "tp_log.h"

/* Alerts one snapshot or /v1/alerts answer lists at most, oldest first:
 * the first listing encodes each as JSON on the event loop (about 15 us
 * each; cached after), so this bounds that work. "open" always says how
 * many there are. */
#define TP_DASH_MAX_LIST 20000

/* What a client asked to see; NULL = any. */
enum { F_KIND, F_RULE, F_TERRITORY, F_REP, F_CTYPE, F_HCP, F_CONTRACT, F_CALL, F__COUNT };
typedef struct {
    char *v[F__COUNT];
} tp_dash_filter_t;

typedef struct tp_dash_client tp_dash_client_t;

struct tp_dash {
    const tp_config_t *cfg;
    tp_engine_t       *engine;
    const tp_kpi_t    *kpi;
    struct event      *heartbeat;
    bool               on;
    char              *token;  /* NULL = none required */
    tp_dash_alerts_t  *alerts; /* open ones, recent transitions, pending ones */
    tp_dash_client_t  *clients;
    size_t             n_clients;
    tp_dash_alert_t  **batch; /* published this loop turn, not yet sent (a reference each) */
    size_t             n_batch, cap_batch;
    struct event      *send_ev; /* sends the batch once the turn's publishing is done */
    tp_ratelimit_t     cut_rl;
    char              *kpi_text; /* the latest /v1/kpi answer, reused for KPI_CACHE_MS */
    int64_t            kpi_at_ms;
    tp_metric_t       *m_clients, *m_cut, *m_refused, *m_sent;
};

/* A JSON answer with no-store caching; 500 if out of memory. */
void tp_dash_json_reply(struct evhttp_request *req, int code, const char *reason, const char *text);

bool tp_dash_filter_match(const tp_dash_filter_t *f, const tp_dash_alert_t *a);
bool tp_dash_filter_any(const tp_dash_filter_t *f); /* no filter at all */
/* The request's filters (empty values ignored). 0 or -ENOMEM. */
int  tp_dash_filter_parse(struct evhttp_request *req, tp_dash_filter_t *ret);
void tp_dash_filter_free(tp_dash_filter_t *f);

/* ---- tp_dash_stream.c ---- */

/* GET /v1/alerts/stream (authorized). */
void tp_dash_stream_open(tp_dash_t *d, struct evhttp_request *req);

/* The keep-alive tick: comments, and cuts of streams that stopped reading. */
void tp_dash_stream_heartbeat_cb(evutil_socket_t fd, short what, void *arg);

/* The turn's published alerts to every stream (d->batch). */
void tp_dash_stream_send_batch_cb(evutil_socket_t fd, short what, void *arg);

/* Closes every stream now. */
void tp_dash_stream_close_all(tp_dash_t *d);
