/* test_tp_pub — the real tp-pub binary, plain XPUB mode: it publishes to a
 * SUB socket owned by the test (tp_testtool.h), in order, paced, around bad
 * lines, and fails as documented. --reliable is test_tp_pub_reliable. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "touchpoint/v1/events.pb-c.h"
#include "tp_testtool.h"
#include "tp_testutil.h"

/* Receives one [topic, Envelope] and checks the topic and event_id. */
static void s_expect_event(tp_tool_fx_t *f, const char *topic, const char *event_id,
                           Touchpoint__V1__Envelope__PayloadCase payload) {
    char  *frames[4];
    size_t lens[4];
    size_t n = tp_tool_recv(f->sock, TP_TOOL_WAIT_MS, frames, lens);
    assert_int_equal(n, 2);
    assert_string_equal(frames[0], topic);
    Touchpoint__V1__Envelope *env =
        touchpoint__v1__envelope__unpack(NULL, lens[1], (const uint8_t *)frames[1]);
    assert_non_null(env);
    assert_string_equal(env->event_id, event_id);
    assert_int_equal(env->payload_case, payload);
    touchpoint__v1__envelope__free_unpacked(env, NULL);
    tp_tool_free_frames(frames, n);
}

static void s_expect_nothing(tp_tool_fx_t *f, int ms) {
    char  *frames[4];
    size_t lens[4];
    size_t n = tp_tool_recv(f->sock, ms, frames, lens);
    tp_tool_free_frames(frames, n);
    assert_int_equal(n, 0);
}

#define CALL_LINE(id)                                                                \
    "{\"eventId\":\"" id "\",\"source\":\"t\",\"sequence\":1,\"occurredAtMs\":1000," \
    "\"call\":{\"callId\":\"C-1\",\"status\":\"SUBMITTED\",\"channel\":\"EMAIL\"}}\n"

static const char s_events[] = CALL_LINE(
    "e-1") "{\"eventId\":\"e-2\",\"contracting\":{\"contractId\":\"K-1\",\"state\":\"STARTED\"}}\n"
           "{\"eventId\":\"e-bad\",\"call\":{\"status\":\"SUBMITED\"}}\n"
           "\n"
           "{\"eventId\":\"e-3\",\"feedback\":{\"nps\":0}}\n"
           "{\"eventId\":\"e-nopayload\"}\n"
           "{\"eventId\":\"e-4\",\"watermark\":{\"nowMs\":\"5000\"}}\n";

static void test_pub_publishes_and_reports_bad_lines(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_SUB);
    char       *in = tp_tool_file(f, "events.jsonl", s_events);
    const char *argv[] = { TP_PUB_BIN, "-e", f->endpoint, in, NULL };
    tp_tool_spawn(f, argv, NULL);

    /* The good lines arrive in order, around the bad ones. */
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.contracting", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING);
    s_expect_event(f, "crm.feedback", "e-3", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK);
    s_expect_event(f, "crm.watermark", "e-4", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 1);

    char *text = tp_tool_output(f, "err"), *want = NULL;
    assert_true(asprintf(&want, "tp-pub: %s:3: call.status: unknown enum value \"SUBMITED\"", in) >
                0);
    assert_int_equal(tp_count_lines(text, want), 1);
    free(want);
    assert_true(asprintf(&want, "tp-pub: %s:6: no payload", in) > 0);
    TP_EXPECT_ONCE(text, want, "tp-pub: published 4, bad lines 2");
    free(want);
}

static void test_pub_stop_on_error(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_SUB);
    char       *in = tp_tool_file(f, "events.jsonl", s_events);
    const char *argv[] = { TP_PUB_BIN, "--endpoint", f->endpoint, "--stop-on-error", in, NULL };
    tp_tool_spawn(f, argv, NULL);
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.contracting", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 1);
    s_expect_nothing(f, 300);
    char *err = tp_tool_output(f, "err");
    TP_EXPECT_ONCE(err, ":3: call.status", "tp-pub: published 2, bad lines 1");
}

