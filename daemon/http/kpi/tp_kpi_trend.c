/* tp_kpi_trend — see tp_kpi_trend.h. */
#include "tp_kpi_trend.h"
#include "tp_kpi_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tp_hash.h"

#include "tp_contract.h"
#include "tp_kpi_alerts.h"
#include "tp_log.h"

#define MONDAY0     (4 * 86400000LL) /* 1970-01-05 00:00 UTC, a Monday */
#define MAX_PERIODS 1040
#define N_KINDS     3 /* AlertKind: UNSPECIFIED, ACCOUNTABILITY, FRICTION */
#define N_LOG       TP_KPI_LOG_BUCKETS
#define SNAP_TAG    TP_SNAP_TAG('K', 'T', 'R', 'D')

/* One territory in one period. */
typedef struct {
    uint64_t  calls[TP_KPI_CALL__COUNT];
    uint64_t  answers, promoters, detractors, efforts;
    double    effort_sum;
    uint64_t  resolved;
    uint32_t *res; /* [N_KINDS][N_LOG], once something resolved */
} s_cell_t;

typedef struct {
    int64_t   index; /* period number since MONDAY0; INT64_MIN: never used */
    s_cell_t *cells; /* [max_groups + 1], the last "_other"; NULL until used */
    uint64_t  closed[TP_CONTRACT_TYPE_COUNT];
    uint32_t  cycle[TP_CONTRACT_TYPE_COUNT][N_LOG];
} s_slot_t;

typedef struct {
    UT_hash_handle hh;
    unsigned       index;
    char           name[];
} s_name_t;

struct tp_kpi_trend {
    int64_t    size_ms;
    unsigned   n_slots, max_groups, n_groups;
    int64_t    newest; /* the newest period seen; INT64_MIN before any */
    s_slot_t  *slots;
    s_name_t  *by_name;
    s_name_t **names; /* [max_groups] by index */
};

int tp_kpi_trend_new(const tp_config_t *cfg, tp_kpi_trend_t **ret) {
    tp_kpi_trend_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->size_ms = cfg->kpi.trend_bucket_ms > 0 ? cfg->kpi.trend_bucket_ms : 7 * 86400000LL;
    int64_t n = (cfg->kpi.trend_retention_ms + t->size_ms - 1) / t->size_ms;
    t->n_slots = n < 1 ? 1 : n > MAX_PERIODS ? MAX_PERIODS : (unsigned)n;
    t->max_groups = cfg->kpi.trend_max_groups ? cfg->kpi.trend_max_groups : 200;
    t->newest = INT64_MIN;
    t->slots = calloc(t->n_slots, sizeof *t->slots);
    t->names = calloc(t->max_groups, sizeof *t->names);
    if (!t->slots || !t->names) {
        tp_kpi_trend_destroy(&t);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < t->n_slots; i++)
        t->slots[i].index = INT64_MIN;
    *ret = t;
    return 0;
}

static int64_t s_period(const tp_kpi_trend_t *t, int64_t at_ms) {
    int64_t d = at_ms - MONDAY0;
    return d >= 0 ? d / t->size_ms : -((-d + t->size_ms - 1) / t->size_ms);
}

static bool s_kept(const tp_kpi_trend_t *t, int64_t p) {
    return t->newest != INT64_MIN && p > t->newest - (int64_t)t->n_slots && p <= t->newest;
}

/* A slot coming round again: its arrays are kept, zeroed. */
static void s_reset(tp_kpi_trend_t *t, s_slot_t *s, int64_t p) {
    for (unsigned g = 0; s->cells && g <= t->max_groups; g++) {
        uint32_t *res = s->cells[g].res;
        memset(&s->cells[g], 0, sizeof s->cells[g]);
        if (res)
            memset(res, 0, N_KINDS * N_LOG * sizeof *res);
        s->cells[g].res = res;
    }
    memset(s->closed, 0, sizeof s->closed);
    memset(s->cycle, 0, sizeof s->cycle);
    s->index = p;
}

