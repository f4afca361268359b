/* test_rule_rework — one contracting step RETURNED again and again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "rework"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define ADVISORY  TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ADVISORY_BOARD
#define D0        (TP_T0 + 9 * TP_H)
#define ID        "rework:contract/K-1/step/FMV_REVIEW"


/* A fixture running only this rule, about contract K-1 (ADVISORY_BOARD). */
#define s_new(head, settings) tp_fixture_case((head), RULE, (settings), ADVISORY)

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE, .contract_type = ADVISORY };

static void s_step(tp_fixture_t *f, const char *eid, int64_t at, const char *step, int state,
                   const char *owner) {
    assert_int_equal(tp_fixture_step_at(f, eid, at, step, state, owner, false), 0);
}

/* FMV_REVIEW started, returned, restarted, returned: the second return fires. */
static void test_fires_on_the_second_return(void **state) {
    tp_fixture_t *f = *state;
    s_step(f, "e1", D0, "NOMINATION", COMPLETED, "OWN-1");
    s_step(f, "e2", D0 + TP_H, "FMV_REVIEW", STARTED, "OWN-2");
    s_step(f, "e3", D0 + TP_D, "FMV_REVIEW", RETURNED, "OWN-2");
    assert_int_equal(f->got.n, 0); /* one return: below */
    s_step(f, "e4", D0 + 2 * TP_D, "FMV_REVIEW", STARTED, "OWN-3");
    s_step(f, "e5", D0 + 3 * TP_D, "FMV_REVIEW", RETURNED, "OWN-3");
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a =
        TP_EXPECT_ALERT(f, 0, .topic = "friction.rework", .alert_id = ID,
                        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
                        .status = TP_FIRING, .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
                        .contract_id = "K-1", .hcp_id = "HCP-9", .rep_id = "REP-3");
    assert_string_equal(a->step, "FMV_REVIEW");
    assert_string_equal(a->call_id, "");
    assert_int_equal(a->detected_at_ms, D0 + 3 * TP_D);
    TP_EXPECT_EVIDENCE(a, { "step", "FMV_REVIEW" }, { "returns", "2" }, { "min_returns", "2" },
                       { "owner", "OWN-3" }, { "owners", "OWN-1,OWN-2,OWN-3" },
                       { "contract_type", "ADVISORY_BOARD" },
                       { "returned_at", "2026-01-04T09:00:00Z" },
                       { "case_opened_at", "2026-01-01T09:00:00Z" });
    assert_non_null(strstr(a->summary, "FMV_REVIEW"));
    assert_non_null(strstr(a->summary, "K-1"));
    assert_int_equal(a->n_event_ids, 1);
    assert_string_equal(a->event_ids[0], "e5");
}

/* Returns of different steps do not add up; a configured threshold is
 * reached exactly at min_returns, not one before. */
static void test_threshold(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, NULL);
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_H, "CONTRACT_SENT", RETURNED, "OWN-1");
    s_step(f, "e3", D0 + 2 * TP_H, "PAYMENT", RETURNED, "OWN-1");
    TP_EXPECT_AT(f, D0 + 30 * TP_D, 0);
    tp_fixture_free(f);

    f = s_new(NULL, "{ min_returns: 3 }");
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_H, "FMV_REVIEW", STARTED, "OWN-1");
    s_step(f, "e3", D0 + 2 * TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 0); /* 2 of 3 */
    s_step(f, "e4", D0 + 3 * TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "returns"), "3");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "min_returns"), "3");
    tp_fixture_free(f);

    /* min_returns: 1 — the first return fires. */
    f = s_new(NULL, "{ min_returns: 1 }");
    s_step(f, "e1", D0, "FMV_REVIEW", STARTED, "OWN-1");
    assert_int_equal(f->got.n, 0);
    s_step(f, "e2", D0 + TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 1);
    tp_fixture_free(f);
}

static void test_resolves_when_the_step_completes(void **state) {
    tp_fixture_t *f = *state;
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_D, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 1);
    assert_int_equal(tp_engine_deadlines(f->engine), 2);               /* case retention + ours */
    s_step(f, "e3", D0 + 2 * TP_D, "CONTRACT_SENT", STARTED, "OWN-2"); /* another step */
    assert_int_equal(f->got.n, 1);
    s_step(f, "e4", D0 + 3 * TP_D, "FMV_REVIEW", COMPLETED, "OWN-1");
    assert_int_equal(f->got.n, 2);
    Touchpoint__V1__Alert *r = f->got.alerts[1];
    assert_int_equal(r->status, TP_RESOLVED);
    assert_string_equal(r->alert_id, ID);
    assert_string_equal(tp_test_evidence(r, "resolution"), "completed");
    assert_string_equal(tp_test_evidence(r, "returns"), "2"); /* the FIRING's evidence */
    assert_string_equal(r->contract_id, "K-1");
    assert_string_equal(r->event_ids[0], "e4");
    assert_int_equal(r->sequence, f->got.alerts[0]->sequence + 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 1); /* only the case retention */
}

