/* test_rule_handoffs — too many people handling one contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "handoffs"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define GRANT     TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_GRANT
#define D0        (TP_T0 + 9 * TP_H)
#define ID        "handoffs:contract/K-1"


/* A fixture running only this rule, about contract K-1 (GRANT). */
#define s_new(head, settings) tp_fixture_case((head), RULE, (settings), GRANT)

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE, .contract_type = GRANT };

static void s_step(tp_fixture_t *f, const char *eid, int64_t at, const char *step,
                   const char *owner) {
    assert_int_equal(tp_fixture_step_at(f, eid, at, step, STARTED, owner, false), 0);
}

/* Owners OWN-1..OWN-n on steps S1..Sn, one hour apart from `at`. */
static void s_owners(tp_fixture_t *f, int first, int n, int64_t at) {
    for (int i = first; i < first + n; i++) {
        char eid[16], owner[16], step[16];
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(owner, sizeof owner, "OWN-%d", i);
        snprintf(step, sizeof step, "S%d", i);
        s_step(f, eid, at + i * TP_H, step, owner);
    }
}

static void test_fires_on_the_fourth_owner(void **state) {
    tp_fixture_t *f = *state;
    s_step(f, "a1", D0, "NOMINATION", "OWN-1");
    s_step(f, "a2", D0 + TP_H, "NEEDS_ASSESSMENT", "OWN-2");
    s_step(f, "a3", D0 + 2 * TP_H, "FMV_REVIEW", "OWN-1"); /* known: still two */
    s_step(f, "a4", D0 + 3 * TP_H, "FMV_REVIEW", "OWN-3");
    assert_int_equal(f->got.n, 0); /* three: at the limit */
    s_step(f, "a5", D0 + TP_D, "CONTRACT_SENT", "OWN-4");
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_ALERT(f, 0, .topic = "friction.handoffs", .alert_id = ID,
                    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION, .status = TP_FIRING,
                    .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, .contract_id = "K-1",
                    .hcp_id = "HCP-9", .rep_id = "REP-3", .detected_at_ms = D0 + TP_D,
                    .evidence = { { "owners", "OWN-1,OWN-2,OWN-3,OWN-4" },
                                  { "distinct_owners", "4" },
                                  { "max_owners", "3" },
                                  { "contract_type", "GRANT" },
                                  { "new_owner", "OWN-4" },
                                  { "at_step", "CONTRACT_SENT" },
                                  { "case_opened_at", "2026-01-01T09:00:00Z" } },
                    .event_ids = { "a5" }, .summary_has = { "K-1" });
}

/* Configured: max_owners 2 fires on the third, not the second; owners of
 * another contract do not count. */
static void test_threshold(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, "{ max_owners: 2 }");
    s_owners(f, 1, 2, D0);
    TP_STEP(f, .event_id = "x1", .at_ms = D0 + 5 * TP_H, .contract_id = "K-2", .step = "S1",
            .state = STARTED, .owner_id = "OWN-9");
    assert_int_equal(f->got.n, 0);
    s_owners(f, 3, 1, D0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "distinct_owners"), "3");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "max_owners"), "2");
    tp_fixture_free(f);
}

/* Resolved only by the case closing; more owners while FIRING change nothing. */
static void test_resolves_on_close_and_never_fires_twice(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, NULL);
    s_owners(f, 1, 6, D0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "distinct_owners"), "4");
    assert_int_equal(tp_fixture_step_at(f, "c", D0 + TP_D, "PAYMENT", COMPLETED, "OWN-1", true), 0);
    assert_int_equal(f->got.n, 2);
    const Touchpoint__V1__Alert *r = TP_EXPECT_ALERT(
        f, 1, .status = TP_RESOLVED, .alert_id = ID,
        .evidence = { { "resolution", "case closed" }, { "owners", "OWN-1,OWN-2,OWN-3,OWN-4" } });
    assert_string_equal(r->event_ids[0], "c");
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 1); /* only the case retention */
    /* Late events with new owners on the closed case fire nothing. */
    s_step(f, "late", D0 + 2 * TP_D, "PAYMENT", "OWN-8");
    assert_int_equal(f->got.n, 2);
    tp_fixture_free(f);

    /* A cancelled contract resolves as well. */
    f = s_new(NULL, NULL);
    s_owners(f, 1, 4, D0);
    assert_int_equal(tp_fixture_step_at(f, "c", D0 + TP_D, "S4", CANCELLED, "OWN-4", true), 0);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "case closed");
    assert_non_null(strstr(f->got.alerts[1]->summary, "cancelled"));
    tp_fixture_free(f);
}

/* Owners count in arrival order whatever the timestamps; a duplicate
 * event counts once; an event that both closes and adds an owner does
 * not fire. */
static void test_out_of_order_and_duplicates(void **state) {
    (void)state;
    tp_fixture_t *f = s_new(NULL, NULL);
    s_step(f, "e1", D0 + 3 * TP_D, "S1", "OWN-1");
    s_step(f, "e2", D0 + TP_D, "S2", "OWN-2"); /* older */
    s_step(f, "e3", D0, "S3", "OWN-3");        /* older still */
    assert_int_equal(tp_fixture_step_at(f, "e3", D0, "S3", STARTED, "OWN-3", false), TP_DUPLICATE);
    assert_int_equal(f->got.n, 0);
    s_step(f, "e4", D0 + TP_H, "S4", "OWN-4");
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "owners"), "OWN-1,OWN-2,OWN-3,OWN-4");
    tp_fixture_free(f);

    f = s_new(NULL, NULL);
    s_owners(f, 1, 3, D0);
    assert_int_equal(tp_fixture_step_at(f, "c", D0 + TP_D, "PAYMENT", COMPLETED, "OWN-4", true), 0);
    assert_int_equal(f->got.n, 0);
    tp_fixture_free(f);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_on_the_fourth_owner, s_fx),
             cmocka_unit_test(test_threshold),
             cmocka_unit_test(test_resolves_on_close_and_never_fires_twice),
             cmocka_unit_test(test_out_of_order_and_duplicates))
