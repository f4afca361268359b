/* test_rule_cycle_time — a contract closed later than its type's target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "cycle_time"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define ISS       TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ISS
#define GRANT     TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_GRANT
#define TARGET    (14 * TP_D)
#define WEEK      (7 * TP_D)

#define SETTINGS "{ enabled: true, targets: { SPEAKER: 14d } }"

/* A fixture running only this rule; step events default to contract K-1,
 * step NOMINATION. */
#define s_new(head, settings) tp_fixture_at_step((head), RULE, (settings), "NOMINATION")

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE, .settings = SETTINGS, .step = "NOMINATION" };

/* A speaker contract: nomination, FMV review, payment closing it at `close`. */
static void s_contract(tp_fixture_t *f, const char *id, int64_t close) {
    char e1[32], e2[32], e3[32], e4[32];
    snprintf(e1, sizeof e1, "%s-1", id);
    snprintf(e2, sizeof e2, "%s-2", id);
    snprintf(e3, sizeof e3, "%s-3", id);
    snprintf(e4, sizeof e4, "%s-close", id);
    TP_STEP(f, .event_id = e1, .at_ms = TP_T0, .contract_id = id, .step = "NOMINATION",
            .state = STARTED, .owner_id = "OWN-1");
    TP_STEP(f, .event_id = e2, .at_ms = TP_T0 + 2 * TP_D, .contract_id = id, .step = "FMV_REVIEW",
            .state = STARTED, .owner_id = "OWN-2");
    TP_STEP(f, .event_id = e3, .at_ms = TP_T0 + 9 * TP_D, .contract_id = id, .step = "FMV_REVIEW",
            .state = COMPLETED, .owner_id = "OWN-2");
    TP_STEP(f, .event_id = e4, .at_ms = close, .contract_id = id, .step = "PAYMENT",
            .state = COMPLETED, .owner_id = "OWN-3", .case_closed = true);
}

static void test_fires_just_past_the_target(void **state) {
    tp_fixture_t *f = *state;
    s_contract(f, "ON-TIME", TP_T0 + TARGET); /* exactly the target */
    assert_int_equal(f->got.n, 0);
    s_contract(f, "LATE", TP_T0 + TARGET + 1); /* just past */
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "friction.cycle_time", .alert_id = "cycle_time:contract/LATE",
        .status = TP_FIRING, .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, .contract_id = "LATE",
        .hcp_id = "HCP-1", .rep_id = "REP-1", .detected_at_ms = TP_T0 + TARGET + 1,
        .evidence = { { "contract_type", "SPEAKER" },
                      { "opened_at", "2026-01-01T00:00:00Z" },
                      { "closed_at", "2026-01-15T00:00:00.001Z" },
                      { "cycle_time", "14d" },
                      { "target", "14d" },
                      { "over_by", "1ms" },
                      { "steps", "3" },
                      { "owners", "OWN-1,OWN-2,OWN-3" },
                      { "slowest_step", "FMV_REVIEW" },
                      { "slowest_step_time", "7d" } });
    assert_string_equal(a->event_ids[0], "LATE-close");
}

static void test_default_targets_per_type(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, SETTINGS); /* only SPEAKER overridden: the rest default */
    TP_STEP(f, .event_id = "i1", .at_ms = TP_T0, .contract_id = "ISS-1", .contract_type = ISS,
            .state = STARTED);
    TP_STEP(f, .event_id = "i2", .at_ms = TP_T0 + 59 * TP_D, .contract_id = "ISS-1",
            .contract_type = ISS, .state = COMPLETED, .case_closed = true);
    TP_STEP(f, .event_id = "g1", .at_ms = TP_T0, .contract_id = "GR-1", .contract_type = GRANT,
            .state = STARTED);
    TP_STEP(f, .event_id = "g2", .at_ms = TP_T0 + 46 * TP_D, .contract_id = "GR-1",
            .contract_type = GRANT, .state = COMPLETED, .case_closed = true);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(f->got.alerts[0]->alert_id, "cycle_time:contract/GR-1");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "target"), "45d");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "over_by"), "1d");
    tp_fixture_free(f);

    f = s_new(NULL, "{ targets: { SPEAKER: 7d } }");
    s_contract(f, "K-1", TP_T0 + 7 * TP_D + 1);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "target"), "7d");
    tp_fixture_free(f);
}

static void test_expires_a_week_after_the_close(void **state) {
    tp_fixture_t *f = *state;
    int64_t       close = TP_T0 + 20 * TP_D;
    s_contract(f, "K-1", close);
    assert_int_equal(f->got.n, 1);
    tp_expect_edge(f, close + WEEK, 1);
    Touchpoint__V1__Alert *r = f->got.alerts[1];
    assert_int_equal(r->status, TP_RESOLVED);
    assert_string_equal(r->alert_id, "cycle_time:contract/K-1");
    assert_string_equal(tp_test_evidence(r, "resolution"), "expired");
    assert_string_equal(tp_test_evidence(r, "over_by"), "6d"); /* kept from the FIRING */
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
}

static void test_cancelled_contract_never_fires(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "s", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "x", .at_ms = TP_T0 + 30 * TP_D, .state = CANCELLED,
            .case_closed = true);
    TP_EXPECT_AT(f, TP_T0 + 60 * TP_D, 0);
}