/* The slot of the period holding at_ms, NULL if it is older than what is
 * kept (or there is no time). */
static s_slot_t *s_slot(tp_kpi_trend_t *t, int64_t at_ms) {
    if (at_ms <= 0)
        return NULL;
    int64_t p = s_period(t, at_ms);
    if (t->newest == INT64_MIN || p > t->newest)
        t->newest = p;
    else if (p <= t->newest - (int64_t)t->n_slots)
        return NULL;
    s_slot_t *s = &t->slots[(uint64_t)p % t->n_slots];
    if (s->index != p)
        s_reset(t, s, p);
    return s;
}

/* The group index of a territory: a new one while fewer than max_groups
 * exist, else "_other" (max_groups). */
static unsigned s_group(tp_kpi_trend_t *t, const char *name) {
    if (!name || !*name)
        name = "_none";
    s_name_t *n;
    HASH_FIND_STR(t->by_name, name, n);
    if (n)
        return n->index;
    size_t len = strlen(name);
    if (t->n_groups >= t->max_groups || !(n = malloc(sizeof *n + len + 1)))
        return t->max_groups;
    memcpy(n->name, name, len + 1);
    n->index = t->n_groups++;
    t->names[n->index] = n;
    HASH_ADD_KEYPTR(hh, t->by_name, n->name, len, n);
    return n->index;
}

static const char *s_group_name(const tp_kpi_trend_t *t, unsigned g) {
    return g < t->n_groups ? t->names[g]->name : "_other";
}

static s_cell_t *s_cell(tp_kpi_trend_t *t, int64_t at_ms, const char *territory) {
    s_slot_t *s = s_slot(t, at_ms);
    if (!s)
        return NULL;
    if (!s->cells && !(s->cells = calloc(t->max_groups + 1, sizeof *s->cells)))
        return NULL;
    return &s->cells[s_group(t, territory)];
}

void tp_kpi_trend_call(tp_kpi_trend_t *t, int64_t at_ms, const char *territory,
                       const bool flags[TP_KPI_CALL__COUNT]) {
    s_cell_t *c = s_cell(t, at_ms, territory);
    for (int i = 0; c && i < TP_KPI_CALL__COUNT; i++)
        c->calls[i] += flags[i];
}

void tp_kpi_trend_answer(tp_kpi_trend_t *t, int64_t at_ms, const tp_kpi_answer_t *a) {
    s_cell_t *c = s_cell(t, at_ms, a->territory);
    if (!c)
        return;
    c->answers += a->has_nps;
    c->promoters += a->has_nps && a->promoter;
    c->detractors += a->has_nps && a->detractor;
    c->efforts += a->has_effort;
    c->effort_sum += a->has_effort ? a->effort : 0;
}

void tp_kpi_trend_resolved(tp_kpi_trend_t *t, int64_t at_ms, const char *territory, int kind,
                           double seconds) {
    s_cell_t *c = s_cell(t, at_ms, territory);
    if (!c || (!c->res && !(c->res = calloc(N_KINDS * N_LOG, sizeof *c->res))))
        return;
    unsigned k = kind >= 0 && kind < N_KINDS ? (unsigned)kind : 0;
    c->res[k * N_LOG + tp_kpi_log_bucket(seconds)]++;
    c->resolved++;
}

void tp_kpi_trend_cycle(tp_kpi_trend_t *t, int64_t at_ms, int contract_type, double seconds) {
    s_slot_t *s = s_slot(t, at_ms);
    if (!s)
        return;
    unsigned ty =
        contract_type > 0 && contract_type < TP_CONTRACT_TYPE_COUNT ? (unsigned)contract_type : 0;
    s->cycle[ty][tp_kpi_log_bucket(seconds)]++;
    s->closed[ty]++;
}

/* ---- queries ------------------------------------------------------------- */

