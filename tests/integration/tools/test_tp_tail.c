/* test_tp_tail — the real tp-tail binary against an XPUB owned by the
 * test, which plays touchpointd's alert output, and with --durable its
 * replay ROUTER too (tp_testtool.h for the fixture). Its sinks are
 * test_sinks. */
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
#include <jansson.h>
#include <zmq.h>

#include "touchpoint/v1/alert.pb-c.h"
#include "tp_json.h"
#include "tp_testtool.h"
#include "tp_testutil.h"

/* Starts tp-tail and waits for its subscription on the XPUB: exactly
 * `prefix`, or any when it is NULL. */
static void s_spawn_subscribed(tp_tool_fx_t *f, const char *const argv[], const char *prefix) {
    tp_tool_spawn(f, argv, NULL);
    char  *frames[4];
    size_t lens[4];
    size_t n = tp_tool_recv(f->sock, TP_TOOL_WAIT_MS, frames, lens);
    assert_int_equal(n, 1);
    assert_true(lens[0] >= 1);
    assert_int_equal(frames[0][0], 1);
    if (prefix)
        assert_string_equal(frames[0] + 1, prefix);
    free(frames[0]);
}

/* Sends [topic, Alert] on `sock`, behind a ROUTER identity frame if `ident`. */
static void s_send_alert_on(void *sock, const char *ident, size_t ident_len, const char *topic,
                            const char *alert_id, uint64_t sequence) {
    Touchpoint__V1__Alert                 a = TOUCHPOINT__V1__ALERT__INIT;
    Touchpoint__V1__Alert__EvidenceEntry  e = TOUCHPOINT__V1__ALERT__EVIDENCE_ENTRY__INIT;
    Touchpoint__V1__Alert__EvidenceEntry *ev[] = { &e };
    char                                 *ids[] = { "e-1", "e-2" };
    e.key = "missing";
    e.value = "products";
    a.alert_id = (char *)alert_id;
    a.kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY;
    a.status = TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING;
    a.evidence = ev;
    a.n_evidence = 1;
    a.event_ids = ids;
    a.n_event_ids = 2;
    a.sequence = sequence;
    uint8_t buf[512];
    size_t  n = touchpoint__v1__alert__pack(&a, buf);
    assert_true(n < sizeof buf);
    if (ident)
        assert_int_equal(zmq_send(sock, ident, ident_len, ZMQ_SNDMORE), (int)ident_len);
    assert_int_equal(zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE), (int)strlen(topic));
    assert_int_equal(zmq_send(sock, buf, n, 0), (int)n);
}

static void s_send_alert(tp_tool_fx_t *f, const char *topic, const char *alert_id,
                         uint64_t sequence) {
    s_send_alert_on(f->sock, NULL, 0, topic, alert_id, sequence);
}

static void s_send_frames(tp_tool_fx_t *f, const char *a, size_t alen, const char *b, size_t blen) {
    assert_int_equal(zmq_send(f->sock, a, alen, b ? ZMQ_SNDMORE : 0), (int)alen);
    if (b)
        assert_int_equal(zmq_send(f->sock, b, blen, 0), (int)blen);
}

static void test_tail_prints_alerts(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_XPUB);
    const char *argv[] = { TP_TAIL_BIN, "-e",           f->endpoint, "--count",
                           "2",         "--timeout-ms", "20000",     NULL };
    s_spawn_subscribed(f, argv, "");

    s_send_alert(f, "accountability.call_incomplete", "call_incomplete:call/C-1", 1);
    s_send_frames(f, "only-one-frame", 14, NULL, 0);
    s_send_frames(f, "accountability.x", 16, "\xff\xff\xff", 3); /* truncated varint */
    s_send_alert(f, "friction.step_slow", "step_slow:K-1/FMV", 2);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);

    const char *text = tp_tool_output(f, "out");
    assert_int_equal(tp_count_lines(text, "{"), 2);
    const char *line = text;
    for (int i = 0; i < 2; i++) {
        json_error_t jerr;
        json_t      *obj = json_loadb(line, strcspn(line, "\n"), 0, &jerr);
        assert_non_null(obj);
        assert_string_equal(json_string_value(json_object_get(obj, "topic")),
                            i == 0 ? "accountability.call_incomplete" : "friction.step_slow");
        assert_string_equal(json_string_value(json_object_get(obj, "alertId")),
                            i == 0 ? "call_incomplete:call/C-1" : "step_slow:K-1/FMV");
        assert_string_equal(json_string_value(json_object_get(obj, "sequence")),
                            i == 0 ? "1" : "2");
        assert_string_equal(json_string_value(json_object_get(obj, "status")),
                            "ALERT_STATUS_FIRING");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(obj, "evidence"), "missing")),
            "products");
        assert_int_equal(json_array_size(json_object_get(obj, "eventIds")), 2);
        /* The line is exactly what the JSON mapping gives the daemon. */
        ProtobufCMessage *back = NULL;
        json_object_del(obj, "topic");
        assert_int_equal(
            tp_json_to_message(obj, &touchpoint__v1__alert__descriptor, NULL, 0, &back), 0);
        protobuf_c_message_free_unpacked(back, NULL);
        json_decref(obj);
        line = strchr(line, '\n') + 1;
    }
    text = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(text, "expected 2 frames [topic, Alert], got 1"), 1);
    assert_int_equal(
        tp_count_lines(text, "undecodable Alert (3 bytes) on topic 'accountability.x'"), 1);
    assert_int_equal(tp_count_lines(text, "tp-tail: alerts 2, malformed 2"), 1);
}

