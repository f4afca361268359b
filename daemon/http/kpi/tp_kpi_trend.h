/* tp_kpi_trend — the KPIs period by period (weekly by default), by
 * territory: what a leader looks at to see whether last month's coaching
 * moved anything.
 *
 * Periods are kpi.trend_bucket long and start on a Monday 00:00 UTC (7d:
 * ISO weeks). Every observation is filed under the period of its own
 * event time (a call's submission, a feedback's at_ms, a RESOLVED's
 * detected_at, a contract's closed_at), never the time it was processed,
 * so the trends are a function of the event log: a restart that replays
 * it files everything where it was.
 *
 * Kept: a ring of the last kpi.trend_retention worth of periods behind the
 * newest one seen; an observation older than that is dropped. Per period
 * and territory (kpi.trend_max_groups, then "_other"): call counts
 * (submitted, complete, late, channel known, matched), feedback answers
 * (promoters, detractors, effort sum), and time to resolution per alert
 * kind as counts in the log-scale buckets of tp_kpi_alerts; per period and
 * contract type, cycle times the same way. Memory is bounded by
 * periods x (groups + 1) x (~100 bytes, plus ~500 bytes once a territory
 * has a resolved alert in that period); the arrays of a period are reused
 * when the ring comes round, so a steady stream allocates nothing.
 *
 * Metrics (tp_kpi_trend_query): completeness, late_rate, channel_match
 * (ratios), nps, effort (1..7, high = hard), resolution_median_seconds
 * (optionally of one kind), cycle_median_seconds. by: "territory"
 * (cycle: "contract_type"), "kind" (resolution only) or "all".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tp_config.h"
#include "tp_snapio.h"

struct json_t;
typedef struct tp_kpi_trend tp_kpi_trend_t;

/* One answered feedback, as tp_kpi_nps judged it. */
typedef struct {
    bool        has_nps, promoter, detractor, has_effort;
    double      effort;    /* 1..7, high = hard */
    const char *territory; /* of the HCP's latest call, or NULL */
} tp_kpi_answer_t;

enum {
    TP_KPI_CALL_SUBMITTED,
    TP_KPI_CALL_COMPLETE,
    TP_KPI_CALL_LATE,
    TP_KPI_CALL_KNOWN,
    TP_KPI_CALL_MATCHED,
    TP_KPI_CALL__COUNT
};

/* Sized by cfg's kpi.trend_* (read now only). 0 or -ENOMEM. */
int tp_kpi_trend_new(const tp_config_t *cfg, tp_kpi_trend_t **ret);

void tp_kpi_trend_call(tp_kpi_trend_t *t, int64_t at_ms, const char *territory,
                       const bool flags[TP_KPI_CALL__COUNT]);
void tp_kpi_trend_answer(tp_kpi_trend_t *t, int64_t at_ms, const tp_kpi_answer_t *a);
void tp_kpi_trend_resolved(tp_kpi_trend_t *t, int64_t at_ms, const char *territory, int kind,
                           double seconds);
void tp_kpi_trend_cycle(tp_kpi_trend_t *t, int64_t at_ms, int contract_type, double seconds);

/* {metric, by, bucket_seconds, groups: [names], buckets: [{start (ISO
 * 8601), start_ms, values: {group: value|null}, counts: {group: n}}]},
 * one bucket per period from the oldest kept with data to the newest.
 * kind: NULL or an alert kind ("accountability", "friction") for the
 * resolution. -EINVAL for an unknown metric, by or kind; -ENOMEM. */
int tp_kpi_trend_query(const tp_kpi_trend_t *t, const char *metric, const char *by,
                       const char *kind, struct json_t **ret);

/* The same as CSV (RFC 4180): period_start,group,value,count, one row per
 * period and group with data. 0 or -ENOMEM; *ret malloc'd. */
int tp_kpi_trend_csv(const struct json_t *doc, char **ret, size_t *ret_len);

/* Its section of a snapshot. Loading into a trend of another period
 * length keeps nothing (logged). */
void tp_kpi_trend_save(const tp_kpi_trend_t *t, tp_snapw_t *w);
int  tp_kpi_trend_load(tp_kpi_trend_t *t, tp_snapr_t *r);

void tp_kpi_trend_destroy(tp_kpi_trend_t **p);
