/* test_rule_hcp_burden — too many asks of the HCP on one contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "hcp_burden"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define ISS       TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ISS
#define D0        (TP_T0 + 9 * TP_H)
#define ID        "hcp_burden:contract/K-1"


/* A fixture running only this rule, about contract K-1 (ISS). */
#define s_new(head, settings) tp_fixture_case((head), RULE, (settings), ISS)

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE, .contract_type = ISS };

/* A step event on contract K-1. */
static int s_ev(tp_fixture_t *f, const char *eid, int64_t at, const char *step, int state, bool ask,
                bool closed) {
    return tp_fixture_step(f, &(tp_test_step_t){ .event_id = eid,
                                                 .at_ms = at,
                                                 .step = step,
                                                 .state = state,
                                                 .hcp_action = ask,
                                                 .case_closed = closed });
}

/* An ask of the HCP (hcp_action) at step `step`. */
static void s_ask(tp_fixture_t *f, const char *eid, int64_t at, const char *step) {
    assert_int_equal(s_ev(f, eid, at, step, STARTED, true, false), 0);
}

/* A step event that asks nothing of the HCP. */
static void s_internal(tp_fixture_t *f, const char *eid, int64_t at, const char *step) {
    assert_int_equal(s_ev(f, eid, at, step, COMPLETED, false, false), 0);
}

/* n asks ("e<i>", step "S<i>") an hour apart from `at`, numbered from `first`. */
static void s_asks(tp_fixture_t *f, int first, int n, int64_t at) {
    for (int i = first; i < first + n; i++) {
        char eid[16], step[16];
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(step, sizeof step, "S%d", i);
        s_ask(f, eid, at + i * TP_H, step);
    }
}

static void test_fires_on_the_fifth_ask(void **state) {
    tp_fixture_t *f = *state;
    s_ask(f, "a1", D0, "NEEDS_ASSESSMENT");
    s_internal(f, "i1", D0 + TP_H, "NEEDS_ASSESSMENT"); /* not an ask */
    s_ask(f, "a2", D0 + 2 * TP_H, "CONTRACT_SENT");
    assert_int_equal(s_ev(f, "a3", D0 + TP_D, "CONTRACT_SENT", RETURNED, true, false), 0);
    s_ask(f, "a4", D0 + 2 * TP_D, "CONTRACT_SENT"); /* asked again: counts */
    s_internal(f, "i2", D0 + 2 * TP_D + TP_H, "FMV_REVIEW");
    assert_int_equal(f->got.n, 0); /* four: at the limit */
    s_ask(f, "a5", D0 + 3 * TP_D, "PAYMENT_DETAILS");
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "friction.hcp_burden", .alert_id = ID,
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION, .status = TP_FIRING,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, .contract_id = "K-1",
        .hcp_id = "HCP-9", .rep_id = "REP-3", .detected_at_ms = D0 + 3 * TP_D,
        .evidence = { { "hcp_actions", "5" }, { "max_hcp_actions", "4" } });
    assert_string_equal(tp_test_evidence(a, "asks"),
                        "NEEDS_ASSESSMENT,CONTRACT_SENT,CONTRACT_SENT,CONTRACT_SENT,"
                        "PAYMENT_DETAILS");
    assert_string_equal(tp_test_evidence(a, "contract_type"), "ISS");
    assert_string_equal(tp_test_evidence(a, "case_opened_at"), "2026-01-01T09:00:00Z");
    assert_non_null(strstr(a->summary, "HCP-9"));
    assert_string_equal(a->event_ids[0], "a5");
}

/* Configured limits: 1 fires on the second ask; 0 on the first. */
static void test_threshold(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, "{ max_hcp_actions: 1 }");
    s_asks(f, 1, 1, D0);
    TP_STEP(f, .event_id = "x1", .at_ms = D0 + 5 * TP_H, .contract_id = "K-2", .step = "S1",
            .state = STARTED, .hcp_action = true); /* another contract */
    assert_int_equal(f->got.n, 0);
    s_asks(f, 2, 1, D0);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_EVIDENCE(f->got.alerts[0], { "hcp_actions", "2" }, { "max_hcp_actions", "1" },
                       { "asks", "S1,S2" });
    tp_fixture_free(f);

    f = s_new(NULL, "{ max_hcp_actions: 0 }");
    s_internal(f, "i1", D0, "NOMINATION");
    assert_int_equal(f->got.n, 0);
    s_asks(f, 1, 1, D0);
    assert_int_equal(f->got.n, 1);
    tp_fixture_free(f);
}