static void test_tail_topic_filter_and_timeout(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_XPUB);
    const char *argv[] = { TP_TAIL_BIN, "-e",           f->endpoint, "-t",
                           "friction.", "--timeout-ms", "1000",      NULL };
    s_spawn_subscribed(f, argv, "friction.");
    s_send_alert(f, "accountability.call_late", "call_late:C-1", 1);
    s_send_alert(f, "friction.rework", "rework:K-1", 2);
    /* No --count: it ends by itself after 1 s of silence, status 0. */
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    TP_EXPECT_ONCE(tp_tool_output(f, "out"), "\"topic\":\"friction.rework\"", "{");
}

static void test_tail_sigterm_and_usage(void **state) {
    tp_tool_fx_t *f = *state;
    tp_tool_bind(f, ZMQ_XPUB);
    const char *argv[] = { TP_TAIL_BIN, "--endpoint", f->endpoint, NULL };
    s_spawn_subscribed(f, argv, NULL);
    assert_int_equal(tp_proc_signal(&f->proc, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);

    const char *argv2[] = { TP_TAIL_BIN, "--count", "-1", NULL };
    assert_int_equal(tp_tool_run(f, argv2, NULL, TP_TOOL_WAIT_MS), 2);
    const char *argv3[] = { TP_TAIL_BIN, "--version", NULL };
    assert_int_equal(tp_tool_run(f, argv3, NULL, TP_TOOL_WAIT_MS), 0);
    char *out = tp_tool_output(f, "out");
    assert_int_equal(tp_count_lines(out, "tp-tail "), 1);
}

/* ---- tp-tail --durable: the test plays the daemon's XPUB and replay ROUTER */

struct peer {
    char  *id; /* ROUTER identity of tp-tail's DEALER */
    size_t len;
};

/* Binds XPUB and ROUTER, writes FILE (unless `pos` is NULL), starts tp-tail
 * --durable with `extra` options and waits for its subscription. Returns
 * the position file's path (caller frees). */
static char *s_start_durable(tp_tool_fx_t *f, const char *pos, const char *const extra[]) {
    tp_tool_bind(f, ZMQ_XPUB);
    tp_tool_bind_router(f, f->replay_ep);
    char       *file = pos ? tp_tool_file(f, "pos", pos) : tp_tool_keep(f, tp_path(f->dir, "pos"));
    const char *argv[32] = { TP_TAIL_BIN,         "-e",        f->endpoint, "--durable", file,
                             "--replay-endpoint", f->replay_ep };
    size_t      n = 7;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    s_spawn_subscribed(f, argv, "");
    return file;
}

/* Receives ["REPLAY", want] on the ROUTER and returns the sender. */
static struct peer s_expect_replay(tp_tool_fx_t *f, const char *want) {
    char  *frames[4];
    size_t lens[4];
    size_t n = tp_tool_recv(f->router, TP_TOOL_WAIT_MS, frames, lens);
    assert_int_equal(n, 3);
    assert_string_equal(frames[1], "REPLAY");
    assert_string_equal(frames[2], want);
    struct peer p = { frames[0], lens[0] };
    free(frames[1]);
    free(frames[2]);
    return p;
}

static void s_replay_alert(tp_tool_fx_t *f, const struct peer *p, uint64_t sequence) {
    s_send_alert_on(f->router, p->id, p->len, "friction.rework", "rework:K-1", sequence);
}

static void s_replay_end(tp_tool_fx_t *f, const struct peer *p, const char *last) {
    assert_int_equal(zmq_send(f->router, p->id, p->len, ZMQ_SNDMORE), (int)p->len);
    assert_int_equal(zmq_send(f->router, "END", 3, ZMQ_SNDMORE), 3);
    assert_int_equal(zmq_send(f->router, last, strlen(last), 0), (int)strlen(last));
}

/* Asserts that tp-tail's stdout holds exactly the alerts `want` (by
 * sequence, in that order). */
static void s_expect_printed(tp_tool_fx_t *f, const uint64_t *want, size_t n_want) {
    char       *text = tp_tool_output(f, "out");
    const char *line = text;
    size_t      n = 0;
    while (*line) {
        json_error_t jerr;
        json_t      *obj = json_loadb(line, strcspn(line, "\n"), 0, &jerr);
        assert_non_null(obj);
        assert_true(n < n_want);
        const char *seq = json_string_value(json_object_get(obj, "sequence"));
        assert_non_null(seq);
        assert_int_equal(strtoull(seq, NULL, 10), want[n]);
        n++;
        json_decref(obj);
        line += strcspn(line, "\n");
        if (*line)
            line++;
    }
    assert_int_equal(n, n_want);
}

static void s_expect_file(const char *path, const char *want) {
    char *text = tp_read_file(path);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
}

/* (a) Replays from FILE, holds live alerts back, drops the live duplicate. */
static void test_tail_durable_replay_then_live(void **state) {
    tp_tool_fx_t     *f = *state;
    const char *const extra[] = { "--count", "3", "--timeout-ms", "20000", NULL };
    char             *file = s_start_durable(f, "3", extra);
    struct peer       p = s_expect_replay(f, "3");
    s_replay_alert(f, &p, 4);
    s_replay_alert(f, &p, 5);
    s_send_alert(f, "friction.rework", "rework:K-1", 5); /* live duplicate */
    s_send_alert(f, "friction.rework", "rework:K-1", 6);
    s_replay_end(f, &p, "5");
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 4, 5, 6 }, 3);
    s_expect_file(file, "6\n");
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-tail: alerts 3, malformed 0"), 1);
    free(p.id);
}

