/* test_rule_call_late — the one-shot fact: a call submitted after its due time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define ALL4      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define CALL_AT   (TP_T0 + 9 * TP_H)
#define DUE       (CALL_AT + 48 * TP_H)

#define RULE "call_late"

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE };
#define MONTHLY "{ style: monthly, cutoff_day: 5 }"

/* 2026-02-05T23:59:59.999Z: the January cut-off with cutoff_day 5. */
#define FEB5_END (TP_T0 + 36 * TP_D - 1)

/* A SUBMITTED version, stamped submitted_at = at (the fixture's way). */
static void s_submit(tp_fixture_t *f, const char *eid, const char *call_id, int64_t at,
                     int64_t call_at) {
    TP_CALL(f, .event_id = eid, .at_ms = at, .call_id = call_id, .status = SUBMITTED,
            .call_at_ms = call_at, .fields = ALL4);
}

/* A SUBMITTED version as a CRM sends it: submitted_at_ms may differ from
 * occurred_at_ms, or be missing (0). */
static void s_crm_submit(tp_fixture_t *f, const char *eid, int64_t occurred, int64_t call_at,
                         int64_t submitted_at) {
    TP_CALL(f, .event_id = eid, .source = "crm", .at_ms = occurred, .call_id = "C-1",
            .status = SUBMITTED, .channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE,
            .call_at_ms = call_at, .submitted_at_ms = submitted_at ? submitted_at : -1);
}

static void test_fires_just_past_submit_within(void **state) {
    tp_fixture_t *f = *state;
    s_submit(f, "s", "C-1", DUE + 1, CALL_AT);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_ALERT(f, 0, .topic = "accountability.call_late", .alert_id = "call_late:call/C-1",
                    .status = TP_FIRING, .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
                    .detected_at_ms = DUE + 1, .call_id = "C-1", .hcp_id = "HCP-1",
                    .rep_id = "REP-1",
                    .evidence = { { "call_at", "2026-01-01T09:00:00Z" },
                                  { "submitted_at", "2026-01-03T09:00:00.001Z" },
                                  { "due_at", "2026-01-03T09:00:00Z" },
                                  { "late_by", "1ms" },
                                  { "style", "hours" },
                                  { "submit_within", "2d" },
                                  { "cutoff_day", NULL },
                                  { "channel", "IN_PERSON" } },
                    .event_ids = { "s" });
}

static void test_exactly_submit_within_is_on_time(void **state) {
    tp_fixture_t *f = *state;
    s_submit(f, "s", "C-1", DUE, CALL_AT);
    TP_EXPECT_AT(f, DUE + 30 * TP_D, 0);
    assert_int_equal(tp_engine_deadlines(f->engine), 0); /* call and marker forgotten */
}

static void test_configured_submit_within(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, "{ submit_within: 24h }");
    s_submit(f, "s1", "C-1", CALL_AT + 24 * TP_H, CALL_AT);
    s_submit(f, "s2", "C-2", CALL_AT + 24 * TP_H + 1, CALL_AT);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(f->got.alerts[0]->alert_id, "call_late:call/C-2");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "submit_within"), "1d");
    tp_fixture_free(f);
}

/* The fact is closed after a week so it does not stay open for ever. */
static void test_resolved_as_expired_after_a_week(void **state) {
    tp_fixture_t *f = *state;
    int64_t       s = DUE + 5 * TP_H;
    s_submit(f, "s", "C-1", s, CALL_AT);
    assert_int_equal(tp_engine_open_alerts(f->engine), 1);
    tp_expect_edge(f, s + 7 * TP_D, 1);
    /* late_by: the FIRING's evidence */
    TP_EXPECT_ALERT(f, 1, .status = TP_RESOLVED, .alert_id = "call_late:call/C-1",
                    .detected_at_ms = s + 7 * TP_D + 1, .no_event_ids = true,
                    .evidence = { { "resolution", "expired" }, { "late_by", "5h" } });
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    /* Everything is forgotten once the engine forgets the call. */
    TP_WATERMARK(f, s + 60 * TP_D);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);
    assert_int_equal(tp_engine_calls(f->engine), 0);
    assert_int_equal(f->got.n, 2);
}

static void test_planned_then_late_submission_fires_once(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "p", .at_ms = TP_T0, .call_id = "C-1", .status = PLANNED,
            .call_at_ms = CALL_AT);
    TP_EXPECT_AT(f, DUE + TP_D, 0); /* no submission yet: not this rule's case */
    s_submit(f, "s", "C-1", DUE + TP_D + TP_H, CALL_AT);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "late_by"), "1d1h");
}

