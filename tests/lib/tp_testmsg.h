/* tp_testmsg — builders for wire messages and an alert-capturing sink,
 * shared by the engine and daemon tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_contract.h"

/* A call version; NULL strings get defaults (hcp "HCP-1", rep "REP-1",
 * account "ACC-1", territory "T-1"). `fields` is a TP_FIELD_* mask of the
 * optional fields to fill with data (products, topics, notes, ...). */
typedef struct {
    const char *event_id;
    const char *source; /* default "test" */
    uint64_t    sequence;
    int64_t     at_ms; /* Envelope.occurred_at_ms */
    const char *call_id;
    const char *hcp_id;
    const char *rep_id;
    int         status;          /* CallStatus */
    int         channel;         /* Channel; 0 = IN_PERSON */
    int64_t     call_at_ms;      /* default at_ms */
    int64_t     submitted_at_ms; /* SUBMITTED: default at_ms; -1: left empty */
    unsigned    fields;
    const char *notes; /* overrides the TP_FIELD_NOTES text */
} tp_test_call_t;

/* Packs the Envelope for `c` into a new buffer (caller frees). */
size_t tp_test_pack_call(const tp_test_call_t *c, uint8_t **ret);

/* Packs any Envelope. */
size_t tp_test_pack_envelope(const Touchpoint__V1__Envelope *env, uint8_t **ret);

#define TP_TEST_MAX_ALERTS 2048

typedef struct {
    size_t                 n;
    char                   topics[TP_TEST_MAX_ALERTS][96];
    Touchpoint__V1__Alert *alerts[TP_TEST_MAX_ALERTS]; /* owned copies */
} tp_test_alerts_t;

/* A tp_alert_sink_fn storing copies into the tp_test_alerts_t at ctx. */
int tp_test_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                 const Touchpoint__V1__Alert *alert);

/* Stores one received [topic, Alert] message; 0 or -EINVAL if it does not
 * decode. */
int tp_test_alerts_add(tp_test_alerts_t *a, const char *topic, size_t topic_len, const uint8_t *buf,
                       size_t len);

void tp_test_alerts_clear(tp_test_alerts_t *a);

/* Value of an evidence key, or NULL. */
const char *tp_test_evidence(const Touchpoint__V1__Alert *a, const char *key);

/* One evidence pair; a NULL value: the alert has no such key. */
typedef struct {
    const char *key;
    const char *value;
} tp_test_kv_t;

/* What an alert should say; NULL strings and 0 numbers are not checked.
 * `evidence` runs to its first NULL key; `event_ids` to its first NULL
 * and, when given, n_event_ids must be exactly that many; `summary_has`
 * are substrings of the summary. `topic` is where it was published:
 * checked by those who know it (tp_expect_alert). */
typedef struct {
    const char  *alert_id, *rule, *call_id, *contract_id, *step;
    const char  *hcp_id, *rep_id, *account_id, *territory;
    int          kind, status, severity;
    int64_t      detected_at_ms;
    tp_test_kv_t evidence[16];
    const char  *event_ids[8];
    const char  *summary_has[4];
    bool         no_event_ids; /* n_event_ids must be 0 (a resolution by time) */
    const char  *topic;
} tp_test_alert_want_t;

/* "" when `a` says what `want` says, else the first difference
 * ("hcp_id: got \"HCP-2\", want \"HCP-1\""), valid until the next call.
 * One assertion then names what differs. */
const char *tp_test_alert_diff(const Touchpoint__V1__Alert *a, const tp_test_alert_want_t *want);

/* The same for evidence pairs only, kv[] up to its NULL key. */
const char *tp_test_evidence_diff(const Touchpoint__V1__Alert *a, const tp_test_kv_t *kv);

/* The same with flat "key", "value", ... strings (NULL-terminated). */
const char *tp_test_evidence_pairs_diff(const Touchpoint__V1__Alert *a, const char *const *kv);

/* As one assertion naming what differs:
 *   assert_string_equal(TP_TEST_ALERT_DIFF(a, .rule = "rework", .hcp_id = "HCP-9"), "");
 *   assert_string_equal(TP_TEST_EVIDENCE_DIFF(a, "nps", "5", "nps_max", "6"), ""); */
#define TP_TEST_ALERT_DIFF(a, ...) tp_test_alert_diff((a), &(tp_test_alert_want_t){ __VA_ARGS__ })
#define TP_TEST_EVIDENCE_DIFF(a, ...) \
    tp_test_evidence_pairs_diff((a), (const char *const[]){ __VA_ARGS__, NULL })

/* Asserts (cmocka) that an alert's evidence is as the pairs say:
 *   TP_EXPECT_EVIDENCE(a, { "nps", "5" }, { "nps_max", NULL }); */
#define TP_EXPECT_EVIDENCE(a, ...) \
    assert_string_equal(           \
        tp_test_evidence_diff((a), (const tp_test_kv_t[]){ __VA_ARGS__, { NULL, NULL } }), "")

/* A feedback; nps / effort < 0 mean "not given". */
typedef struct {
    const char *event_id;
    const char *source;       /* default "survey" */
    int64_t     at_ms;        /* occurred_at_ms and Feedback.at_ms */
    const char *feedback_id;  /* default event_id */
    const char *hcp_id;       /* default "HCP-1" */
    const char *subject_type; /* default "general" */
    const char *subject_id;
    int         nps;
    int         effort;
    int         preferred_channel;
    const char *comment;
} tp_test_feedback_t;

size_t tp_test_pack_feedback(const tp_test_feedback_t *f, uint8_t **ret);

/* A watermark moving event time to now_ms. */
size_t tp_test_pack_watermark(const char *event_id, int64_t now_ms, uint8_t **ret);

/* A contracting step event; NULL strings get defaults (hcp "HCP-1", rep
 * "REP-1", owner "OWN-1"); contract_type 0 = SPEAKER. */
typedef struct {
    const char *event_id;
    const char *source; /* default "contracts" */
    int64_t     at_ms;  /* occurred_at_ms and ContractingStep.at_ms */
    const char *contract_id;
    const char *hcp_id;
    const char *rep_id;
    int         contract_type;
    const char *step;
    int         state; /* StepState */
    const char *owner_id;
    bool        hcp_action;
    bool        case_closed;
} tp_test_step_t;

size_t tp_test_pack_step(const tp_test_step_t *s, uint8_t **ret);
