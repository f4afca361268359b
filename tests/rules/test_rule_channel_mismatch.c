/* test_rule_channel_mismatch — calls that ignore the HCP's preferred channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define RULE "channel_mismatch"

/* The fixture most tests here start from (TP_FIXTURE_TEST). */
static const tp_fixture_spec_t s_fx = { .rule = RULE };

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define CANCELLED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED
#define IN_PERSON TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON
#define PHONE     TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE
#define VIDEO     TOUCHPOINT__V1__CHANNEL__CHANNEL_VIDEO
#define EMAIL     TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL
#define D0        (TP_T0 + 9 * TP_H)
#define FORGET    (180 * TP_D)
#define ID        "channel_mismatch:hcp/HCP-1"


static int s_version(tp_fixture_t *f, const char *eid, int64_t at, const char *call_id, int channel,
                     int64_t call_at, int status) {
    tp_test_call_t c = { .event_id = eid,
                         .at_ms = at,
                         .call_id = call_id,
                         .status = status,
                         .channel = channel,
                         .call_at_ms = call_at };
    return tp_fixture_call(f, &c);
}

/* A call submitted one hour after it took place. */
static void s_call(tp_fixture_t *f, const char *eid, const char *call_id, int channel,
                   int64_t call_at) {
    assert_int_equal(s_version(f, eid, call_at + TP_H, call_id, channel, call_at, SUBMITTED), 0);
}

static int s_prefers(tp_fixture_t *f, const char *eid, int64_t at, int channel) {
    tp_test_feedback_t fb = {
        .event_id = eid, .at_ms = at, .nps = -1, .effort = -1, .preferred_channel = channel
    };
    return tp_fixture_feedback(f, &fb);
}

static void test_fires_when_the_last_calls_all_miss(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    s_call(f, "e1", "C-1", IN_PERSON, D0 + TP_D);
    s_call(f, "e2", "C-2", PHONE, D0 + 2 * TP_D);
    assert_int_equal(f->got.n, 0); /* two: just inside */
    s_call(f, "e3", "C-3", IN_PERSON, D0 + 3 * TP_D);
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a = TP_EXPECT_ALERT(
        f, 0, .topic = "accountability.channel_mismatch", .alert_id = ID, .status = TP_FIRING,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_INFO, .hcp_id = "HCP-1", .call_id = "C-3",
        .evidence = { { "preferred", "EMAIL" },
                      { "used", "IN_PERSON,PHONE,IN_PERSON" },
                      { "calls", "C-1,C-2,C-3" },
                      { "last_calls", "3" } });
    assert_string_equal(a->event_ids[0], "e3");
    assert_int_equal(a->detected_at_ms, D0 + 3 * TP_D + TP_H);
}

static void test_threshold_counts_only_the_last_calls(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    s_call(f, "e1", "C-1", EMAIL, D0 + TP_D);
    s_call(f, "e2", "C-2", PHONE, D0 + 2 * TP_D);
    s_call(f, "e3", "C-3", VIDEO, D0 + 3 * TP_D);
    assert_int_equal(f->got.n, 0);                /* EMAIL is one of the last 3 */
    s_call(f, "e4", "C-4", PHONE, D0 + 4 * TP_D); /* now it is not */
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "calls"), "C-2,C-3,C-4");
    /* Planned calls and calls with no channel say nothing. */
    assert_int_equal(s_version(f, "p5", D0 + 5 * TP_D, "C-5", EMAIL, D0 + 6 * TP_D, PLANNED), 0);
    assert_int_equal(f->got.n, 1);
}

static void test_resolves_on_a_preferred_call_and_never_fires_twice(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    for (int i = 1; i <= 5; i++) {
        char eid[8], cid[8];
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(cid, sizeof cid, "C-%d", i);
        s_call(f, eid, cid, PHONE, D0 + i * TP_D);
    }
    assert_int_equal(f->got.n, 1); /* calls 4 and 5 fire nothing new */
    s_call(f, "e6", "C-6", EMAIL, D0 + 6 * TP_D);
    assert_int_equal(f->got.n, 2);
    Touchpoint__V1__Alert *r = f->got.alerts[1];
    assert_string_equal(r->alert_id, ID);
    assert_int_equal(r->status, TP_RESOLVED);
    assert_string_equal(tp_test_evidence(r, "resolution"), "preferred channel used");
    assert_string_equal(r->event_ids[0], "e6");
    /* EMAIL stays among the last 3 for two more calls, then it fires again. */
    s_call(f, "e7", "C-7", PHONE, D0 + 7 * TP_D);
    s_call(f, "e8", "C-8", PHONE, D0 + 8 * TP_D);
    assert_int_equal(f->got.n, 2);
    s_call(f, "e9", "C-9", PHONE, D0 + 9 * TP_D);
    assert_int_equal(f->got.n, 3);
    assert_int_equal(f->got.alerts[2]->status, TP_FIRING);
}

