/* tp_kpi_alerts — how long alerts stay open: time to resolution, and the
 * age of what is still open.
 *
 * Fed every alert transition (tp_kpi_alert): a FIRING's detected_at is kept
 * by alert_id until its RESOLVED, whose detected_at minus that is the
 * alert's open time (the daemon's clock). That goes to
 *
 *   alert_resolution_seconds{kind,rule}     histogram, 1 min .. 30 d
 *
 * and to a summary per rule, per rule and territory, per rule and rep, for
 * /v1/kpi: counts in fixed log-scale buckets (a factor sqrt(2) apart from
 * 60 s), so groups merge by adding counts and stay small. The median and
 * p90 are the geometric middle of the bucket holding that rank: within
 * ~19% of the true value. TP_KPI_MAX_LABELS territories and reps per rule,
 * then "_other".
 *
 *   alerts_open_older_than{rule,age="1d|7d|30d"}   computed from the
 *                                         engine's open alerts when /metrics
 *                                         is asked (tp_kpi_alerts_collect)
 *
 * Nothing here runs for an event that changes no alert.
 */
#pragma once

#include <stdint.h>

#include "tp_contract.h"
#include "tp_metrics.h"

struct tp_engine;
struct json_t;
typedef struct tp_kpi_alerts tp_kpi_alerts_t;

/* Registers the two families in `m` (borrowed). 0 or -ENOMEM. */
int tp_kpi_alerts_new(tp_metrics_t *m, tp_kpi_alerts_t **ret);

/* One transition (FIRING or RESOLVED). A RESOLVED whose FIRING was not
 * seen (fired before a restart and not seeded) is not timed. Returns the
 * seconds a RESOLVED was open, or a negative number if it was not timed
 * (or is a FIRING). */
double tp_kpi_alerts_transition(tp_kpi_alerts_t *ka, const Touchpoint__V1__Alert *alert);

/* The log-scale buckets durations are counted in (here and in the trends):
 * 0 is under 60 s, i >= 1 is [60*2^((i-1)/2), 60*2^(i/2)) s, the last
 * also everything longer. A quantile is the geometric middle of the bucket
 * holding rank ceil(q * count): within ~19% of the true value. */
#define TP_KPI_LOG_BUCKETS 42
unsigned tp_kpi_log_bucket(double seconds);
double   tp_kpi_log_quantile(const uint32_t n[TP_KPI_LOG_BUCKETS], uint64_t count, double q);

struct tp_snapw;
struct tp_snapr;
/* Its section of a snapshot: the open FIRINGs, the summaries and the two
 * families' series. Load into a new one (same registry families). */
void tp_kpi_alerts_save(const tp_kpi_alerts_t *ka, struct tp_snapw *w);
int  tp_kpi_alerts_load(tp_kpi_alerts_t *ka, struct tp_snapr *r);

/* Remembers the FIRING of every alert the engine holds open (a restart). */
void tp_kpi_alerts_seed(tp_kpi_alerts_t *ka, const struct tp_engine *e);

/* Sets alerts_open_older_than from the engine's open alerts, at `now_ms`
 * (the daemon's clock). */
void tp_kpi_alerts_collect(tp_kpi_alerts_t *ka, const struct tp_engine *e, int64_t now_ms);

/* "resolution": [{rule, kind, count, median_seconds, p90_seconds,
 * by_territory: [{name, count, median_seconds, p90_seconds}], by_rep: [..]}]
 * set into `doc`. 0 or -ENOMEM. */
int tp_kpi_alerts_to_json(const tp_kpi_alerts_t *ka, struct json_t *doc);

void tp_kpi_alerts_destroy(tp_kpi_alerts_t **p);