/* Corrections of a late call, while open and after its expiry, never fire
 * again. */
static void test_corrections_never_fire_twice(void **state) {
    tp_fixture_t *f = *state;
    int64_t       s = DUE + 5 * TP_H;
    s_submit(f, "s", "C-1", s, CALL_AT);
    s_submit(f, "c1", "C-1", s + TP_D, CALL_AT); /* while FIRING */
    assert_int_equal(f->got.n, 1);
    s_submit(f, "c2", "C-1", s + 8 * TP_D, CALL_AT); /* after the expiry */
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    s_submit(f, "c3", "C-1", s + 14 * TP_D, CALL_AT); /* retention moved on by c2 */
    assert_int_equal(f->got.n, 2);
}

/* The first SUBMITTED version decides: a correction of an on-time call is
 * not judged again, even if its stamp is later. */
static void test_correction_of_on_time_call_is_not_judged(void **state) {
    tp_fixture_t *f = *state;
    s_submit(f, "s", "C-1", DUE - TP_H, CALL_AT);
    s_submit(f, "c", "C-1", DUE + 3 * TP_D, CALL_AT);
    TP_EXPECT_AT(f, DUE + 40 * TP_D, 0);
}

/* submitted_at_ms is the CRM's stamp; occurred_at_ms only stands in for it
 * when it is missing. */
static void test_submission_time_source(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
    s_crm_submit(f, "s", DUE + 10 * TP_H, CALL_AT, DUE - 1); /* delivered late, on time */
    assert_int_equal(f->got.n, 0);
    tp_fixture_free(f);

    f = tp_fixture_only(NULL, RULE, NULL);
    s_crm_submit(f, "s", DUE + 1, CALL_AT, 0); /* no stamp */
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "submitted_at"),
                        "2026-01-03T09:00:00.001Z");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "channel"), "PHONE");
    /* A CRM correction keeps submitted_at: it is the same fact. */
    s_crm_submit(f, "c", DUE + 2 * TP_D, CALL_AT, DUE + 1);
    assert_int_equal(f->got.n, 1);
    tp_fixture_free(f);
}

static void test_out_of_order_versions(void **state) {
    tp_fixture_t *f = *state;
    /* The correction overtakes the late original; then the original and a
     * stale draft arrive. */
    s_submit(f, "c", "C-1", DUE + 2 * TP_H, CALL_AT);
    s_submit(f, "s", "C-1", DUE + TP_H, CALL_AT);
    TP_CALL(f, .event_id = "p", .at_ms = TP_T0, .call_id = "C-1", .status = PLANNED,
            .call_at_ms = CALL_AT);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(f->got.alerts[0]->event_ids[0], "c");
    assert_int_equal(tp_engine_stats(f->engine)->stale_versions, 2);
    /* A late call whose event reaches us long after: judged when it arrives. */
    TP_WATERMARK(f, DUE + 5 * TP_D);
    s_submit(f, "s2", "C-2", DUE + TP_D, CALL_AT);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(f->got.alerts[1]->alert_id, "call_late:call/C-2");
}

/* Monthly: January's calls are due by the end of 5 February (UTC). */
static void test_monthly_cutoff_boundary(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, MONTHLY);
    int64_t       jan15 = TP_T0 + 14 * TP_D + 9 * TP_H;
    s_submit(f, "s1", "C-1", FEB5_END, jan15);                     /* 23:59:59.999: on time */
    s_submit(f, "s2", "C-2", FEB5_END + 1, jan15);                 /* one ms later */
    s_submit(f, "s3", "C-3", FEB5_END + 1, TP_T0 + 31 * TP_D - 1); /* 31 Jan, last ms */
    s_submit(f, "s4", "C-4", FEB5_END + 1, TP_T0 + 31 * TP_D);     /* 1 Feb: due 5 Mar */
    assert_int_equal(f->got.n, 2);
    TP_EXPECT_ALERT(f, 0, .alert_id = "call_late:call/C-2",
                    .evidence = { { "due_at", "2026-02-05T23:59:59.999Z" },
                                  { "submitted_at", "2026-02-06T00:00:00Z" },
                                  { "late_by", "1ms" },
                                  { "style", "monthly" },
                                  { "cutoff_day", "5" },
                                  { "submit_within", NULL } });
    assert_string_equal(f->got.alerts[1]->alert_id, "call_late:call/C-3");
    tp_fixture_free(f);
}

