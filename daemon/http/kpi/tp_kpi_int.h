/* tp_kpi_int — what tp_kpi's files share (tp_kpi.c: the observer and
 * its JSON; tp_kpi_snap.c: its section of a snapshot). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "tp_hash.h"

#include "tp_codec.h"
#include "tp_contract.h"
#include "tp_kpi.h"
#include "tp_kpi_alerts.h"
#include "tp_kpi_nps.h"
#include "tp_kpi_trend.h"
#include "tp_metrics.h"

/* An HCP's preferred channel, as the latest feedback stating one says. */
typedef struct {
    UT_hash_handle hh;
    int64_t        at_ms;   /* Feedback.at_ms it came from */
    uint8_t        channel; /* Channel, never 0 */
    char           hcp_id[];
} tp_kpi_pref_t;

/* Call counts of one territory or rep (or "_other"). */
enum { N_SUB, N_COMPLETE, N_LATE, N_KNOWN, N_MATCHED, N__COUNT };
typedef struct {
    UT_hash_handle hh;
    uint64_t       n[N__COUNT];
    char           territory[64]; /* a rep: the territory of its latest call */
    char           name[];
} tp_kpi_label_t;

typedef struct {
    tp_kpi_label_t *head; /* uthash by name */
    size_t          count;
} tp_kpi_labels_t;

/* Completed attempts of one step name. */
typedef struct {
    UT_hash_handle hh;
    uint64_t       completed, over_sla;
    double         sum_s;
    int64_t        sla_ms; /* the SLA the latest attempt was judged by */
    char           name[];
} tp_kpi_step_t;

/* events_received_total's series of recent (payload, source) pairs: a
 * producer sends one source, so nearly every event finds its series here
 * and costs a compare and an addition, not a labelled lookup. */
#define RECEIVED_CACHE 8
typedef struct {
    int     payload; /* 0: empty */
    char    source[TP_ID_MAX + 1];
    double *value;
} tp_kpi_received_t;

struct tp_kpi {
    const tp_config_t *cfg;
    tp_kpi_alerts_t   *alerts; /* time to resolution, open ages */
    tp_kpi_nps_t      *nps;    /* NPS and effort */
    tp_kpi_trend_t    *trend;  /* the same by period */
    tp_kpi_received_t  recent[RECEIVED_CACHE];
    unsigned           recent_next; /* the entry a miss replaces */
    tp_kpi_pref_t     *prefs;       /* uthash by hcp_id */
    size_t             n_prefs;
    tp_kpi_labels_t    territories, reps;
    tp_kpi_step_t     *steps; /* uthash by step name, TP_KPI_MAX_STEPS then "_other" */
    size_t             n_steps;
    uint64_t           cycle_closed[TP_CONTRACT_TYPE_COUNT], cycle_over[TP_CONTRACT_TYPE_COUNT];
    double             cycle_sum_s[TP_CONTRACT_TYPE_COUNT];
    bool               prefs_full_logged;
    uint64_t           submitted, complete, late, known, matched;
    tp_metric_t       *received, *m_submitted, *m_complete, *m_late, *m_known, *m_matched;
    tp_metric_t       *completeness, *late_ratio, *match_ratio, *cycle, *step, *prefs_dropped;
};
