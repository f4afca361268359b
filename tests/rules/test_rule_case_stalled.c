/* test_rule_case_stalled — an open contract with no step event for too long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "case_stalled"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define STALL     (10 * TP_D)

#define SETTINGS "{ enabled: true, stall_after: 10d }"

/* A fixture running only this rule; step events default to contract K-1,
 * step NOMINATION. */
#define s_new(head, settings) tp_fixture_at_step((head), RULE, (settings), "NOMINATION")

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE, .settings = SETTINGS, .step = "NOMINATION" };

static void test_fires_just_past_stall_after(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "e1", .at_ms = TP_T0, .step = "NOMINATION", .state = STARTED,
            .owner_id = "OWN-1");
    TP_STEP(f, .event_id = "e2", .at_ms = TP_T0 + 1 * TP_D, .step = "NOMINATION",
            .state = COMPLETED, .owner_id = "OWN-1");
    TP_STEP(f, .event_id = "e3", .at_ms = TP_T0 + 2 * TP_D, .step = "FMV_REVIEW", .state = STARTED,
            .owner_id = "OWN-2");
    TP_STEP(f, .event_id = "e4", .at_ms = TP_T0 + 3 * TP_D, .step = "CONTRACT_SENT",
            .state = STARTED, .owner_id = "OWN-3");
    tp_expect_edge(f, TP_T0 + 3 * TP_D + STALL, 0); /* just inside; just past */
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "friction.case_stalled", .alert_id = "case_stalled:contract/K-1",
        .status = TP_FIRING, .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, .contract_id = "K-1",
        .hcp_id = "HCP-1", .rep_id = "REP-1", .detected_at_ms = TP_T0 + 13 * TP_D + 1,
        .evidence = { { "last_step", "CONTRACT_SENT" },
                      { "last_step_state", "STARTED" },
                      { "last_step_at", "2026-01-04T00:00:00Z" },
                      { "last_step_owner", "OWN-3" },
                      { "stalled_for", "10d" },
                      { "stall_after", "10d" },
                      { "open_steps", "FMV_REVIEW,CONTRACT_SENT" },
                      { "owners", "OWN-1,OWN-2,OWN-3" },
                      { "contract_type", "SPEAKER" } });
    assert_string_equal(a->event_ids[0], "e4");
    /* Time moving on does not fire it again. */
    TP_EXPECT_AT(f, TP_T0 + 60 * TP_D, 1);
}

static void test_every_event_moves_the_deadline(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "e1", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "e2", .at_ms = TP_T0 + 9 * TP_D, .step = "FMV_REVIEW", .state = STARTED);
    tp_expect_edge(f, TP_T0 + 19 * TP_D, 0);
}

static void test_moving_again_resolves_and_rearms(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "e1", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "e2", .at_ms = TP_T0 + 12 * TP_D,
            .state = COMPLETED); /* passes the deadline */
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[0]->status, TP_FIRING);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, TP_T0 + STALL + 1);
    const Touchpoint__V1__Alert *r =
        TP_EXPECT_ALERT(f, 1, .status = TP_RESOLVED, .alert_id = "case_stalled:contract/K-1",
                        .evidence = { { "resolution", "moved again" },
                                      { "moved_step", "NOMINATION" },
                                      { "moved_state", "COMPLETED" },
                                      { "moved_at", "2026-01-13T00:00:00Z" } });
    assert_string_equal(tp_test_evidence(r, "stalled_for"), "10d"); /* from the FIRING */
    assert_string_equal(r->event_ids[0], "e2");
    /* Silent again for stall_after: a new FIRING (the first is resolved). */
    tp_expect_edge(f, TP_T0 + 22 * TP_D, 2);
    assert_int_equal(f->got.alerts[2]->status, TP_FIRING);
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "open_steps"), "");
}