enum { M_COMPLETE, M_LATE, M_MATCH, M_NPS, M_EFFORT, M_RESOLUTION, M_CYCLE, M__COUNT };
static const char *const s_metric_name[M__COUNT] = {
    "completeness",
    "late_rate",
    "channel_match",
    "nps",
    "effort",
    "resolution_median_seconds",
    "cycle_median_seconds",
};
enum { BY_ALL, BY_TERRITORY, BY_KIND, BY_TYPE };

/* What a group adds up to in one period. */
typedef struct {
    uint64_t num, den, extra; /* a ratio's parts; nps: promoters, answers, detractors */
    double   sum;             /* effort */
    uint32_t hist[N_LOG];     /* medians */
} s_acc_t;

static void s_add_cell(s_acc_t *a, int m, const s_cell_t *c, int kind) {
    switch (m) {
    case M_COMPLETE:
        a->num += c->calls[TP_KPI_CALL_COMPLETE];
        a->den += c->calls[TP_KPI_CALL_SUBMITTED];
        break;
    case M_LATE:
        a->num += c->calls[TP_KPI_CALL_LATE];
        a->den += c->calls[TP_KPI_CALL_SUBMITTED];
        break;
    case M_MATCH:
        a->num += c->calls[TP_KPI_CALL_MATCHED];
        a->den += c->calls[TP_KPI_CALL_KNOWN];
        break;
    case M_NPS:
        a->num += c->promoters;
        a->extra += c->detractors;
        a->den += c->answers;
        break;
    case M_EFFORT:
        a->sum += c->effort_sum;
        a->den += c->efforts;
        break;
    case M_RESOLUTION:
        for (int k = 0; c->res && k < N_KINDS; k++)
            for (unsigned i = 0; (kind < 0 || kind == k) && i < N_LOG; i++) {
                a->hist[i] += c->res[k * N_LOG + i];
                a->den += c->res[k * N_LOG + i];
            }
        break;
    }
}

static json_t *s_value(int m, const s_acc_t *a) {
    if (!a->den)
        return json_null();
    switch (m) {
    case M_NPS: return json_real(100.0 * ((double)a->num - (double)a->extra) / (double)a->den);
    case M_EFFORT: return json_real(a->sum / (double)a->den);
    case M_RESOLUTION:
    case M_CYCLE: return json_real(tp_kpi_log_quantile(a->hist, a->den, 0.5));
    default: return json_real((double)a->num / (double)a->den);
    }
}

