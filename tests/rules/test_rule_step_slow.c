/* test_rule_step_slow — a contracting step open past its SLA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "step_slow"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define GRANT     TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_GRANT
#define SLA       (5 * TP_D)

#define SETTINGS                                                                                 \
    "{ enabled: true, default_sla: 5d, by_step: { FMV_REVIEW: 3d }, by_contract_type: { GRANT: " \
    "10d } }"

/* A fixture running only this rule; step events default to contract K-1,
 * step NEEDS_ASSESSMENT. */
#define s_new(head, settings) tp_fixture_at_step((head), RULE, (settings), "NEEDS_ASSESSMENT")

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE,
                                        .settings = SETTINGS,
                                        .step = "NEEDS_ASSESSMENT" };

static void test_fires_just_past_the_sla(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s", .at_ms = TP_T0, .state = STARTED, .owner_id = "OWN-7");
    tp_expect_edge(f, TP_T0 + SLA, 0); /* just inside; just past */
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "friction.step_slow",
        .alert_id = "step_slow:contract/K-1/step/NEEDS_ASSESSMENT", .status = TP_FIRING,
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, .contract_id = "K-1",
        .hcp_id = "HCP-1", .rep_id = "REP-1");
    assert_string_equal(a->step, "NEEDS_ASSESSMENT");
    assert_int_equal(a->detected_at_ms, TP_T0 + SLA + 1);
    TP_EXPECT_EVIDENCE(a, { "step", "NEEDS_ASSESSMENT" }, { "owner", "OWN-7" },
                       { "started_at", "2026-01-01T00:00:00Z" },
                       { "due_at", "2026-01-06T00:00:00Z" }, { "sla", "5d" }, { "open_for", "5d" },
                       { "returns", "0" }, { "contract_type", "SPEAKER" });
    assert_string_equal(a->event_ids[0], "s");
    assert_non_null(strstr(a->summary, "NEEDS_ASSESSMENT"));
    /* Time moving on does not fire it again. */
    TP_EXPECT_AT(f, TP_T0 + 60 * TP_D, 1);
}

static void test_completed_in_time_never_fires(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "c", .at_ms = TP_T0 + SLA, .state = COMPLETED); /* exactly on the SLA */
    TP_EXPECT_AT(f, TP_T0 + 30 * TP_D, 0);
}

static void test_completion_resolves(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "c", .at_ms = TP_T0 + 6 * TP_D,
            .state = COMPLETED); /* passes the deadline first */
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[0]->status, TP_FIRING);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, TP_T0 + SLA + 1);
    const Touchpoint__V1__Alert *r = TP_EXPECT_ALERT(
        f, 1, .status = TP_RESOLVED, .alert_id = "step_slow:contract/K-1/step/NEEDS_ASSESSMENT",
        .evidence = { { "resolution", "completed" }, { "open_for", "6d" } });
    assert_string_equal(tp_test_evidence(r, "sla"), "5d"); /* kept from the FIRING */
    assert_string_equal(r->event_ids[0], "c");
    assert_int_equal(r->sequence, f->got.alerts[0]->sequence + 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
}

static void test_returned_and_cancelled_resolve(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .step = "CONTRACT_SENT", .state = STARTED);
    TP_STEP(f, .event_id = "s2", .at_ms = TP_T0, .step = "COMPLIANCE_APPROVAL", .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + SLA + 1, 2);
    TP_STEP(f, .event_id = "r", .at_ms = TP_T0 + 7 * TP_D, .step = "CONTRACT_SENT",
            .state = RETURNED);
    TP_STEP(f, .event_id = "x", .at_ms = TP_T0 + 8 * TP_D, .step = "COMPLIANCE_APPROVAL",
            .state = CANCELLED);
    assert_int_equal(f->got.n, 4);
    assert_string_equal(f->got.alerts[2]->alert_id, "step_slow:contract/K-1/step/CONTRACT_SENT");
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "resolution"), "returned");
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "open_for"), "7d");
    assert_string_equal(f->got.alerts[3]->alert_id,
                        "step_slow:contract/K-1/step/COMPLIANCE_APPROVAL");
    assert_string_equal(tp_test_evidence(f->got.alerts[3], "resolution"), "cancelled");
    assert_string_equal(tp_test_evidence(f->got.alerts[3], "open_for"), "8d");
}

