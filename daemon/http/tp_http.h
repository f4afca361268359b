/* tp_http — the health and metrics endpoint (libevent evhttp, loopback by
 * default), on the daemon's event loop.
 *
 *   GET /healthz  200 "ok\n"; 503 and the reason when the journal's last
 *                 commit failed or the loop lagged badly in the last minute
 *   GET /metrics  Prometheus text exposition 0.0.4 (tp_metrics)
 *   GET /status   the same numbers as one JSON document (for tp-stat)
 *   POST /v1/events  JSON events, with http.ingest.enabled (tp_ingest)
 *   /dashboard/, /v1/alerts[/stream], /v1/kpi  with http.dashboard.enabled (tp_dash)
 *   other paths 404; methods other than GET and HEAD 405
 *
 * It owns the metrics registry and everything that fills it: a 1 s timer
 * measuring loop lag, and at scrape time the engine's counters (tp_stats)
 * and gauges. The daemon reports what only it sees: commit timings and
 * published alerts. Created by tp_daemon once the bus is up (after the
 * restart's rebuild), so those counts describe this run. The KPIs
 * (tp_kpi) are the daemon's: fed during the rebuild too, so they describe
 * the whole event log and survive restarts and reloads; this endpoint
 * renders their registry after its own. Requests are bounded: small headers (8 KiB), no bodies unless
 * ingest is on (then up to http.ingest.max_body_bytes), at most
 * http.max_connections at once, each request whole within
 * http.request_timeout and no connection silent past http.idle_timeout
 * (tp_http_conns).
 */
#pragma once

#include <stdbool.h>

#include "tp_config.h"
#include "tp_engine.h"
#include "tp_ingest.h"
#include "tp_metrics.h"

#define TP_HTTP_LAG_BAD_MS  5000  /* a tick this late makes /healthz fail... */
#define TP_HTTP_LAG_HOLD_MS 60000 /* ...for this long afterwards */

struct event_base;
typedef struct tp_http tp_http_t;

/* Binds cfg->http.listen (port 0: any free port) and writes the bound port to
 * <state_dir>/http.port; reads http.ingest.bearer_token_file; `ingest`
 * (copied) is how POST /v1/events hands events to the daemon. cfg,
 * engine, kpi and kpi_m (the KPI families) are borrowed and must outlive
 * it. 0 or a negative errno
 * (-EADDRINUSE, the token file's -EPERM, ...) with what failed in `why`;
 * logs nothing. */
struct tp_kpi;
int tp_http_new(struct event_base *base, const tp_config_t *cfg, tp_engine_t *engine,
                struct tp_kpi *kpi, tp_metrics_t *kpi_m, const tp_ingest_ops_t *ingest, char *why,
                size_t whylen, tp_http_t **ret);

/* A reloaded config (borrowed, as in tp_http_new): the token file is read
 * again, a changed http.listen is bound before the old socket closes, the
 * ingest settings apply to the next request; metrics and KPIs carry on.
 * 0, or a negative errno (what failed in `why`) with nothing changed. */
int tp_http_reconfigure(tp_http_t *h, const tp_config_t *cfg, char *why, size_t whylen);

/* The port actually bound. */
unsigned tp_http_port(const tp_http_t *h);

/* One journal commit took `seconds`; ok = it succeeded. */
void tp_http_observe_commit(tp_http_t *h, double seconds, bool ok);

/* One alert left the daemon (published, or queued for it after the journal). */
void tp_http_observe_alert(tp_http_t *h, const char *rule, int status);

/* The engine raised `alert` (valid during the call), packed in buf/len:
 * the dashboard notes it, to show once it is published. */
void tp_http_alert_raised(tp_http_t *h, const char *topic, const void *buf, size_t len,
                          const Touchpoint__V1__Alert *alert);

/* One alert was published (after its commit): the dashboard's streams. */
void tp_http_publish_alert(tp_http_t *h, const char *topic, const void *buf, size_t len);

/* More families for /metrics and /status: fn runs before each render, with
 * first = true the first time for this endpoint (register the families
 * in m then; m is this endpoint's registry). */
typedef void (*tp_http_collect_fn)(void *ctx, tp_metrics_t *m, bool first);
void tp_http_set_collector(tp_http_t *h, tp_http_collect_fn fn, void *ctx);

/* Removes the observer from the engine and closes the socket. */
void tp_http_destroy(tp_http_t **p);