static void s_iso(int64_t ms, char buf[32]) {
    time_t    s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The accumulators of every group of one period; n_out groups. */
static void s_period_groups(const tp_kpi_trend_t *t, const s_slot_t *s, int m, int by, int kind,
                            s_acc_t *acc, unsigned n_out) {
    memset(acc, 0, n_out * sizeof *acc);
    if (m == M_CYCLE) {
        for (unsigned ty = 0; ty < TP_CONTRACT_TYPE_COUNT; ty++) {
            s_acc_t *a = &acc[by == BY_TYPE ? ty : 0];
            a->den += s->closed[ty];
            for (unsigned i = 0; i < N_LOG; i++)
                a->hist[i] += s->cycle[ty][i];
        }
        return;
    }
    for (unsigned g = 0; s->cells && g <= t->max_groups; g++) {
        const s_cell_t *c = &s->cells[g];
        if (by == BY_KIND) {
            for (int k = 0; k < N_KINDS; k++)
                s_add_cell(&acc[k], m, c, k);
        } else
            s_add_cell(&acc[by == BY_TERRITORY ? g : 0], m, c, kind);
    }
}

static int s_parse(const char *metric, const char *by, const char *kind, int *ret_m, int *ret_by,
                   int *ret_kind) {
    int m = -1;
    for (int i = 0; metric && i < M__COUNT; i++)
        if (!strcmp(metric, s_metric_name[i]))
            m = i;
    if (m < 0)
        return -EINVAL;
    int b = m == M_CYCLE ? BY_TYPE : BY_TERRITORY;
    if (by && !strcmp(by, "all"))
        b = BY_ALL;
    else if (by && !strcmp(by, "kind") && m == M_RESOLUTION)
        b = BY_KIND;
    else if (by && strcmp(by, m == M_CYCLE ? "contract_type" : "territory"))
        return -EINVAL;
    int k = -1;
    for (int i = 1; kind && m == M_RESOLUTION && i < N_KINDS; i++)
        if (!strcmp(kind, tp_alert_kind_prefix(i)))
            k = i;
    if (kind && k < 0)
        return -EINVAL;
    *ret_m = m;
    *ret_by = b;
    *ret_kind = k;
    return 0;
}

static const char *s_out_name(const tp_kpi_trend_t *t, int by, unsigned g) {
    switch (by) {
    case BY_ALL: return "all";
    case BY_KIND: return tp_alert_kind_prefix((int)g);
    case BY_TYPE: return g ? tp_contract_type_name((int)g) : "_none";
    default: return s_group_name(t, g);
    }
}

int tp_kpi_trend_query(const tp_kpi_trend_t *t, const char *metric, const char *by,
                       const char *kind, json_t **ret) {
    int m, b, k;
    if (s_parse(metric, by, kind, &m, &b, &k) < 0)
        return -EINVAL;
    static const char *const by_name[] = { "all", "territory", "kind", "contract_type" };
    unsigned                 n_out = b == BY_ALL    ? 1
                                     : b == BY_KIND ? N_KINDS
                                     : b == BY_TYPE ? TP_CONTRACT_TYPE_COUNT
                                                    : t->max_groups + 1;
    s_acc_t                 *acc = calloc(n_out, sizeof *acc);
    bool                    *seen = calloc(n_out, sizeof *seen);
    json_t *doc = json_pack("{s:s, s:s, s:I}", "metric", s_metric_name[m], "by", by_name[b],
                            "bucket_seconds", (json_int_t)(t->size_ms / 1000));
    json_t *buckets = json_array(), *groups = json_array();
    bool    ok = acc && seen && doc && buckets && groups;
    int64_t first = INT64_MAX;
    for (unsigned i = 0; ok && i < t->n_slots; i++)
        if (s_kept(t, t->slots[i].index) && t->slots[i].index < first)
            first = t->slots[i].index;
    for (int64_t p = first; ok && first != INT64_MAX && p <= t->newest; p++) {
        const s_slot_t *s = &t->slots[(uint64_t)p % t->n_slots];
        char            iso[32];
        int64_t         start = MONDAY0 + p * t->size_ms;
        s_iso(start, iso);
        json_t *values = json_object(), *counts = json_object();
        ok = values && counts &&
             json_array_append_new(buckets, json_pack("{s:s, s:I, s:O, s:O}", "start", iso,
                                                      "start_ms", (json_int_t)start, "values",
                                                      values, "counts", counts)) == 0;
        if (ok && s->index == p) {
            s_period_groups(t, s, m, b, k, acc, n_out);
            for (unsigned g = 0; ok && g < n_out; g++) {
                if (!acc[g].den)
                    continue;
                const char *name = s_out_name(t, b, g);
                seen[g] = true;
                ok = json_object_set_new(values, name, s_value(m, &acc[g])) == 0 &&
                     json_object_set_new(counts, name, json_integer((json_int_t)acc[g].den)) == 0;
            }
        }
        json_decref(values);
        json_decref(counts);
    }
    for (unsigned g = 0; ok && g < n_out; g++)
        if (seen[g])
            ok = json_array_append_new(groups, json_string(s_out_name(t, b, g))) == 0;
    ok = ok && json_object_set(doc, "groups", groups) == 0 &&
         json_object_set(doc, "buckets", buckets) == 0;
    free(acc);
    free(seen);
    json_decref(buckets);
    json_decref(groups);
    if (!ok) {
        json_decref(doc);
        return -ENOMEM;
    }
    *ret = doc;
    return 0;
}

/* A CSV field, quoted when it holds a comma, quote or line break. */
static void s_csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int tp_kpi_trend_csv(const json_t *doc, char **ret, size_t *ret_len) {
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    fputs("period_start,group,value,count\r\n", f);
    size_t  i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "buckets"), i, b) {
        const char *group;
        json_t     *v;
        json_object_foreach(json_object_get(b, "values"), group, v) {
            fprintf(f, "%s,", json_string_value(json_object_get(b, "start")));
            s_csv_field(f, group);
            if (json_is_real(v))
                fprintf(f, ",%.17g", json_real_value(v));
            else
                fputc(',', f);
            fprintf(f, ",%lld\r\n",
                    (long long)json_integer_value(
                        json_object_get(json_object_get(b, "counts"), group)));
        }
    }
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}