static void test_preference_changes(void **state) {
    tp_fixture_t *f = *state;
    /* Calls first, preference later: the feedback fires it. */
    s_call(f, "e1", "C-1", IN_PERSON, D0);
    s_call(f, "e2", "C-2", PHONE, D0 + TP_D);
    s_call(f, "e3", "C-3", IN_PERSON, D0 + 2 * TP_D);
    assert_int_equal(f->got.n, 0);
    assert_int_equal(s_prefers(f, "fb1", D0 + 3 * TP_D, EMAIL), 0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(f->got.alerts[0]->event_ids[0], "fb1");
    /* An older feedback does not override the newer one. */
    assert_int_equal(s_prefers(f, "fb-old", D0 + 2 * TP_D, PHONE), 0);
    assert_int_equal(f->got.n, 1);
    /* Feedback without a preference changes nothing. */
    assert_int_equal(s_prefers(f, "fb-none", D0 + 4 * TP_D, 0), 0);
    assert_int_equal(f->got.n, 1);
    /* A newer one naming a channel that was used resolves it. */
    assert_int_equal(s_prefers(f, "fb2", D0 + 5 * TP_D, PHONE), 0);
    assert_int_equal(f->got.n, 2);
    tp_expect_resolved(f, 1, "preference changed");
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "preferred"), "PHONE");
    /* Idle and not firing: forgotten, nothing left armed. */
    TP_WATERMARK(f, D0 + 400 * TP_D);
    assert_int_equal(tp_engine_deadlines(f->engine), 0);
    assert_int_equal(f->got.n, 2);
}

static void test_out_of_order_calls(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    int64_t at = D0 + 10 * TP_D; /* all arrive late, shuffled */
    assert_int_equal(s_version(f, "e3", at, "C-3", IN_PERSON, D0 + 3 * TP_D, SUBMITTED), 0);
    assert_int_equal(s_version(f, "e1", at, "C-1", EMAIL, D0 + 1 * TP_D, SUBMITTED), 0);
    assert_int_equal(s_version(f, "e2", at, "C-2", PHONE, D0 + 2 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 0); /* C-1 (EMAIL) is among the last 3 */
    assert_int_equal(s_version(f, "e4", at, "C-4", PHONE, D0 + 4 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "calls"), "C-2,C-3,C-4");
    /* Older than all of the last 3: not among them. */
    assert_int_equal(s_version(f, "e0", at, "C-0", EMAIL, D0, SUBMITTED), 0);
    assert_int_equal(f->got.n, 1);
    /* Between them: it is. */
    assert_int_equal(s_version(f, "e25", at, "C-25", EMAIL, D0 + 2 * TP_D + TP_H, SUBMITTED), 0);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "preferred channel used");
}

static void test_correction_duplicate_and_cancel(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    s_call(f, "e1", "C-1", PHONE, D0 + TP_D);
    s_call(f, "e2", "C-2", PHONE, D0 + 2 * TP_D);
    /* A correction of C-2 is one call, not two; the same event twice is one. */
    assert_int_equal(
        s_version(f, "e2b", D0 + 2 * TP_D + 2 * TP_H, "C-2", VIDEO, D0 + 2 * TP_D, SUBMITTED), 0);
    assert_int_not_equal(
        s_version(f, "e2b", D0 + 2 * TP_D + 2 * TP_H, "C-2", VIDEO, D0 + 2 * TP_D, SUBMITTED), 0);
    assert_int_equal(tp_engine_stats(f->engine)->duplicates, 1);
    assert_int_equal(f->got.n, 0);
    s_call(f, "e3", "C-3", PHONE, D0 + 3 * TP_D);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "used"), "PHONE,VIDEO,PHONE");
    /* A stale version (older than the one held) changes nothing. */
    assert_int_equal(s_version(f, "e3-old", D0 + 3 * TP_D, "C-3", EMAIL, D0 + 3 * TP_D, SUBMITTED),
                     0);
    assert_int_equal(f->got.n, 1);
    /* Correcting C-3 to the preferred channel resolves it. */
    assert_int_equal(
        s_version(f, "e3b", D0 + 3 * TP_D + 2 * TP_H, "C-3", EMAIL, D0 + 3 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "preferred channel used");
    /* Back off the channel: fires again; cancelling a call resolves it. */
    assert_int_equal(
        s_version(f, "e3c", D0 + 3 * TP_D + 3 * TP_H, "C-3", PHONE, D0 + 3 * TP_D, SUBMITTED), 0);
    assert_int_equal(f->got.n, 3);
    assert_int_equal(
        s_version(f, "e3d", D0 + 3 * TP_D + 4 * TP_H, "C-3", PHONE, D0 + 3 * TP_D, CANCELLED), 0);
    assert_int_equal(f->got.n, 4);
    tp_expect_resolved(f, 3, "cancelled");
}

