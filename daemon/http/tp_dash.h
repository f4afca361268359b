/* tp_dash — the live dashboard, on the HTTP endpoint's evhttp server
 * (tp_http routes to it; off unless http.dashboard.enabled).
 *
 *   GET /dashboard/...      the page's static files (tp_dash_static)
 *   GET /v1/alerts          open alerts as JSON, filterable
 *   GET /v1/alerts/stream   Server-Sent Events: a snapshot of the open
 *                           alerts, then every FIRING and RESOLVED as it is
 *                           published; ids are alert sequences, so a
 *                           reconnect with Last-Event-ID resumes
 *   GET /v1/kpi             tp_kpi's aggregates plus counts of the open
 *                           alerts (by rule, friction by step, detractors
 *                           without follow-up)
 *
 * It sees alerts where the PUB socket does: after the journal commit
 * (tp_dash_publish, called by the daemon beside every publish), and keeps
 * its own copy of the open ones (tp_dash_alerts), seeded from the engine's
 * alert table when it is switched on. It shows nothing an alert does not carry. Filters:
 * kind, rule, territory, rep, contract_type (the evidence's), hcp,
 * contract, call. With http.dashboard.bearer_token_file the /v1 routes
 * want Authorization: Bearer (the static files hold no data).
 *
 * Cheap by construction: at most http.dashboard.max_clients streams; a
 * stream's snapshot is written a slice at a time as the client takes it;
 * a stream whose unsent output passes http.dashboard.max_client_buffer
 * (and does not read), or whose snapshot takes nothing for a whole
 * http.dashboard.keepalive, is cut and counted
 * (dashboard_streams_cut_total), never waited for (tp_dash_stream.c).
 * An SSE comment every http.dashboard.keepalive keeps proxies from
 * closing an idle stream.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_config.h"
#include "tp_engine.h"
#include "tp_kpi.h"
#include "tp_metrics.h"

struct event_base;
struct evhttp_request;
typedef struct tp_dash tp_dash_t;

/* Registers the dashboard's metrics in `m`; reads the token file of cfg
 * when the dashboard is on and seeds its open alerts from `engine`. cfg,
 * engine, kpi and m are borrowed and must outlive it. 0 or a negative
 * errno with what failed in `why` (the token file's -EPERM, ...). */
int tp_dash_new(struct event_base *base, const tp_config_t *cfg, tp_engine_t *engine,
                const tp_kpi_t *kpi, tp_metrics_t *m, char *why, size_t whylen, tp_dash_t **ret);

/* A reloaded config, in two steps so a reload that fails later changes
 * nothing: tp_dash_read_token reads cfg's token file (NULL: dashboard off
 * or no token; a negative errno with the reason in `why`), then
 * tp_dash_apply (cannot fail) takes the token over and the config: switched
 * off, every stream is closed and the copy of open alerts dropped;
 * switched on, it is seeded again. */
int  tp_dash_read_token(const tp_config_t *cfg, char **ret_token, char *why, size_t whylen);
void tp_dash_apply(tp_dash_t *d, const tp_config_t *cfg, char *token);

/* Answers `req` if `path` is one of the dashboard's while it is on: true;
 * false leaves the request to the caller (404). */
bool tp_dash_handle(tp_dash_t *d, struct evhttp_request *req, const char *path);

/* The engine raised `alert` (the sink's, valid during the call; packed in
 * buf/len): its record is made now, from the unpacked form, and shown
 * once it is published. */
void tp_dash_raised(tp_dash_t *d, const char *topic, const uint8_t *buf, size_t len,
                    const Touchpoint__V1__Alert *alert);

/* One alert (packed Alert, its topic) left the daemon after the commit. */
void tp_dash_publish(tp_dash_t *d, const char *topic, const uint8_t *buf, size_t len);

/* Closes every stream and frees it all. */
void tp_dash_destroy(tp_dash_t **p);

/* Serves the file `rel` ("" = index.html) under `root`: known types only,
 * no dot segments, no symlinks; 404 otherwise. (tp_dash_static.c) */
void tp_dash_static_serve(const char *root, struct evhttp_request *req, const char *rel);

/* The directory the page is served from: cfg's http.dashboard.root, else
 * the installed one, else (a build tree) the source's web/dashboard. */
const char *tp_dash_static_root(const tp_config_t *cfg);