/* ---- snapshot ------------------------------------------------------------ */

static bool s_cell_empty(const s_cell_t *c) {
    for (int i = 0; i < TP_KPI_CALL__COUNT; i++)
        if (c->calls[i])
            return false;
    return !c->answers && !c->efforts && !c->resolved;
}

void tp_kpi_trend_save(const tp_kpi_trend_t *t, tp_snapw_t *w) {
    tp_snapw_section(w, SNAP_TAG, 1);
    tp_snapw_i64(w, t->size_ms);
    tp_snapw_u64(w, t->n_groups);
    for (unsigned g = 0; g < t->n_groups; g++)
        tp_snapw_str(w, t->names[g]->name);
    tp_snapw_i64(w, t->newest);
    uint64_t n = 0;
    for (unsigned i = 0; i < t->n_slots; i++)
        n += s_kept(t, t->slots[i].index);
    tp_snapw_u64(w, n);
    for (unsigned i = 0; i < t->n_slots; i++) {
        const s_slot_t *s = &t->slots[i];
        if (!s_kept(t, s->index))
            continue;
        tp_snapw_i64(w, s->index);
        for (unsigned ty = 0; ty < TP_CONTRACT_TYPE_COUNT; ty++) {
            tp_snapw_u64(w, s->closed[ty]);
            for (unsigned b = 0; s->closed[ty] && b < N_LOG; b++)
                tp_snapw_u64(w, s->cycle[ty][b]);
        }
        for (unsigned g = 0; s->cells && g <= t->max_groups; g++) {
            const s_cell_t *c = &s->cells[g];
            if (s_cell_empty(c))
                continue;
            tp_snapw_u64(w, (uint64_t)g + 1); /* 0 ends the period */
            tp_snapw_str(w, s_group_name(t, g));
            for (int k = 0; k < TP_KPI_CALL__COUNT; k++)
                tp_snapw_u64(w, c->calls[k]);
            tp_snapw_u64(w, c->answers);
            tp_snapw_u64(w, c->promoters);
            tp_snapw_u64(w, c->detractors);
            tp_snapw_u64(w, c->efforts);
            tp_snapw_f64(w, c->effort_sum);
            tp_snapw_u64(w, c->resolved);
            for (unsigned b = 0; c->resolved && b < N_KINDS * N_LOG; b++)
                tp_snapw_u64(w, c->res[b]);
        }
        tp_snapw_u64(w, 0);
    }
}

