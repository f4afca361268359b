/* tp_kpi_alerts — see tp_kpi_alerts.h. */
#include "tp_kpi_alerts.h"
#include "tp_kpi_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

#include "tp_engine.h"
#include "tp_kpi.h"
#include "tp_snapio.h"

#define H 3600.0
#define D 86400.0

/* Alerts stay open minutes (a call fixed the same day) to weeks. */
static const double s_buckets[] = { 60,    300,   900,   1 * H, 4 * H,  12 * H,
                                    1 * D, 2 * D, 4 * D, 7 * D, 14 * D, 30 * D };
#define N_BUCKETS (sizeof s_buckets / sizeof s_buckets[0])

#define N_LOG TP_KPI_LOG_BUCKETS

enum { G_ALL, G_TERRITORY, G_REP };

/* The open time counts of one rule (and territory or rep). */
typedef struct {
    UT_hash_handle hh;
    uint32_t       n[N_LOG];
    uint64_t       count;
    int            dim, kind;
    const char    *rule, *name; /* into the copy after key */
    char           key[];       /* "<dim>\x1f<rule>\x1f<name>", then rule and name */
} s_group_t;

/* A FIRING seen, until its RESOLVED. */
typedef struct {
    UT_hash_handle hh;
    int64_t        fired_ms;
    char           id[];
} s_open_t;

struct tp_kpi_alerts {
    s_open_t    *open; /* uthash by alert_id */
    s_group_t   *groups;
    size_t       n_names[3]; /* distinct territory / rep groups */
    tp_metric_t *hist, *older;
};

int tp_kpi_alerts_new(tp_metrics_t *m, tp_kpi_alerts_t **ret) {
    tp_kpi_alerts_t *ka = calloc(1, sizeof *ka);
    if (!ka)
        return -ENOMEM;
    static const char *const kind_rule[] = { "kind", "rule", NULL };
    static const char *const rule_age[] = { "rule", "age", NULL };
    ka->hist = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "alert_resolution_seconds",
                              "Time alerts stayed open: detected_at of the RESOLVED minus that "
                              "of its FIRING (alerts fired in this run)",
                              kind_rule, s_buckets, N_BUCKETS);
    ka->older = tp_metrics_add(m, TP_METRIC_GAUGE, "alerts_open_older_than",
                               "Open alerts whose FIRING is older than age (daemon's clock)",
                               rule_age, NULL, 0);
    if (!ka->hist || !ka->older) {
        tp_kpi_alerts_destroy(&ka);
        return -ENOMEM;
    }
    *ret = ka;
    return 0;
}

unsigned tp_kpi_log_bucket(double s) {
    if (!(s >= 60))
        return 0;
    double i = 1 + floor(2 * log2(s / 60));
    return i >= N_LOG - 1 ? N_LOG - 1 : (unsigned)i;
}

/* The geometric middle of bucket i (30 s for bucket 0). */
static double s_log_mid(unsigned i) {
    return i == 0 ? 30 : 60 * exp2((2.0 * i - 1) / 4);
}

static s_group_t *s_group(tp_kpi_alerts_t *ka, int dim, int kind, const char *rule,
                          const char *name) {
    if (!name || !*name)
        name = "_none";
    char key[512];
    int  len = snprintf(key, sizeof key, "%d\x1f%s\x1f%s", dim, rule, name);
    if (len < 0 || (size_t)len >= sizeof key)
        return NULL;
    s_group_t *g;
    HASH_FIND(hh, ka->groups, key, (size_t)len, g);
    if (g)
        return g;
    if (dim != G_ALL && ka->n_names[dim] >= TP_KPI_MAX_LABELS && strcmp(name, "_other") != 0)
        return s_group(ka, dim, kind, rule, "_other");
    /* The key, then a copy of it cut into rule and name. */
    if (!(g = calloc(1, sizeof *g + 2 * ((size_t)len + 1))))
        return NULL;
    memcpy(g->key, key, (size_t)len + 1);
    char *rule_copy = g->key + len + 1 + (strchr(key, '\x1f') + 1 - key);
    memcpy(g->key + len + 1, key, (size_t)len + 1);
    char *sep = strchr(rule_copy, '\x1f');
    *sep = '\0';
    g->dim = dim;
    g->kind = kind;
    g->rule = rule_copy;
    g->name = sep + 1;
    HASH_ADD(hh, ka->groups, key, (size_t)len, g);
    ka->n_names[dim] += dim != G_ALL;
    return g;
}

static void s_fired(tp_kpi_alerts_t *ka, const char *id, int64_t at_ms) {
    s_open_t *o;
    HASH_FIND_STR(ka->open, id, o);
    if (o)
        return;
    size_t len = strlen(id);
    if (!(o = malloc(sizeof *o + len + 1)))
        return;
    memcpy(o->id, id, len + 1);
    o->fired_ms = at_ms;
    HASH_ADD_KEYPTR(hh, ka->open, o->id, len, o);
}