static void test_pub_count_and_stdin(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_SUB);
    char *in = tp_tool_file(f, "events.jsonl", CALL_LINE("e-1") CALL_LINE("e-2") CALL_LINE("e-3"));
    const char *argv[] = { TP_PUB_BIN, "-e", f->endpoint, "-c", "2", "-", NULL };
    tp_tool_spawn(f, argv, in);
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.call", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    s_expect_nothing(f, 300);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 2, bad lines 0"), 1);
}

static void test_pub_rate(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_SUB);
    char       *in = tp_tool_file(f, "events.jsonl",
                                  CALL_LINE("e-1") CALL_LINE("e-2") CALL_LINE("e-3") CALL_LINE("e-4"));
    const char *argv[] = { TP_PUB_BIN, "-e", f->endpoint, "--rate", "20", in, NULL };
    tp_tool_spawn(f, argv, NULL);
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    long long first = tp_now_ms();
    s_expect_event(f, "crm.call", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.call", "e-3", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.call", "e-4", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    /* Three 50 ms intervals; allow for scheduling jitter on the first one. */
    assert_true(tp_now_ms() - first >= 120);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
}

/* --dry-run checks what the mode would refuse: with --reliable, a line
 * without eventId is a bad line; nothing is sent, nothing is waited for. */
static void test_pub_dry_run_reliable(void **state) {
    tp_tool_fx_t *f = *state;
    char         *in =
        tp_tool_file(f, "events.jsonl", CALL_LINE("e-1") "{\"call\":{\"callId\":\"C-2\"}}\n");
    const char *argv[] = { TP_PUB_BIN, "--dry-run", "--reliable", in, NULL };
    assert_int_equal(tp_tool_run(f, argv, NULL, TP_TOOL_WAIT_MS), 1);
    char *out = tp_tool_output(f, "out"), *err = tp_tool_output(f, "err"), *want = NULL;
    TP_EXPECT_ONCE(out, "\"eventId\":\"e-1\"", "{");
    assert_true(asprintf(&want, "tp-pub: %s:2: no eventId: --reliable needs one", in) > 0);
    TP_EXPECT_ONCE(err, want, "tp-pub: checked 1, bad lines 1");
    free(want);
}

static void test_pub_errors(void **state) {
    tp_tool_fx_t *f = *state;
    char         *in = tp_tool_file(f, "events.jsonl", CALL_LINE("e-1"));

    /* Nobody subscribes: exit 2 after --wait-ms, not a hang. */
    const char *argv1[] = { TP_PUB_BIN, "-e", f->endpoint, "--wait-ms", "200", in, NULL };
    assert_int_equal(tp_tool_run(f, argv1, NULL, TP_TOOL_WAIT_MS), 2);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "no subscriber"), 1);

    const char *argv2[] = { TP_PUB_BIN, "--rate", "fast", in, NULL };
    assert_int_equal(tp_tool_run(f, argv2, NULL, TP_TOOL_WAIT_MS), 2);
    const char *argv3[] = { TP_PUB_BIN, "--no-such-option", NULL };
    assert_int_equal(tp_tool_run(f, argv3, NULL, TP_TOOL_WAIT_MS), 2);
    const char *argv4[] = { TP_PUB_BIN, "-e", "bogus://x", in, NULL };
    assert_int_equal(tp_tool_run(f, argv4, NULL, TP_TOOL_WAIT_MS), 2);
    const char *argv5[] = { TP_PUB_BIN, "/nonexistent/file", NULL };
    assert_int_equal(tp_tool_run(f, argv5, NULL, TP_TOOL_WAIT_MS), 2);

    const char *argv6[] = { TP_PUB_BIN, "--help", NULL };
    assert_int_equal(tp_tool_run(f, argv6, NULL, TP_TOOL_WAIT_MS), 0);
    char *out = tp_tool_output(f, "out");
    assert_int_equal(tp_count_lines(out, "--stop-on-error"), 1);
}

TP_TEST_MAIN_WITH(tp_tool_setup, tp_tool_teardown,
                  cmocka_unit_test(test_pub_publishes_and_reports_bad_lines),
                  cmocka_unit_test(test_pub_stop_on_error),
                  cmocka_unit_test(test_pub_count_and_stdin), cmocka_unit_test(test_pub_rate),
                  cmocka_unit_test(test_pub_dry_run_reliable), cmocka_unit_test(test_pub_errors))
