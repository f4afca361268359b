/* test_rule_common — the scenarios every rule shares, one table row per
 * rule: the events that make it fire, when, and the alert it raises.
 *
 *   - enabled, the events fire the rule's alert (so the rows below prove
 *     something: the same input with the rule off is what stays silent);
 *   - a disabled rule is silent: no alert, no deadline left armed;
 *   - a duplicate event (same event_id) is refused as TP_DUPLICATE and
 *     does not count twice: every event sent twice ends where sending it
 *     once does; rows with `again` then re-send the first event under a new
 *     id while FIRING, which fires nothing new either.
 *
 * What is particular to one rule stays in its own test_rule_<rule>.c. */
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
#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PHONE     TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE
#define EMAIL     TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL
#define GRANT     TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_GRANT
#define ISS       TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ISS
#define ADVISORY  TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ADVISORY_BOARD
#define ALL4      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define CALL_AT   (TP_T0 + 9 * TP_H)
#define DUE       (CALL_AT + 48 * TP_H) /* a call's submit_within (48h) */
#define FB_AT     (TP_T0 + 10 * TP_H)
#define D0        (TP_T0 + 9 * TP_H)
#define MAX_EV    10

/* One event: a call, a step or a feedback. */
typedef struct {
    const tp_test_call_t     *call;
    const tp_test_step_t     *step;
    const tp_test_feedback_t *fb;
} s_ev_t;

#define CALL(...)                   \
    {                               \
        .call = &(tp_test_call_t) { \
            __VA_ARGS__             \
        }                           \
    }
#define STEP(...)                   \
    {                               \
        .step = &(tp_test_step_t) { \
            __VA_ARGS__             \
        }                           \
    }
#define FB(...)                       \
    {                                 \
        .fb = &(tp_test_feedback_t) { \
            __VA_ARGS__               \
        }                             \
    }

/* Owner OWN-i taking step S<i>, ask i of the HCP, return i of FMV_REVIEW:
 * one an hour from D0. */
