/* tp_dash_alerts — the dashboard's copy of the alerts: the open ones (by
 * alert_id), the latest TP_DASH_RESUME_RING transitions (for a stream
 * that reconnects), in the order they were published. Used by tp_dash.
 *
 * Cheap on the event path: when the engine raises an alert the daemon's
 * sink hands over the unpacked Alert (tp_dash_alerts_raised), and the
 * fields the dashboard filters and counts by are copied with the packed
 * bytes into one allocation, kept pending. When the alert is published
 * after the journal commit (tp_dash_alerts_published) the pending record
 * is matched by its bytes and becomes visible: no second unpack. Its JSON
 * is made the first time a page needs it. An alert published without a
 * pending record (the dashboard was switched on meanwhile) is unpacked.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "tp_contract.h"

#define TP_DASH_RESUME_RING 4096 /* transitions kept for a reconnect to resume from */

/* The strings a record keeps ("" when the alert has none). */
enum {
    TP_DA_ID,
    TP_DA_RULE,
    TP_DA_TERRITORY,
    TP_DA_REP,
    TP_DA_HCP,
    TP_DA_CONTRACT,
    TP_DA_CALL,
    TP_DA_STEP,
    TP_DA_CTYPE, /* evidence contract_type */
    TP_DA_NPS,
    TP_DA_EFFORT,
    TP_DA_FEEDBACK_AT,
    TP_DA_DUE_AT, /* evidence of follow_up_missing */
    TP_DA_TOPIC,
    TP_DA__COUNT
};

typedef struct tp_dash_alert {
    UT_hash_handle        hh; /* the open table, by alert_id */
    struct tp_dash_alert *next_pending;
    uint64_t              seq;
    int                   kind, status; /* AlertKind, AlertStatus */
    unsigned              refs;         /* open table, ring, a tp_dash batch */
    char                 *json;         /* NULL until tp_dash_alert_json */
    const char           *s[TP_DA__COUNT];
    size_t                len;
    uint8_t               packed[]; /* the Alert as published, then the strings */
} tp_dash_alert_t;

typedef struct tp_dash_alerts tp_dash_alerts_t;

int tp_dash_alerts_new(tp_dash_alerts_t **ret);

/* The sink raised `al` (packed in buf/len, topic "<kind>.<rule>"): kept
 * pending until published. 0 or -ENOMEM (then publishing unpacks it). */
int tp_dash_alerts_raised(tp_dash_alerts_t *s, const char *topic, const uint8_t *buf, size_t len,
                          const Touchpoint__V1__Alert *al);

/* The alert in buf/len was published: it updates the open table and
 * enters the ring. Returns it with one more reference for the caller
 * (tp_dash_alert_unref), or NULL on ENOMEM or an undecodable alert. */
tp_dash_alert_t *tp_dash_alerts_published(tp_dash_alerts_t *s, const char *topic,
                                          const uint8_t *buf, size_t len);

/* An alert open before the dashboard started (the engine's table). */
int tp_dash_alerts_seed(tp_dash_alerts_t *s, const uint8_t *buf, size_t len);

/* The open alerts: iterate with ->hh.next. */
tp_dash_alert_t *tp_dash_alerts_open(const tp_dash_alerts_t *s);
size_t           tp_dash_alerts_count(const tp_dash_alerts_t *s);

/* The highest sequence published (or seeded). */
uint64_t tp_dash_alerts_last_seq(const tp_dash_alerts_t *s);

/* Calls fn with every transition after sequence `after`, oldest first, if
 * the ring still holds them all: true; false if it does not (the caller
 * sends a snapshot instead). */
bool tp_dash_alerts_since(tp_dash_alerts_t *s, uint64_t                    after,
                          void (*fn)(void *ctx, tp_dash_alert_t *a), void *ctx);

/* Forgets everything (the dashboard switched off). */
void tp_dash_alerts_clear(tp_dash_alerts_t *s);

void tp_dash_alerts_destroy(tp_dash_alerts_t **p);

/* The alert as one JSON line (tp-tail's form); "{}" if out of memory. */
const char *tp_dash_alert_json(tp_dash_alert_t *a);

/* One more reference (a stream's snapshot holds its alerts); returns a. */
tp_dash_alert_t *tp_dash_alert_ref(tp_dash_alert_t *a);
void             tp_dash_alert_unref(tp_dash_alert_t *a);