/* Closing the case resolves every rework alert on it. */
static void test_resolves_when_the_case_closes(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, NULL);
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e3", D0 + 2 * TP_H, "CONTRACT_SENT", RETURNED, "OWN-1");
    s_step(f, "e4", D0 + 3 * TP_H, "CONTRACT_SENT", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 2);
    assert_int_equal(tp_fixture_step_at(f, "e5", D0 + TP_D, "PAYMENT", COMPLETED, "OWN-4", true),
                     0);
    assert_int_equal(f->got.n, 4);
    for (size_t i = 2; i < 4; i++) {
        tp_expect_resolved(f, i, "case closed");
        assert_string_equal(f->got.alerts[i]->event_ids[0], "e5");
    }
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    /* A late RETURNED on the closed case fires nothing. */
    s_step(f, "e6", D0 + TP_D + TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 4);
    tp_fixture_free(f);

    /* A cancelling close resolves too. */
    f = s_new(NULL, NULL);
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(tp_fixture_step_at(f, "e3", D0 + TP_D, "FMV_REVIEW", CANCELLED, "OWN-1", true),
                     0);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "case closed");
    assert_non_null(strstr(f->got.alerts[1]->summary, "cancelled"));
    tp_fixture_free(f);
}

/* More returns while FIRING do not fire again; once resolved by a
 * completion, the step returned again is new rework and fires anew. */
static void test_never_fires_twice_while_open(void **state) {
    tp_fixture_t *f = *state;
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e3", D0 + 2 * TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e4", D0 + 3 * TP_H, "FMV_REVIEW", STARTED, "OWN-1");
    s_step(f, "e5", D0 + 4 * TP_H, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 1);
    s_step(f, "e6", D0 + 5 * TP_H, "FMV_REVIEW", COMPLETED, "OWN-1");
    assert_int_equal(f->got.n, 2);
    s_step(f, "e7", D0 + 6 * TP_H, "FMV_REVIEW", RETURNED, "OWN-1"); /* reopened */
    assert_int_equal(f->got.n, 3);
    assert_int_equal(f->got.alerts[2]->status, TP_FIRING);
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "returns"), "5");
}

/* RETURNED events count in arrival order, whatever their timestamps; a
 * late RETURNED older than the step's completion fires nothing; a
 * duplicate event counts once. */
static void test_out_of_order_and_duplicates(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, NULL);
    s_step(f, "e3", D0 + 2 * TP_D, "FMV_REVIEW", STARTED, "OWN-1");
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1"); /* older: still counts */
    assert_int_equal(tp_fixture_step_at(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1", false),
                     TP_DUPLICATE);
    assert_int_equal(f->got.n, 0);
    s_step(f, "e2", D0 + TP_D, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "returns"), "2");
    tp_fixture_free(f);

    f = s_new(NULL, NULL);
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e9", D0 + 5 * TP_D, "FMV_REVIEW", COMPLETED, "OWN-1");
    s_step(f, "e2", D0 + TP_D, "FMV_REVIEW", RETURNED, "OWN-1"); /* overtaken by e9 */
    TP_EXPECT_AT(f, D0 + 30 * TP_D, 0);
    tp_fixture_free(f);

    /* The COMPLETED overtakes the second RETURNED after it fired: resolved,
     * and the late RETURNED does not fire again. */
    f = s_new(NULL, NULL);
    s_step(f, "e1", D0, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e2", D0 + TP_D, "FMV_REVIEW", RETURNED, "OWN-1");
    s_step(f, "e4", D0 + 3 * TP_D, "FMV_REVIEW", COMPLETED, "OWN-1");
    s_step(f, "e3", D0 + 2 * TP_D, "FMV_REVIEW", RETURNED, "OWN-1");
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    tp_fixture_free(f);
}

/* Contract and step ids are free strings: a '/' in them is no problem. */
static void test_ids_with_slashes(void **state) {
    (void)state;
    tp_fixture_t  *f = s_new("clock: event\nlimits: { open_case_horizon: 30d }\n", NULL);
    tp_test_step_t s = { .event_id = "e1",
                         .at_ms = D0,
                         .contract_id = "K/step/1",
                         .step = "A/step/B",
                         .state = RETURNED };
    assert_int_equal(tp_fixture_step(f, &s), 0);
    s.event_id = "e2";
    assert_int_equal(tp_fixture_step(f, &s), 0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(f->got.alerts[0]->alert_id, "rework:contract/K/step/1/step/A/step/B");
    s.event_id = "e3";
    s.at_ms = D0 + 20 * TP_D;
    s.state = STARTED;
    assert_int_equal(tp_fixture_step(f, &s), 0); /* the case lives on */
    TP_EXPECT_AT(f, D0 + 31 * TP_D, 1);
    TP_EXPECT_AT(f, D0 + 51 * TP_D, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "expired");
    tp_fixture_free(f);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_on_the_second_return, s_fx),
             cmocka_unit_test(test_threshold),
             TP_FIXTURE_TEST(test_resolves_when_the_step_completes, s_fx),
             cmocka_unit_test(test_resolves_when_the_case_closes),
             TP_FIXTURE_TEST(test_never_fires_twice_while_open, s_fx),
             cmocka_unit_test(test_out_of_order_and_duplicates),
             cmocka_unit_test(test_ids_with_slashes))