static void test_restart_after_return_is_a_new_attempt(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "r", .at_ms = TP_T0 + 1 * TP_D, .state = RETURNED);
    TP_STEP(f, .event_id = "s2", .at_ms = TP_T0 + 2 * TP_D, .state = STARTED, .owner_id = "OWN-2");
    tp_expect_edge(f, TP_T0 + 2 * TP_D + SLA, 0); /* the first attempt's due passed */
    Touchpoint__V1__Alert *a = f->got.alerts[0];
    TP_EXPECT_EVIDENCE(a, { "started_at", "2026-01-03T00:00:00Z" }, { "returns", "1" },
                       { "owner", "OWN-2" });
    /* Returned again while FIRING: resolved; the next attempt may fire again. */
    TP_STEP(f, .event_id = "r2", .at_ms = TP_T0 + 9 * TP_D, .state = RETURNED);
    TP_STEP(f, .event_id = "s3", .at_ms = TP_T0 + 10 * TP_D, .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + 15 * TP_D + 1, 3);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    assert_int_equal(f->got.alerts[2]->status, TP_FIRING);
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "returns"), "2");
}

static void test_never_fires_twice_while_open(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + SLA + 1, 1);
    /* A repeated STARTED (say, a new owner) while FIRING starts nothing new. */
    TP_STEP(f, .event_id = "s2", .at_ms = TP_T0 + 6 * TP_D, .state = STARTED, .owner_id = "OWN-2");
    TP_EXPECT_AT(f, TP_T0 + 40 * TP_D, 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 1);
    TP_STEP(f, .event_id = "c", .at_ms = TP_T0 + 41 * TP_D, .state = COMPLETED);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
}

static void test_sla_precedence(void **state) {
    tp_fixture_t *f = *state;
    /* GRANT (10d by type): FMV_REVIEW by_step 3d wins; CONTRACT_SENT gets 10d. */
    TP_STEP(f, .event_id = "g1", .at_ms = TP_T0, .contract_id = "G-1", .contract_type = GRANT,
            .step = "FMV_REVIEW", .state = STARTED);
    TP_STEP(f, .event_id = "g2", .at_ms = TP_T0, .contract_id = "G-1", .contract_type = GRANT,
            .step = "CONTRACT_SENT", .state = STARTED);
    /* SPEAKER: default 5d. */
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .contract_id = "S-1", .step = "CONTRACT_SENT",
            .state = STARTED);
    tp_expect_edge(f, TP_T0 + 3 * TP_D, 0);
    assert_string_equal(f->got.alerts[0]->alert_id, "step_slow:contract/G-1/step/FMV_REVIEW");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "sla"), "3d");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "contract_type"), "GRANT");
    TP_EXPECT_AT(f, TP_T0 + 5 * TP_D + 1, 2);
    assert_string_equal(f->got.alerts[1]->alert_id, "step_slow:contract/S-1/step/CONTRACT_SENT");
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "sla"), "5d");
    tp_expect_edge(f, TP_T0 + 10 * TP_D, 2);
    assert_string_equal(f->got.alerts[2]->alert_id, "step_slow:contract/G-1/step/CONTRACT_SENT");
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "sla"), "10d");
}

static void test_out_of_order_and_stale_events(void **state) {
    tp_fixture_t *f = *state;
    /* COMPLETED overtook its STARTED: the step is done, nothing is armed. */
    TP_STEP(f, .event_id = "c", .at_ms = TP_T0 + TP_D, .state = COMPLETED);
    TP_STEP(f, .event_id = "s", .at_ms = TP_T0, .state = STARTED);
    /* A stale RETURNED on another step, older than its COMPLETED. */
    TP_STEP(f, .event_id = "s2", .at_ms = TP_T0, .step = "FMV_REVIEW", .state = STARTED);
    TP_STEP(f, .event_id = "c2", .at_ms = TP_T0 + 2 * TP_D, .step = "FMV_REVIEW",
            .state = COMPLETED);
    TP_STEP(f, .event_id = "r2", .at_ms = TP_T0 + TP_D, .step = "FMV_REVIEW", .state = RETURNED);
    TP_EXPECT_AT(f, TP_T0 + 30 * TP_D, 0);

    /* A stale COMPLETED (older than a newer STARTED) does not resolve. */
    TP_STEP(f, .event_id = "s3", .at_ms = TP_T0 + 30 * TP_D, .step = "PAYMENT", .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + 35 * TP_D + 1, 1);
    TP_STEP(f, .event_id = "c3", .at_ms = TP_T0 + 29 * TP_D, .step = "PAYMENT", .state = COMPLETED);
    assert_int_equal(f->got.n, 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 1);
}

