/* tp_kpi_nps — see tp_kpi_nps.h. */
#include "tp_kpi_nps.h"
#include "tp_kpi_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

#include "tp_feedback.h"
#include "tp_kpi.h"
#include "tp_rules.h"
#include "tp_snapio.h"

#define PROMOTER_MIN 9 /* nps 9 and 10 are promoters, on every tool */

/* The answers of one group and its two gauges (slots, looked up once). */
typedef struct {
    uint64_t answers, promoters, detractors, efforts;
    double   effort_sum; /* on 1..7, high = hard */
    double  *nps, *effort;
} s_score_t;

typedef struct {
    UT_hash_handle hh;
    s_score_t      s;
    char           name[];
} s_terr_t;

/* An HCP's latest call's territory. */
typedef struct {
    UT_hash_handle hh;
    int64_t        call_at_ms;
    s_terr_t      *terr;
    char           hcp_id[];
} s_hcp_t;

typedef struct {
    UT_hash_handle hh;
    uint8_t        type; /* ContractType */
    char           contract_id[];
} s_contract_t;

struct tp_kpi_nps {
    const tp_config_t *cfg;
    s_score_t          all, types[TP_CONTRACT_TYPE_COUNT];
    s_terr_t          *terrs;
    size_t             n_terrs;
    s_hcp_t           *hcps;
    size_t             n_hcps;
    s_contract_t      *contracts;
    size_t             n_contracts;
    tp_metric_t       *nps, *effort;
};

/* The gauges' slots of (territory, contract_type); "" = not by that. */
static int s_slots(tp_kpi_nps_t *n, s_score_t *s, const char *territory, const char *type) {
    const char *v[] = { territory, type };
    s->nps = tp_metric_slot(n->nps, v);
    s->effort = tp_metric_slot(n->effort, v);
    if (!s->nps || !s->effort)
        return -ENOMEM;
    *s->nps = *s->effort = NAN;
    return 0;
}

int tp_kpi_nps_new(const tp_config_t *cfg, tp_metrics_t *m, tp_kpi_nps_t **ret) {
    tp_kpi_nps_t *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->cfg = cfg;
    static const char *const by[] = { "territory", "contract_type", NULL };
    n->nps = tp_metrics_add(m, TP_METRIC_GAUGE, "nps",
                            "Net promoter score, % promoters (9-10) - % detractors (at or below "
                            "the survey tool's nps_max); no labels set: overall, territory: the "
                            "HCP's latest call's, contract_type: feedback on a contract",
                            by, NULL, 0);
    n->effort = tp_metrics_add(m, TP_METRIC_GAUGE, "effort_score_mean",
                               "Mean effort score on 1..7, high = hard (each tool's scale mapped "
                               "to it); labels as nps",
                               by, NULL, 0);
    if (!n->nps || !n->effort || s_slots(n, &n->all, "", "") < 0) {
        tp_kpi_nps_destroy(&n);
        return -ENOMEM;
    }
    tp_metric_limit(n->nps, 0, TP_KPI_MAX_LABELS + 1);
    tp_metric_limit(n->effort, 0, TP_KPI_MAX_LABELS + 1);
    *ret = n;
    return 0;
}

void tp_kpi_nps_set_config(tp_kpi_nps_t *n, const tp_config_t *cfg) {
    n->cfg = cfg;
}

/* The group of territory `name`, created while fewer than
 * TP_KPI_MAX_LABELS exist, else "_other"'s. NULL on ENOMEM. */
static s_terr_t *s_terr(tp_kpi_nps_t *n, const char *name) {
    s_terr_t *t;
    HASH_FIND_STR(n->terrs, name, t);
    if (t)
        return t;
    if (n->n_terrs >= TP_KPI_MAX_LABELS && strcmp(name, "_other") != 0)
        return s_terr(n, "_other");
    size_t len = strlen(name);
    if (!(t = calloc(1, sizeof *t + len + 1)))
        return NULL;
    memcpy(t->name, name, len + 1);
    if (s_slots(n, &t->s, t->name, "") < 0) {
        free(t);
        return NULL;
    }
    HASH_ADD_KEYPTR(hh, n->terrs, t->name, len, t);
    n->n_terrs++;
    return t;
}

