/* tp_metrics — see tp_metrics.h. */
#include "tp_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"
#include "tp_snapio.h"

/* One series: label values and either a value or histogram counts. */
typedef struct s_series {
    UT_hash_handle hh;
    double         value;  /* counter / gauge */
    double         sum;    /* histogram */
    uint64_t       count;  /* histogram: observations */
    uint64_t      *counts; /* histogram: per bucket, not cumulative; [n_buckets] = +Inf */
    const char    *values[TP_METRIC_MAX_LABELS]; /* into key */
    size_t         keylen;
    char           key[]; /* "v1\0v2\0" */
} s_series_t;

/* A distinct value of a bounded label. */
typedef struct {
    UT_hash_handle hh;
    char           v[];
} s_value_t;

struct tp_metric {
    tp_metric_t     *next;
    tp_metric_type_t type;
    char            *name; /* with the prefix */
    char            *help;
    const char      *labels[TP_METRIC_MAX_LABELS]; /* owned copies */
    size_t           n_labels;
    double          *buckets; /* upper bounds, ascending */
    size_t           n_buckets;
    s_series_t      *series; /* uthash, iterated in insertion order */
    size_t           limit_label;
    size_t           limit_max; /* 0 = unbounded */
    size_t           n_values;
    s_value_t       *values; /* distinct values of the bounded label */
};

struct tp_metrics {
    char        *prefix;
    tp_metric_t *first, **tail;
};

int tp_metrics_new(const char *prefix, tp_metrics_t **ret) {
    tp_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->tail = &m->first;
    if (!(m->prefix = strdup(prefix ? prefix : ""))) {
        tp_metrics_destroy(&m);
        return -ENOMEM;
    }
    *ret = m;
    return 0;
}

static void s_family_free(tp_metric_t *f) {
    s_series_t *s, *tmp;
    TP_HASH_DRAIN(f->series, s, tmp) {
        free(s->counts);
        free(s);
    }
    TP_HASH_FREE_ALL(f->values, s_value_t);
    for (size_t i = 0; i < f->n_labels; i++)
        free((char *)f->labels[i]);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

static s_series_t *s_get(tp_metric_t *f, const char *const *values);

tp_metric_t *tp_metrics_add(tp_metrics_t *m, tp_metric_type_t type, const char *name,
                            const char *help, const char *const *labels, const double *buckets,
                            size_t n_buckets) {
    if ((type == TP_METRIC_HISTOGRAM) != (n_buckets > 0))
        return NULL;
    tp_metric_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->type = type;
    bool ok = asprintf(&f->name, "%s%s", m->prefix, name) >= 0;
    if (!ok)
        f->name = NULL;
    ok = ok && (f->help = strdup(help));
    for (size_t i = 0; ok && labels && labels[i]; i++) {
        ok = i < TP_METRIC_MAX_LABELS && (f->labels[i] = strdup(labels[i]));
        f->n_labels += ok;
    }
    if (ok && n_buckets) {
        ok = (f->buckets = malloc(n_buckets * sizeof *f->buckets)) != NULL;
        if (ok)
            memcpy(f->buckets, buckets, n_buckets * sizeof *buckets);
        f->n_buckets = n_buckets;
    }
    if (ok && f->n_labels == 0)
        ok = s_get(f, NULL) != NULL;
    if (!ok) {
        s_family_free(f);
        return NULL;
    }
    *m->tail = f;
    m->tail = &f->next;
    return f;
}

int tp_metrics_add_all(tp_metrics_t *m, const tp_metric_def_t *defs, size_t n) {
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        const tp_metric_def_t *d = &defs[i];
        *d->slot = tp_metrics_add(m, d->type, d->name, d->help, d->labels, NULL, 0);
        if (!*d->slot)
            r = -ENOMEM;
    }
    return r;
}

void tp_metric_limit(tp_metric_t *f, size_t label, size_t max) {
    if (label < f->n_labels) {
        f->limit_label = label;
        f->limit_max = max;
    }
}