static void test_stale_events_neither_rearm_earlier_nor_resolve(void **state) {
    tp_fixture_t *f = *state;
    /* COMPLETED overtook its STARTED: the case last moved at T0+5d. */
    TP_STEP(f, .event_id = "c", .at_ms = TP_T0 + 5 * TP_D, .state = COMPLETED);
    TP_STEP(f, .event_id = "s", .at_ms = TP_T0, .state = STARTED);
    TP_STEP(f, .event_id = "old", .at_ms = TP_T0 + TP_D, .step = "FMV_REVIEW", .state = STARTED);
    tp_expect_edge(f, TP_T0 + 15 * TP_D, 0);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "last_step"), "NOMINATION");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "last_step_state"), "COMPLETED");
    /* While FIRING, an event older than the silence does not end it. */
    TP_STEP(f, .event_id = "old2", .at_ms = TP_T0 + 4 * TP_D, .step = "CONTRACT_SENT",
            .state = STARTED);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_AT(f, TP_T0 + 40 * TP_D, 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 1);
}

static void test_case_close_resolves_and_disarms(void **state) {
    tp_fixture_t *f = *state;
    TP_STEP(f, .event_id = "e1", .at_ms = TP_T0, .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + STALL + 1, 1);
    TP_STEP(f, .event_id = "close", .at_ms = TP_T0 + 11 * TP_D, .step = "PAYMENT",
            .state = COMPLETED, .case_closed = true);
    assert_int_equal(f->got.n, 2);
    tp_expect_resolved(f, 1, "case closed");
    assert_string_equal(f->got.alerts[1]->event_ids[0], "close");
    /* A late event on the closed case arms nothing. */
    TP_STEP(f, .event_id = "late", .at_ms = TP_T0 + 12 * TP_D, .step = "FMV_REVIEW",
            .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + 18 * TP_D, 2);

    /* Closed (here: cancelled) before stall_after: never fires. */
    TP_STEP(f, .event_id = "k2", .at_ms = TP_T0 + 18 * TP_D, .contract_id = "K-2",
            .state = STARTED);
    TP_STEP(f, .event_id = "k2x", .at_ms = TP_T0 + 19 * TP_D, .contract_id = "K-2",
            .state = CANCELLED, .case_closed = true);
    TP_EXPECT_AT(f, TP_T0 + 25 * TP_D, 2);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
}

/* A stale event while FIRING moves the engine's retention nowhere; one
 * newer than the last step (but still silent) moves it, and the watch
 * follows instead of resolving early. */
static void test_retention_watch_follows_the_case(void **state) {
    (void)state;
    tp_fixture_t *f = s_new("clock: event\nlimits: { open_case_horizon: 30d }\n", SETTINGS);
    TP_STEP(f, .event_id = "e1", .at_ms = TP_T0, .state = STARTED);
    TP_EXPECT_AT(f, TP_T0 + 25 * TP_D, 1);
    TP_STEP(f, .event_id = "e2", .at_ms = TP_T0 + 5 * TP_D, .step = "FMV_REVIEW", .state = STARTED);
    assert_int_equal(f->got.n, 1); /* still silent for 20d */
    TP_WATERMARK(f, TP_T0 + 35 * TP_D);
    assert_int_equal(tp_engine_cases(f->engine), 1);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_AT(f, TP_T0 + 35 * TP_D + 1, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "case forgotten");
    tp_fixture_free(f);
}

static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    for (int i = 0; i < 2; i++)
        TP_STEP(both[i], .event_id = "e1", .at_ms = TP_T0, .state = STARTED);
    tp_expect_wall_edge(w, e, TP_T0 + STALL, 1);
    tp_fixture_wall_tick(w, TP_T0 + 12 * TP_D);
    for (int i = 0; i < 2; i++)
        TP_STEP(both[i], .event_id = "e2", .at_ms = TP_T0 + 12 * TP_D, .state = COMPLETED);
    tp_expect_same_alerts(w, e, 2, false, "last_step_at");
    tp_expect_detected(w, e, 0, TP_T0 + STALL + 250, TP_T0 + STALL + 1);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_just_past_stall_after, s_fx),
             TP_FIXTURE_TEST(test_every_event_moves_the_deadline, s_fx),
             TP_FIXTURE_TEST(test_moving_again_resolves_and_rearms, s_fx),
             TP_FIXTURE_TEST(test_stale_events_neither_rearm_earlier_nor_resolve, s_fx),
             TP_FIXTURE_TEST(test_case_close_resolves_and_disarms, s_fx),
             cmocka_unit_test(test_retention_watch_follows_the_case),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
