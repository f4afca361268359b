/* tp_kpi — see tp_kpi.h. */
#include "tp_kpi.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

#include "tp_log.h"
#include "tp_rules.h"

#define H 3600.0
#define D 86400.0

/* Contracting runs in hours to months: a step takes hours to weeks, a
 * contract days to a quarter. */
static const double s_buckets[] = { 1 * H, 4 * H, 12 * H, 1 * D, 2 * D, 3 * D, 5 * D, 7 * D,
                                    10 * D, 14 * D, 21 * D, 30 * D, 45 * D, 60 * D, 90 * D };
#define N_BUCKETS (sizeof s_buckets / sizeof s_buckets[0])

/* An HCP's preferred channel, as the latest feedback stating one says. */
typedef struct {
    UT_hash_handle hh;
    int64_t at_ms;               /* Feedback.at_ms it came from */
    uint8_t channel;             /* Channel, never 0 */
    char    hcp_id[];
} s_pref_t;

struct tp_kpi {
    const tp_config_t *cfg;
    s_pref_t    *prefs;          /* uthash by hcp_id */
    size_t       n_prefs;
    bool         prefs_full_logged;
    uint64_t     submitted, complete, late, known, matched;
    tp_metric_t *received, *m_submitted, *m_complete, *m_late, *m_known, *m_matched;
    tp_metric_t *completeness, *late_ratio, *match_ratio, *cycle, *step, *prefs_dropped;
};

void tp_kpi_set_config(tp_kpi_t *k, const tp_config_t *cfg) {
    k->cfg = cfg;
}

int tp_kpi_new(const tp_config_t *cfg, tp_metrics_t *m, tp_kpi_t **ret) {
    tp_kpi_t *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->cfg = cfg;
    static const char *const topic_source[] = { "topic", "source", NULL };
    static const char *const type[] = { "contract_type", NULL };
    static const char *const step[] = { "step", NULL };
    k->received = tp_metrics_add(m, TP_METRIC_COUNTER, "events_received_total",
                                 "Accepted events (decoded, valid, not duplicates) by topic and "
                                 "source; sources past limits.max_sources under source=\"_other\"",
                                 topic_source, NULL, 0);
    k->m_submitted = tp_metrics_add(m, TP_METRIC_COUNTER, "calls_submitted_total",
                                    "Calls submitted (each once, on its first SUBMITTED version)",
                                    NULL, NULL, 0);
    k->m_complete = tp_metrics_add(m, TP_METRIC_COUNTER, "calls_complete_total",
                                   "Submitted calls with every field required for their channel",
                                   NULL, NULL, 0);
    k->m_late = tp_metrics_add(m, TP_METRIC_COUNTER, "calls_submitted_late_total",
                               "Calls submitted after the call_late rule's due time", NULL, NULL, 0);
    k->m_known = tp_metrics_add(m, TP_METRIC_COUNTER, "calls_channel_known_total",
                                "Submitted calls to HCPs whose preferred channel is known", NULL,
                                NULL, 0);
    k->m_matched = tp_metrics_add(m, TP_METRIC_COUNTER, "calls_channel_matched_total",
                                  "Submitted calls on the HCP's preferred channel", NULL, NULL, 0);
    k->completeness = tp_metrics_add(m, TP_METRIC_GAUGE, "crm_completeness_ratio",
                                     "calls_complete_total / calls_submitted_total (NaN before "
                                     "the first)", NULL, NULL, 0);
    k->late_ratio = tp_metrics_add(m, TP_METRIC_GAUGE, "late_submission_ratio",
                                   "calls_submitted_late_total / calls_submitted_total", NULL,
                                   NULL, 0);
    k->match_ratio = tp_metrics_add(m, TP_METRIC_GAUGE, "channel_match_ratio",
                                    "calls_channel_matched_total / calls_channel_known_total",
                                    NULL, NULL, 0);
    k->cycle = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "contract_cycle_seconds",
                              "Contracting cycle time (closed_at - opened_at) of closed, not "
                              "cancelled contracts", type, s_buckets, N_BUCKETS);
    k->step = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "contract_step_seconds",
                             "Contracting step time, attempt start to COMPLETED; step names past "
                             "64 under step=\"_other\"", step, s_buckets, N_BUCKETS);
    k->prefs_dropped = tp_metrics_add(m, TP_METRIC_COUNTER, "channel_preferences_dropped_total",
                                      "Preferred channels not kept: 500000 HCPs tracked already",
                                      NULL, NULL, 0);
    if (!k->received || !k->m_submitted || !k->m_complete || !k->m_late || !k->m_known ||
        !k->m_matched || !k->completeness || !k->late_ratio || !k->match_ratio || !k->cycle ||
        !k->step || !k->prefs_dropped) {
        tp_kpi_destroy(&k);
        return -ENOMEM;
    }
    tp_metric_limit(k->received, 1, cfg->max_sources);
    tp_metric_limit(k->step, 0, TP_KPI_MAX_STEPS);
    tp_metric_set(k->completeness, NULL, NAN);
    tp_metric_set(k->late_ratio, NULL, NAN);
    tp_metric_set(k->match_ratio, NULL, NAN);
    *ret = k;
    return 0;
}

