/* test_engine — the dispatcher end to end without sockets: frames in,
 * alerts captured from the sink. Clock injected; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_cases.h"
#include "tp_testengine.h"

#define T0        1767225600000LL /* 2026-01-01T00:00:00Z */
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define SAVED     TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED
#define CANCELLED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED
#define ALL4      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define FIRING    TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define RESOLVED  TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED

static int s_setup_yaml(void **state, const char *yaml) {
    tp_fixture_t *f = tp_fixture_new(yaml);
    f->wall_ms = T0 + 999;
    *state = f;
    return 0;
}

static int s_setup(void **state) {
    return s_setup_yaml(state, "clock: event\n");
}

static int s_teardown(void **state) {
    tp_fixture_free(*state);
    return 0;
}

static int s_send_raw(tp_fixture_t *f, const char *topic, const void *data, size_t len) {
    tp_frame_t frames[2] = { { topic, strlen(topic) }, { data, len } };
    return tp_engine_handle(f->engine, frames, 2);
}

/* An Envelope built by hand (one a fixture helper cannot make) sent on
 * `topic`; returns what tp_engine_handle returns. */
static int s_send_env(tp_fixture_t *f, const char *topic, const Touchpoint__V1__Envelope *env) {
    uint8_t *buf;
    size_t   len = tp_test_pack_envelope(env, &buf);
    int      r = s_send_raw(f, topic, buf, len);
    free(buf);
    return r;
}

static void test_incomplete_submitted_call_fires(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "e1", .sequence = 1, .at_ms = T0, .call_id = "C-1", .status = SUBMITTED,
            .fields =
                TP_FIELD_PRODUCTS | TP_FIELD_NOTES | TP_FIELD_ACCOUNT_ID | TP_FIELD_TERRITORY);
    assert_int_equal(f->got.n, 1);
    Touchpoint__V1__Alert *a = f->got.alerts[0];
    assert_string_equal(f->got.topics[0], "accountability.call_incomplete");
    assert_string_equal(
        TP_TEST_ALERT_DIFF(a, .alert_id = "call_incomplete:call/C-1", .rule = "call_incomplete",
                           .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
                           .status = FIRING, .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
                           .call_id = "C-1", .hcp_id = "HCP-1", .rep_id = "REP-1",
                           .account_id = "ACC-1", .territory = "T-1"),
        "");
    assert_string_equal(TP_TEST_EVIDENCE_DIFF(a, "missing", "topics,next_step", "required",
                                              "products,topics,notes,next_step", "channel",
                                              "IN_PERSON", "status", "SUBMITTED"),
                        "");
    assert_int_equal(a->n_event_ids, 1);
    assert_string_equal(a->event_ids[0], "e1");
    assert_int_equal(a->sequence, 1);
    assert_int_equal(a->detected_at_ms, T0); /* event clock: the event's time */
    assert_non_null(strstr(a->summary, "C-1"));
}

static void test_complete_or_unsubmitted_calls_do_not_fire(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED,
            .fields = ALL4);
    TP_CALL(f, .event_id = "e2", .at_ms = T0, .call_id = "C-2", .status = PLANNED);
    TP_CALL(f, .event_id = "e3", .at_ms = T0, .call_id = "C-3", .status = SAVED);
    assert_int_equal(f->got.n, 0);
    assert_int_equal(tp_engine_stats(f->engine)->calls, 3);
}