/* Resolved only by the case closing; more asks while FIRING change
 * nothing; what the rule kept is dropped with the case. */
static void test_resolves_on_close_and_never_fires_twice(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, NULL);
    s_asks(f, 1, 7, D0);
    assert_int_equal(f->got.n, 1);
    assert_int_equal(tp_engine_deadlines(f->engine), 2); /* case retention + ours */
    assert_int_equal(s_ev(f, "c", D0 + TP_D, "PAYMENT", COMPLETED, false, true), 0);
    assert_int_equal(f->got.n, 2);
    Touchpoint__V1__Alert *r = f->got.alerts[1];
    assert_int_equal(r->status, TP_RESOLVED);
    assert_string_equal(r->alert_id, ID);
    assert_string_equal(tp_test_evidence(r, "resolution"), "case closed");
    assert_string_equal(tp_test_evidence(r, "hcp_actions"), "5"); /* the FIRING's */
    assert_string_equal(r->event_ids[0], "c");
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 1); /* only the case retention */
    s_ask(f, "late", D0 + 2 * TP_D, "PAYMENT");          /* after the close */
    assert_int_equal(f->got.n, 2);
    assert_int_equal(tp_engine_deadlines(f->engine), 1);
    tp_fixture_free(f);

    /* A cancelled contract, closed by an ask: resolves, does not fire. */
    f = s_new(NULL, NULL);
    s_asks(f, 1, 5, D0);
    assert_int_equal(s_ev(f, "c", D0 + TP_D, "S5", CANCELLED, true, true), 0);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "case closed");
    assert_non_null(strstr(f->got.alerts[1]->summary, "cancelled"));
    tp_fixture_free(f);

    /* Four asks and a closing ask: the fifth closes the case, no alert. */
    f = s_new(NULL, NULL);
    s_asks(f, 1, 4, D0);
    assert_int_equal(s_ev(f, "c", D0 + TP_D, "SIGN", COMPLETED, true, true), 0);
    assert_int_equal(f->got.n, 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 1);
    tp_fixture_free(f);
}

/* At most 16 step names are kept; the rest are counted. */
static void test_asks_list_is_bounded(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, "{ max_hcp_actions: 18 }");
    s_asks(f, 1, 19, D0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "hcp_actions"), "19");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "asks"),
                        "S1,S2,S3,S4,S5,S6,S7,S8,S9,S10,S11,S12,S13,S14,S15,S16,... (+3 more)");
    tp_fixture_free(f);
}

/* Asks count in arrival order whatever their timestamps; a duplicate
 * event counts once. */
static void test_out_of_order_and_duplicates(void **state) {
    tp_fixture_t *f = *state;
    s_ask(f, "e1", D0 + 5 * TP_D, "A");
    s_ask(f, "e2", D0 + TP_D, "B"); /* older */
    s_ask(f, "e3", D0, "C");        /* older still */
    assert_int_equal(s_ev(f, "e3", D0, "C", STARTED, true, false), TP_DUPLICATE);
    assert_int_equal(s_ev(f, "e2", D0 + TP_D, "B", STARTED, true, false), TP_DUPLICATE);
    s_ask(f, "e4", D0 + 2 * TP_D, "D");
    assert_int_equal(f->got.n, 0);
    s_ask(f, "e5", D0 + TP_H, "E");
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "asks"), "A,B,C,D,E");
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_on_the_fifth_ask, s_fx), cmocka_unit_test(test_threshold),
             cmocka_unit_test(test_resolves_on_close_and_never_fires_twice),
             cmocka_unit_test(test_asks_list_is_bounded),
             TP_FIXTURE_TEST(test_out_of_order_and_duplicates, s_fx))