#define OWNER(i)                                                                       \
    STEP(.event_id = "e" #i, .at_ms = D0 + i * TP_H, .step = "S" #i, .state = STARTED, \
         .owner_id = "OWN-" #i)
#define ASK(i)                                                                         \
    STEP(.event_id = "e" #i, .at_ms = D0 + i * TP_H, .step = "S" #i, .state = STARTED, \
         .hcp_action = true)
#define RETURN(i)                                                                             \
    STEP(.event_id = "e" #i, .at_ms = D0 + i * TP_H, .step = "FMV_REVIEW", .state = RETURNED, \
         .owner_id = "OWN-1")
/* A call by `rep` submitted one hour after it took place. */
#define REP_CALL(eid, id, rep, at)                                                                 \
    CALL(.event_id = eid, .at_ms = (at) + TP_H, .call_id = id, .rep_id = rep, .status = SUBMITTED, \
         .call_at_ms = (at), .fields = TP_FIELD_ACCOUNT_ID | TP_FIELD_TERRITORY)
#define PHONE_CALL(eid, id, at)                                                     \
    CALL(.event_id = eid, .at_ms = (at) + TP_H, .call_id = id, .status = SUBMITTED, \
         .channel = PHONE, .call_at_ms = (at))

typedef struct {
    const char    *rule;
    const char    *settings;      /* the enabled rule's flow mapping, or NULL */
    int            case_type;     /* > 0: tp_fixture_case (K-1 of HCP-9 with REP-3) */
    tp_test_step_t step_defaults; /* else these, when set */
    s_ev_t         fire[MAX_EV];  /* the input; .call/.step/.fb all NULL ends */
    int64_t        fired_ms;      /* then a watermark by which it FIRED, or 0 */
    const char    *alert_id;      /* the one alert it raises */
    int64_t        quiet_ms;      /* disabled: a watermark long past it all */
    bool           disarmed;      /* and by then no deadline armed (retention's neither) */
    s_ev_t         again;         /* the first event under a new id, or none */
    int64_t        again_ms;      /* then a watermark: still one alert */
} s_row_t;

static const s_row_t s_rows[] = {
    {
        .rule = "call_unsubmitted",
        .fire = { CALL(.event_id = "p", .at_ms = TP_T0, .call_id = "C-1", .status = PLANNED,
                       .call_at_ms = CALL_AT) },
        .fired_ms = DUE + 1,
        .alert_id = "call_unsubmitted:call/C-1",
        .quiet_ms = DUE + 30 * TP_D,
    },
    {
        .rule = "call_late",
        .fire = { CALL(.event_id = "s", .at_ms = DUE + 1, .call_id = "C-1", .status = SUBMITTED,
                       .call_at_ms = CALL_AT, .fields = ALL4) },
        .alert_id = "call_late:call/C-1",
        .quiet_ms = DUE + 30 * TP_D,
    },
    {
        .rule = "follow_up_missing",
        .fire = { FB(.event_id = "F-1", .at_ms = FB_AT, .nps = 0, .effort = 7,
                     .subject_type = "call", .subject_id = "C-0",
                     .comment = "Nobody answered my question about dosing.") },
        .fired_ms = FB_AT + 7 * TP_D + 1,
        .alert_id = "follow_up_missing:feedback/F-1",
        .quiet_ms = FB_AT + 98 * TP_D, /* past its expiry */
        .disarmed = true,
    },
    {
        .rule = "uncoordinated_contact",
        .fire = { REP_CALL("e1", "C-1", "REP-1", D0), REP_CALL("e2", "C-2", "REP-2", D0 + TP_D),
                  REP_CALL("e3", "C-3", "REP-3", D0 + 2 * TP_D) },
        .alert_id = "uncoordinated_contact:hcp/HCP-1",
        .quiet_ms = D0 + 30 * TP_D,
    },
    {
        .rule = "channel_mismatch",
        .fire = { FB(.event_id = "fb", .at_ms = D0, .nps = -1, .effort = -1,
                     .preferred_channel = EMAIL),
                  PHONE_CALL("e1", "C-1", D0 + TP_D), PHONE_CALL("e2", "C-2", D0 + 2 * TP_D),
                  PHONE_CALL("e3", "C-3", D0 + 3 * TP_D) },
        .alert_id = "channel_mismatch:hcp/HCP-1",
        .quiet_ms = D0 + 400 * TP_D,
    },
    {
        .rule = "negative_feedback",
        .fire = { FB(.event_id = "F-1", .at_ms = FB_AT, .nps = 0, .effort = 7) },
        .alert_id = "negative_feedback:feedback/F-1",
        .quiet_ms = FB_AT + 8 * TP_D, /* past its expiry */
        .disarmed = true,
    },
    {
        .rule = "step_slow",
        .settings = "{ enabled: true, default_sla: 5d, by_step: { FMV_REVIEW: 3d }, "
                    "by_contract_type: { GRANT: 10d } }",
        .step_defaults = { .contract_id = "K-1", .step = "NEEDS_ASSESSMENT" },
        .fire = { STEP(.event_id = "s", .at_ms = TP_T0, .state = STARTED) },
        .fired_ms = TP_T0 + 5 * TP_D + 1,
        .alert_id = "step_slow:contract/K-1/step/NEEDS_ASSESSMENT",
        .quiet_ms = TP_T0 + 30 * TP_D,
        /* The same STARTED re-sent under a new id changes nothing. */
        .again = STEP(.event_id = "s-again", .at_ms = TP_T0, .state = STARTED),
        .again_ms = TP_T0 + 20 * TP_D,
    },
    {
        .rule = "case_stalled",
        .settings = "{ enabled: true, stall_after: 10d }",
        .step_defaults = { .contract_id = "K-1", .step = "NOMINATION" },
        .fire = { STEP(.event_id = "e1", .at_ms = TP_T0, .state = STARTED) },
        .fired_ms = TP_T0 + 10 * TP_D + 1,
        .alert_id = "case_stalled:contract/K-1",
        .quiet_ms = TP_T0 + 60 * TP_D,
        /* Re-sent under a new id: the case is still silent. */
        .again = STEP(.event_id = "e1-again", .at_ms = TP_T0, .state = STARTED),
        .again_ms = TP_T0 + 30 * TP_D,
    },
    {
        /* A speaker contract closed at day 30, past its 14d target. */
        .rule = "cycle_time",
        .settings = "{ enabled: true, targets: { SPEAKER: 14d } }",
        .step_defaults = { .contract_id = "K-1", .step = "NOMINATION" },
        .fire = { STEP(.event_id = "K-1-1", .at_ms = TP_T0, .step = "NOMINATION", .state = STARTED,
                       .owner_id = "OWN-1"),
                  STEP(.event_id = "K-1-2", .at_ms = TP_T0 + 2 * TP_D, .step = "FMV_REVIEW",
                       .state = STARTED, .owner_id = "OWN-2"),
                  STEP(.event_id = "K-1-3", .at_ms = TP_T0 + 9 * TP_D, .step = "FMV_REVIEW",
                       .state = COMPLETED, .owner_id = "OWN-2"),
                  STEP(.event_id = "K-1-close", .at_ms = TP_T0 + 30 * TP_D, .step = "PAYMENT",
                       .state = COMPLETED, .owner_id = "OWN-3", .case_closed = true) },
        .alert_id = "cycle_time:contract/K-1",
        .quiet_ms = TP_T0 + 60 * TP_D,
    },
    {
        .rule = "handoffs",
        .case_type = GRANT,
        .fire = { OWNER(1), OWNER(2), OWNER(3), OWNER(4), OWNER(5), OWNER(6), OWNER(7), OWNER(8),
                  OWNER(9), OWNER(10) },
        .alert_id = "handoffs:contract/K-1",
        .quiet_ms = D0 + 400 * TP_D,
        .disarmed = true,
    },
    {
        .rule = "hcp_burden",
        .case_type = ISS,
        .fire = { ASK(1), ASK(2), ASK(3), ASK(4), ASK(5), ASK(6), ASK(7), ASK(8), ASK(9), ASK(10) },
        .alert_id = "hcp_burden:contract/K-1",
        .quiet_ms = D0 + 400 * TP_D,
        .disarmed = true,
    },
    {
        .rule = "rework",
        .case_type = ADVISORY,
        .fire = { RETURN(0), RETURN(1), RETURN(2), RETURN(3), RETURN(4) },
        .alert_id = "rework:contract/K-1/step/FMV_REVIEW",
        .quiet_ms = D0 + 400 * TP_D,
        .disarmed = true,
    },
};

#define N_ROWS (sizeof s_rows / sizeof s_rows[0])

static tp_fixture_t *s_fixture(const s_row_t *row, const char *settings) {
    if (row->case_type)
        return tp_fixture_case(NULL, row->rule, settings, row->case_type);
    tp_fixture_t *f = tp_fixture_only(NULL, row->rule, settings);
    f->step_defaults = row->step_defaults;
    return f;
}

static bool s_is_event(const s_ev_t *ev) {
    return ev->call || ev->step || ev->fb;
}

/* What the engine answers to one event. */
static int s_send(tp_fixture_t *f, const s_ev_t *ev) {
    return ev->call   ? tp_fixture_call(f, ev->call)
           : ev->step ? tp_fixture_step(f, ev->step)
                      : tp_fixture_feedback(f, ev->fb);
}

/* Sends row's events (each `times` times: the repeats must come back
 * TP_DUPLICATE), then its watermark if it has one. */
static void s_fire(tp_fixture_t *f, const s_row_t *row, int times) {
    for (size_t i = 0; i < MAX_EV && s_is_event(&row->fire[i]); i++) {
        assert_int_equal(s_send(f, &row->fire[i]), TP_ACCEPTED);
        for (int k = 1; k < times; k++)
            assert_int_equal(s_send(f, &row->fire[i]), TP_DUPLICATE);
    }
    if (row->fired_ms)
        TP_WATERMARK(f, row->fired_ms);
}

static void s_enabled_fires(const s_row_t *row) {
    tp_fixture_t *f = s_fixture(row, row->settings);
    s_fire(f, row, 1);
    assert_int_equal(f->got.n, 1);
    tp_expect(f, 0, TP_FIRING, row->alert_id);
    tp_fixture_free(f);
}

static void s_disabled_is_silent(const s_row_t *row) {
    tp_fixture_t *f = s_fixture(row, "{ enabled: false }");
    s_fire(f, row, 1);
    TP_EXPECT_AT(f, row->quiet_ms, 0);
    if (row->disarmed)
        assert_int_equal(tp_engine_deadlines(f->engine), 0);
    tp_fixture_free(f);
}

static void s_duplicate_does_nothing(const s_row_t *row) {
    tp_fixture_t *f = s_fixture(row, row->settings);
    s_fire(f, row, 2);
    assert_int_equal(f->got.n, 1);
    tp_expect(f, 0, TP_FIRING, row->alert_id);
    if (s_is_event(&row->again)) {
        assert_int_equal(s_send(f, &row->again), TP_ACCEPTED);
        TP_EXPECT_AT(f, row->again_ms, 1);
    }
    tp_fixture_free(f);
}

/* Runs one scenario on every row, naming the rule first (a failure's
 * message follows the name of the row it is about). */
static void s_each_row(void (*scenario)(const s_row_t *row)) {
    for (size_t i = 0; i < N_ROWS; i++) {
        print_message("rule %s\n", s_rows[i].rule);
        scenario(&s_rows[i]);
    }
}

static void test_enabled_fires(void **state) {
    (void)state;
    s_each_row(s_enabled_fires);
}

static void test_disabled_is_silent(void **state) {
    (void)state;
    s_each_row(s_disabled_is_silent);
}

static void test_duplicate_event_does_nothing(void **state) {
    (void)state;
    s_each_row(s_duplicate_does_nothing);
}

TP_TEST_MAIN(cmocka_unit_test(test_enabled_fires), cmocka_unit_test(test_disabled_is_silent),
             cmocka_unit_test(test_duplicate_event_does_nothing))
