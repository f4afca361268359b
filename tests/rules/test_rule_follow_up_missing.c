/* test_rule_follow_up_missing — the absence rule: a detractor nobody called back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "follow_up_missing"

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE };

#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define FB_AT     (TP_T0 + 10 * TP_H)
#define DUE       (FB_AT + 7 * TP_D)
#define EXPIRY    (DUE + 90 * TP_D)


/* A feedback of HCP-1 (feedback_id = event id); nps/effort < 0: not given. */
static void s_feedback(tp_fixture_t *f, const char *eid, int64_t at, int nps, int effort) {
    tp_test_feedback_t fb = { .event_id = eid,
                              .at_ms = at,
                              .nps = nps,
                              .effort = effort,
                              .subject_type = "call",
                              .subject_id = "C-0",
                              .comment = "Nobody answered my question about dosing." };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
}

/* A call version stamped at `at`, dated call_at. */
static void s_call(tp_fixture_t *f, const char *eid, const char *call_id, const char *hcp,
                   int status, int64_t at, int64_t call_at) {
    TP_CALL(f, .event_id = eid, .at_ms = at, .call_id = call_id, .hcp_id = hcp, .rep_id = "REP-7",
            .status = status, .call_at_ms = call_at);
}

static void test_fires_at_deadline_without_further_input(void **state) {
    tp_fixture_t *f = *state;
    s_feedback(f, "F-1", FB_AT, 3, -1);
    tp_expect_edge(f, DUE, 0); /* just inside; just past */
    const Touchpoint__V1__Alert *a =
        TP_EXPECT_ALERT(f, 0, .topic = "accountability.follow_up_missing",
                        .alert_id = "follow_up_missing:feedback/F-1", .status = TP_FIRING,
                        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
                        .detected_at_ms = DUE + 1, .hcp_id = "HCP-1",
                        .evidence = { { "nps", "3" },
                                      { "effort_score", NULL },
                                      { "feedback_at", "2026-01-01T10:00:00Z" },
                                      { "due_at", "2026-01-08T10:00:00Z" },
                                      { "follow_up_within", "7d" } });
    assert_string_equal(tp_test_evidence(a, "comment"),
                        "Nobody answered my question about dosing.");
    assert_string_equal(tp_test_evidence(a, "subject_type"), "call");
    assert_string_equal(tp_test_evidence(a, "subject_id"), "C-0");
    assert_int_equal(a->n_event_ids, 1);
    assert_string_equal(a->event_ids[0], "F-1");
    /* Time moving on does not fire it again. */
    TP_EXPECT_AT(f, DUE + 30 * TP_D, 1);
}

/* nps <= 6 or effort >= 5 (defaults), and configured thresholds. */
static void test_detractor_thresholds(void **state) {
    (void)state;
    tp_fixture_t      *f = tp_fixture_only(NULL, RULE, NULL);
    tp_test_feedback_t fbs[] = {
        { .event_id = "nps6", .hcp_id = "H-1", .nps = 6, .effort = -1 },
        { .event_id = "nps7", .hcp_id = "H-2", .nps = 7, .effort = -1 },
        { .event_id = "eff5", .hcp_id = "H-3", .nps = -1, .effort = 5 },
        { .event_id = "eff4", .hcp_id = "H-4", .nps = -1, .effort = 4 },
        { .event_id = "none", .hcp_id = "H-5", .nps = -1, .effort = -1 },
        { .event_id = "both", .hcp_id = "H-6", .nps = 9, .effort = 7 },
    };
    tp_fixture_feedbacks(f, FB_AT, fbs, sizeof fbs / sizeof fbs[0]);
    TP_EXPECT_AT(f, DUE + 1, 3); /* equal deadlines: any order */
    const Touchpoint__V1__Alert *nps6 = tp_fixture_find(f, "follow_up_missing:feedback/nps6");
    const Touchpoint__V1__Alert *eff5 = tp_fixture_find(f, "follow_up_missing:feedback/eff5");
    const Touchpoint__V1__Alert *both = tp_fixture_find(f, "follow_up_missing:feedback/both");
    assert_string_equal(nps6->hcp_id, "H-1");
    assert_null(tp_test_evidence(eff5, "nps"));
    assert_string_equal(tp_test_evidence(eff5, "effort_score"), "5");
    assert_string_equal(tp_test_evidence(both, "nps"), "9");
    assert_string_equal(tp_test_evidence(both, "effort_score"), "7");
    tp_fixture_free(f);

    f = tp_fixture_only(NULL, RULE, "{ follow_up_within: 2d, nps_max: 3, effort_min: 6 }");
    s_feedback(f, "nps4", FB_AT, 4, 5); /* neither, with these */
    s_feedback(f, "nps3", FB_AT, 3, -1);
    tp_expect_edge(f, FB_AT + 2 * TP_D, 0);
    assert_string_equal(f->got.alerts[0]->alert_id, "follow_up_missing:feedback/nps3");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "follow_up_within"), "2d");
    tp_fixture_free(f);
}

