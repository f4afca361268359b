/* test_rule_uncoordinated_contact — too many reps calling one HCP in a window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "uncoordinated_contact"

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE };

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define SAVED     TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED
#define CANCELLED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED
#define D0        (TP_T0 + 9 * TP_H) /* the first call */
#define W         (7 * TP_D)         /* the default window */
#define ID        "uncoordinated_contact:hcp/HCP-1"


/* A version of call `call_id` by `rep` at call_at, arriving at `at`. */
static int s_version(tp_fixture_t *f, const char *eid, int64_t at, const char *call_id,
                     const char *rep, int64_t call_at, int status) {
    tp_test_call_t c = { .event_id = eid,
                         .at_ms = at,
                         .call_id = call_id,
                         .rep_id = rep,
                         .status = status,
                         .call_at_ms = call_at,
                         .fields = TP_FIELD_ACCOUNT_ID | TP_FIELD_TERRITORY };
    return tp_fixture_call(f, &c);
}

/* A call submitted one hour after it took place. */
static void s_call(tp_fixture_t *f, const char *eid, const char *call_id, const char *rep,
                   int64_t call_at) {
    assert_int_equal(s_version(f, eid, call_at + TP_H, call_id, rep, call_at, SUBMITTED), 0);
}

static void test_fires_on_the_third_distinct_rep(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + TP_D);
    s_call(f, "e3", "C-3", "REP-1", D0 + 2 * TP_D); /* a rep again: still two */
    assert_int_equal(f->got.n, 0);
    s_call(f, "e4", "C-4", "REP-3", D0 + 3 * TP_D);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_ALERT(f, 0, .topic = "accountability.uncoordinated_contact", .alert_id = ID,
                    .status = TP_FIRING, .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
                    .hcp_id = "HCP-1", .account_id = "ACC-1", .territory = "T-1",
                    .detected_at_ms = D0 + 3 * TP_D + TP_H,
                    .evidence = { { "reps", "REP-1,REP-2,REP-3" },
                                  { "calls", "C-1,C-2,C-3,C-4" },
                                  { "distinct_reps", "3" },
                                  { "window", "7d" },
                                  { "first_at", "2026-01-01T09:00:00Z" },
                                  { "last_at", "2026-01-04T09:00:00Z" } },
                    .event_ids = { "e4" });
}

/* Windows are (t - W, t]: calls exactly W apart do not share one. */
static void test_window_edge(void **state) {
    (void)state;
    for (int inside = 0; inside < 2; inside++) {
        tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
        s_call(f, "e1", "C-1", "REP-1", D0);
        s_call(f, "e2", "C-2", "REP-2", D0 + 3 * TP_D);
        int64_t call_at = D0 + W - inside; /* just outside, just inside */
        assert_int_equal(s_version(f, "e3", call_at, "C-3", "REP-3", call_at, SUBMITTED), 0);
        assert_int_equal(f->got.n, (size_t)inside);
        if (inside)
            assert_int_equal(f->got.alerts[0]->status, TP_FIRING);
        tp_fixture_free(f);
    }
}

static void test_resolves_when_the_window_passes(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + TP_D);
    s_call(f, "e3", "C-3", "REP-3", D0 + 2 * TP_D);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_AT(f, D0 + W - 1, 1); /* C-1 still inside */
    TP_EXPECT_AT(f, D0 + W, 2);     /* C-1 has left */
    TP_EXPECT_ALERT(f, 1, .alert_id = ID, .status = TP_RESOLVED, .detected_at_ms = D0 + W,
                    .evidence = { { "resolution", "window passed" },
                                  { "distinct_reps", "2" },
                                  { "reps", "REP-1,REP-2,REP-3" } });
    /* Nothing more happens, and nothing is left armed. */
    TP_EXPECT_AT(f, D0 + 60 * TP_D, 2);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);
}