/* New records of an HCP and of a contract the tables do not hold yet,
 * counted; NULL when out of memory. The caller fills them in. */
static s_hcp_t *s_hcp_add(tp_kpi_nps_t *n, const char *hcp_id) {
    size_t   len = strlen(hcp_id);
    s_hcp_t *h = malloc(sizeof *h + len + 1);
    if (!h)
        return NULL;
    memcpy(h->hcp_id, hcp_id, len + 1);
    HASH_ADD_KEYPTR(hh, n->hcps, h->hcp_id, len, h);
    n->n_hcps++;
    return h;
}

static s_contract_t *s_contract_add(tp_kpi_nps_t *n, const char *contract_id) {
    size_t        len = strlen(contract_id);
    s_contract_t *c = malloc(sizeof *c + len + 1);
    if (!c)
        return NULL;
    memcpy(c->contract_id, contract_id, len + 1);
    HASH_ADD_KEYPTR(hh, n->contracts, c->contract_id, len, c);
    n->n_contracts++;
    return c;
}

/* The latest call (by call_at) of an HCP gives its territory. */
static void s_call(tp_kpi_nps_t *n, const tp_event_t *ev) {
    const tp_call_t *call = ev->call;
    if (!ev->applied || !call->territory || !*call->territory)
        return;
    s_hcp_t *h;
    HASH_FIND_STR(n->hcps, call->hcp_id, h);
    if (h && call->call_at_ms < h->call_at_ms)
        return;
    if (h && strcmp(h->terr->name, call->territory) == 0) {
        h->call_at_ms = call->call_at_ms;
        return;
    }
    s_terr_t *t = s_terr(n, call->territory);
    if (!t)
        return;
    if (!h && (n->n_hcps >= TP_KPI_MAX_HCPS || !(h = s_hcp_add(n, call->hcp_id))))
        return;
    h->call_at_ms = call->call_at_ms;
    h->terr = t;
}

static void s_step(tp_kpi_nps_t *n, const Touchpoint__V1__ContractingStep *st) {
    s_contract_t *c;
    HASH_FIND_STR(n->contracts, st->contract_id, c);
    if (!c && (n->n_contracts >= TP_KPI_MAX_CONTRACTS || !(c = s_contract_add(n, st->contract_id))))
        return;
    c->type = st->contract_type < TP_CONTRACT_TYPE_COUNT ? (uint8_t)st->contract_type : 0;
}

static void s_count(s_score_t *s, bool has_nps, bool promoter, bool detractor, bool has_effort,
                    double effort) {
    s->answers += has_nps;
    s->promoters += has_nps && promoter;
    s->detractors += has_nps && detractor;
    if (has_nps)
        *s->nps = 100.0 * ((double)s->promoters - (double)s->detractors) / (double)s->answers;
    if (has_effort) {
        s->efforts++;
        s->effort_sum += effort;
        *s->effort = s->effort_sum / (double)s->efforts;
    }
}

static bool s_feedback(tp_kpi_nps_t *n, const char *source, const Touchpoint__V1__Feedback *f,
                       tp_kpi_answer_t *ret) {
    tp_feedback_verdict_t v;
    tp_feedback_judge(n->cfg, source, f, 6, 8, &v); /* 6: the DESIGN default band */
    bool has_nps = f->nps_value_case == TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
    bool has_effort =
        f->effort_score_value_case == TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE &&
        f->effort_score >= 1 && f->effort_score <= v.effort_scale;
    if (!has_nps && !has_effort)
        return false;
    double pos = has_effort ? (double)(f->effort_score - 1) / (v.effort_scale - 1) : 0;
    double effort = 1 + 6 * (v.effort_high_is_hard ? pos : 1 - pos);
    bool   promoter = !v.nps_bad && f->nps >= PROMOTER_MIN;
    s_count(&n->all, has_nps, promoter, v.nps_bad, has_effort, effort);
    s_hcp_t *h;
    HASH_FIND_STR(n->hcps, f->hcp_id, h);
    if (h)
        s_count(&h->terr->s, has_nps, promoter, v.nps_bad, has_effort, effort);
    *ret = (tp_kpi_answer_t){ .has_nps = has_nps,
                              .promoter = promoter,
                              .detractor = v.nps_bad,
                              .has_effort = has_effort,
                              .effort = effort,
                              .territory = h ? h->terr->name : NULL };
    s_contract_t *c = NULL;
    if (f->subject_type && strcmp(f->subject_type, "contract") == 0 && f->subject_id)
        HASH_FIND_STR(n->contracts, f->subject_id, c);
    if (c) {
        s_score_t *s = &n->types[c->type];
        if (!s->nps && s_slots(n, s, "", tp_contract_type_name(c->type)) < 0)
            return true;
        s_count(s, has_nps, promoter, v.nps_bad, has_effort, effort);
    }
    return true;
}

