/* test_rule_negative_feedback — an HCP told us it was painful. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "negative_feedback"

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE };

#define SUBMITTED  TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define STARTED    TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define CONSULTING TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_CONSULTING
#define WARNING    TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING
#define CRITICAL   TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL
#define FB_AT      (TP_T0 + 10 * TP_H)
#define EXPIRY     (FB_AT + 7 * TP_D)


/* Per-source scales: medallia scores effort 1..5 with 1 = very hard. */

/* A general feedback of HCP-1 (feedback_id = event id); < 0: not given. */
static void s_fb(tp_fixture_t *f, const char *eid, int nps, int effort) {
    tp_test_feedback_t fb = { .event_id = eid, .at_ms = FB_AT, .nps = nps, .effort = effort };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
}

/* On a known contract: the case's HCP, rep and type. */
static void test_contract_link(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .contract_id = "K-1", .hcp_id = "HCP-9",
            .rep_id = "REP-3", .contract_type = CONSULTING, .step = "FMV_REVIEW", .state = STARTED);
    tp_test_feedback_t fb = { .event_id = "ev-1",
                              .feedback_id = "F-1",
                              .source = "survey",
                              .at_ms = FB_AT,
                              .hcp_id = "HCP-1",
                              .subject_type = "contract",
                              .subject_id = "K-1",
                              .nps = 5,
                              .effort = -1,
                              .comment = "Three forms for one talk." };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "friction.negative_feedback", .alert_id = "negative_feedback:feedback/F-1",
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION, .status = TP_FIRING,
        .severity = WARNING, .detected_at_ms = FB_AT, .contract_id = "K-1", .hcp_id = "HCP-9",
        .rep_id = "REP-3", .call_id = "",
        .evidence = { { "nps", "5" },
                      { "nps_max", "6" },
                      { "effort_score", NULL },
                      { "effort_threshold", NULL },
                      { "effort_scale", "1-7, high = hard" },
                      { "judged_on", "nps" },
                      { "comment", "Three forms for one talk." },
                      { "subject_type", "contract" },
                      { "subject_id", "K-1" },
                      { "source", "survey" },
                      { "feedback_id", "F-1" },
                      { "feedback_at", "2026-01-01T10:00:00Z" },
                      { "contract_type", "CONSULTING" },
                      { "feedback_hcp_id", "HCP-1" } },
        .event_ids = { "ev-1" }, .summary_has = { "contract K-1" });

    /* An unknown contract: the feedback's HCP, no rep, no type. */
    fb = (tp_test_feedback_t){ .event_id = "ev-2",
                               .at_ms = FB_AT,
                               .hcp_id = "HCP-2",
                               .subject_type = "contract",
                               .subject_id = "K-404",
                               .nps = 2,
                               .effort = -1 };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    assert_int_equal(f->got.n, 2);
    a = f->got.alerts[1];
    assert_string_equal(a->contract_id, "K-404");
    assert_string_equal(a->hcp_id, "HCP-2");
    assert_string_equal(a->rep_id, "");
    assert_null(tp_test_evidence(a, "contract_type"));
    assert_null(tp_test_evidence(a, "feedback_hcp_id"));
}

/* On a known call: its HCP, rep, account and territory. */
static void test_call_link(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "c1", .at_ms = TP_T0, .call_id = "C-1", .hcp_id = "HCP-1",
            .rep_id = "REP-7", .status = SUBMITTED,
            .fields = TP_FIELD_ACCOUNT_ID | TP_FIELD_TERRITORY);
    tp_test_feedback_t fb = { .event_id = "F-1",
                              .at_ms = FB_AT,
                              .subject_type = "call",
                              .subject_id = "C-1",
                              .nps = -1,
                              .effort = 6 };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a =
        TP_EXPECT_ALERT(f, 0, .call_id = "C-1", .contract_id = "", .hcp_id = "HCP-1",
                        .rep_id = "REP-7", .account_id = "ACC-1", .territory = "T-1",
                        .evidence = { { "effort_score", "6" },
                                      { "effort_threshold", "5" },
                                      { "nps", NULL },
                                      { "judged_on", "effort" },
                                      { "subject_type", "call" } },
                        .summary_has = { "call C-1" });

    /* An unknown call: the feedback's HCP, the call id kept. */
    fb = (tp_test_feedback_t){ .event_id = "F-2",
                               .at_ms = FB_AT,
                               .hcp_id = "HCP-5",
                               .subject_type = "call",
                               .subject_id = "C-404",
                               .nps = 1,
                               .effort = -1 };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    a = f->got.alerts[1];
    assert_string_equal(a->call_id, "C-404");
    assert_string_equal(a->hcp_id, "HCP-5");
    assert_string_equal(a->rep_id, "");
    assert_string_equal(a->account_id, "");
}

