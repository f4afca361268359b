/* test_rule_forgotten_case — what a friction rule leaves FIRING on a case
 * the engine forgets (limits.open_case_horizon after its last step, never
 * closed) is resolved, and nothing of the rule's is left behind.
 *
 * One table, one row per rule holding a per-case alert: the events that
 * make it fire (with the alerts expected after each), the watermark at
 * which the case is still held, the one by which it is gone, and the
 * resolution. Rows with `again` then open a new case under the same id
 * below the threshold: it must start from zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define D0        (TP_T0 + 9 * TP_H)
#define MAX_EV    8

/* A step event and how many alerts are captured once it is in. */
typedef struct {
    tp_test_step_t s;
    size_t         n;
} s_ev_t;

typedef struct {
    const char    *rule;
    const char    *settings;     /* the rule's YAML flow mapping, or NULL */
    const char    *horizon;      /* open_case_horizon */
    tp_test_step_t defaults;     /* what the events leave unset */
    s_ev_t         fire[MAX_EV]; /* up to and past the FIRING; event_id NULL ends */
    int64_t        held_ms;      /* watermark: still FIRING, the case still held */
    int64_t        gone_ms;      /* watermark: the case is forgotten */
    const char    *alert_id;
    const char    *resolution;
    s_ev_t         again[MAX_EV]; /* a new case with the same id afterwards */
    int64_t        again_ms;      /* then a watermark past it, or 0 */
} s_row_t;

/* Ask i of the HCP, or owner OWN-i taking step S<i>; n alerts after it. */
#define ASK(i, at, n)           \
    {                           \
        { .event_id = "e" #i,   \
          .at_ms = (at),        \
          .step = "S" #i,       \
          .state = STARTED,     \
          .hcp_action = true }, \
            n                   \
    }