static void test_correction_resolves_and_no_double_firing(void **state) {
    tp_fixture_t  *f = *state;
    tp_test_call_t c = { .event_id = "e1",
                         .at_ms = T0,
                         .call_id = "C-1",
                         .status = SUBMITTED,
                         .fields = TP_FIELD_PRODUCTS };
    assert_int_equal(tp_fixture_call(f, &c), 0);
    /* A second, still incomplete, version: no second FIRING. */
    c.event_id = "e2";
    c.at_ms = T0 + 1000;
    c.fields = TP_FIELD_PRODUCTS | TP_FIELD_TOPICS;
    assert_int_equal(tp_fixture_call(f, &c), 0);
    assert_int_equal(f->got.n, 1);
    assert_int_equal(tp_engine_open_alerts(f->engine), 1);
    /* The correction supplies everything: RESOLVED with the same id. */
    c.event_id = "e3";
    c.at_ms = T0 + 2000;
    c.fields = ALL4;
    assert_int_equal(tp_fixture_call(f, &c), 0);
    assert_int_equal(f->got.n, 2);
    Touchpoint__V1__Alert *r = f->got.alerts[1];
    assert_string_equal(TP_TEST_ALERT_DIFF(r, .alert_id = "call_incomplete:call/C-1",
                                           .status = RESOLVED, .rep_id = "REP-1"),
                        "");
    assert_int_equal(r->sequence, 2);
    assert_string_equal(r->event_ids[0], "e3");
    assert_string_equal(TP_TEST_EVIDENCE_DIFF(r, "resolution", "fields supplied", "required",
                                              "products,topics,notes,next_step"),
                        "");
    assert_int_equal(r->detected_at_ms, T0 + 2000);
    assert_int_equal(tp_engine_open_alerts(f->engine), 0);
    /* Once resolved, a new incomplete version may fire again. */
    c.event_id = "e4";
    c.at_ms = T0 + 3000;
    c.fields = 0;
    assert_int_equal(tp_fixture_call(f, &c), 0);
    assert_int_equal(f->got.n, 3);
    assert_int_equal(f->got.alerts[2]->status, FIRING);
    assert_int_equal(f->got.alerts[2]->sequence, 3);
}

static void test_cancel_resolves(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED);
    TP_CALL(f, .event_id = "e2", .at_ms = T0 + 5, .call_id = "C-1", .status = CANCELLED);
    assert_int_equal(f->got.n, 2);
    assert_int_equal(f->got.alerts[1]->status, RESOLVED);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "resolution"), "cancelled");
}

static void test_stale_version_is_ignored(void **state) {
    tp_fixture_t *f = *state;
    /* The correction overtakes the original on the bus. */
    TP_CALL(f, .event_id = "e2", .at_ms = T0 + 1000, .call_id = "C-1", .status = SUBMITTED,
            .fields = ALL4);
    TP_CALL(f, .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED);
    assert_int_equal(f->got.n, 0);
    assert_int_equal(tp_engine_stats(f->engine)->stale_versions, 1);
}

static void test_duplicate_event_id_is_ignored(void **state) {
    tp_fixture_t  *f = *state;
    tp_test_call_t c = { .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED };
    assert_int_equal(tp_fixture_call(f, &c), 0);
    c.call_id = "C-2"; /* same event_id, other content: still a duplicate */
    assert_int_equal(tp_fixture_call(f, &c), TP_DUPLICATE);
    assert_int_equal(f->got.n, 1);
    const tp_stats_t *st = tp_engine_stats(f->engine);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->accepted, 1);
    assert_int_equal(st->received, 2);
}

static void test_sequence_gaps_are_counted(void **state) {
    tp_fixture_t *f = *state;
    uint64_t      seqs[] = { 1, 2, 5, 6, 3, 1 };
    for (size_t i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%zu", i);
        TP_CALL(f, .event_id = id, .sequence = seqs[i], .at_ms = T0, .call_id = "C",
                .status = PLANNED);
    }
    const tp_stats_t *st = tp_engine_stats(f->engine);
    assert_int_equal(st->seq_gaps, 1);
    assert_int_equal(st->seq_missing, 2);
    assert_int_equal(st->seq_regressions, 1);
    assert_int_equal(st->seq_restarts, 1);
}

