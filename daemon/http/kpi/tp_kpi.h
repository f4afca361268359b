/* tp_kpi — what accepted events say beyond alerts: events per topic and
 * source, and the business KPIs integration leads ask for.
 *
 * The engine's observer (tp_engine_set_observer): after the rules ran on
 * an accepted event it looks at the event and the state it left, and
 * counts into a tp_metrics registry:
 *
 *   events_received_total{topic,source}   accepted events (sources bounded
 *                                         by limits.max_sources, then "_other")
 *   calls_submitted_total                 calls, each once, on the first
 *                                         SUBMITTED version applied
 *   calls_complete_total                  ... with every field that
 *                                         tp_config_required_fields asks for
 *                                         its channel
 *   calls_submitted_late_total            ... submitted after the call_late
 *                                         rule's due time (tp_config_call_due)
 *   calls_channel_known_total             ... to an HCP whose preferred channel
 *                                         is known (Feedback.preferred_channel,
 *                                         latest at_ms wins) at that moment
 *   calls_channel_matched_total           ... of those, on that channel
 *   crm_completeness_ratio, late_submission_ratio, channel_match_ratio
 *   contract_cycle_seconds{contract_type} closed_at - opened_at of a contract
 *                                         that closes (not cancelled)
 *   contract_step_seconds{step}           a step's attempt start to its
 *                                         COMPLETED (64 step names, then "_other")
 *
 * The same call counts by territory and by rep (TP_KPI_MAX_LABELS of each,
 * then "_other"), step times against their SLA, and cycle times against
 * their target, for the dashboard (tp_kpi_to_json, GET /v1/kpi): JSON,
 * not /metrics, so Prometheus never gets a label per rep.
 *
 * Counts describe the whole event log, not this run: the daemon creates
 * the KPIs before the restart's rebuild, which replays the log through the
 * observer and its alerts through tp_kpi_alert, so every figure (event
 * times, the daemon's clock as the log recorded it) comes out as it was.
 * Behind a snapshot the log is gone: tp_kpi_save / tp_kpi_load carry the
 * state across it. The same figures by period: tp_kpi_trend.h.
 */
#pragma once

#include "tp_config.h"
#include "tp_contract.h"
#include "tp_metrics.h"

#define TP_KPI_MAX_HCPS   500000 /* preferred channels kept; later HCPs count as unknown */
#define TP_KPI_MAX_STEPS  64     /* distinct step labels of contract_step_seconds */
#define TP_KPI_MAX_LABELS 10000  /* territories, and reps, counted apart; then "_other" */

struct tp_event;
typedef struct tp_kpi tp_kpi_t;

/* Registers the KPI families in `m` (borrowed: must outlive the kpi, as
 * must cfg). 0 or -ENOMEM. */
int tp_kpi_new(const tp_config_t *cfg, tp_metrics_t *m, tp_kpi_t **ret);

/* A reloaded config: completeness and lateness are judged by its rules
 * from the next event on. */
void tp_kpi_set_config(tp_kpi_t *k, const tp_config_t *cfg);

/* The observer: `ctx` is the tp_kpi_t. */
void tp_kpi_observe(void *ctx, const struct tp_event *ev);

/* An alert transition (the daemon's journal sink, after the sequence is
 * assigned): time to resolution, tp_kpi_alerts.h. */
void tp_kpi_alert(tp_kpi_t *k, const Touchpoint__V1__Alert *alert);

struct tp_engine;
/* The alerts the engine holds open at start-up (fired before a restart),
 * so their RESOLVED is timed too. */
void tp_kpi_seed(tp_kpi_t *k, const struct tp_engine *e);

/* Gauges computed when /metrics is asked: open alerts by age, at now_ms
 * (the daemon's clock). */
void tp_kpi_collect(tp_kpi_t *k, const struct tp_engine *e, int64_t now_ms);

struct json_t;
/* The dashboard's aggregates as a new JSON object (the caller decrefs):
 * "calls" {submitted, complete, late, channel_known, channel_matched},
 * "by_territory" and "by_rep" [{name, the same five; a rep also its
 * latest territory}], "steps" [{step, completed, mean_seconds,
 * sla_seconds, over_sla}], "cycle" [{contract_type, closed, mean_seconds,
 * target_seconds, over_target}], "resolution" (tp_kpi_alerts_to_json).
 * 0 or -ENOMEM. */
int tp_kpi_to_json(const tp_kpi_t *k, struct json_t **ret);

/* GET /v1/kpi/trend: tp_kpi_trend_query. */
int tp_kpi_trend_json(const tp_kpi_t *k, const char *metric, const char *by, const char *kind,
                      struct json_t **ret);

struct tp_snapw;
struct tp_snapr;
/* The whole KPI state as sections of a snapshot (tp_snapio.h), and back
 * into a new tp_kpi (same config) before it observes anything: it then
 * answers /v1/kpi, /v1/kpi/trend and its /metrics families as the saved
 * one did. save: 0 or the writer's first error (it flushes); load: 0,
 * -EPROTO (another section or a newer version), -EBADMSG, -ENOMEM. */
int tp_kpi_save(const tp_kpi_t *k, struct tp_snapw *w);
int tp_kpi_load(tp_kpi_t *k, struct tp_snapr *r);

void tp_kpi_destroy(tp_kpi_t **p);