static void test_never_fires_twice_and_rearms(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + TP_D);
    s_call(f, "e3", "C-3", "REP-3", D0 + 2 * TP_D);
    s_call(f, "e4", "C-4", "REP-4", D0 + 3 * TP_D);
    s_call(f, "e5", "C-5", "REP-5", D0 + 4 * TP_D);
    assert_int_equal(f->got.n, 1);
    /* C-1 and C-2 leave, three reps remain: still firing. */
    TP_EXPECT_AT(f, D0 + TP_D + W, 1);
    /* C-3 leaves at D0 + 2d + W: two reps left. */
    TP_EXPECT_AT(f, D0 + 2 * TP_D + W - 1, 1);
    TP_EXPECT_AT(f, D0 + 2 * TP_D + W, 2);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
    /* A new rep joining the two still inside: a new episode, fired once. */
    s_call(f, "e6", "C-6", "REP-6", D0 + 2 * TP_D + W);
    assert_int_equal(f->got.n, 3);
    assert_int_equal(f->got.alerts[2]->status, TP_FIRING);
    assert_string_equal(tp_test_evidence(f->got.alerts[2], "reps"), "REP-4,REP-5,REP-6");
}

static void test_out_of_order_arrival(void **state) {
    tp_fixture_t *f = *state;
    int64_t       at = D0 + 2 * TP_D + TP_H; /* all arrive together, newest first */
    assert_int_equal(s_version(f, "e3", at, "C-3", "REP-3", D0 + 2 * TP_D, SUBMITTED), 0);
    assert_int_equal(s_version(f, "e1", at, "C-1", "REP-1", D0, SUBMITTED), 0);
    assert_int_equal(f->got.n, 0);
    assert_int_equal(s_version(f, "e2", at, "C-2", "REP-2", D0 + TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 1);
    TP_EXPECT_EVIDENCE(f->got.alerts[0], { "reps", "REP-1,REP-2,REP-3" },
                       { "calls", "C-1,C-2,C-3" }, { "first_at", "2026-01-01T09:00:00Z" });
    TP_EXPECT_AT(f, D0 + W, 2);
}

/* A window completed by a late submission still happened: it fires, and
 * resolves at once if it has already passed. Not again afterwards. */
static void test_late_window_fires_and_resolves_once(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + 5 * TP_D);
    assert_int_equal(s_version(f, "e3", D0 + 8 * TP_D, "C-3", "REP-3", D0 + 6 * TP_D, SUBMITTED),
                     0);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[0]->status, TP_FIRING);
    tp_expect_resolved(f, 1, "window passed");
    assert_string_equal(f->got.alerts[1]->event_ids[0], "e3");
    /* A correction of one of those calls does not bring it back. */
    assert_int_equal(
        s_version(f, "e3b", D0 + 8 * TP_D + 1, "C-3", "REP-3", D0 + 6 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 2);
}

static void test_correction_and_duplicate_do_not_count_twice(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + TP_D);
    /* The same event again is refused; a correction moves C-2 to REP-3. */
    assert_int_not_equal(s_version(f, "e2", D0 + TP_D + TP_H, "C-2", "REP-2", D0 + TP_D, SUBMITTED),
                         0);
    assert_int_equal(tp_engine_stats(f->engine)->duplicates, 1);
    assert_int_equal(
        s_version(f, "e2b", D0 + TP_D + 2 * TP_H, "C-2", "REP-3", D0 + TP_D, SUBMITTED), 0);
    /* A stale version (older than the one held) changes nothing. */
    assert_int_equal(s_version(f, "e2-old", D0 + TP_D, "C-2", "REP-9", D0 + TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 0); /* REP-1, REP-3: two */
    s_call(f, "e4", "C-4", "REP-4", D0 + 2 * TP_D);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "reps"), "REP-1,REP-3,REP-4");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "calls"), "C-1,C-2,C-4");
    /* Correcting C-4 to a rep already there takes it below the threshold. */
    assert_int_equal(
        s_version(f, "e4b", D0 + 2 * TP_D + 2 * TP_H, "C-4", "REP-1", D0 + 2 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "corrected");
}

static void test_only_submitted_count_and_cancel_removes(void **state) {
    tp_fixture_t *f = *state;
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + TP_D);
    assert_int_equal(s_version(f, "e3", D0 + 2 * TP_D, "C-3", "REP-3", D0 + 2 * TP_D, SAVED), 0);
    assert_int_equal(f->got.n, 0); /* a draft does not count */
    assert_int_equal(
        s_version(f, "e3s", D0 + 2 * TP_D + TP_H, "C-3", "REP-3", D0 + 2 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 1);
    assert_int_equal(
        s_version(f, "e3c", D0 + 2 * TP_D + 2 * TP_H, "C-3", "REP-3", D0 + 2 * TP_D, CANCELLED), 0);
    assert_int_equal(f->got.n, 2);
    tp_expect_resolved(f, 1, "cancelled");
    assert_string_equal(f->got.alerts[1]->event_ids[0], "e3c");
}