/* General (or no subject_type): the feedback's HCP only. */
static void test_general_link(void **state) {
    tp_fixture_t      *f = *state;
    tp_test_feedback_t fb = {
        .event_id = "F-1", .at_ms = FB_AT, .hcp_id = "HCP-4", .nps = 4, .effort = -1
    }; /* subject_type "general" */
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    fb = (tp_test_feedback_t){ .event_id = "F-2",
                               .at_ms = FB_AT,
                               .hcp_id = "HCP-4",
                               .subject_type = "",
                               .nps = 4,
                               .effort = -1 };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    assert_int_equal(f->got.n, 2);
    for (size_t i = 0; i < 2; i++) {
        Touchpoint__V1__Alert *a = f->got.alerts[i];
        assert_string_equal(a->hcp_id, "HCP-4");
        assert_string_equal(a->rep_id, "");
        assert_string_equal(a->call_id, "");
        assert_string_equal(a->contract_id, "");
        assert_string_equal(tp_test_evidence(a, "subject_type"), "general");
        assert_string_equal(tp_test_evidence(a, "subject_id"), "");
    }
}

/* Defaults: nps <= 6 or effort >= 5 on 1..7; nothing given, nothing judged. */
static void test_default_thresholds(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
    s_fb(f, "nps6", 6, -1);
    s_fb(f, "nps7", 7, -1);
    s_fb(f, "nps0", 0, -1); /* 0 given is a score, not "absent" */
    s_fb(f, "eff5", -1, 5);
    s_fb(f, "eff4", -1, 4);
    s_fb(f, "eff8", -1, 8); /* outside 1..7: not judged */
    s_fb(f, "none", -1, -1);
    s_fb(f, "both", 9, 7);
    assert_int_equal(f->got.n, 4);
    assert_true(tp_fixture_has(f, "negative_feedback:feedback/nps6"));
    assert_true(tp_fixture_has(f, "negative_feedback:feedback/nps0"));
    assert_true(tp_fixture_has(f, "negative_feedback:feedback/eff5"));
    const Touchpoint__V1__Alert *both = tp_fixture_find(f, "negative_feedback:feedback/both");
    TP_EXPECT_EVIDENCE(both, { "nps", "9" }, { "effort_score", "7" }, { "judged_on", "effort" });
    assert_string_equal(
        tp_test_evidence(tp_fixture_find(f, "negative_feedback:feedback/nps0"), "nps"), "0");
    tp_fixture_free(f);

    f = tp_fixture_only(NULL, RULE, "{ nps_max: 3, effort_min: 6 }");
    s_fb(f, "nps4", 4, 5);
    s_fb(f, "nps3", 3, -1);
    s_fb(f, "eff6", -1, 6);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(
        tp_test_evidence(tp_fixture_find(f, "negative_feedback:feedback/nps3"), "nps_max"), "3");
    assert_string_equal(
        tp_test_evidence(tp_fixture_find(f, "negative_feedback:feedback/eff6"), "effort_threshold"),
        "6");
    tp_fixture_free(f);
}

/* Two sources with their own scales (test_per_source_scales says which). */
#define SCALES                                                                     \
    "clock: event\nfeedback_sources:\n  medallia: { nps_max: 6, effort_scale: 5, " \
    "effort_high_is_hard: false, effort_threshold: 2 }\n  qualtrics: { nps_max: 4 }\n"

/* Per-source scales: medallia 1..5 with 1 = very hard (2 fires, 3 not);
 * qualtrics' NPS band ends at 4; an unlisted source keeps the defaults. */