static void test_judged_once(void **state) {
    tp_fixture_t *f = *state;
    s_contract(f, "K-1", TP_T0 + 20 * TP_D);
    assert_int_equal(f->got.n, 1);
    /* The close re-sent under another id, and a late step: not judged again. */
    TP_STEP(f, .event_id = "close-again", .at_ms = TP_T0 + 21 * TP_D, .step = "PAYMENT",
            .state = COMPLETED, .case_closed = true);
    TP_STEP(f, .event_id = "late", .at_ms = TP_T0 + 22 * TP_D, .step = "AUDIT", .state = COMPLETED,
            .case_closed = true);
    assert_int_equal(f->got.n, 1);
    /* After it expired, still not judged again. */
    TP_EXPECT_AT(f, TP_T0 + 27 * TP_D + 1, 2);
    TP_STEP(f, .event_id = "later", .at_ms = TP_T0 + 27 * TP_D + 2, .step = "PAYMENT",
            .state = COMPLETED, .case_closed = true);
    assert_int_equal(f->got.n, 2);
}

static void test_duplicate_close_does_nothing(void **state) {
    tp_fixture_t *f = *state;
    s_contract(f, "K-1", TP_T0 + 20 * TP_D);
    assert_int_equal(tp_fixture_step(f, &(tp_test_step_t){ .event_id = "K-1-close",
                                                           .at_ms = TP_T0 + 20 * TP_D,
                                                           .step = "PAYMENT",
                                                           .state = COMPLETED,
                                                           .case_closed = true }),
                     TP_DUPLICATE);
    assert_int_equal(f->got.n, 1);
}

/* The cycle starts at the earliest step seen, whatever the arrival order;
 * a close that overtook the steps before it is judged on what is known. */
static void test_out_of_order_events(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "b", .at_ms = TP_T0 + 5 * TP_D, .step = "FMV_REVIEW", .state = STARTED);
    TP_STEP(f, .event_id = "a", .at_ms = TP_T0, .step = "NOMINATION",
            .state = STARTED); /* older, late */
    TP_STEP(f, .event_id = "c", .at_ms = TP_T0 + 19 * TP_D, .step = "PAYMENT", .state = COMPLETED,
            .case_closed = true);
    assert_int_equal(f->got.n, 1); /* 19d from T0, not 14d */
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "cycle_time"), "19d");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "opened_at"), "2026-01-01T00:00:00Z");

    /* K-2: the close arrives first; the older steps after it change nothing. */
    TP_STEP(f, .event_id = "k2c", .at_ms = TP_T0 + 20 * TP_D, .contract_id = "K-2",
            .step = "PAYMENT", .state = COMPLETED, .case_closed = true);
    TP_STEP(f, .event_id = "k2a", .at_ms = TP_T0, .contract_id = "K-2", .step = "NOMINATION",
            .state = STARTED);
    assert_int_equal(f->got.n, 1);
}

static void test_unknown_contract_type_has_no_target(void **state) {
    tp_fixture_t *f = *state;
    const int64_t at[2] = { TP_T0, TP_T0 + 300 * TP_D };
    const char   *ids[2] = { "u1", "u2" };
    for (int i = 0; i < 2; i++) {
        Touchpoint__V1__ContractingStep st;
        touchpoint__v1__contracting_step__init(&st);
        st.contract_id = (char *)"U-1";
        st.hcp_id = (char *)"HCP-1";
        st.step = (char *)"NOMINATION";
        st.state = i ? COMPLETED : STARTED;
        st.at_ms = at[i];
        st.case_closed = i == 1;
        Touchpoint__V1__Envelope env;
        touchpoint__v1__envelope__init(&env);
        env.event_id = (char *)ids[i];
        env.source = (char *)"contracts";
        env.occurred_at_ms = at[i];
        env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING;
        env.contracting = &st;
        assert_int_equal(tp_engine_handle_envelope(f->engine, &env), TP_ACCEPTED);
    }
    assert_int_equal(tp_engine_cases(f->engine), 1);
    assert_int_equal(f->got.n, 0);
}

static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e;
    int64_t       close = TP_T0 + 20 * TP_D;
    tp_fixture_wall_tick(w, close);
    s_contract(w, "K-1", close);
    s_contract(e, "K-1", close);
    /* The expiry, and the engine forgetting the case (case_retention 7d). */
    tp_expect_wall_edge(w, e, close + WEEK, 2);
    tp_expect_same_alerts(w, e, 2, true, NULL);
    tp_expect_detected(w, e, 1, close + WEEK + 250, close + WEEK + 1);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_just_past_the_target, s_fx),
             cmocka_unit_test(test_default_targets_per_type),
             TP_FIXTURE_TEST(test_expires_a_week_after_the_close, s_fx),
             TP_FIXTURE_TEST(test_cancelled_contract_never_fires, s_fx),
             TP_FIXTURE_TEST(test_judged_once, s_fx),
             TP_FIXTURE_TEST(test_duplicate_close_does_nothing, s_fx),
             TP_FIXTURE_TEST(test_out_of_order_events, s_fx),
             TP_FIXTURE_TEST(test_unknown_contract_type_has_no_target, s_fx),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
