/* test_rule_call_unsubmitted — the absence rule: planned, never submitted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "call_unsubmitted"

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE };

#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define SAVED     TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define CANCELLED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED
#define ALL4      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define CALL_AT   (TP_T0 + 9 * TP_H)
#define DUE       (CALL_AT + 48 * TP_H)

/* Only call_unsubmitted, so other rules' alerts do not interleave. */

static void s_planned(tp_fixture_t *f, const char *eid, int64_t at, int64_t call_at) {
    TP_CALL(f, .event_id = eid, .at_ms = at, .call_id = "C-1", .status = PLANNED,
            .call_at_ms = call_at);
}

static void s_status(tp_fixture_t *f, const char *eid, int64_t at, int status) {
    TP_CALL(f, .event_id = eid, .at_ms = at, .call_id = "C-1", .status = status,
            .call_at_ms = CALL_AT, .fields = ALL4);
}

static void test_fires_at_deadline_without_further_input(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p", TP_T0, CALL_AT);
    tp_expect_edge(f, DUE, 0); /* just inside: not missed; just past */
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "accountability.call_unsubmitted", .alert_id = "call_unsubmitted:call/C-1",
        .status = TP_FIRING, .detected_at_ms = DUE + 1,
        .evidence = { { "call_at", "2026-01-01T09:00:00Z" },
                      { "due_at", "2026-01-03T09:00:00Z" },
                      { "submit_within", "2d" },
                      { "status", "PLANNED" } });
    assert_string_equal(a->event_ids[0], "p");
    /* Time moving on does not fire it again. */
    TP_EXPECT_AT(f, DUE + 30 * TP_D, 1);
}

static void test_any_event_moves_time_not_only_watermarks(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p", TP_T0, CALL_AT);
    TP_CALL(f, .event_id = "o", .at_ms = DUE + TP_H, .call_id = "C-2", .status = PLANNED);
    assert_int_equal(f->got.n, 1);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, DUE + 1); /* when it was missed */
}

static void test_submitted_in_time_never_fires(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p", TP_T0, CALL_AT);
    s_status(f, "s", DUE, SUBMITTED); /* exactly at the deadline */
    TP_EXPECT_AT(f, DUE + 10 * TP_D, 0);
}

static void test_late_submission_resolves(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p", TP_T0, CALL_AT);
    s_status(f, "s", DUE + 5 * TP_H, SUBMITTED); /* passes the deadline first */
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[0]->status, TP_FIRING);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    assert_string_equal(f->got.alerts[1]->alert_id, "call_unsubmitted:call/C-1");
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "submitted");
    assert_string_equal(f->got.alerts[1]->event_ids[0], "s");
    assert_int_equal(f->got.alerts[1]->sequence, f->got.alerts[0]->sequence + 1);
}

static void test_cancel_before_and_after(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
    s_planned(f, "p", TP_T0, CALL_AT);
    s_status(f, "c", TP_T0 + TP_H, CANCELLED);
    TP_EXPECT_AT(f, DUE + TP_D, 0);
    tp_fixture_free(f);

    f = tp_fixture_only(NULL, RULE, NULL);
    s_planned(f, "p", TP_T0, CALL_AT);
    TP_WATERMARK(f, DUE + 1);
    s_status(f, "c", DUE + 2, CANCELLED);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "cancelled");
    tp_fixture_free(f);
}

static void test_rescheduled_call_moves_the_deadline(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p1", TP_T0, CALL_AT);
    s_planned(f, "p2", TP_T0 + TP_H, CALL_AT + 3 * TP_D); /* moved three days later */
    TP_EXPECT_AT(f, DUE + TP_D, 0);
    TP_EXPECT_AT(f, DUE + 3 * TP_D + 1, 1);
}

static void test_saved_versions_do_not_fire_twice(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p", TP_T0, CALL_AT);
    TP_WATERMARK(f, DUE + 1);
    s_status(f, "s1", DUE + 2, SAVED); /* re-arms; already in the past */
    TP_EXPECT_AT(f, DUE + 10, 1);
}