/* A source listed in feedback_sources is judged on its own scale:
 * medallia scores effort 1..5 with 1 = very hard (2 is a detractor, 3 and
 * 5 are not) and its NPS band ends at 5; other sources keep the rule's. */
static void test_per_source_scale(void **state) {
    (void)state;
    tp_fixture_t *f =
        tp_fixture_only("clock: event\nfeedback_sources:\n  medallia: { nps_max: 5, effort_scale: "
                        "5, effort_high_is_hard: false, effort_threshold: 2 }\n",
                        RULE, NULL);
    tp_test_feedback_t fbs[] = {
        { .event_id = "m-eff2", .source = "medallia", .hcp_id = "H-1", .nps = -1, .effort = 2 },
        { .event_id = "m-eff3", .source = "medallia", .hcp_id = "H-2", .nps = -1, .effort = 3 },
        { .event_id = "m-eff5", .source = "medallia", .hcp_id = "H-3", .nps = -1, .effort = 5 },
        { .event_id = "m-nps6", .source = "medallia", .hcp_id = "H-4", .nps = 6, .effort = -1 },
        { .event_id = "m-nps5", .source = "medallia", .hcp_id = "H-5", .nps = 5, .effort = -1 },
        { .event_id = "s-eff5", .source = "survey", .hcp_id = "H-6", .nps = -1, .effort = 5 },
    };
    tp_fixture_feedbacks(f, FB_AT, fbs, sizeof fbs / sizeof fbs[0]);
    TP_EXPECT_AT(f, DUE + 1, 3); /* equal deadlines: any order */
    assert_string_equal(tp_fixture_find(f, "follow_up_missing:feedback/m-eff2")->hcp_id, "H-1");
    assert_string_equal(tp_fixture_find(f, "follow_up_missing:feedback/m-nps5")->hcp_id, "H-5");
    assert_string_equal(tp_fixture_find(f, "follow_up_missing:feedback/s-eff5")->hcp_id, "H-6");
    tp_fixture_free(f);
}

static void test_follow_up_in_time_cancels(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
    s_feedback(f, "F-1", FB_AT, 2, -1);
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, FB_AT + TP_D, FB_AT + TP_D);
    TP_EXPECT_AT(f, EXPIRY + TP_D, 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 0); /* nothing left behind */
    tp_fixture_free(f);

    /* A call dated exactly at the deadline is still in time. */
    f = tp_fixture_only(NULL, RULE, NULL);
    s_feedback(f, "F-1", FB_AT, 2, -1);
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, DUE, DUE);
    TP_EXPECT_AT(f, DUE + TP_D, 0);
    tp_fixture_free(f);
}

/* Calls that are no follow-up: dated at (not after) the feedback, to
 * another HCP, or not SUBMITTED. */
static void test_calls_that_do_not_count(void **state) {
    tp_fixture_t *f = *state;
    s_feedback(f, "F-1", FB_AT, 2, -1);
    s_call(f, "same", "C-1", "HCP-1", SUBMITTED, FB_AT + TP_H, FB_AT);
    s_call(f, "other", "C-2", "HCP-2", SUBMITTED, FB_AT + TP_H, FB_AT + TP_H);
    s_call(f, "plan", "C-3", "HCP-1", PLANNED, FB_AT + TP_H, FB_AT + 2 * TP_D);
    TP_EXPECT_AT(f, DUE + 1, 1);
    /* A late submission of a call dated before the feedback resolves nothing. */
    s_call(f, "old", "C-4", "HCP-1", SUBMITTED, DUE + TP_D, FB_AT - TP_H);
    assert_int_equal(f->got.n, 1);
}