static void test_bad_messages_are_counted_by_reason(void **state) {
    tp_fixture_t  *f = *state;
    uint8_t       *buf;
    tp_test_call_t c = { .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED };
    size_t         len = tp_test_pack_call(&c, &buf);
    tp_frame_t     one[1] = { { "crm.call", 8 } };
    tp_frame_t     three[3] = { { "crm.call", 8 }, { buf, len }, { "x", 1 } };
    assert_int_equal(tp_engine_handle(f->engine, one, 1), 1);
    assert_int_equal(tp_engine_handle(f->engine, three, 3), 1);
    assert_int_equal(tp_engine_handle(f->engine, NULL, 0), 1);
    assert_int_equal(s_send_raw(f, "crm.nope", buf, len), 1);
    assert_int_equal(s_send_raw(f, "crm.feedback", buf, len), 1); /* call on feedback topic */
    assert_int_equal(s_send_raw(f, "crm.call", "\xff\xff\xff\xff", 4), 1);
    free(buf);
    c.call_id = ""; /* decodes, but invalid */
    len = tp_test_pack_call(&c, &buf);
    assert_int_equal(s_send_raw(f, "crm.call", buf, len), 1);
    free(buf);
    c = (tp_test_call_t){ .event_id = "e2", .at_ms = T0, .call_id = "C-2", .status = 9 };
    len = tp_test_pack_call(&c, &buf);
    assert_int_equal(s_send_raw(f, "crm.call", buf, len), 1);
    free(buf);

    const tp_stats_t *st = tp_engine_stats(f->engine);
    assert_int_equal(st->bad[TP_BAD_FRAMES], 3);
    assert_int_equal(st->bad[TP_BAD_TOPIC], 1);
    assert_int_equal(st->bad[TP_BAD_MISMATCH], 1);
    assert_int_equal(st->bad[TP_BAD_DECODE], 1);
    assert_int_equal(st->bad[TP_BAD_INVALID], 2);
    assert_int_equal(st->accepted, 0);
    assert_int_equal(f->got.n, 0);
    /* And the engine still works. */
    TP_CALL(f, .event_id = "e3", .at_ms = T0, .call_id = "C-3", .status = SUBMITTED);
    assert_int_equal(f->got.n, 1);
}

static void test_empty_envelope_is_a_mismatch(void **state) {
    tp_fixture_t            *f = *state;
    Touchpoint__V1__Envelope env;
    touchpoint__v1__envelope__init(&env);
    env.event_id = "e1";
    env.source = "s";
    env.occurred_at_ms = T0;
    assert_int_equal(s_send_env(f, "crm.call", &env), 1);
    assert_int_equal(tp_engine_stats(f->engine)->bad[TP_BAD_MISMATCH], 1);
}

/* Found by fuzz_engine (fuzz/corpus/fuzz_engine/regress-*): event times
 * near INT64_MAX were accepted, then call_at + horizon and submitted_at +
 * 7d overflowed (UB), and a watermark at INT64_MAX kept an open
 * channel_mismatch alert re-checking every 180 days until the end of time.
 * They are refused now, and the clock does not move. */
static void test_times_past_year_9999_are_refused(void **state) {
    tp_fixture_t  *f = *state;
    tp_test_call_t c = { .event_id = "e1",
                         .at_ms = INT64_MAX - 19,
                         .call_id = "C-1",
                         .status = SUBMITTED,
                         .fields = ALL4 };
    assert_int_equal(tp_fixture_call(f, &c), 1);

    Touchpoint__V1__CallLogged call = TOUCHPOINT__V1__CALL_LOGGED__INIT;
    call.call_id = "C-2";
    call.hcp_id = "H-1";
    call.rep_id = "R-1";
    call.status = SUBMITTED;
    call.call_at_ms = T0;
    call.submitted_at_ms = INT64_MAX;
    Touchpoint__V1__Envelope env = TOUCHPOINT__V1__ENVELOPE__INIT;
    env.event_id = "e2";
    env.source = "s";
    env.occurred_at_ms = T0;
    env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    env.call = &call;
    assert_int_equal(s_send_env(f, "crm.call", &env), 1);

    uint8_t *buf;
    size_t   len = tp_test_pack_watermark("e3", INT64_MAX, &buf);
    assert_int_equal(s_send_raw(f, "crm.watermark", buf, len), 1);
    free(buf);

    assert_int_equal(tp_engine_stats(f->engine)->bad[TP_BAD_INVALID], 3);
    assert_int_equal(tp_engine_stats(f->engine)->accepted, 0);
    assert_int_equal(f->got.n, 0);
    assert_int_equal(tp_clock_now(tp_engine_clock(f->engine)), 0);
}

static int s_setup_by_channel(void **state) {
    return s_setup_yaml(state, "clock: event\n"
                               "rules:\n"
                               "  call_incomplete:\n"
                               "    required: [products, topics, notes, next_step]\n"
                               "    by_channel:\n"
                               "      EMAIL: [products, notes]\n");
}