/* The key of a series: its label values, each NUL-terminated. */
static size_t s_key(const tp_metric_t *f, const char *const *values, char *buf, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < f->n_labels; i++) {
        size_t l = strlen(values[i]) + 1;
        if (n + l <= len)
            memcpy(buf + n, values[i], l);
        n += l;
    }
    return n;
}

/* Whether the bounded label's value may have a series of its own; a new
 * value is remembered while there is room. */
static bool s_admit(tp_metric_t *f, const char *v) {
    s_value_t *e;
    HASH_FIND_STR(f->values, v, e);
    if (e)
        return true;
    if (f->n_values >= f->limit_max)
        return false;
    size_t l = strlen(v) + 1;
    if (!(e = malloc(sizeof *e + l)))
        return false;
    memcpy(e->v, v, l);
    HASH_ADD_KEYPTR(hh, f->values, e->v, l - 1, e);
    f->n_values++;
    return true;
}

static s_series_t *s_find(const tp_metric_t *f, const char *key, size_t keylen) {
    s_series_t *s;
    HASH_FIND(hh, f->series, key, keylen, s);
    return s;
}

static s_series_t *s_get(tp_metric_t *f, const char *const *values) {
    if (f->n_labels == 0 && f->series) /* the one series: no key to hash */
        return f->series;
    char   stack[256] = "";
    size_t keylen = s_key(f, values, stack, sizeof stack);
    if (keylen <= sizeof stack) {
        s_series_t *s = s_find(f, stack, keylen);
        if (s)
            return s;
    }
    const char *vals[TP_METRIC_MAX_LABELS];
    for (size_t i = 0; i < f->n_labels; i++)
        vals[i] = values[i];
    if (f->limit_max && !s_admit(f, vals[f->limit_label])) {
        vals[f->limit_label] = TP_METRIC_OTHER;
        keylen = s_key(f, vals, stack, sizeof stack);
        if (keylen <= sizeof stack) {
            s_series_t *s = s_find(f, stack, keylen);
            if (s)
                return s;
        }
    }
    s_series_t *s = calloc(1, sizeof *s + keylen);
    if (!s)
        return NULL;
    s->keylen = s_key(f, vals, s->key, keylen);
    if (keylen > sizeof stack) { /* long values: the stack key was not usable */
        s_series_t *old = s_find(f, s->key, keylen);
        if (old) {
            free(s);
            return old;
        }
    }
    if (f->n_buckets && !(s->counts = calloc(f->n_buckets + 1, sizeof *s->counts))) {
        free(s);
        return NULL;
    }
    const char *p = s->key;
    for (size_t i = 0; i < f->n_labels; i++) {
        s->values[i] = p;
        p += strlen(p) + 1;
    }
    HASH_ADD(hh, f->series, key[0], s->keylen, s);
    return s;
}

int tp_metric_add(tp_metric_t *f, const char *const *values, double v) {
    s_series_t *s = s_get(f, values);
    if (!s)
        return -ENOMEM;
    s->value += v;
    return 0;
}

double *tp_metric_slot(tp_metric_t *f, const char *const *values) {
    s_series_t *s = s_get(f, values);
    return s ? &s->value : NULL;
}

int tp_metric_set(tp_metric_t *f, const char *const *values, double v) {
    s_series_t *s = s_get(f, values);
    if (!s)
        return -ENOMEM;
    s->value = v;
    return 0;
}

int tp_metric_observe(tp_metric_t *f, const char *const *values, double v) {
    if (!f->n_buckets)
        return -EINVAL;
    s_series_t *s = s_get(f, values);
    if (!s)
        return -ENOMEM;
    size_t i = 0;
    while (i < f->n_buckets && v > f->buckets[i])
        i++;
    s->counts[i]++;
    s->count++;
    s->sum += v;
    return 0;
}