/* A follow-up after the deadline resolves the FIRING, however late. */
static void test_late_follow_up_resolves(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
    s_feedback(f, "F-1", FB_AT, 2, -1);
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, DUE + 2 * TP_D, DUE + 2 * TP_D);
    assert_int_equal(f->got.n, 2); /* passes the deadline first */
    assert_int_equal(f->got.alerts[0]->status, TP_FIRING);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, DUE + 1);
    const Touchpoint__V1__Alert *r = TP_EXPECT_ALERT(
        f, 1, .status = TP_RESOLVED, .alert_id = "follow_up_missing:feedback/F-1",
        .evidence = {
            { "resolution", "followed up" }, { "call_id", "C-1" }, { "rep_id", "REP-7" } });
    assert_string_equal(tp_test_evidence(r, "nps"), "2"); /* the FIRING's evidence */
    assert_string_equal(r->event_ids[0], "c");
    assert_int_equal(r->sequence, f->got.alerts[0]->sequence + 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    /* A second follow-up changes nothing. */
    s_call(f, "c2", "C-2", "HCP-1", SUBMITTED, DUE + 3 * TP_D, DUE + 3 * TP_D);
    assert_int_equal(f->got.n, 2);
    tp_fixture_free(f);

    /* Wall-mode style: fired, then the call arrives with an earlier stamp. */
    f = tp_fixture_only(NULL, RULE, NULL);
    s_feedback(f, "F-1", FB_AT, 2, -1);
    TP_WATERMARK(f, DUE + 5 * TP_D);
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, DUE + TP_D, DUE + TP_D);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    tp_fixture_free(f);
}

static void test_expires_90_days_after_the_deadline(void **state) {
    tp_fixture_t *f = *state;
    s_feedback(f, "F-1", FB_AT, 0, -1);
    tp_expect_edge(f, EXPIRY, 1);
    Touchpoint__V1__Alert *r = f->got.alerts[1];
    assert_int_equal(r->status, TP_RESOLVED);
    assert_string_equal(tp_test_evidence(r, "resolution"), "expired");
    assert_int_equal(r->n_event_ids, 0);
    assert_int_equal(r->detected_at_ms, EXPIRY + 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);
    /* Forgotten: a follow-up now resolves nothing. */
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, EXPIRY + TP_D, EXPIRY + TP_D);
    assert_int_equal(f->got.n, 2);
}

/* The same feedback again (new event id) and the same event twice. */
static void test_never_fires_twice_for_one_feedback(void **state) {
    tp_fixture_t *f = *state;
    s_feedback(f, "e1", FB_AT, 1, -1);
    tp_test_feedback_t dup = { .event_id = "e1", .at_ms = FB_AT, .nps = 1, .effort = -1 };
    assert_int_equal(tp_fixture_feedback(f, &dup), TP_DUPLICATE);
    tp_test_feedback_t again = {
        .event_id = "e2", .feedback_id = "e1", .at_ms = FB_AT + TP_H, .nps = 1, .effort = -1
    };
    assert_int_equal(tp_fixture_feedback(f, &again), 0);
    TP_EXPECT_AT(f, DUE + TP_D, 1);
    again.event_id = "e3"; /* while FIRING */
    assert_int_equal(tp_fixture_feedback(f, &again), 0);
    TP_EXPECT_AT(f, DUE + 2 * TP_D, 1);
    assert_int_equal(tp_engine_stats(f->engine)->duplicates, 1);
}

/* Two detractors of one HCP are two subjects; one follow-up resolves both,
 * and a later detractor is tracked afresh. */
static void test_one_call_follows_up_every_earlier_feedback(void **state) {
    tp_fixture_t *f = *state;
    s_feedback(f, "F-1", FB_AT, 1, -1);
    s_feedback(f, "F-2", FB_AT + TP_H, -1, 6);
    TP_EXPECT_AT(f, DUE + TP_H + 1, 2);
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, DUE + TP_D, DUE + TP_D);
    assert_int_equal(f->got.n, 4);
    assert_int_equal(f->got.alerts[2]->status, TP_RESOLVED);
    assert_int_equal(f->got.alerts[3]->status, TP_RESOLVED);
    s_feedback(f, "F-3", DUE + 2 * TP_D, 1, -1);
    TP_EXPECT_AT(f, DUE + 9 * TP_D + 1, 5);
    assert_string_equal(f->got.alerts[4]->alert_id, "follow_up_missing:feedback/F-3");
}

/* Survey feedback often reaches us after the rep already called back. */
static void test_feedback_arriving_after_its_follow_up(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, FB_AT + TP_D, FB_AT + TP_D);
    s_feedback(f, "F-1", FB_AT, 2, -1);            /* dated before the call */
    s_feedback(f, "F-2", FB_AT + 2 * TP_D, 2, -1); /* dated after it */
    TP_EXPECT_AT(f, EXPIRY, 1);
    assert_string_equal(f->got.alerts[0]->alert_id, "follow_up_missing:feedback/F-2");
}

/* Feedback that reaches us after its deadline fires at once; feedback
 * older than anything still tracked (deadline + 90 days) is ignored. */