static void test_per_channel_requirements(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "e1", .at_ms = T0, .call_id = "C-mail", .status = SUBMITTED,
            .channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL,
            .fields = TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    assert_int_equal(f->got.n, 0);
    TP_CALL(f, .event_id = "e2", .at_ms = T0, .call_id = "C-phone", .status = SUBMITTED,
            .channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE,
            .fields = TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    assert_int_equal(f->got.n, 1);
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "missing"), "topics,next_step");
    assert_string_equal(tp_test_evidence(f->got.alerts[0], "channel"), "PHONE");
    TP_CALL(f, .event_id = "e3", .at_ms = T0, .call_id = "C-mail2", .status = SUBMITTED,
            .channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL, .fields = TP_FIELD_PRODUCTS);
    assert_int_equal(f->got.n, 2);
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "missing"), "notes");
    assert_string_equal(tp_test_evidence(f->got.alerts[1], "required"), "products,notes");
}

static int s_setup_disabled(void **state) {
    return s_setup_yaml(state, "rules:\n  call_incomplete:\n    enabled: false\n");
}

static void test_disabled_rule_is_silent(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED);
    assert_int_equal(f->got.n, 0);
}

static int s_setup_wall(void **state) {
    return s_setup_yaml(state, "clock: wall\n");
}

static void test_wall_clock_stamps_detection_time(void **state) {
    tp_fixture_t *f = *state;
    TP_CALL(f, .event_id = "e1", .at_ms = T0 - 5000, .call_id = "C-1", .status = SUBMITTED);
    assert_int_equal(f->got.n, 1);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, T0 + 999); /* the fake wall clock */
}

static void test_watermark_advances_event_clock(void **state) {
    tp_fixture_t             *f = *state;
    Touchpoint__V1__Watermark wm;
    touchpoint__v1__watermark__init(&wm);
    wm.now_ms = T0 + 60000;
    Touchpoint__V1__Envelope env;
    touchpoint__v1__envelope__init(&env);
    env.event_id = "w1";
    env.source = "clock";
    env.occurred_at_ms = T0;
    env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
    env.watermark = &wm;
    assert_int_equal(s_send_env(f, "crm.watermark", &env), 0);
    assert_int_equal(tp_clock_now(tp_engine_clock(f->engine)), T0 + 60000);
    TP_CALL(f, .event_id = "e1", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED);
    assert_int_equal(f->got.alerts[0]->detected_at_ms, T0 + 60000);
}

static int s_setup_small_window(void **state) {
    return s_setup_yaml(state, "clock: event\nlimits:\n  dedup_window: 2\n");
}

static void test_dedup_window_is_bounded(void **state) {
    tp_fixture_t *f = *state;
    const char   *ids[] = { "a", "b", "c", "a" };
    for (size_t i = 0; i < 4; i++) {
        TP_CALL(f, .event_id = ids[i], .at_ms = T0 + (int64_t)i, .call_id = "C",
                .status = PLANNED); /* "a" was forgotten after "c" */
    }
    assert_int_equal(tp_engine_stats(f->engine)->duplicates, 0);
}

static int s_send_step(tp_fixture_t *f, const char *event_id, const char *contract_id) {
    tp_test_step_t st = { .event_id = event_id,
                          .at_ms = T0,
                          .contract_id = contract_id,
                          .step = "NOMINATION",
                          .state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED };
    uint8_t       *buf;
    size_t         len = tp_test_pack_step(&st, &buf);
    tp_frame_t     frames[2] = { { "crm.contracting", 15 }, { buf, len } };
    char           why[256], id[64];
    int            r = tp_engine_handle_why(f->engine, frames, 2, why, sizeof why, id, sizeof id);
    if (r == TP_REFUSED)
        assert_non_null(strstr(why, "limits.max_open_cases_per_hcp"));
    free(buf);
    return r;
}

static int s_setup_case_limit(void **state) {
    return s_setup_yaml(state, "clock: event\nlimits:\n  max_open_cases_per_hcp: 2\n");
}