double tp_kpi_alerts_transition(tp_kpi_alerts_t *ka, const Touchpoint__V1__Alert *al) {
    if (al->status != TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED) {
        s_fired(ka, al->alert_id, al->detected_at_ms);
        return -1;
    }
    s_open_t *o;
    HASH_FIND_STR(ka->open, al->alert_id, o);
    if (!o)
        return -1;
    double s = (double)(al->detected_at_ms - o->fired_ms) / 1000.0;
    HASH_DEL(ka->open, o);
    free(o);
    if (s < 0)
        s = 0;
    const char *labels[] = { tp_alert_kind_prefix(al->kind), al->rule };
    tp_metric_observe(ka->hist, labels, s);
    unsigned    b = tp_kpi_log_bucket(s);
    const char *names[] = { "all", al->territory, al->rep_id };
    for (int dim = G_ALL; dim <= G_REP; dim++) {
        s_group_t *g = s_group(ka, dim, (int)al->kind, al->rule, names[dim]);
        if (g) {
            g->n[b]++;
            g->count++;
        }
    }
    return s;
}

static int s_seed_one(void *ctx, const uint8_t *buf, size_t len) {
    Touchpoint__V1__Alert *al = touchpoint__v1__alert__unpack(NULL, len, buf);
    if (al) {
        s_fired(ctx, al->alert_id, al->detected_at_ms);
        touchpoint__v1__alert__free_unpacked(al, NULL);
    }
    return 0;
}

void tp_kpi_alerts_seed(tp_kpi_alerts_t *ka, const struct tp_engine *e) {
    tp_engine_foreach_open_alert(e, s_seed_one, ka);
}

/* Open alerts of one rule older than 1 d, 7 d, 30 d. */
#define N_AGES 3
static const int64_t s_age_ms[N_AGES] = { 86400000LL, 7 * 86400000LL, 30 * 86400000LL };
static const char   *s_age_name[N_AGES] = { "1d", "7d", "30d" };

typedef struct {
    UT_hash_handle hh;
    uint64_t       n[N_AGES];
    char           rule[];
} s_age_t;

typedef struct {
    s_age_t *rules;
    int64_t  now_ms;
} s_collect_t;

static int s_age_one(void *ctx, const uint8_t *buf, size_t len) {
    s_collect_t           *c = ctx;
    Touchpoint__V1__Alert *al = touchpoint__v1__alert__unpack(NULL, len, buf);
    if (!al)
        return 0;
    s_age_t *a;
    HASH_FIND_STR(c->rules, al->rule, a);
    size_t rlen = strlen(al->rule);
    if (!a && (a = calloc(1, sizeof *a + rlen + 1))) {
        memcpy(a->rule, al->rule, rlen + 1);
        HASH_ADD_KEYPTR(hh, c->rules, a->rule, rlen, a);
    }
    for (int i = 0; a && i < N_AGES; i++)
        a->n[i] += c->now_ms - al->detected_at_ms > s_age_ms[i];
    touchpoint__v1__alert__free_unpacked(al, NULL);
    return 0;
}

void tp_kpi_alerts_collect(tp_kpi_alerts_t *ka, const struct tp_engine *e, int64_t now_ms) {
    s_collect_t c = { NULL, now_ms };
    tp_engine_foreach_open_alert(e, s_age_one, &c);
    /* Rules with nothing open any more go back to 0, not stale values. */
    for (const s_group_t *g = ka->groups; g; g = g->hh.next) {
        if (g->dim != G_ALL)
            continue;
        s_age_t *a;
        HASH_FIND_STR(c.rules, g->rule, a);
        for (int i = 0; !a && i < N_AGES; i++) {
            const char *v[] = { g->rule, s_age_name[i] };
            tp_metric_set(ka->older, v, 0);
        }
    }
    s_age_t *a, *tmp;
    HASH_ITER(hh, c.rules, a, tmp) {
        for (int i = 0; i < N_AGES; i++) {
            const char *v[] = { a->rule, s_age_name[i] };
            tp_metric_set(ka->older, v, (double)a->n[i]);
        }
        HASH_DEL(c.rules, a);
        free(a);
    }
}

double tp_kpi_log_quantile(const uint32_t n[N_LOG], uint64_t count, double q) {
    uint64_t rank = (uint64_t)ceil(q * (double)count), seen = 0;
    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < N_LOG; i++)
        if ((seen += n[i]) >= rank)
            return s_log_mid(i);
    return s_log_mid(N_LOG - 1);
}

static double s_quantile(const s_group_t *g, double q) {
    return tp_kpi_log_quantile(g->n, g->count, q);
}

