/* tp_kpi — see tp_kpi.h. */
#include "tp_kpi.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

#include "tp_kpi_alerts.h"
#include "tp_kpi_int.h"
#include "tp_kpi_nps.h"
#include "tp_kpi_trend.h"
#include "tp_log.h"
#include "tp_rules.h"
#include "tp_snapio.h"
#include "tp_str.h"

#define H 3600.0
#define D 86400.0

/* Contracting runs in hours to months: a step takes hours to weeks, a
 * contract days to a quarter. */
static const double s_buckets[] = { 1 * H,  4 * H,  12 * H, 1 * D,  2 * D,  3 * D,  5 * D, 7 * D,
                                    10 * D, 14 * D, 21 * D, 30 * D, 45 * D, 60 * D, 90 * D };
#define N_BUCKETS (sizeof s_buckets / sizeof s_buckets[0])

void tp_kpi_set_config(tp_kpi_t *k, const tp_config_t *cfg) {
    k->cfg = cfg;
    tp_kpi_nps_set_config(k->nps, cfg);
}

int tp_kpi_new(const tp_config_t *cfg, tp_metrics_t *m, tp_kpi_t **ret) {
    tp_kpi_t *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->cfg = cfg;
    static const char *const topic_source[] = { "topic", "source", NULL };
    static const char *const type[] = { "contract_type", NULL };
    static const char *const step[] = { "step", NULL };
    const tp_metric_def_t    defs[] = {
           { &k->received, TP_METRIC_COUNTER, "events_received_total",
             "Accepted events (decoded, valid, not duplicates) by topic and "
                "source; sources past limits.max_sources under source=\"_other\"",
             topic_source },
           { &k->m_submitted, TP_METRIC_COUNTER, "calls_submitted_total",
             "Calls submitted (each once, on its first SUBMITTED version)", NULL },
           { &k->m_complete, TP_METRIC_COUNTER, "calls_complete_total",
             "Submitted calls with every field required for their channel", NULL },
           { &k->m_late, TP_METRIC_COUNTER, "calls_submitted_late_total",
             "Calls submitted after the call_late rule's due time", NULL },
           { &k->m_known, TP_METRIC_COUNTER, "calls_channel_known_total",
             "Submitted calls to HCPs whose preferred channel is known", NULL },
           { &k->m_matched, TP_METRIC_COUNTER, "calls_channel_matched_total",
             "Submitted calls on the HCP's preferred channel", NULL },
           { &k->completeness, TP_METRIC_GAUGE, "crm_completeness_ratio",
             "calls_complete_total / calls_submitted_total (NaN before the first)", NULL },
           { &k->late_ratio, TP_METRIC_GAUGE, "late_submission_ratio",
             "calls_submitted_late_total / calls_submitted_total", NULL },
           { &k->match_ratio, TP_METRIC_GAUGE, "channel_match_ratio",
             "calls_channel_matched_total / calls_channel_known_total", NULL },
    };
    /* Registration order is /metrics order: the table, the histograms, then
     * the dropped preferences. */
    int r = tp_metrics_add_all(m, defs, sizeof defs / sizeof defs[0]);
    k->cycle = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "contract_cycle_seconds",
                              "Contracting cycle time (closed_at - opened_at) of closed, not "
                              "cancelled contracts",
                              type, s_buckets, N_BUCKETS);
    k->step = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "contract_step_seconds",
                             "Contracting step time, attempt start to COMPLETED; step names past "
                             "64 under step=\"_other\"",
                             step, s_buckets, N_BUCKETS);
    k->prefs_dropped =
        tp_metrics_add(m, TP_METRIC_COUNTER, "channel_preferences_dropped_total",
                       "Preferred channels not kept: 500000 HCPs tracked already", NULL, NULL, 0);
    if (r < 0 || !k->cycle || !k->step || !k->prefs_dropped ||
        tp_kpi_alerts_new(m, &k->alerts) < 0 || tp_kpi_nps_new(cfg, m, &k->nps) < 0 ||
        tp_kpi_trend_new(cfg, &k->trend) < 0) {
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
    tp_kpi_pref_t *p;
    HASH_FIND_STR(k->prefs, f->hcp_id, p);
    if (!p) {
        if (k->n_prefs >= TP_KPI_MAX_HCPS) {
            tp_metric_add(k->prefs_dropped, NULL, 1);
            if (!k->prefs_full_logged)
                log_warning("Not tracking more preferred channels: %d HCPs tracked already; "
                            "channel_match_ratio counts later HCPs as unknown",
                            TP_KPI_MAX_HCPS);
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

/* The counters of `name` ("" counts as "_none"), created while fewer
 * than TP_KPI_MAX_LABELS exist, else "_other"'s. NULL on ENOMEM. */
static tp_kpi_label_t *s_label(tp_kpi_labels_t *ls, const char *name) {
    if (!name || !*name)
        name = "_none";
    tp_kpi_label_t *l;
    HASH_FIND_STR(ls->head, name, l);
    if (l)
        return l;
    if (ls->count >= TP_KPI_MAX_LABELS) {
        name = "_other";
        HASH_FIND_STR(ls->head, name, l);
        if (l)
            return l;
    }
    size_t len = strlen(name);
    if (!(l = calloc(1, sizeof *l + len + 1)))
        return NULL;
    memcpy(l->name, name, len + 1);
    HASH_ADD_KEYPTR(hh, ls->head, l->name, len, l);
    ls->count++;
    return l;
}

static void s_labels_free(tp_kpi_labels_t *ls) {
    TP_HASH_FREE_ALL(ls->head, tp_kpi_label_t);
    ls->count = 0;
}

static void s_call(tp_kpi_t *k, const tp_event_t *ev) {
    const tp_call_t *call = ev->call;
    if (!ev->applied || !call->first_submitted)
        return;
    unsigned required = tp_config_required_fields(k->cfg, call->channel);
    bool     complete = (call->present & required) == required;
    bool     late = tp_call_submitted_at(call) > tp_config_call_due(k->cfg, call->call_at_ms);
    bool     known = false, matched = false;
    k->submitted++;
    k->complete += complete;
    k->late += late;
    tp_kpi_pref_t *p;
    HASH_FIND_STR(k->prefs, call->hcp_id, p);
    if (p && call->channel) { /* UNSPECIFIED says nothing about the channel */
        known = true;
        matched = call->channel == p->channel;
        k->known++;
        k->matched += matched;
    }
    const bool      flags[N__COUNT] = { true, complete, late, known, matched };
    tp_kpi_label_t *t = s_label(&k->territories, call->territory);
    tp_kpi_label_t *r = s_label(&k->reps, call->rep_id);
    for (int i = 0; i < N__COUNT; i++) {
        if (t)
            t->n[i] += flags[i];
        if (r)
            r->n[i] += flags[i];
    }
    /* A rep's territory rarely changes: compared, copied only then (a
     * printf per submitted call was half this function's cost). */
    if (r && t && strncmp(r->territory, t->name, sizeof r->territory - 1) != 0)
        TP_STR_CAT(r->territory, sizeof r->territory, t->name);
    tp_kpi_trend_call(k->trend, tp_call_submitted_at(call), call->territory, flags);
    tp_metric_set(k->m_submitted, NULL, (double)k->submitted);
    tp_metric_set(k->m_complete, NULL, (double)k->complete);
    tp_metric_set(k->m_late, NULL, (double)k->late);
    tp_metric_set(k->m_known, NULL, (double)k->known);
    tp_metric_set(k->m_matched, NULL, (double)k->matched);
    tp_metric_set(k->completeness, NULL, s_ratio(k->complete, k->submitted));
    tp_metric_set(k->late_ratio, NULL, s_ratio(k->late, k->submitted));
    tp_metric_set(k->match_ratio, NULL, s_ratio(k->matched, k->known));
}

/* The stats of step `name`, TP_KPI_MAX_STEPS names then "_other" (as
 * contract_step_seconds). NULL on ENOMEM. */
static tp_kpi_step_t *s_stepstat(tp_kpi_t *k, const char *name) {
    tp_kpi_step_t *s;
    HASH_FIND_STR(k->steps, name, s);
    if (s)
        return s;
    if (k->n_steps >= TP_KPI_MAX_STEPS) {
        name = "_other";
        HASH_FIND_STR(k->steps, name, s);
        if (s)
            return s;
    }
    size_t len = strlen(name);
    if (!(s = calloc(1, sizeof *s + len + 1)))
        return NULL;
    memcpy(s->name, name, len + 1);
    HASH_ADD_KEYPTR(hh, k->steps, s->name, len, s);
    k->n_steps++;
    return s;
}

static void s_step(tp_kpi_t *k, const tp_step_change_t *ch) {
    const tp_case_t *c = ch->kase;
    const tp_step_t *st = ch->step;
    if (ch->state_changed && st->state == TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED &&
        ch->prev_state != TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED &&
        st->started_at_ms > 0 && st->last_at_ms >= st->started_at_ms) {
        const char *label[] = { st->name };
        int64_t     ms = st->last_at_ms - st->started_at_ms;
        tp_metric_observe(k->step, label, (double)ms / 1000.0);
        tp_kpi_step_t *s = s_stepstat(k, st->name);
        if (s) {
            s->sla_ms = tp_config_step_sla(k->cfg, st->name, c->contract_type);
            s->completed++;
            s->over_sla += ms > s->sla_ms;
            s->sum_s += (double)ms / 1000.0;
        }
    }
    if (ch->closed_now && !c->cancelled) {
        const char *label[] = { tp_contract_type_name(c->contract_type) };
        int64_t     ms = c->closed_at_ms - c->opened_at_ms;
        tp_metric_observe(k->cycle, label, (double)ms / 1000.0);
        unsigned t = c->contract_type < TP_CONTRACT_TYPE_COUNT ? c->contract_type : 0;
        k->cycle_closed[t]++;
        k->cycle_sum_s[t] += (double)ms / 1000.0;
        k->cycle_over[t] +=
            k->cfg->cycle_time.target_ms[t] > 0 && ms > k->cfg->cycle_time.target_ms[t];
        tp_kpi_trend_cycle(k->trend, c->closed_at_ms, (int)t, (double)ms / 1000.0);
    }
}

/* The value of events_received_total{topic, source} of this event. NULL
 * on ENOMEM. */
static double *s_received(tp_kpi_t *k, const Touchpoint__V1__Envelope *env) {
    int payload = (int)env->payload_case;
    for (size_t i = 0; i < RECEIVED_CACHE; i++)
        if (k->recent[i].payload == payload && strcmp(k->recent[i].source, env->source) == 0)
            return k->recent[i].value;
    const char *labels[] = { tp_topic_for_payload(env->payload_case), env->source };
    double     *value = tp_metric_slot(k->received, labels);
    size_t      len = strlen(env->source);
    if (!value || len > TP_ID_MAX)
        return value;
    tp_kpi_received_t *r = &k->recent[k->recent_next++ % RECEIVED_CACHE];
    r->payload = payload;
    memcpy(r->source, env->source, len + 1);
    r->value = value;
    return value;
}

void tp_kpi_observe(void *ctx, const struct tp_event *ev) {
    tp_kpi_t                       *k = ctx;
    const Touchpoint__V1__Envelope *env = ev->env;
    double                         *received = s_received(k, env);
    if (received)
        *received += 1;
    switch (env->payload_case) {
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL: s_call(k, ev); break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING: s_step(k, ev->step); break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK: s_feedback(k, env->feedback); break;
    default: break;
    }
    tp_kpi_answer_t a;
    if (tp_kpi_nps_observe(k->nps, ev, &a))
        tp_kpi_trend_answer(k->trend, env->feedback->at_ms, &a);
}

void tp_kpi_alert(tp_kpi_t *k, const Touchpoint__V1__Alert *alert) {
    double s = tp_kpi_alerts_transition(k->alerts, alert);
    if (s >= 0)
        tp_kpi_trend_resolved(k->trend, alert->detected_at_ms, alert->territory, (int)alert->kind,
                              s);
}

int tp_kpi_trend_json(const tp_kpi_t *k, const char *metric, const char *by, const char *kind,
                      json_t **ret) {
    return tp_kpi_trend_query(k->trend, metric, by, kind, ret);
}

void tp_kpi_seed(tp_kpi_t *k, const struct tp_engine *e) {
    tp_kpi_alerts_seed(k->alerts, e);
}

void tp_kpi_collect(tp_kpi_t *k, const struct tp_engine *e, int64_t now_ms) {
    tp_kpi_alerts_collect(k->alerts, e, now_ms);
}

static json_t *s_counts_json(const char *name, const uint64_t n[N__COUNT]) {
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name", name, "submitted",
                     (json_int_t)n[N_SUB], "complete", (json_int_t)n[N_COMPLETE], "late",
                     (json_int_t)n[N_LATE], "channel_known", (json_int_t)n[N_KNOWN],
                     "channel_matched", (json_int_t)n[N_MATCHED]);
}

static int s_labels_json(const tp_kpi_labels_t *ls, bool rep, json_t **ret) {
    json_t *a = json_array();
    if (!a)
        return -ENOMEM;
    for (const tp_kpi_label_t *l = ls->head; l; l = l->hh.next) {
        json_t *o = s_counts_json(l->name, l->n);
        if (o && rep)
            json_object_set_new(o, "territory", json_string(l->territory));
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return -ENOMEM;
        }
    }
    *ret = a;
    return 0;
}

int tp_kpi_to_json(const tp_kpi_t *k, json_t **ret) {
    const uint64_t total[N__COUNT] = { k->submitted, k->complete, k->late, k->known, k->matched };
    json_t        *doc = json_object(), *terr = NULL, *reps = NULL, *steps = json_array(),
           *cycle = json_array(), *calls = s_counts_json("all", total);
    bool ok = doc && steps && cycle && calls && s_labels_json(&k->territories, false, &terr) == 0 &&
              s_labels_json(&k->reps, true, &reps) == 0;
    for (const tp_kpi_step_t *s = ok ? k->steps : NULL; s; s = s->hh.next)
        ok = json_array_append_new(steps, json_pack("{s:s, s:I, s:f, s:f, s:I}", "step", s->name,
                                                    "completed", (json_int_t)s->completed,
                                                    "mean_seconds", s->sum_s / (double)s->completed,
                                                    "sla_seconds", (double)s->sla_ms / 1000.0,
                                                    "over_sla", (json_int_t)s->over_sla)) == 0;
    for (unsigned t = 1; ok && t < TP_CONTRACT_TYPE_COUNT; t++)
        ok = json_array_append_new(
                 cycle,
                 json_pack(
                     "{s:s, s:I, s:o, s:f, s:I}", "contract_type", tp_contract_type_name((int)t),
                     "closed", (json_int_t)k->cycle_closed[t], "mean_seconds",
                     k->cycle_closed[t] ? json_real(k->cycle_sum_s[t] / (double)k->cycle_closed[t])
                                        : json_null(),
                     "target_seconds", (double)k->cfg->cycle_time.target_ms[t] / 1000.0,
                     "over_target", (json_int_t)k->cycle_over[t])) == 0;
    if (ok) {
        json_object_del(calls, "name");
        ok = json_object_set_new(doc, "calls", calls) == 0;
        calls = NULL;
        ok = ok && json_object_set_new(doc, "by_territory", terr) == 0;
        terr = NULL;
        ok = ok && json_object_set_new(doc, "by_rep", reps) == 0;
        reps = NULL;
        ok = ok && json_object_set_new(doc, "steps", steps) == 0;
        steps = NULL;
        ok = ok && json_object_set_new(doc, "cycle", cycle) == 0;
        cycle = NULL;
        ok = ok && tp_kpi_alerts_to_json(k->alerts, doc) == 0 &&
             tp_kpi_nps_to_json(k->nps, doc) == 0;
    }
    json_decref(calls);
    json_decref(terr);
    json_decref(reps);
    json_decref(steps);
    json_decref(cycle);
    if (!ok) {
        json_decref(doc);
        return -ENOMEM;
    }
    *ret = doc;
    return 0;
}

void tp_kpi_destroy(tp_kpi_t **p) {
    tp_kpi_t *k = p ? *p : NULL;
    if (!k)
        return;
    tp_kpi_alerts_destroy(&k->alerts);
    tp_kpi_nps_destroy(&k->nps);
    tp_kpi_trend_destroy(&k->trend);
    s_labels_free(&k->territories);
    s_labels_free(&k->reps);
    TP_HASH_FREE_ALL(k->steps, tp_kpi_step_t);
    TP_HASH_FREE_ALL(k->prefs, tp_kpi_pref_t);
    free(k);
    *p = NULL;
}
