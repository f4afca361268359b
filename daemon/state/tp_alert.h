/* tp_alert — where alerts are born: the FIRING -> RESOLVED lifecycle.
 *
 * Rules describe an alert (tp_alert_spec_t); this module gives it its
 * stable id ("<rule>:<subject>"), refuses a second FIRING while one is open
 * (dedup by alert_id), numbers every transition with the daemon's sequence
 * (1, 2, 3, ...), packs the Alert and hands it to the sink (journal, PUB,
 * stdout). A RESOLVED carries the FIRING's subject fields and evidence, so
 * a consumer can match it without having kept the FIRING.
 *
 * Open alerts are kept packed (a few hundred bytes each), keyed by id.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_contract.h"
#include "tp_stats.h"

#define TP_ALERT_ID_MAX 384

typedef struct {
    const char *key;
    const char *value;
} tp_kv_t;

typedef struct tp_alert_spec {
    Touchpoint__V1__AlertKind kind;
    const char               *rule;    /* "call_incomplete" */
    const char               *subject; /* "call/C-1"; alert_id = rule ":" subject */
    Touchpoint__V1__Severity  severity;
    const char               *hcp_id, *rep_id, *account_id, *territory; /* NULL = empty */
    const char               *call_id, *contract_id, *step;
    const char               *summary; /* one human sentence */
    const tp_kv_t            *evidence;
    size_t                    n_evidence;
    const char *const        *event_ids; /* what caused it */
    size_t                    n_event_ids;
} tp_alert_spec_t;

/* Receives every transition once its sequence is assigned. `topic` is
 * "<kind>.<rule>", buf/len the packed Alert, `alert` the same unpacked
 * (valid only during the call). Returns 0 or a negative errno, which is
 * counted as a publish error; the lifecycle moves on regardless. */
typedef int (*tp_alert_sink_fn)(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                                const Touchpoint__V1__Alert *alert);

typedef struct tp_alerts tp_alerts_t;

/* An alert lifecycle with no alert open into *ret; `stats` (not owned)
 * receives alerts_firing/resolved/publish_errors. 0 or -ENOMEM. */
int tp_alerts_new(tp_stats_t *stats, tp_alerts_t **ret);

void tp_alerts_set_sink(tp_alerts_t *a, tp_alert_sink_fn fn, void *ctx);

/* The sequence the next transition gets (default 1). */
void     tp_alerts_set_next_sequence(tp_alerts_t *a, uint64_t next);
uint64_t tp_alerts_next_sequence(const tp_alerts_t *a);

/* Publishes a FIRING unless this rule already fires for this subject.
 * Returns 1 if published, 0 if already firing, negative errno. */
int tp_alerts_fire(tp_alerts_t *a, const tp_alert_spec_t *spec, int64_t now_ms);

/* Publishes the RESOLVED of an open alert: its FIRING's fields, `summary`,
 * the FIRING's evidence updated with `evidence`, and `event_id` (may be
 * NULL) as cause. Returns 1 if published, 0 if it was not firing. */
int tp_alerts_resolve(tp_alerts_t *a, const char *rule, const char *subject, const char *summary,
                      const tp_kv_t *evidence, size_t n_evidence, const char *event_id,
                      int64_t now_ms);

/* Resolves every open alert of `rule` (a rule switched off by a reload),
 * as tp_alerts_resolve with no causing event. Returns how many. */
size_t tp_alerts_resolve_rule(tp_alerts_t *a, const char *rule, const char *summary,
                              const tp_kv_t *evidence, size_t n_evidence, int64_t now_ms);

bool tp_alerts_is_firing(const tp_alerts_t *a, const char *rule, const char *subject);

/* Number of open (FIRING) alerts. */
size_t tp_alerts_open(const tp_alerts_t *a);

/* Calls fn with every open alert's packed FIRING (valid during the call),
 * in no particular order; stops early when fn returns non-zero. */
typedef int (*tp_alert_each_fn)(void *ctx, const uint8_t *buf, size_t len);
void tp_alerts_foreach(const tp_alerts_t *a, tp_alert_each_fn fn, void *ctx);

/* Frees the open alerts (nothing is published); accepts NULL and a
 * half-built one; sets *p to NULL. */
void tp_alerts_destroy(tp_alerts_t **p);

/* Snapshot section (tp_snapio): the open alerts (their packed FIRINGs)
 * and the next sequence. Load into a lifecycle with none open; nothing is
 * published. 0 or negative errno. */
#include "tp_snapio.h"
void tp_alerts_save(const tp_alerts_t *a, tp_snapw_t *w);
int  tp_alerts_load(tp_alerts_t *a, tp_snapr_t *r);