static void test_per_source_scales(void **state) {
    (void)state;
    tp_fixture_t      *f = tp_fixture_only(SCALES, RULE, NULL);
    tp_test_feedback_t fbs[] = {
        { .event_id = "m-eff2", .source = "medallia", .nps = -1, .effort = 2 },
        { .event_id = "m-eff3", .source = "medallia", .nps = -1, .effort = 3 },
        { .event_id = "m-eff5", .source = "medallia", .nps = -1, .effort = 5 },
        { .event_id = "m-eff6", .source = "medallia", .nps = -1, .effort = 6 },
        { .event_id = "m-nps6", .source = "medallia", .nps = 6, .effort = -1 },
        { .event_id = "q-nps5", .source = "qualtrics", .nps = 5, .effort = -1 },
        { .event_id = "q-nps4", .source = "qualtrics", .nps = 4, .effort = -1 },
        { .event_id = "s-eff5", .source = "survey", .nps = -1, .effort = 5 },
    };
    tp_fixture_feedbacks(f, FB_AT, fbs, sizeof fbs / sizeof fbs[0]);
    assert_int_equal(f->got.n, 4);
    const Touchpoint__V1__Alert *m = tp_fixture_find(f, "negative_feedback:feedback/m-eff2");
    TP_EXPECT_EVIDENCE(m, { "effort_score", "2" }, { "effort_scale", "1-5, low = hard" },
                       { "effort_threshold", "2" }, { "source", "medallia" });
    assert_int_equal(m->severity, WARNING);
    assert_true(tp_fixture_has(f, "negative_feedback:feedback/m-nps6"));
    const Touchpoint__V1__Alert *q = tp_fixture_find(f, "negative_feedback:feedback/q-nps4");
    assert_string_equal(tp_test_evidence(q, "nps_max"), "4");
    assert_true(tp_fixture_has(f, "negative_feedback:feedback/s-eff5"));
    tp_fixture_free(f);
}

/* CRITICAL for nps <= 3 or the hardest effort score of the scale. */
static void test_severity(void **state) {
    (void)state;
    tp_fixture_t      *f = tp_fixture_only(SCALES, RULE, NULL);
    tp_test_feedback_t fbs[] = {
        { .event_id = "nps3", .nps = 3, .effort = -1 },
        { .event_id = "nps4", .nps = 4, .effort = -1 },
        { .event_id = "nps0", .nps = 0, .effort = -1 },
        { .event_id = "eff7", .nps = -1, .effort = 7 },
        { .event_id = "eff6", .nps = -1, .effort = 6 },
        { .event_id = "m-eff1", .source = "medallia", .nps = -1, .effort = 1 },
        { .event_id = "m-eff2", .source = "medallia", .nps = -1, .effort = 2 },
        { .event_id = "mixed", .nps = 8, .effort = 7 },
    };
    tp_fixture_feedbacks(f, FB_AT, fbs, sizeof fbs / sizeof fbs[0]);
    assert_int_equal(f->got.n, 8);
    struct {
        const char *id;
        int         sev;
    } want[] = {
        { "nps3", CRITICAL }, { "nps4", WARNING },    { "nps0", CRITICAL },  { "eff7", CRITICAL },
        { "eff6", WARNING },  { "m-eff1", CRITICAL }, { "m-eff2", WARNING }, { "mixed", CRITICAL },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char id[64];
        snprintf(id, sizeof id, "negative_feedback:feedback/%s", want[i].id);
        assert_int_equal(tp_fixture_find(f, id)->severity, want[i].sev);
    }
    tp_fixture_free(f);
}

/* One-shot: resolved "expired" 7 days after detection. */
static void test_expires_after_seven_days(void **state) {
    tp_fixture_t *f = *state;
    s_fb(f, "F-1", 2, -1);
    assert_int_equal(f->got.n, 1);
    tp_expect_edge(f, EXPIRY, 1);
    /* nps: the FIRING's evidence */
    const Touchpoint__V1__Alert *r =
        TP_EXPECT_ALERT(f, 1, .status = TP_RESOLVED, .alert_id = "negative_feedback:feedback/F-1",
                        .detected_at_ms = EXPIRY + 1, .no_event_ids = true,
                        .evidence = { { "resolution", "expired" }, { "nps", "2" } });
    assert_int_equal(r->sequence, f->got.alerts[0]->sequence + 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    /* The "judged" marker runs out 30 days after detection. */
    assert_int_equal(tp_engine_deadlines(f->engine), 1);
    TP_WATERMARK(f, FB_AT + 30 * TP_D + 1);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);
    assert_int_equal(f->got.n, 2);
}