static double s_ratio(uint64_t num, uint64_t den) {
    return den ? (double)num / (double)den : NAN;
}

/* Latest feedback with a preferred channel wins (as channel_mismatch). */
static void s_feedback(tp_kpi_t *k, const Touchpoint__V1__Feedback *f) {
    if (!f->preferred_channel)
        return;
    s_pref_t *p;
    HASH_FIND_STR(k->prefs, f->hcp_id, p);
    if (!p) {
        if (k->n_prefs >= TP_KPI_MAX_HCPS) {
            tp_metric_add(k->prefs_dropped, NULL, 1);
            if (!k->prefs_full_logged)
                log_warning("Not tracking more preferred channels: %d HCPs tracked already; "
                            "channel_match_ratio counts later HCPs as unknown", TP_KPI_MAX_HCPS);
            k->prefs_full_logged = true;
            return;
        }
        size_t len = strlen(f->hcp_id);
        if (!(p = calloc(1, sizeof *p + len + 1)))
            return;
        memcpy(p->hcp_id, f->hcp_id, len + 1);
        p->at_ms = INT64_MIN;
        HASH_ADD_KEYPTR(hh, k->prefs, p->hcp_id, len, p);
        k->n_prefs++;
    }
    if (f->at_ms >= p->at_ms) {
        p->at_ms = f->at_ms;
        p->channel = (uint8_t)f->preferred_channel;
    }
}

static void s_call(tp_kpi_t *k, const tp_event_t *ev) {
    const tp_call_t *call = ev->call;
    if (!ev->applied || !call->first_submitted)
        return;
    unsigned required = tp_config_required_fields(k->cfg, call->channel);
    k->submitted++;
    k->complete += (call->present & required) == required;
    k->late += tp_call_submitted_at(call) > tp_config_call_due(k->cfg, call->call_at_ms);
    s_pref_t *p;
    HASH_FIND_STR(k->prefs, call->hcp_id, p);
    if (p && call->channel) {    /* UNSPECIFIED says nothing about the channel */
        k->known++;
        k->matched += call->channel == p->channel;
    }
    tp_metric_set(k->m_submitted, NULL, (double)k->submitted);
    tp_metric_set(k->m_complete, NULL, (double)k->complete);
    tp_metric_set(k->m_late, NULL, (double)k->late);
    tp_metric_set(k->m_known, NULL, (double)k->known);
    tp_metric_set(k->m_matched, NULL, (double)k->matched);
    tp_metric_set(k->completeness, NULL, s_ratio(k->complete, k->submitted));
    tp_metric_set(k->late_ratio, NULL, s_ratio(k->late, k->submitted));
    tp_metric_set(k->match_ratio, NULL, s_ratio(k->matched, k->known));
}

static void s_step(tp_kpi_t *k, const tp_step_change_t *ch) {
    const tp_case_t *c = ch->kase;
    const tp_step_t *st = ch->step;
    if (ch->state_changed && st->state == TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED &&
        ch->prev_state != TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED &&
        st->started_at_ms > 0 && st->last_at_ms >= st->started_at_ms) {
        const char *label[] = { st->name };
        tp_metric_observe(k->step, label, (double)(st->last_at_ms - st->started_at_ms) / 1000.0);
    }
    if (ch->closed_now && !c->cancelled) {
        const char *label[] = { tp_contract_type_name(c->contract_type) };
        tp_metric_observe(k->cycle, label, (double)(c->closed_at_ms - c->opened_at_ms) / 1000.0);
    }
}

void tp_kpi_observe(void *ctx, const struct tp_event *ev) {
    tp_kpi_t *k = ctx;
    const Touchpoint__V1__Envelope *env = ev->env;
    const char *labels[] = { tp_topic_for_payload(env->payload_case), env->source };
    tp_metric_add(k->received, labels, 1);
    switch (env->payload_case) {
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL:
        s_call(k, ev);
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING:
        s_step(k, ev->step);
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK:
        s_feedback(k, env->feedback);
        break;
    default:
        break;
    }
}

void tp_kpi_destroy(tp_kpi_t **p) {
    tp_kpi_t *k = p ? *p : NULL;
    if (!k)
        return;
    s_pref_t *e, *tmp;
    HASH_ITER(hh, k->prefs, e, tmp) {
        HASH_DEL(k->prefs, e);
        free(e);
    }
    free(k);
    *p = NULL;
}