void tp_metric_save(const tp_metric_t *f, tp_snapw_t *w) {
    tp_snapw_str(w, f->name);
    tp_snapw_u64(w, HASH_COUNT(f->series));
    for (const s_series_t *s = f->series; s; s = s->hh.next) {
        for (size_t i = 0; i < f->n_labels; i++)
            tp_snapw_str(w, s->values[i]);
        tp_snapw_f64(w, s->value);
        tp_snapw_f64(w, s->sum);
        tp_snapw_u64(w, s->count);
        for (size_t i = 0; f->n_buckets && i <= f->n_buckets; i++)
            tp_snapw_u64(w, s->counts[i]);
    }
}

int tp_metric_load(tp_metric_t *f, tp_snapr_t *r) {
    char    *name = NULL;
    uint64_t n = 0;
    int      e = tp_snapr_str(r, 4096, &name);
    bool     same = e == 0 && name && !strcmp(name, f->name);
    free(name);
    if (e < 0 || !same || tp_snapr_u64(r, &n) < 0)
        return -EBADMSG;
    for (uint64_t k = 0; k < n; k++) {
        char *v[TP_METRIC_MAX_LABELS] = { NULL };
        for (size_t i = 0; i < f->n_labels; i++)
            tp_snapr_str(r, 4096, &v[i]);
        s_series_t *s = NULL;
        e = tp_snapr_error(r);
        for (size_t i = 0; i < f->n_labels; i++)
            if (!v[i])
                e = -EBADMSG;
        if (e == 0 && !(s = s_get(f, (const char *const *)v)))
            e = -ENOMEM;
        for (size_t i = 0; i < f->n_labels; i++)
            free(v[i]);
        if (e < 0)
            return e;
        tp_snapr_f64(r, &s->value);
        tp_snapr_f64(r, &s->sum);
        tp_snapr_u64(r, &s->count);
        for (size_t i = 0; f->n_buckets && i <= f->n_buckets; i++)
            tp_snapr_u64(r, &s->counts[i]);
    }
    return tp_snapr_error(r) < 0 ? -EBADMSG : 0;
}

double tp_metric_value(const tp_metric_t *f, const char *const *values) {
    char        stack[256] = "";
    size_t      keylen = s_key(f, values, stack, sizeof stack);
    s_series_t *s = keylen <= sizeof stack ? s_find(f, stack, keylen) : NULL;
    if (!s)
        return 0;
    return f->n_buckets ? (double)s->count : s->value;
}

/* A sample value as the exposition format spells it: integers without a
 * fraction, +Inf / -Inf / NaN by name. */
static void s_number(FILE *out, double v) {
    if (isnan(v))
        fputs("NaN", out);
    else if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", out);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(out, "%.0f", v);
    else
        fprintf(out, "%.15g", v);
}