static void test_out_of_order_submission_first(void **state) {
    tp_fixture_t *f = *state;
    /* SUBMITTED arrives first; its draft (older) arrives afterwards. */
    s_status(f, "s", TP_T0 + 10 * TP_H, SUBMITTED);
    s_planned(f, "p", TP_T0, CALL_AT);
    /* And a draft stamped later than the submission (producer clock skew). */
    s_planned(f, "p-skew", TP_T0 + 11 * TP_H, CALL_AT);
    TP_EXPECT_AT(f, DUE + 10 * TP_D, 0);
    assert_int_equal(tp_engine_stats(f->engine)->stale_versions, 2);
}

static void test_calls_are_forgotten_after_their_last_deadline(void **state) {
    tp_fixture_t *f = *state; /* horizon 48h, retention 7d */
    s_planned(f, "p", TP_T0, CALL_AT);
    s_status(f, "s", CALL_AT + TP_H, SUBMITTED);
    assert_int_equal(tp_engine_calls(f->engine), 1);
    /* Kept until its last deadline (call_at + 48h) plus retention. */
    TP_WATERMARK(f, CALL_AT + 48 * TP_H + 7 * TP_D);
    assert_int_equal(tp_engine_calls(f->engine), 1); /* just inside */
    TP_WATERMARK(f, CALL_AT + 48 * TP_H + 7 * TP_D + 1);
    assert_int_equal(tp_engine_calls(f->engine), 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);
    assert_int_equal(f->got.n, 0);
}

static void test_late_correction_extends_retention(void **state) {
    tp_fixture_t *f = *state;
    s_planned(f, "p", TP_T0, CALL_AT);
    s_status(f, "s", CALL_AT + TP_H, SUBMITTED);
    s_status(f, "fix", CALL_AT + 5 * TP_D, SUBMITTED); /* after the horizon */
    TP_WATERMARK(f, CALL_AT + 5 * TP_D + 7 * TP_D);
    assert_int_equal(tp_engine_calls(f->engine), 1);
    /* A stale draft within retention is still recognised as stale. */
    s_planned(f, "p-late", TP_T0 + 1, CALL_AT);
    assert_int_equal(tp_engine_stats(f->engine)->stale_versions, 1);
    TP_WATERMARK(f, CALL_AT + 5 * TP_D + 7 * TP_D + 1);
    assert_int_equal(tp_engine_calls(f->engine), 0);
    assert_int_equal(f->got.n, 0);
}

/* The same input in wall mode gives the same alerts (only their
 * detection time differs): the deadline fires from the timer. */
static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    for (int i = 0; i < 2; i++)
        s_planned(both[i], "p", TP_T0, CALL_AT);
    tp_expect_wall_edge(w, e, DUE, 1);
    for (int i = 0; i < 2; i++)
        s_status(both[i], "s", DUE + 2 * TP_H, SUBMITTED);
    tp_expect_same_alerts(w, e, 2, true, NULL);
    tp_expect_detected(w, e, 0, DUE + 250, DUE + 1); /* the wall clock */
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_at_deadline_without_further_input, s_fx),
             TP_FIXTURE_TEST(test_any_event_moves_time_not_only_watermarks, s_fx),
             TP_FIXTURE_TEST(test_submitted_in_time_never_fires, s_fx),
             TP_FIXTURE_TEST(test_late_submission_resolves, s_fx),
             cmocka_unit_test(test_cancel_before_and_after),
             TP_FIXTURE_TEST(test_rescheduled_call_moves_the_deadline, s_fx),
             TP_FIXTURE_TEST(test_saved_versions_do_not_fire_twice, s_fx),
             TP_FIXTURE_TEST(test_out_of_order_submission_first, s_fx),
             TP_FIXTURE_TEST(test_calls_are_forgotten_after_their_last_deadline, s_fx),
             TP_FIXTURE_TEST(test_late_correction_extends_retention, s_fx),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