static void test_open_cases_per_hcp_are_limited_and_counted(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_send_step(f, "e1", "K-1"), TP_ACCEPTED);
    assert_int_equal(s_send_step(f, "e2", "K-2"), TP_ACCEPTED);
    assert_int_equal(s_send_step(f, "e3", "K-3"), TP_REFUSED);
    assert_int_equal(s_send_step(f, "e4", "K-1"), TP_ACCEPTED); /* open ones go on */
    assert_int_equal(tp_engine_stats(f->engine)->cases_over_hcp_limit, 1);
    assert_int_equal(tp_engine_cases(f->engine), 2);
    /* A reload raising the limit lets the next one in. */
    tp_fixture_reload(f, "clock: event\nlimits:\n  max_open_cases_per_hcp: 3\n");
    assert_int_equal(s_send_step(f, "e5", "K-3"), TP_ACCEPTED);
}

/* A step refused for a limit was not handled, so it must not be remembered
 * as seen: the producer resends it after the NACK, once there is room, and
 * that resend is the event, not a duplicate of it. */
static void test_refused_step_is_not_remembered(void **state) {
    tp_fixture_t *f = *state;
    assert_int_equal(s_send_step(f, "e1", "K-1"), TP_ACCEPTED);
    assert_int_equal(s_send_step(f, "e2", "K-2"), TP_ACCEPTED);
    assert_int_equal(s_send_step(f, "e3", "K-3"), TP_REFUSED);
    assert_int_equal(s_send_step(f, "e3", "K-3"), TP_REFUSED); /* still no room */
    tp_fixture_reload(f, "clock: event\nlimits:\n  max_open_cases_per_hcp: 3\n");
    assert_int_equal(s_send_step(f, "e3", "K-3"), TP_ACCEPTED);
    assert_int_equal(tp_engine_cases(f->engine), 3);
    assert_int_equal(tp_engine_stats(f->engine)->duplicates, 0);
    assert_int_equal(s_send_step(f, "e3", "K-3"), TP_DUPLICATE); /* accepted: now it is seen */
}

/* The same for a step refused because its case has TP_CASE_MAX_STEPS
 * distinct steps: its resend is refused again, with the reason, never
 * answered as a duplicate (which a producer takes as delivered). */
static void test_step_over_limit_resent_is_refused_again(void **state) {
    tp_fixture_t *f = *state;
    char          id[16], step[16], why[256];
    for (int i = 0; i <= TP_CASE_MAX_STEPS; i++) {
        snprintf(id, sizeof id, "s%d", i);
        snprintf(step, sizeof step, "STEP_%d", i);
        tp_test_step_t st = { .event_id = id,
                              .at_ms = T0 + i,
                              .contract_id = "K-1",
                              .step = step,
                              .state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED };
        uint8_t       *buf;
        size_t         len = tp_test_pack_step(&st, &buf);
        tp_frame_t     frames[2] = { { "crm.contracting", 15 }, { buf, len } };
        int            want = i < TP_CASE_MAX_STEPS ? TP_ACCEPTED : TP_REFUSED;
        assert_int_equal(tp_engine_handle_why(f->engine, frames, 2, why, sizeof why, NULL, 0),
                         want);
        if (want == TP_REFUSED) /* the producer resends it after the NACK */
            assert_int_equal(tp_engine_handle_why(f->engine, frames, 2, why, sizeof why, NULL, 0),
                             TP_REFUSED);
        free(buf);
    }
    assert_int_equal(tp_engine_stats(f->engine)->steps_dropped, 2);
    assert_int_equal(tp_engine_stats(f->engine)->duplicates, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_cases_per_hcp_are_limited_and_counted,
                                        s_setup_case_limit, s_teardown),
        cmocka_unit_test_setup_teardown(test_refused_step_is_not_remembered, s_setup_case_limit,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_step_over_limit_resent_is_refused_again, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_incomplete_submitted_call_fires, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_complete_or_unsubmitted_calls_do_not_fire, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_correction_resolves_and_no_double_firing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_resolves, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stale_version_is_ignored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_event_id_is_ignored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sequence_gaps_are_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_messages_are_counted_by_reason, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_empty_envelope_is_a_mismatch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_times_past_year_9999_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_per_channel_requirements, s_setup_by_channel,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_rule_is_silent, s_setup_disabled, s_teardown),
        cmocka_unit_test_setup_teardown(test_wall_clock_stamps_detection_time, s_setup_wall,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_watermark_advances_event_clock, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_window_is_bounded, s_setup_small_window,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