static void test_config_thresholds(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, "{ window: 1d, min_reps: 2 }");
    s_call(f, "e1", "C-1", "REP-1", D0);
    s_call(f, "e2", "C-2", "REP-2", D0 + TP_D); /* exactly 1d apart */
    assert_int_equal(f->got.n, 0);
    assert_int_equal(
        s_version(f, "e3", D0 + 2 * TP_D - 1, "C-3", "REP-3", D0 + 2 * TP_D - 1, SUBMITTED), 0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "reps"), "REP-2,REP-3");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "window"), "1d");
    tp_fixture_free(f);
}

/* The entry of an HCP is dropped once its newest contact has left the
 * window: a call arriving later no longer meets the old ones. */
static void test_state_is_forgotten(void **state) {
    (void)state;
    for (int forgotten = 0; forgotten < 2; forgotten++) {
        tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
        s_call(f, "e1", "C-1", "REP-1", D0);
        s_call(f, "e2", "C-2", "REP-2", D0 + TP_D);
        /* The entry goes once the clock passes C-2's exit, D0 + 1d + W. */
        int64_t at = D0 + TP_D + W - 1 + forgotten;
        assert_int_equal(s_version(f, "late", at, "C-3", "REP-3", D0 + 2 * TP_D, SUBMITTED), 0);
        if (forgotten) {
            assert_int_equal(f->got.n, 0);
        } else { /* remembered: fires, already passed */
            assert_int_equal(f->got.n, 2);
            assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
        }
        tp_fixture_free(f);
    }
}

/* Many HCPs and many calls: each entry is bounded and freed (valgrind). */
static void test_many_contacts_are_capped(void **state) {
    tp_fixture_t *f = *state;
    char          eid[32], cid[32], rep[32];
    for (int i = 0; i < 200; i++) {
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(cid, sizeof cid, "C-%d", i);
        snprintf(rep, sizeof rep, "REP-%d", i % 2); /* two reps only */
        s_call(f, eid, cid, rep, D0 + i * TP_H);
    }
    assert_int_equal(f->got.n, 0);
    s_call(f, "x", "C-x", "REP-x", D0 + 200 * TP_H);
    assert_int_equal(f->got.n, 1);
}

/* The same input in wall mode gives the same alerts; only detection
 * times differ. */
static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    const char   *reps[] = { "REP-1", "REP-2", "REP-3", "REP-1" };
    for (int c = 0; c < 4; c++) {
        char eid[8], cid[8];
        snprintf(eid, sizeof eid, "e%d", c);
        snprintf(cid, sizeof cid, "C-%d", c);
        int64_t call_at = D0 + c * TP_D;
        tp_fixture_wall_tick(w, call_at + TP_H);
        for (int i = 0; i < 2; i++)
            s_call(both[i], eid, cid, reps[c], call_at);
    }
    /* REP-1 stays via C-3; REP-2 (C-1) leaves at D0 + 1d + W. */
    tp_fixture_wall_tick(w, D0 + TP_D + W - 1); /* C-0 left: re-armed */
    assert_int_equal(w->got.n, 1);
    assert_int_equal(tp_fixture_wall_tick(w, D0 + TP_D + W + 250), 1);
    TP_WATERMARK(e, D0 + TP_D + W + 250);
    tp_expect_same_alerts(w, e, 2, true, "reps");
    tp_expect_detected(w, e, 1, D0 + TP_D + W + 250, D0 + TP_D + W);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_on_the_third_distinct_rep, s_fx),
             cmocka_unit_test(test_window_edge),
             TP_FIXTURE_TEST(test_resolves_when_the_window_passes, s_fx),
             TP_FIXTURE_TEST(test_never_fires_twice_and_rearms, s_fx),
             TP_FIXTURE_TEST(test_out_of_order_arrival, s_fx),
             TP_FIXTURE_TEST(test_late_window_fires_and_resolves_once, s_fx),
             TP_FIXTURE_TEST(test_correction_and_duplicate_do_not_count_twice, s_fx),
             TP_FIXTURE_TEST(test_only_submitted_count_and_cancel_removes, s_fx),
             cmocka_unit_test(test_config_thresholds), cmocka_unit_test(test_state_is_forgotten),
             TP_FIXTURE_TEST(test_many_contacts_are_capped, s_fx),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