bool tp_kpi_nps_observe(tp_kpi_nps_t *n, const struct tp_event *ev, tp_kpi_answer_t *ret) {
    const Touchpoint__V1__Envelope *env = ev->env;
    switch (env->payload_case) {
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL: s_call(n, ev); break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING: s_step(n, env->contracting); break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK:
        return s_feedback(n, env->source, env->feedback, ret);
    default: break;
    }
    return false;
}

static json_t *s_num(bool have, double v) {
    return have ? json_real(v) : json_null();
}

static json_t *s_score_json(const s_score_t *s, const char *name) {
    json_t *o =
        json_pack("{s:o, s:o, s:I, s:I, s:I, s:I}", "nps", s_num(s->answers, s->nps ? *s->nps : 0),
                  "effort_mean", s_num(s->efforts, s->effort ? *s->effort : 0), "answers",
                  (json_int_t)s->answers, "promoters", (json_int_t)s->promoters, "detractors",
                  (json_int_t)s->detractors, "efforts", (json_int_t)s->efforts);
    if (o && name && json_object_set_new(o, "name", json_string(name)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int tp_kpi_nps_to_json(const tp_kpi_nps_t *n, json_t *doc) {
    json_t *o = s_score_json(&n->all, NULL), *terr = json_array(), *types = json_array();
    bool    ok = o && terr && types;
    for (const s_terr_t *t = n->terrs; ok && t; t = t->hh.next)
        ok = json_array_append_new(terr, s_score_json(&t->s, t->name)) == 0;
    for (unsigned i = 0; ok && i < TP_CONTRACT_TYPE_COUNT; i++)
        if (n->types[i].nps)
            ok = json_array_append_new(
                     types, s_score_json(&n->types[i], tp_contract_type_name((int)i))) == 0;
    ok = ok && json_object_set(o, "by_territory", terr) == 0 &&
         json_object_set(o, "by_contract_type", types) == 0 &&
         json_object_set(doc, "feedback", o) == 0;
    json_decref(terr);
    json_decref(types);
    json_decref(o);
    return ok ? 0 : -ENOMEM;
}

#define SNAP_TAG TP_SNAP_TAG('K', 'N', 'P', 'S')

static void s_score_save(const s_score_t *s, tp_snapw_t *w) {
    tp_snapw_u64(w, s->answers);
    tp_snapw_u64(w, s->promoters);
    tp_snapw_u64(w, s->detractors);
    tp_snapw_u64(w, s->efforts);
    tp_snapw_f64(w, s->effort_sum);
}

/* Counts read back, and the gauges recomputed from them as s_count does. */
static void s_score_load(s_score_t *s, tp_snapr_t *r) {
    tp_snapr_u64(r, &s->answers);
    tp_snapr_u64(r, &s->promoters);
    tp_snapr_u64(r, &s->detractors);
    tp_snapr_u64(r, &s->efforts);
    tp_snapr_f64(r, &s->effort_sum);
    if (s->nps && s->answers)
        *s->nps = 100.0 * ((double)s->promoters - (double)s->detractors) / (double)s->answers;
    if (s->effort && s->efforts)
        *s->effort = s->effort_sum / (double)s->efforts;
}

void tp_kpi_nps_save(const tp_kpi_nps_t *n, tp_snapw_t *w) {
    tp_snapw_section(w, SNAP_TAG, 1);
    tp_metric_save(n->nps, w);
    tp_metric_save(n->effort, w);
    s_score_save(&n->all, w);
    for (unsigned i = 0; i < TP_CONTRACT_TYPE_COUNT; i++) {
        tp_snapw_bool(w, n->types[i].nps != NULL);
        if (n->types[i].nps)
            s_score_save(&n->types[i], w);
    }
    tp_snapw_u64(w, HASH_COUNT(n->terrs));
    for (const s_terr_t *t = n->terrs; t; t = t->hh.next) {
        tp_snapw_str(w, t->name);
        s_score_save(&t->s, w);
    }
    tp_snapw_u64(w, HASH_COUNT(n->hcps));
    for (const s_hcp_t *h = n->hcps; h; h = h->hh.next) {
        tp_snapw_str(w, h->hcp_id);
        tp_snapw_i64(w, h->call_at_ms);
        tp_snapw_str(w, h->terr->name);
    }
    tp_snapw_u64(w, HASH_COUNT(n->contracts));
    for (const s_contract_t *c = n->contracts; c; c = c->hh.next) {
        tp_snapw_str(w, c->contract_id);
        tp_snapw_u64(w, c->type);
    }
}

int tp_kpi_nps_load(tp_kpi_nps_t *n, tp_snapr_t *r) {
    int e = tp_snapr_section(r, SNAP_TAG, 1, NULL);
    if (e < 0 || (e = tp_metric_load(n->nps, r)) < 0 || (e = tp_metric_load(n->effort, r)) < 0)
        return e;
    s_score_load(&n->all, r);
    for (unsigned i = 0; i < TP_CONTRACT_TYPE_COUNT; i++) {
        bool has = false;
        tp_snapr_bool(r, &has);
        if (has && !n->types[i].nps && s_slots(n, &n->types[i], "", tp_contract_type_name(i)) < 0)
            return -ENOMEM;
        if (has)
            s_score_load(&n->types[i], r);
    }
    uint64_t count = 0;
    tp_snapr_u64(r, &count);
    for (uint64_t i = 0; i < count && !tp_snapr_error(r); i++) {
        char *name = NULL;
        tp_snapr_str(r, 4096, &name);
        s_terr_t *t = name && !tp_snapr_error(r) ? s_terr(n, name) : NULL;
        free(name);
        if (!t)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
        s_score_load(&t->s, r);
    }
    tp_snapr_u64(r, &count);
    for (uint64_t i = 0; i < count && !tp_snapr_error(r); i++) {
        char   *id = NULL, *terr = NULL;
        int64_t at = 0;
        tp_snapr_str(r, 4096, &id);
        tp_snapr_i64(r, &at);
        tp_snapr_str(r, 4096, &terr);
        s_terr_t *t = id && terr && !tp_snapr_error(r) ? s_terr(n, terr) : NULL;
        s_hcp_t  *h = t ? s_hcp_add(n, id) : NULL;
        if (h) {
            h->call_at_ms = at;
            h->terr = t;
        }
        free(id);
        free(terr);
        if (!h)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
    }
    tp_snapr_u64(r, &count);
    for (uint64_t i = 0; i < count && !tp_snapr_error(r); i++) {
        char    *id = NULL;
        uint64_t type = 0;
        tp_snapr_str(r, 4096, &id);
        tp_snapr_u64(r, &type);
        s_contract_t *c = id && !tp_snapr_error(r) ? s_contract_add(n, id) : NULL;
        if (c)
            c->type = type < TP_CONTRACT_TYPE_COUNT ? (uint8_t)type : 0;
        free(id);
        if (!c)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
    }
    return tp_snapr_error(r) ? -EBADMSG : 0;
}

void tp_kpi_nps_destroy(tp_kpi_nps_t **p) {
    tp_kpi_nps_t *n = p ? *p : NULL;
    if (!n)
        return;
    TP_HASH_FREE_ALL(n->hcps, s_hcp_t);
    TP_HASH_FREE_ALL(n->contracts, s_contract_t);
    TP_HASH_FREE_ALL(n->terrs, s_terr_t);
    free(n);
    *p = NULL;
}