/* The same feedback_id again (new event id) never fires twice: while
 * FIRING nor after its expiry; the same event twice is a duplicate. The
 * first detractor version counts, even after a version that was not. */
static void test_never_fires_twice_for_one_feedback(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
    s_fb(f, "e1", 1, -1);
    tp_test_feedback_t dup = { .event_id = "e1", .at_ms = FB_AT, .nps = 1, .effort = -1 };
    assert_int_equal(tp_fixture_feedback(f, &dup), TP_DUPLICATE);
    tp_test_feedback_t again = {
        .event_id = "e2", .feedback_id = "e1", .at_ms = FB_AT + TP_H, .nps = 0, .effort = 7
    };
    assert_int_equal(tp_fixture_feedback(f, &again), 0); /* while FIRING */
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_AT(f, EXPIRY + TP_D, 2);
    again.event_id = "e3";
    again.at_ms = EXPIRY + 2 * TP_D;
    assert_int_equal(tp_fixture_feedback(f, &again), 0); /* after the expiry */
    assert_int_equal(f->got.n, 2);
    tp_fixture_free(f);

    f = tp_fixture_only(NULL, RULE, NULL);
    tp_test_feedback_t v1 = {
        .event_id = "v1", .feedback_id = "F-1", .at_ms = FB_AT, .nps = 9, .effort = -1
    };
    assert_int_equal(tp_fixture_feedback(f, &v1), 0);
    assert_int_equal(f->got.n, 0);
    v1.event_id = "v2";
    v1.nps = 2; /* edited to a detractor */
    assert_int_equal(tp_fixture_feedback(f, &v1), 0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(f->got.alerts[0]->event_ids[0], "v2");
    tp_fixture_free(f);
}

/* Feedback arriving out of order (older at_ms after newer) still fires;
 * the comment is cut to 200 bytes on a UTF-8 character boundary. */
static void test_out_of_order_and_comment(void **state) {
    tp_fixture_t *f = *state;
    char          comment[320];
    memset(comment, 'a', 199);
    strcpy(comment + 199, "\xc3\xa9 and then some more text that is cut off"); /* é: 199..200 */
    tp_test_feedback_t late = {
        .event_id = "F-2", .at_ms = FB_AT + 3 * TP_D, .nps = 2, .effort = -1
    };
    assert_int_equal(tp_fixture_feedback(f, &late), 0);
    tp_test_feedback_t old = {
        .event_id = "F-1", .at_ms = FB_AT, .nps = 1, .effort = -1, .comment = comment
    };
    assert_int_equal(tp_fixture_feedback(f, &old), 0);
    assert_int_equal(f->got.n, 2);
    const Touchpoint__V1__Alert *a = tp_fixture_find(f, "negative_feedback:feedback/F-1");
    assert_int_equal(a->detected_at_ms, FB_AT + 3 * TP_D); /* the daemon's clock */
    assert_string_equal(tp_test_evidence(a, "feedback_at"), "2026-01-01T10:00:00Z");
    const char *got = tp_test_evidence(a, "comment");
    assert_int_equal(strlen(got), 199);
    assert_memory_equal(got, comment, 199);
    /* Both expire 7 days after they were detected. */
    TP_EXPECT_AT(f, FB_AT + 10 * TP_D + 1, 4);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_contract_link, s_fx), TP_FIXTURE_TEST(test_call_link, s_fx),
             TP_FIXTURE_TEST(test_general_link, s_fx), cmocka_unit_test(test_default_thresholds),
             cmocka_unit_test(test_per_source_scales), cmocka_unit_test(test_severity),
             TP_FIXTURE_TEST(test_expires_after_seven_days, s_fx),
             cmocka_unit_test(test_never_fires_twice_for_one_feedback),
             TP_FIXTURE_TEST(test_out_of_order_and_comment, s_fx))