#define OWNER(i, at, n)            \
    {                              \
        { .event_id = "e" #i,      \
          .at_ms = (at),           \
          .step = "S" #i,          \
          .state = STARTED,        \
          .owner_id = "OWN-" #i }, \
            n                      \
    }

static const s_row_t s_rows[] = {
    {
        .rule = "step_slow",
        .settings = "{ enabled: true, default_sla: 5d, by_step: { FMV_REVIEW: 3d }, "
                    "by_contract_type: { GRANT: 10d } }",
        .horizon = "20d",
        .defaults = { .contract_id = "K-1", .step = "NEEDS_ASSESSMENT" },
        .fire = { { { .event_id = "s", .at_ms = TP_T0, .state = STARTED }, 0 } },
        .held_ms = TP_T0 + 20 * TP_D,
        .gone_ms = TP_T0 + 20 * TP_D + 1,
        .alert_id = "step_slow:contract/K-1/step/NEEDS_ASSESSMENT",
        .resolution = "case forgotten",
    },
    {
        .rule = "case_stalled",
        .settings = "{ enabled: true, stall_after: 10d }",
        .horizon = "30d",
        .defaults = { .contract_id = "K-1", .step = "NOMINATION" },
        .fire = { { { .event_id = "e1", .at_ms = TP_T0, .state = STARTED }, 0 } },
        .held_ms = TP_T0 + 30 * TP_D,
        .gone_ms = TP_T0 + 30 * TP_D + 1,
        .alert_id = "case_stalled:contract/K-1",
        .resolution = "case forgotten",
    },
    {
        /* The fourth owner fires; the last step is at D0 + 4h. */
        .rule = "handoffs",
        .horizon = "30d",
        .defaults = { .contract_id = "K-1",
                      .hcp_id = "HCP-9",
                      .rep_id = "REP-3",
                      .contract_type = TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_GRANT },
        .fire = { OWNER(1, D0 + TP_H, 0), OWNER(2, D0 + 2 * TP_H, 0), OWNER(3, D0 + 3 * TP_H, 0),
                  OWNER(4, D0 + 4 * TP_H, 1) },
        .held_ms = D0 + 4 * TP_H + 30 * TP_D,
        .gone_ms = D0 + 4 * TP_H + 30 * TP_D + 2,
        .alert_id = "handoffs:contract/K-1",
        .resolution = "expired",
        /* A new case: three owners, at the limit. */
        .again = { OWNER(11, D0 + 40 * TP_D + 11 * TP_H, 2),
                   OWNER(12, D0 + 40 * TP_D + 12 * TP_H, 2),
                   OWNER(13, D0 + 40 * TP_D + 13 * TP_H, 2) },
        .again_ms = D0 + 100 * TP_D,
    },
    {
        /* The fifth ask fires; a step event that asks nothing moves the
         * retention on. */
        .rule = "hcp_burden",
        .horizon = "30d",
        .defaults = { .contract_id = "K-1",
                      .hcp_id = "HCP-9",
                      .rep_id = "REP-3",
                      .contract_type = TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ISS },
        .fire = { ASK(1, D0 + TP_H, 0),
                  ASK(2, D0 + 2 * TP_H, 0),
                  ASK(3, D0 + 3 * TP_H, 0),
                  ASK(4, D0 + 4 * TP_H, 0),
                  ASK(5, D0 + 5 * TP_H, 1),
                  { { .event_id = "i1",
                      .at_ms = D0 + 20 * TP_D,
                      .step = "FMV_REVIEW",
                      .state = COMPLETED },
                    1 } },
        .held_ms = D0 + 31 * TP_D,
        .gone_ms = D0 + 50 * TP_D + 2,
        .alert_id = "hcp_burden:contract/K-1",
        .resolution = "expired",
        /* A new case: counted from zero, four asks stay at the limit. */
        .again = { ASK(11, D0 + 60 * TP_D + 11 * TP_H, 2), ASK(12, D0 + 60 * TP_D + 12 * TP_H, 2),
                   ASK(13, D0 + 60 * TP_D + 13 * TP_H, 2), ASK(14, D0 + 60 * TP_D + 14 * TP_H, 2) },
        .again_ms = D0 + 100 * TP_D,
    },
    {
        /* The second return fires; a later step keeps the case alive. */
        .rule = "rework",
        .horizon = "30d",
        .defaults = { .contract_id = "K-1",
                      .hcp_id = "HCP-9",
                      .rep_id = "REP-3",
                      .contract_type = TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ADVISORY_BOARD,
                      .owner_id = "OWN-1" },
        .fire = { { { .event_id = "e1", .at_ms = D0, .step = "FMV_REVIEW", .state = RETURNED }, 0 },
                  { { .event_id = "e2",
                      .at_ms = D0 + TP_H,
                      .step = "FMV_REVIEW",
                      .state = RETURNED },
                    1 },
                  { { .event_id = "e3",
                      .at_ms = D0 + 20 * TP_D,
                      .step = "CONTRACT_SENT",
                      .state = STARTED },
                    1 } },
        .held_ms = D0 + 40 * TP_D,
        .gone_ms = D0 + 50 * TP_D + 2,
        .alert_id = "rework:contract/K-1/step/FMV_REVIEW",
        .resolution = "expired",
    },
};

static void s_send(tp_fixture_t *f, const s_ev_t *ev, size_t n) {
    for (size_t i = 0; i < n && ev[i].s.event_id; i++) {
        TP_STEP(f, .event_id = ev[i].s.event_id, .at_ms = ev[i].s.at_ms, .step = ev[i].s.step,
                .state = ev[i].s.state, .owner_id = ev[i].s.owner_id,
                .hcp_action = ev[i].s.hcp_action);
        assert_int_equal(f->got.n, ev[i].n);
    }
}

static void s_run(const s_row_t *row) {
    char head[96];
    snprintf(head, sizeof head, "clock: event\nlimits: { open_case_horizon: %s }\n", row->horizon);
    tp_fixture_t *f = tp_fixture_only(head, row->rule, row->settings);
    f->step_defaults = row->defaults;
    s_send(f, row->fire, MAX_EV);

    TP_EXPECT_AT(f, row->held_ms, 1);
    tp_expect(f, 0, TP_FIRING, row->alert_id);
    assert_int_equal(tp_engine_cases(f->engine), 1);

    TP_WATERMARK(f, row->gone_ms);
    assert_int_equal(tp_engine_cases(f->engine), 0);
    assert_int_equal(f->got.n, 2);
    const Touchpoint__V1__Alert *r = tp_expect_resolved(f, 1, row->resolution);
    assert_string_equal(r->alert_id, row->alert_id);
    assert_int_equal(r->n_event_ids, 0);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);

    s_send(f, row->again, MAX_EV);
    if (row->again_ms) {
        TP_WATERMARK(f, row->again_ms);
        assert_int_equal(tp_engine_deadlines(f->engine), 0);
        assert_int_equal(f->got.n, 2);
    }
    tp_fixture_free(f);
}

static void test_forgotten_case_resolves(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        print_message("rule %s\n", s_rows[i].rule);
        s_run(&s_rows[i]);
    }
}

TP_TEST_MAIN(cmocka_unit_test(test_forgotten_case_resolves))
