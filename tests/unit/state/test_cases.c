/* test_cases — the contracting case state. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_cases.h"
#include "tp_testutil.h"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED

static tp_step_change_t s_apply(tp_cases_t *cs, const char *step, int state, int64_t at,
                                const char *owner, bool ask, bool closed) {
    Touchpoint__V1__ContractingStep s;
    touchpoint__v1__contracting_step__init(&s);
    s.contract_id = "K-1";
    s.hcp_id = "H-1";
    s.rep_id = "R-1";
    s.contract_type = TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_SPEAKER;
    s.step = (char *)step;
    s.state = (Touchpoint__V1__StepState)state;
    s.owner_id = (char *)owner;
    s.hcp_action = ask;
    s.at_ms = at;
    s.case_closed = closed;
    tp_step_change_t ch;
    assert_int_equal(tp_cases_apply(cs, &s, "e", &ch), 0);
    return ch;
}

static void test_case_lifecycle(void **state) {
    (void)state;
    tp_cases_t *cs;
    assert_int_equal(tp_cases_new(&cs), 0);
    tp_step_change_t ch = s_apply(cs, "NOMINATION", STARTED, 1000, "MSL-1", false, false);
    assert_true(ch.opened);
    assert_true(ch.new_owner);
    assert_true(ch.state_changed);
    assert_int_equal(ch.prev_state, 0);
    assert_int_equal(ch.step->started_at_ms, 1000);
    ch = s_apply(cs, "NOMINATION", COMPLETED, 2000, "MSL-1", false, false);
    assert_false(ch.opened);
    assert_false(ch.new_owner);
    assert_int_equal(ch.prev_state, STARTED);
    assert_int_equal(ch.step->state, COMPLETED);
    ch = s_apply(cs, "FMV_REVIEW", STARTED, 3000, "FMV-2", false, false);
    ch = s_apply(cs, "FMV_REVIEW", RETURNED, 4000, "FMV-2", false, false);
    ch = s_apply(cs, "FMV_REVIEW", RETURNED, 5000, "FMV-3", true, false);
    assert_int_equal(ch.step->returns, 2);
    assert_true(ch.new_owner);
    ch = s_apply(cs, "CONTRACT_SIGNED", COMPLETED, 9000, "", true, true);
    assert_true(ch.closed_now);
    tp_case_t *c = ch.kase;
    assert_true(c->closed);
    assert_false(c->cancelled);
    assert_int_equal(c->opened_at_ms, 1000);
    assert_int_equal(c->closed_at_ms, 9000);
    assert_int_equal(c->last_step_ms, 9000);
    assert_int_equal(c->hcp_actions, 2);
    assert_int_equal(c->n_owners, 3); /* an empty owner is not an owner */
    assert_int_equal(c->n_steps, 3);
    char owners[128];
    tp_case_owner_list(c, owners, sizeof owners);
    assert_string_equal(owners, "MSL-1,FMV-2,FMV-3");
    tp_case_owner_list(c, owners, 10); /* what does not fit is cut off */
    assert_string_equal(owners, "MSL-1,FMV");
    /* Closing twice does not move the close time. */
    ch = s_apply(cs, "PAYMENT", COMPLETED, 9500, "FIN-1", false, true);
    assert_false(ch.closed_now);
    assert_int_equal(c->closed_at_ms, 9000);
    assert_int_equal(tp_cases_count(cs), 1);
    tp_cases_forget(cs, c);
    assert_int_equal(tp_cases_count(cs), 0);
    assert_null(tp_cases_find(cs, "K-1"));
    tp_cases_destroy(&cs);
}

static void test_out_of_order_keeps_the_latest_state(void **state) {
    (void)state;
    tp_cases_t *cs;
    assert_int_equal(tp_cases_new(&cs), 0);
    tp_step_change_t ch = s_apply(cs, "FMV_REVIEW", COMPLETED, 5000, "A", false, false);
    ch = s_apply(cs, "FMV_REVIEW", STARTED, 3000, "A", true, false); /* its start, late */
    assert_false(ch.state_changed);
    assert_int_equal(ch.step->state, COMPLETED);
    assert_int_equal(ch.kase->opened_at_ms, 3000); /* but the case opened earlier */
    assert_int_equal(ch.kase->last_step_ms, 5000);
    assert_int_equal(ch.kase->hcp_actions, 1); /* facts still count */
    ch = s_apply(cs, "FMV_REVIEW", RETURNED, 4000, "A", false, false);
    assert_int_equal(ch.step->returns, 1);
    assert_int_equal(ch.step->state, COMPLETED);
    tp_cases_destroy(&cs);
}