/* (b) A live gap (7, then 9) makes tp-tail replay from 7 and print 8, 9. */
static void test_tail_durable_gap(void **state) {
    tp_tool_fx_t     *f = *state;
    const char *const extra[] = { "--count", "3", NULL };
    char             *file = s_start_durable(f, "6\n", extra);
    struct peer       p = s_expect_replay(f, "6");
    s_replay_end(f, &p, "6");
    s_send_alert(f, "friction.rework", "rework:K-1", 7);
    s_send_alert(f, "friction.rework", "rework:K-1", 9);
    struct peer p2 = s_expect_replay(f, "7");
    s_replay_alert(f, &p2, 8);
    s_replay_alert(f, &p2, 9);
    s_replay_end(f, &p2, "9");
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 7, 8, 9 }, 3);
    s_expect_file(file, "9\n");
    free(p.id);
    free(p2.id);
}

/* (c) No FILE: from 0, and FILE is created; a corrupt FILE is refused. */
static void test_tail_durable_file(void **state) {
    tp_tool_fx_t     *f = *state;
    const char *const extra[] = { "--count", "1", NULL };
    char             *file = s_start_durable(f, NULL, extra);
    struct peer       p = s_expect_replay(f, "0");
    s_replay_end(f, &p, "0");
    s_send_alert(f, "friction.rework", "rework:K-1", 1);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 1 }, 1);
    s_expect_file(file, "1\n");
    free(p.id);

    static const char *const corrupt[] = { "abc", "", "5x", "-1", "7\n\n" };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        assert_int_equal(tp_write_file(file, corrupt[i]), 0);
        const char *argv[] = { TP_TAIL_BIN, "-e", f->endpoint, "--durable", file, NULL };
        assert_int_equal(tp_tool_run(f, argv, NULL, TP_TOOL_WAIT_MS), 2);
        char *err = tp_tool_output(f, "err"), *want = NULL;
        assert_true(
            asprintf(&want, "tp-tail: cannot use '%s': not a decimal sequence number", file) > 0);
        assert_int_equal(tp_count_lines(err, want), 1);
        free(want);
        s_expect_file(file, corrupt[i]); /* left alone */
    }
}

/* (d) A silent replay endpoint: live alerts are printed anyway, the gap they
 * leave (5) is kept in FILE's position and filled by the retry 5 s later. */
static void test_tail_durable_replay_silent(void **state) {
    tp_tool_fx_t     *f = *state;
    const char *const extra[] = { "--count", "3", "--replay-timeout-ms", "300", NULL };
    char             *file = s_start_durable(f, "3", extra);
    struct peer       p = s_expect_replay(f, "3"); /* never answered */
    s_send_alert(f, "friction.rework", "rework:K-1", 4);
    s_send_alert(f, "friction.rework", "rework:K-1", 6);
    struct peer p2 = s_expect_replay(f, "4"); /* the retry */
    s_expect_printed(f, (const uint64_t[]){ 4, 6 }, 2);
    s_expect_file(file, "4\n"); /* 5 is still missing */
    char *err = tp_tool_output(f, "err"), *want = NULL;
    assert_true(asprintf(&want,
                         "tp-tail: replay from '%s' failed: no answer within 300 ms; "
                         "printing live alerts only, retrying every 5 s",
                         f->replay_ep) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    s_replay_alert(f, &p2, 5);
    s_replay_alert(f, &p2, 6);
    s_replay_end(f, &p2, "6");
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 4, 6, 5 }, 3);
    s_expect_file(file, "6\n");
    err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "works again"), 1);
    free(p.id);
    free(p2.id);
}

TP_TEST_MAIN_WITH(tp_tool_setup, tp_tool_teardown, cmocka_unit_test(test_tail_prints_alerts),
                  cmocka_unit_test(test_tail_topic_filter_and_timeout),
                  cmocka_unit_test(test_tail_sigterm_and_usage),
                  cmocka_unit_test(test_tail_durable_replay_then_live),
                  cmocka_unit_test(test_tail_durable_gap), cmocka_unit_test(test_tail_durable_file),
                  cmocka_unit_test(test_tail_durable_replay_silent))