static json_t *s_summary(const s_group_t *g, const char *key, const char *name) {
    return json_pack("{s:s, s:I, s:f, s:f}", key, name, "count", (json_int_t)g->count,
                     "median_seconds", s_quantile(g, 0.5), "p90_seconds", s_quantile(g, 0.9));
}

int tp_kpi_alerts_to_json(const tp_kpi_alerts_t *ka, json_t *doc) {
    json_t *rules = json_array();
    bool    ok = rules != NULL;
    for (const s_group_t *g = ka->groups; ok && g; g = g->hh.next) {
        if (g->dim != G_ALL)
            continue;
        json_t *o = s_summary(g, "rule", g->rule), *t = json_array(), *r = json_array();
        ok = o && t && r &&
             json_object_set_new(o, "kind", json_string(tp_alert_kind_prefix(g->kind))) == 0;
        for (const s_group_t *s = ka->groups; ok && s; s = s->hh.next)
            if (s->dim != G_ALL && strcmp(s->rule, g->rule) == 0)
                ok = json_array_append_new(s->dim == G_TERRITORY ? t : r,
                                           s_summary(s, "name", s->name)) == 0;
        ok = ok && json_object_set(o, "by_territory", t) == 0 &&
             json_object_set(o, "by_rep", r) == 0 && json_array_append(rules, o) == 0;
        json_decref(t);
        json_decref(r);
        json_decref(o);
    }
    ok = ok && json_object_set(doc, "resolution", rules) == 0;
    json_decref(rules);
    return ok ? 0 : -ENOMEM;
}

#define SNAP_TAG TP_SNAP_TAG('K', 'A', 'L', 'T')

void tp_kpi_alerts_save(const tp_kpi_alerts_t *ka, tp_snapw_t *w) {
    tp_snapw_section(w, SNAP_TAG, 1);
    tp_snapw_u64(w, HASH_COUNT(ka->open));
    for (const s_open_t *o = ka->open; o; o = o->hh.next) {
        tp_snapw_str(w, o->id);
        tp_snapw_i64(w, o->fired_ms);
    }
    tp_snapw_u64(w, HASH_COUNT(ka->groups));
    for (const s_group_t *g = ka->groups; g; g = g->hh.next) {
        tp_snapw_u64(w, (uint64_t)g->dim);
        tp_snapw_u64(w, (uint64_t)g->kind);
        tp_snapw_str(w, g->rule);
        tp_snapw_str(w, g->name);
        tp_snapw_u64(w, g->count);
        for (unsigned i = 0; i < N_LOG; i++)
            tp_snapw_u64(w, g->n[i]);
    }
    tp_metric_save(ka->hist, w);
    tp_metric_save(ka->older, w);
}

int tp_kpi_alerts_load(tp_kpi_alerts_t *ka, tp_snapr_t *r) {
    uint64_t n = 0;
    int      e = tp_snapr_section(r, SNAP_TAG, 1, NULL);
    if (e < 0)
        return e;
    tp_snapr_u64(r, &n);
    for (uint64_t i = 0; i < n && !tp_snapr_error(r); i++) {
        char   *id = NULL;
        int64_t at = 0;
        tp_snapr_str(r, 4096, &id);
        tp_snapr_i64(r, &at);
        if (id && !tp_snapr_error(r))
            s_fired(ka, id, at);
        free(id);
    }
    tp_snapr_u64(r, &n);
    for (uint64_t i = 0; i < n && !tp_snapr_error(r); i++) {
        uint64_t dim = 0, kind = 0, count = 0, b[N_LOG] = { 0 };
        char    *rule = NULL, *name = NULL;
        tp_snapr_u64(r, &dim);
        tp_snapr_u64(r, &kind);
        tp_snapr_str(r, 4096, &rule);
        tp_snapr_str(r, 4096, &name);
        tp_snapr_u64(r, &count);
        for (unsigned k = 0; k < N_LOG; k++)
            tp_snapr_u64(r, &b[k]);
        s_group_t *g = NULL;
        if (!tp_snapr_error(r) && rule && name && dim <= G_REP)
            g = s_group(ka, (int)dim, (int)kind, rule, name);
        free(rule);
        free(name);
        if (!g)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
        g->count += count;
        for (unsigned k = 0; k < N_LOG; k++)
            g->n[k] += (uint32_t)b[k];
    }
    if (tp_snapr_error(r))
        return -EBADMSG;
    if ((e = tp_metric_load(ka->hist, r)) < 0)
        return e;
    return tp_metric_load(ka->older, r);
}

void tp_kpi_alerts_destroy(tp_kpi_alerts_t **p) {
    tp_kpi_alerts_t *ka = p ? *p : NULL;
    if (!ka)
        return;
    TP_HASH_FREE_ALL(ka->groups, s_group_t);
    TP_HASH_FREE_ALL(ka->open, s_open_t);
    free(ka);
    *p = NULL;
}