static void test_cancel_closes_as_cancelled(void **state) {
    (void)state;
    tp_cases_t *cs;
    assert_int_equal(tp_cases_new(&cs), 0);
    s_apply(cs, "NOMINATION", STARTED, 1000, "A", false, false);
    tp_step_change_t ch = s_apply(cs, "NOMINATION", CANCELLED, 2000, "A", false, true);
    assert_true(ch.closed_now);
    assert_true(ch.kase->cancelled);
    tp_cases_destroy(&cs);
}

static void test_limits(void **state) {
    (void)state;
    tp_cases_t *cs;
    assert_int_equal(tp_cases_new(&cs), 0);
    char name[16], owner[16];
    for (int i = 0; i < TP_CASE_MAX_STEPS; i++) {
        snprintf(name, sizeof name, "S%d", i);
        snprintf(owner, sizeof owner, "O%d", i);
        s_apply(cs, name, STARTED, 1000 + i, owner, false, false);
    }
    Touchpoint__V1__ContractingStep s;
    touchpoint__v1__contracting_step__init(&s);
    s.contract_id = "K-1";
    s.step = "ONE_TOO_MANY";
    s.state = STARTED;
    s.at_ms = 5000;
    tp_step_change_t ch;
    assert_int_equal(tp_cases_apply(cs, &s, "e", &ch), -E2BIG);
    /* Owners beyond what is kept are still counted. */
    s_apply(cs, "S0", STARTED, 6000, "O-extra", false, false);
    tp_case_t *c = tp_cases_find(cs, "K-1");
    assert_int_equal(c->n_owners, TP_CASE_MAX_OWNERS + 1);
    tp_cases_destroy(&cs); /* LSan: everything freed */
}

/* One step event for contract `id` of HCP `hcp`; returns what apply did. */
static int s_open(tp_cases_t *cs, const char *id, const char *hcp, bool closed) {
    Touchpoint__V1__ContractingStep s;
    touchpoint__v1__contracting_step__init(&s);
    s.contract_id = (char *)id;
    s.hcp_id = (char *)hcp;
    s.step = "NOMINATION";
    s.state = STARTED;
    s.at_ms = 1000;
    s.case_closed = closed;
    tp_step_change_t ch;
    return tp_cases_apply(cs, &s, "e", &ch);
}

static void test_max_open_per_hcp(void **state) {
    (void)state;
    tp_cases_t *cs;
    assert_int_equal(tp_cases_new(&cs), 0);
    tp_cases_set_max_open_per_hcp(cs, 2);
    assert_int_equal(s_open(cs, "K-1", "H-1", false), 0);
    assert_int_equal(s_open(cs, "K-2", "H-1", false), 0);
    /* A third open contract for H-1 is refused and not kept; other HCPs and
     * the open ones go on. */
    assert_int_equal(s_open(cs, "K-3", "H-1", false), -EDQUOT);
    assert_null(tp_cases_find(cs, "K-3"));
    assert_int_equal(s_open(cs, "K-9", "H-2", false), 0);
    assert_int_equal(s_open(cs, "K-1", "H-1", false), 0);
    /* Closing one frees a place; a forgotten open one too. */
    assert_int_equal(s_open(cs, "K-1", "H-1", true), 0);
    assert_int_equal(s_open(cs, "K-3", "H-1", false), 0);
    assert_int_equal(s_open(cs, "K-4", "H-1", false), -EDQUOT);
    tp_cases_forget(cs, tp_cases_find(cs, "K-2"));
    assert_int_equal(s_open(cs, "K-4", "H-1", false), 0);
    /* A contract opened and closed by one event never counts. */
    assert_int_equal(s_open(cs, "K-5", "H-1", true), 0);
    assert_int_equal(tp_cases_count(cs), 5); /* K-1, K-3, K-4, K-5, K-9 */
    tp_cases_destroy(&cs);                   /* LSan: the per-HCP counts are freed too */
}

TP_TEST_MAIN(cmocka_unit_test(test_max_open_per_hcp), cmocka_unit_test(test_case_lifecycle),
             cmocka_unit_test(test_out_of_order_keeps_the_latest_state),
             cmocka_unit_test(test_cancel_closes_as_cancelled), cmocka_unit_test(test_limits))