static void test_last_calls_config(void **state) {
    (void)state;
    tp_fixture_t *f = tp_fixture_only(NULL, RULE, "{ last_calls: 1 }");
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    s_call(f, "e1", "C-1", PHONE, D0 + TP_D);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "last_calls"), "1");
    s_call(f, "e2", "C-2", EMAIL, D0 + 2 * TP_D);
    assert_int_equal(f->got.n, 2);
    tp_fixture_free(f);
}

/* An HCP with no activity for 180 days and no open alert is forgotten:
 * its preference and calls no longer count. */
static void test_idle_hcp_is_forgotten(void **state) {
    (void)state;
    for (int forgotten = 0; forgotten < 2; forgotten++) {
        tp_fixture_t *f = tp_fixture_only(NULL, RULE, NULL);
        assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
        s_call(f, "e1", "C-1", PHONE, D0 + TP_D);
        s_call(f, "e2", "C-2", PHONE, D0 + 2 * TP_D); /* last activity: + 1h */
        int64_t at = D0 + 2 * TP_D + TP_H + FORGET + forgotten;
        assert_int_equal(s_version(f, "e3", at, "C-3", PHONE, at, SUBMITTED), 0);
        assert_int_equal(f->got.n, forgotten ? 0u : 1u);
        tp_fixture_free(f);
    }
}

/* With an alert open the entry stays, so the resolution still comes. */
static void test_firing_hcp_is_kept(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_prefers(f, "fb", D0, EMAIL), 0);
    s_call(f, "e1", "C-1", PHONE, D0 + TP_D);
    s_call(f, "e2", "C-2", PHONE, D0 + 2 * TP_D);
    s_call(f, "e3", "C-3", PHONE, D0 + 3 * TP_D);
    assert_int_equal(f->got.n, 1);
    TP_WATERMARK(f, D0 + 3 * TP_D + 3 * FORGET);
    s_call(f, "e4", "C-4", EMAIL, D0 + 3 * TP_D + 3 * FORGET + TP_H);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[1]->status, TP_RESOLVED);
}

/* The same input in wall mode gives the same alerts. */
static void test_wall_clock_gives_the_same_alerts(void **state) {
    tp_twin_t    *t = *state;
    tp_fixture_t *w = t->w, *e = t->e, **both = t->both;
    const int     channels[] = { PHONE, VIDEO, PHONE, PHONE, EMAIL };
    for (int i = 0; i < 2; i++)
        assert_int_equal(s_prefers(both[i], "fb", D0, EMAIL), 0);
    for (int c = 0; c < 5; c++) {
        char eid[8], cid[8];
        snprintf(eid, sizeof eid, "e%d", c);
        snprintf(cid, sizeof cid, "C-%d", c);
        int64_t call_at = D0 + (c + 1) * TP_D;
        tp_fixture_wall_tick(w, call_at + TP_H);
        for (int i = 0; i < 2; i++)
            s_call(both[i], eid, cid, channels[c], call_at);
    }
    tp_expect_same_alerts(w, e, 2, true, NULL);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(w->got.alerts[i]->detected_at_ms, e->got.alerts[i]->detected_at_ms);
}

TP_TEST_MAIN(TP_FIXTURE_TEST(test_fires_when_the_last_calls_all_miss, s_fx),
             TP_FIXTURE_TEST(test_threshold_counts_only_the_last_calls, s_fx),
             TP_FIXTURE_TEST(test_resolves_on_a_preferred_call_and_never_fires_twice, s_fx),
             TP_FIXTURE_TEST(test_preference_changes, s_fx),
             TP_FIXTURE_TEST(test_out_of_order_calls, s_fx),
             TP_FIXTURE_TEST(test_correction_duplicate_and_cancel, s_fx),
             cmocka_unit_test(test_last_calls_config), cmocka_unit_test(test_idle_hcp_is_forgotten),
             TP_FIXTURE_TEST(test_firing_hcp_is_kept, s_fx),
             TP_TWIN_TEST(test_wall_clock_gives_the_same_alerts, s_fx))
