/* tp_metrics — counters, gauges and histograms, and their Prometheus text
 * and JSON renderings.
 *
 * A registry of metric families (name, help, type, label names; fixed
 * buckets for a histogram), each holding its series keyed by label values.
 * Written on the hot path by tp_kpi and tp_http (one thread, no locks),
 * read by tp_http when /metrics or /status is asked for. The text follows
 * the Prometheus exposition format 0.0.4: HELP and TYPE lines, label values
 * escaped, histograms as cumulative `_bucket{le=...}`, `_sum`, `_count`.
 *
 * A peer chooses label values (sources, step names), so a family can bound
 * the distinct values of one label: past the bound they are counted under
 * "_other", and the registry stays bounded however many a peer invents.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#define TP_METRIC_MAX_LABELS 3
#define TP_METRIC_OTHER      "_other" /* the value of a bounded label past its bound */

typedef enum { TP_METRIC_COUNTER, TP_METRIC_GAUGE, TP_METRIC_HISTOGRAM } tp_metric_type_t;

typedef struct tp_metrics tp_metrics_t;
typedef struct tp_metric  tp_metric_t; /* one family */

/* An empty registry into *ret; every family name gets `prefix`
 * ("touchpointd_", NULL for none). 0 or -ENOMEM. */
int tp_metrics_new(const char *prefix, tp_metrics_t **ret);

/* Adds a family. `labels` is NULL or a NULL-terminated list of at most
 * TP_METRIC_MAX_LABELS names; `buckets` the ascending upper bounds of a
 * histogram (+Inf is implied). A family without labels has its one series
 * from the start, so it renders as 0 before anything happened. The registry
 * owns the family; NULL on ENOMEM or a bad argument. */
tp_metric_t *tp_metrics_add(tp_metrics_t *m, tp_metric_type_t type, const char *name,
                            const char *help, const char *const *labels, const double *buckets,
                            size_t n_buckets);

/* One counter or gauge family of a registration table: where its handle
 * goes, then tp_metrics_add's arguments. */
typedef struct {
    tp_metric_t      **slot;
    tp_metric_type_t   type;
    const char        *name;
    const char        *help;
    const char *const *labels;
} tp_metric_def_t;

/* Adds every family of defs[0..n) into its slot, so a module declares its
 * families as one table. 0, or -ENOMEM if one could not be added (its slot
 * is NULL; the others stay the registry's). */
int tp_metrics_add_all(tp_metrics_t *m, const tp_metric_def_t *defs, size_t n);

/* Bounds the distinct values of label number `label` to `max`: series with
 * a new value past that are kept under TP_METRIC_OTHER. */
void tp_metric_limit(tp_metric_t *f, size_t label, size_t max);

/* `values`: one per label name, in order (NULL for a family without
 * labels). 0 or -ENOMEM (the observation is lost, nothing else). */
int tp_metric_add(tp_metric_t *f, const char *const *values, double v);     /* counter, gauge */
int tp_metric_set(tp_metric_t *f, const char *const *values, double v);     /* gauge, counter */
int tp_metric_observe(tp_metric_t *f, const char *const *values, double v); /* histogram */

/* The value of the counter or gauge series `values` (created if need be),
 * for a caller that adds to the same series on every event: looked up
 * once, then one addition per event. Valid as long as the registry (series
 * are never removed). NULL on ENOMEM. */
double *tp_metric_slot(tp_metric_t *f, const char *const *values);

/* The value of a counter or gauge series (a histogram's count), 0 if the
 * series does not exist. */
double tp_metric_value(const tp_metric_t *f, const char *const *values);

/* The whole registry as Prometheus text into a new NUL-terminated buffer
 * (caller frees). 0 or -ENOMEM. */
int tp_metrics_render(const tp_metrics_t *m, char **ret_text, size_t *ret_len);

/* The whole registry as one JSON object: {name: {type, help, series:
 * [{labels: {..}, value} | {labels, buckets: [{le, count}], sum, count}]}}
 * with cumulative bucket counts and NaN as null. NULL on ENOMEM. */
json_t *tp_metrics_to_json(const tp_metrics_t *m);

struct tp_snapw;
struct tp_snapr;
/* A family's series (label values, values, histogram counts) in a snapshot
 * (tp_snapio), and back into the same family of a new registry: series
 * are created in the saved order, so it renders as before. Load: 0,
 * -EBADMSG for another family or a short or corrupt record, -ENOMEM. */
void tp_metric_save(const tp_metric_t *f, struct tp_snapw *w);
int  tp_metric_load(tp_metric_t *f, struct tp_snapr *r);

/* Appends `s` escaped as a label value (\\, \", \n) to f. */
void tp_metrics_escape_label(FILE *f, const char *s);

/* Frees the registry and its families; accepts NULL; sets *p to NULL. */
void tp_metrics_destroy(tp_metrics_t **p);