static void test_feedback_arriving_after_its_deadline(void **state) {
    tp_fixture_t *f = *state;
    TP_WATERMARK(f, DUE + 10 * TP_D);
    s_feedback(f, "F-1", FB_AT, 2, -1);
    assert_int_equal(f->got.n, 0);
    TP_EXPECT_AT(f, DUE + 10 * TP_D + 1, 1);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, DUE + 10 * TP_D); /* the clock */
    TP_EXPECT_AT(f, EXPIRY + 1, 2);
    s_feedback(f, "F-old", FB_AT, 2, -1); /* now past its expiry */
    TP_EXPECT_AT(f, EXPIRY + 10 * TP_D, 2);
}

/* The latest version of a call wins: a correction that re-dates a call
 * after the feedback counts; a stale draft changes nothing. */
static void test_call_versions(void **state) {
    tp_fixture_t *f = *state;
    s_feedback(f, "F-1", FB_AT, 2, -1);
    s_call(f, "s", "C-1", "HCP-1", SUBMITTED, FB_AT + TP_H, FB_AT - TP_H);
    s_call(f, "p", "C-1", "HCP-1", PLANNED, FB_AT + 2 * TP_H, FB_AT + TP_D); /* stale */
    assert_int_equal(tp_engine_stats(f->engine)->stale_versions, 1);
    s_call(f, "c", "C-1", "HCP-1", SUBMITTED, FB_AT + 3 * TP_H, FB_AT + 2 * TP_H);
    TP_EXPECT_AT(f, EXPIRY + 1, 0);
}

/* The comment is cut to 200 bytes on a UTF-8 character boundary. */
static void test_comment_excerpt(void **state) {
    tp_fixture_t *f = *state;
    char          comment[320];
    memset(comment, 'a', 199);
    strcpy(comment + 199, "\xc3\xa9 and then some more text that is cut off"); /* "é" at 199..200 */
    tp_test_feedback_t fb = {
        .event_id = "F-1", .at_ms = FB_AT, .nps = 1, .effort = -1, .comment = comment
    };
    assert_int_equal(tp_fixture_feedback(f, &fb), 0);
    TP_EXPECT_AT(f, DUE + 1, 1);
    const char *got = tp_test_evidence(f->got.alerts[0], "comment");
    assert_int_equal(strlen(got), 199);
    assert_memory_equal(got, comment, 199);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "subject_type"), "general");
}

/* The same input in wall mode gives the same alerts (only their
 * detection time differs): the deadlines fire from the timer. */
static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    for (int i = 0; i < 2; i++) {
        s_feedback(both[i], "F-1", FB_AT, 2, -1);
        s_feedback(both[i], "F-2", FB_AT + TP_H, 4, 6);
        s_call(both[i], "c1", "C-1", "HCP-1", SUBMITTED, FB_AT + 30 * 60000, FB_AT + 30 * 60000);
    }
    tp_expect_wall_edge(w, e, DUE + TP_H, 1);
    for (int i = 0; i < 2; i++)
        s_call(both[i], "c2", "C-2", "HCP-1", SUBMITTED, DUE + TP_D, DUE + TP_D);
    tp_fixture_wall_tick(w, EXPIRY + TP_D);
    TP_WATERMARK(e, EXPIRY + TP_D);
    tp_expect_same_alerts(w, e, 2, true, NULL);
    assert_string_equal(w->got.alerts[0]->alert_id, "follow_up_missing:feedback/F-2");
    tp_expect_detected(w, e, 0, DUE + TP_H + 250, DUE + TP_H + 1); /* the wall clock */
    assert_int_equal(w->got.alerts[1]->status, TP_RESOLVED);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_at_deadline_without_further_input, s_fx),
             cmocka_unit_test(test_detractor_thresholds), cmocka_unit_test(test_per_source_scale),
             cmocka_unit_test(test_follow_up_in_time_cancels),
             TP_FIXTURE_TEST(test_calls_that_do_not_count, s_fx),
             cmocka_unit_test(test_late_follow_up_resolves),
             TP_FIXTURE_TEST(test_expires_90_days_after_the_deadline, s_fx),
             TP_FIXTURE_TEST(test_never_fires_twice_for_one_feedback, s_fx),
             TP_FIXTURE_TEST(test_one_call_follows_up_every_earlier_feedback, s_fx),
             TP_FIXTURE_TEST(test_feedback_arriving_after_its_follow_up, s_fx),
             TP_FIXTURE_TEST(test_feedback_arriving_after_its_deadline, s_fx),
             TP_FIXTURE_TEST(test_call_versions, s_fx), TP_FIXTURE_TEST(test_comment_excerpt, s_fx),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