void tp_metrics_escape_label(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '"')
            fputs("\\\"", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* HELP text escapes only backslash and newline. */
static void s_escape_help(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* `name{l1="v1",...,le="x"} ` — le only when it is not NULL. */
static void s_sample_head(FILE *out, const tp_metric_t *f, const s_series_t *s, const char *suffix,
                          const double *le) {
    fprintf(out, "%s%s", f->name, suffix);
    if (!f->n_labels && !le) {
        fputc(' ', out);
        return;
    }
    fputc('{', out);
    for (size_t i = 0; i < f->n_labels; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        tp_metrics_escape_label(out, s->values[i]);
        fputc('"', out);
    }
    if (le) {
        fprintf(out, "%sle=\"", f->n_labels ? "," : "");
        s_number(out, *le);
        fputc('"', out);
    }
    fputs("} ", out);
}

static void s_render_family(FILE *out, const tp_metric_t *f) {
    static const char *const types[] = { "counter", "gauge", "histogram" };
    fprintf(out, "# HELP %s ", f->name);
    s_escape_help(out, f->help);
    fprintf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
    for (const s_series_t *s = f->series; s; s = s->hh.next) {
        if (f->type != TP_METRIC_HISTOGRAM) {
            s_sample_head(out, f, s, "", NULL);
            s_number(out, s->value);
            fputc('\n', out);
            continue;
        }
        uint64_t cum = 0;
        for (size_t i = 0; i <= f->n_buckets; i++) {
            double le = i < f->n_buckets ? f->buckets[i] : INFINITY;
            cum += s->counts[i];
            s_sample_head(out, f, s, "_bucket", &le);
            fprintf(out, "%llu\n", (unsigned long long)cum);
        }
        s_sample_head(out, f, s, "_sum", NULL);
        s_number(out, s->sum);
        fputc('\n', out);
        s_sample_head(out, f, s, "_count", NULL);
        fprintf(out, "%llu\n", (unsigned long long)s->count);
    }
}

int tp_metrics_render(const tp_metrics_t *m, char **ret_text, size_t *ret_len) {
    char  *buf = NULL;
    size_t len = 0;
    FILE  *out = open_memstream(&buf, &len);
    if (!out)
        return -ENOMEM;
    for (const tp_metric_t *f = m->first; f; f = f->next)
        s_render_family(out, f);
    bool failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        free(buf);
        return -ENOMEM;
    }
    *ret_text = buf;
    *ret_len = len;
    return 0;
}

/* Integral values as JSON integers (counters read as counts), NaN and
 * infinities as null (JSON has no such numbers). */
static json_t *s_json_number(double v) {
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* Sets key to v, consuming v whatever happens (either may be NULL after
 * ENOMEM); false if it was not set. */
static bool s_set(json_t *obj, const char *key, json_t *v) {
    if (!obj || !v) {
        json_decref(v);
        return false;
    }
    return json_object_set_new(obj, key, v) == 0;
}

static json_t *s_series_json(const tp_metric_t *f, const s_series_t *s) {
    json_t *o = json_object(), *labels = json_object();
    bool    ok = s_set(o, "labels", labels);
    for (size_t i = 0; ok && i < f->n_labels; i++)
        ok = s_set(labels, f->labels[i], json_string(s->values[i]));
    if (f->type != TP_METRIC_HISTOGRAM) {
        ok = ok && s_set(o, "value", s_json_number(s->value));
    } else {
        json_t *buckets = json_array();
        ok = ok && s_set(o, "buckets", buckets);
        uint64_t cum = 0;
        for (size_t i = 0; ok && i < f->n_buckets; i++) {
            json_t *b = json_object();
            cum += s->counts[i];
            ok = json_array_append_new(buckets, b) == 0 &&
                 s_set(b, "le", json_real(f->buckets[i])) &&
                 s_set(b, "count", json_integer((json_int_t)cum));
        }
        ok = ok && s_set(o, "sum", s_json_number(s->sum)) &&
             s_set(o, "count", json_integer((json_int_t)s->count));
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *tp_metrics_to_json(const tp_metrics_t *m) {
    static const char *const types[] = { "counter", "gauge", "histogram" };
    json_t                  *root = json_object();
    bool                     ok = root != NULL;
    for (const tp_metric_t *f = m->first; ok && f; f = f->next) {
        json_t *fam = json_object(), *series = json_array();
        ok = s_set(fam, "series", series) && s_set(fam, "type", json_string(types[f->type])) &&
             s_set(fam, "help", json_string(f->help));
        for (const s_series_t *s = f->series; ok && s; s = s->hh.next)
            ok = json_array_append_new(series, s_series_json(f, s)) == 0;
        if (!ok)
            json_decref(fam);
        else
            ok = s_set(root, f->name, fam);
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

void tp_metrics_destroy(tp_metrics_t **p) {
    tp_metrics_t *m = p ? *p : NULL;
    if (!m)
        return;
    tp_metric_t *f = m->first;
    while (f) {
        tp_metric_t *next = f->next;
        s_family_free(f);
        f = next;
    }
    free(m->prefix);
    free(m);
    *p = NULL;
}