/* December's calls roll over to January of the next year. */
static void test_monthly_december_rolls_over(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, MONTHLY);
    int64_t       dec20 = TP_T0 - 12 * TP_D;       /* 2025-12-20 */
    int64_t       jan5_end = TP_T0 + 5 * TP_D - 1; /* 2026-01-05T23:59:59.999Z */
    s_submit(f, "s1", "C-1", jan5_end, dec20);
    s_submit(f, "s2", "C-2", jan5_end + 1, dec20);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "due_at"), "2026-01-05T23:59:59.999Z");
    /* 31 Dec 2026, last ms: due 5 Jan 2027. */
    int64_t dec31 = TP_T0 + 365 * TP_D - 1;
    s_submit(f, "s3", "C-3", TP_T0 + 370 * TP_D - 1, dec31);
    s_submit(f, "s4", "C-4", TP_T0 + 370 * TP_D, dec31);
    assert_int_equal(f->got.n, 3); /* C-2 expired in between */
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    assert_string_equal(f->got.alerts[2]->alert_id, "call_late:call/C-4");
    assert_int_equal(f->got.alerts[2]->status, TP_FIRING);
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "due_at"), "2027-01-05T23:59:59.999Z");
    tp_fixture_free(f);
}

static void test_monthly_per_month_override(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(
        NULL, RULE, "{ style: monthly, cutoff_day: 5, cutoff_by_month: { JAN: 10 } }");
    int64_t jan15 = TP_T0 + 14 * TP_D;
    int64_t feb10_end = TP_T0 + 41 * TP_D - 1;
    s_submit(f, "s1", "C-1", feb10_end, jan15); /* JAN: by 10 Feb */
    s_submit(f, "s2", "C-2", feb10_end + 1, jan15);
    int64_t feb15 = TP_T0 + 45 * TP_D;
    int64_t mar5_end = TP_T0 + (31 + 28 + 5) * TP_D - 1; /* FEB: cutoff_day */
    s_submit(f, "s3", "C-3", mar5_end, feb15);
    s_submit(f, "s4", "C-4", mar5_end + 1, feb15);
    assert_int_equal(f->got.n, 3); /* C-2 expired in between */
    assert_string_equal(f->got.alerts[0]->alert_id, "call_late:call/C-2");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "due_at"), "2026-02-10T23:59:59.999Z");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "cutoff_day"), "10");
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    assert_string_equal(f->got.alerts[2]->alert_id, "call_late:call/C-4");
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "due_at"), "2026-03-05T23:59:59.999Z");
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "cutoff_day"), "5");
    tp_fixture_free(f);
}

/* The same input in wall mode gives the same alerts; the expiry comes
 * from the timer. */
static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    int64_t       s = DUE + 5 * TP_H;
    w->wall_ms = s + 100;
    for (int i = 0; i < 2; i++) {
        s_submit(both[i], "s", "C-1", s, CALL_AT);
        s_submit(both[i], "ok", "C-2", DUE, CALL_AT);
    }
    tp_fixture_wall_tick(w, s + 7 * TP_D);
    assert_int_equal(w->got.n, 1); /* just inside */
    tp_fixture_wall_tick(w, s + 7 * TP_D + 250);
    TP_WATERMARK(e, s + 7 * TP_D + 250);
    tp_expect_same_alerts(w, e, 2, true, NULL);
    tp_expect_detected(w, e, 0, s + 100, s); /* the wall clock */
    tp_expect_detected(w, e, 1, s + 7 * TP_D + 250, s + 7 * TP_D + 1);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_just_past_submit_within, s_fx),
             TP_FIXTURE_TEST(test_exactly_submit_within_is_on_time, s_fx),
             cmocka_unit_test(test_configured_submit_within),
             TP_FIXTURE_TEST(test_resolved_as_expired_after_a_week, s_fx),
             TP_FIXTURE_TEST(test_planned_then_late_submission_fires_once, s_fx),
             TP_FIXTURE_TEST(test_corrections_never_fire_twice, s_fx),
             TP_FIXTURE_TEST(test_correction_of_on_time_call_is_not_judged, s_fx),
             cmocka_unit_test(test_submission_time_source),
             TP_FIXTURE_TEST(test_out_of_order_versions, s_fx),
             cmocka_unit_test(test_monthly_cutoff_boundary),
             cmocka_unit_test(test_monthly_december_rolls_over),
             cmocka_unit_test(test_monthly_per_month_override),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