static void test_case_close_resolves_and_disarms(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .step = "CONTRACT_SENT", .state = STARTED);
    TP_STEP(f, .event_id = "s2", .at_ms = TP_T0, .step = "COMPLIANCE_APPROVAL", .state = STARTED);
    TP_STEP(f, .event_id = "s3", .at_ms = TP_T0 + 4 * TP_D, .step = "PAYMENT", .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + SLA + 1, 2);
    TP_STEP(f, .event_id = "close", .at_ms = TP_T0 + 6 * TP_D, .step = "PAYMENT",
            .state = COMPLETED, .case_closed = true);
    assert_int_equal(f->got.n, 4);
    for (size_t i = 2; i < 4; i++) {
        tp_expect_resolved(f, i, "case closed");
        assert_string_equal(tp_test_evidence(f->got.alerts[i], "open_for"), "6d");
        assert_string_equal(f->got.alerts[i]->event_ids[0], "close");
    }
    /* PAYMENT's deadline is gone; a late STARTED on the closed case arms nothing. */
    TP_STEP(f, .event_id = "late", .at_ms = TP_T0 + 7 * TP_D, .step = "FMV_REVIEW",
            .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + 13 * TP_D, 4);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
}

/* Ids may contain '/': the deadline key still finds its case. */
static void test_slash_in_ids(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s1", .at_ms = TP_T0, .contract_id = "A/B", .step = "C",
            .state = STARTED);
    TP_STEP(f, .event_id = "s2", .at_ms = TP_T0 + TP_D, .contract_id = "A", .step = "B/C",
            .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + 6 * TP_D + 1, 2);
    assert_string_equal(f->got.alerts[0]->alert_id, "step_slow:contract/A/B/step/C");
    assert_string_equal(f->got.alerts[1]->alert_id, "step_slow:contract/A/step/B/C");
    assert_string_equal(f->got.alerts[1]->contract_id, "A");
}

/* The same input in wall mode gives the same alerts; only detection
 * times differ (the wall clock). */
static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    for (int i = 0; i < 2; i++)
        TP_STEP(both[i], .event_id = "s", .at_ms = TP_T0, .step = "FMV_REVIEW", .state = STARTED);
    tp_expect_wall_edge(w, e, TP_T0 + 3 * TP_D, 1);
    tp_fixture_wall_tick(w, TP_T0 + 4 * TP_D);
    for (int i = 0; i < 2; i++)
        TP_STEP(both[i], .event_id = "c", .at_ms = TP_T0 + 4 * TP_D, .step = "FMV_REVIEW",
                .state = COMPLETED);
    tp_expect_same_alerts(w, e, 2, false, "due_at");
    assert_string_equal(tp_test_evidence(w->got.alerts[1], "open_for"), "4d");
    assert_string_equal(tp_test_evidence(e->got.alerts[1], "open_for"), "4d");
    tp_expect_detected(w, e, 0, TP_T0 + 3 * TP_D + 250, TP_T0 + 3 * TP_D + 1);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_just_past_the_sla, s_fx),
             TP_FIXTURE_TEST(test_completed_in_time_never_fires, s_fx),
             TP_FIXTURE_TEST(test_completion_resolves, s_fx),
             TP_FIXTURE_TEST(test_returned_and_cancelled_resolve, s_fx),
             TP_FIXTURE_TEST(test_restart_after_return_is_a_new_attempt, s_fx),
             TP_FIXTURE_TEST(test_never_fires_twice_while_open, s_fx),
             TP_FIXTURE_TEST(test_sla_precedence, s_fx),
             TP_FIXTURE_TEST(test_out_of_order_and_stale_events, s_fx),
             TP_FIXTURE_TEST(test_case_close_resolves_and_disarms, s_fx),
             TP_FIXTURE_TEST(test_slash_in_ids, s_fx),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