/* Reads one period's cells; with keep false only consumes them. */
static int s_load_cells(tp_kpi_trend_t *t, tp_snapr_t *r, s_slot_t *s, bool keep) {
    uint64_t tag;
    while (tp_snapr_u64(r, &tag) == 0 && tag) {
        char    *name = NULL;
        uint64_t v[TP_KPI_CALL__COUNT + 5];
        double   sum = 0;
        tp_snapr_str(r, 256, &name);
        for (int k = 0; k < TP_KPI_CALL__COUNT + 4; k++)
            tp_snapr_u64(r, &v[k]);
        tp_snapr_f64(r, &sum);
        tp_snapr_u64(r, &v[TP_KPI_CALL__COUNT + 4]);
        s_cell_t *c = NULL;
        if (keep && name && !tp_snapr_error(r) &&
            (s->cells || (s->cells = calloc(t->max_groups + 1, sizeof *s->cells))))
            c = &s->cells[!strcmp(name, "_other") ? t->max_groups : s_group(t, name)];
        free(name);
        uint64_t resolved = v[TP_KPI_CALL__COUNT + 4];
        if (c && resolved && !c->res && !(c->res = calloc(N_KINDS * N_LOG, sizeof *c->res)))
            return -ENOMEM;
        for (unsigned b = 0; resolved && b < N_KINDS * N_LOG; b++) {
            uint64_t x = 0;
            tp_snapr_u64(r, &x);
            if (c)
                c->res[b] += (uint32_t)x;
        }
        if (!c)
            continue;
        for (int k = 0; k < TP_KPI_CALL__COUNT; k++)
            c->calls[k] += v[k];
        c->answers += v[TP_KPI_CALL__COUNT];
        c->promoters += v[TP_KPI_CALL__COUNT + 1];
        c->detractors += v[TP_KPI_CALL__COUNT + 2];
        c->efforts += v[TP_KPI_CALL__COUNT + 3];
        c->effort_sum += sum;
        c->resolved += resolved;
    }
    return tp_snapr_error(r);
}

int tp_kpi_trend_load(tp_kpi_trend_t *t, tp_snapr_t *r) {
    int r0 = tp_snapr_section(r, SNAP_TAG, 1, NULL);
    if (r0 < 0)
        return r0;
    int64_t  size = 0, newest = INT64_MIN;
    uint64_t n_names = 0, n_periods = 0;
    tp_snapr_i64(r, &size);
    tp_snapr_u64(r, &n_names);
    bool keep = size == t->size_ms;
    if (!keep && !tp_snapr_error(r))
        log_warning("The saved KPI trends have %lld s periods, kpi.trend_bucket is %lld s: "
                    "starting the trends afresh",
                    (long long)(size / 1000), (long long)(t->size_ms / 1000));
    for (uint64_t i = 0; i < n_names && !tp_snapr_error(r); i++) {
        char *name = NULL;
        if (tp_snapr_str(r, 256, &name) == 0 && name && keep)
            s_group(t, name); /* the same indexes, in the same order */
        free(name);
    }
    tp_snapr_i64(r, &newest);
    tp_snapr_u64(r, &n_periods);
    if (keep && newest != INT64_MIN)
        t->newest = newest;
    for (uint64_t i = 0; i < n_periods && !tp_snapr_error(r); i++) {
        int64_t p = 0;
        tp_snapr_i64(r, &p);
        s_slot_t *s = NULL;
        bool      in = keep && s_kept(t, p);
        if (in) {
            s = &t->slots[(uint64_t)p % t->n_slots];
            s_reset(t, s, p);
        }
        for (unsigned ty = 0; ty < TP_CONTRACT_TYPE_COUNT; ty++) {
            uint64_t closed = 0;
            tp_snapr_u64(r, &closed);
            for (unsigned b = 0; closed && b < N_LOG; b++) {
                uint64_t x = 0;
                tp_snapr_u64(r, &x);
                if (s)
                    s->cycle[ty][b] = (uint32_t)x;
            }
            if (s)
                s->closed[ty] = closed;
        }
        int e = s_load_cells(t, r, s, in);
        if (e < 0)
            return e;
    }
    return tp_snapr_error(r);
}

void tp_kpi_trend_destroy(tp_kpi_trend_t **p) {
    tp_kpi_trend_t *t = p ? *p : NULL;
    if (!t)
        return;
    for (unsigned i = 0; t->slots && i < t->n_slots; i++) {
        for (unsigned g = 0; t->slots[i].cells && g <= t->max_groups; g++)
            free(t->slots[i].cells[g].res);
        free(t->slots[i].cells);
    }
    free(t->slots);
    TP_HASH_FREE_ALL(t->by_name, s_name_t);
    free(t->names);
    free(t);
    *p = NULL;
}
