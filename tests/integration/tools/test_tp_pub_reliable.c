/* test_tp_pub_reliable — the real tp-pub --reliable against a ROUTER owned
 * by the test, which plays touchpointd's reliable input: ACKs, NACKs,
 * silence, a restart (tp_testtool.h for the fixture). */
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

#define MAX_EVENTS 64

/* What the pretend daemon does with each delivery of event "r-N". */
struct ack_policy {
    bool        silent;        /* answer nothing */
    int         drop_first[2]; /* N whose first delivery goes unanswered (0: none) */
    int         nack;          /* N refused with nack_reason (0: none) */
    const char *nack_reason;
    unsigned    seen[MAX_EVENTS];  /* deliveries per N */
    long long   first_ms, last_ms; /* first and last delivery */
};

/* Lines "r-from" .. "r-to" (crm.call events), as one malloc'd string. */
static char *s_reliable_lines(int from, int to) {
    char *text = strdup("");
    assert_non_null(text);
    for (int i = from; i <= to; i++) {
        char *more = NULL;
        assert_true(asprintf(&more,
                             "%s{\"eventId\":\"r-%d\",\"call\":{\"callId\":\"C-%d\","
                             "\"status\":\"SUBMITTED\"}}\n",
                             text, i, i) > 0);
        free(text);
        text = more;
    }
    return text;
}

/* Sends [ident, word, id] or, with a reason, [ident, word, id, reason]. */
static void s_answer(tp_tool_fx_t *f, const char *ident, size_t ident_len, const char *word,
                     const char *id, const char *reason) {
    assert_int_equal(zmq_send(f->router, ident, ident_len, ZMQ_SNDMORE), (int)ident_len);
    assert_int_equal(zmq_send(f->router, word, strlen(word), ZMQ_SNDMORE), (int)strlen(word));
    assert_int_equal(zmq_send(f->router, id, strlen(id), reason ? ZMQ_SNDMORE : 0),
                     (int)strlen(id));
    if (reason)
        assert_int_equal(zmq_send(f->router, reason, strlen(reason), 0), (int)strlen(reason));
}

/* Receives one [ident, topic, Envelope] within timeout_ms and returns its
 * N (event "r-N"), the sender in *ret_ident (caller frees); 0 on timeout. */
static int s_recv_event(tp_tool_fx_t *f, int timeout_ms, char **ret_ident, size_t *ret_len) {
    char  *frames[4];
    size_t lens[4];
    size_t n = tp_tool_recv(f->router, timeout_ms, frames, lens);
    if (n == 0)
        return 0;
    assert_int_equal(n, 3);
    assert_string_equal(frames[1], "crm.call");
    Touchpoint__V1__Envelope *env =
        touchpoint__v1__envelope__unpack(NULL, lens[2], (const uint8_t *)frames[2]);
    assert_non_null(env);
    assert_int_equal(env->payload_case, TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    assert_true(strncmp(env->event_id, "r-", 2) == 0);
    int num = atoi(env->event_id + 2);
    assert_true(num > 0 && num < MAX_EVENTS);
    touchpoint__v1__envelope__free_unpacked(env, NULL);
    *ret_ident = frames[0];
    *ret_len = lens[0];
    free(frames[1]);
    free(frames[2]);
    return num;
}

/* Plays the daemon by `p` until tp-pub exits; returns its exit code. Waits
 * on the ROUTER and tp-pub's pidfd together (without a pidfd: 20 ms polls). */
static int s_serve(tp_tool_fx_t *f, struct ack_policy *p) {
    long long deadline = tp_now_ms() + 2 * TP_TOOL_WAIT_MS;
    for (;;) {
        long long left = deadline - tp_now_ms();
        assert_true(left > 0);
        zmq_pollitem_t items[2] = { { .socket = f->router, .events = ZMQ_POLLIN },
                                    { .fd = f->proc.pidfd, .events = ZMQ_POLLIN } };
        bool           pidfd = f->proc.pidfd >= 0;
        int            n = zmq_poll(items, pidfd ? 2 : 1, pidfd ? (long)left : 20);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        assert_true(n >= 0);
        if (items[0].revents & ZMQ_POLLIN) {
            char  *ident, id[16];
            size_t ident_len;
            int    num = s_recv_event(f, 0, &ident, &ident_len);
            assert_true(num > 0);
            p->last_ms = tp_now_ms();
            if (!p->first_ms)
                p->first_ms = p->last_ms;
            p->seen[num]++;
            snprintf(id, sizeof id, "r-%d", num);
            bool drop = p->seen[num] == 1 && (num == p->drop_first[0] || num == p->drop_first[1]);
            if (num == p->nack)
                s_answer(f, ident, ident_len, "NACK", id, p->nack_reason);
            else if (!p->silent && !drop)
                s_answer(f, ident, ident_len, "ACK", id, NULL);
            free(ident);
            continue;
        }
        if (!pidfd || (items[1].revents & ZMQ_POLLIN)) {
            int rc = tp_proc_wait(&f->proc, 0);
            if (rc != -ETIMEDOUT)
                return rc;
        }
    }
}

/* The number after `key` on tp-pub's summary line. */
static unsigned long s_summary(const char *err, const char *key) {
    const char *line = strstr(err, "tp-pub: published ");
    assert_non_null(line);
    const char *at = strstr(line, key);
    assert_non_null(at);
    return strtoul(at + strlen(key), NULL, 10);
}

/* Starts tp-pub --reliable on the test's ROUTER with lines r-1..r-n. */
static char *s_start_reliable(tp_tool_fx_t *f, const char *text, const char *const extra[]) {
    tp_tool_bind_router(f, f->endpoint);
    char       *in = tp_tool_file(f, "events.jsonl", text);
    const char *argv[32] = { TP_PUB_BIN, "--reliable", "-e", f->endpoint };
    size_t      n = 4;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = in;
    argv[n] = NULL;
    tp_tool_spawn(f, argv, NULL);
    return in;
}

/* (a) Every event ACKed: exit 0, all 50 acknowledged, nothing resent. */
static void test_pub_reliable_all_acked(void **state) {
    tp_tool_fx_t *f = *state;
    char         *text = s_reliable_lines(1, 50);
    s_start_reliable(f, text, (const char *const[]){ NULL });
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    for (int i = 1; i <= 50; i++)
        assert_true(p.seen[i] >= 1);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 50, acknowledged 50, refused 0, "), 1);
    assert_int_equal(s_summary(err, "bad lines "), 0);
    free(text);
}

/* (b) The first deliveries of r-3 and r-7 go unanswered: both are resent
 * after --ack-timeout-ms and acknowledged then. */
static void test_pub_reliable_resends(void **state) {
    tp_tool_fx_t *f = *state;
    char         *text = s_reliable_lines(1, 10);
    s_start_reliable(f, text, (const char *const[]){ "--ack-timeout-ms", "200", NULL });
    struct ack_policy p = { .drop_first = { 3, 7 } };
    assert_int_equal(s_serve(f, &p), 0);
    assert_true(p.seen[3] >= 2);
    assert_true(p.seen[7] >= 2);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 10, acknowledged 10, refused 0, "), 1);
    assert_true(s_summary(err, "resent ") >= 2);
    assert_int_equal(s_summary(err, "bad lines "), 0);
    free(text);
}

/* (c) A NACK is reported with FILE:LINE and reason and counted as a bad
 * line, beside a line without eventId (which --reliable cannot track). */
static void test_pub_reliable_nack(void **state) {
    tp_tool_fx_t *f = *state;
    char         *events = s_reliable_lines(1, 6), *text = NULL;
    /* Line 1: r-1, line 2 blank, line 3 no eventId, lines 4..8: r-2..r-6. */
    const char *second = strchr(events, '\n') + 1;
    assert_true(asprintf(&text, "%.*s\n{\"call\":{\"callId\":\"C-0\"}}\n%s", (int)(second - events),
                         events, second) > 0);
    char             *in = s_start_reliable(f, text, (const char *const[]){ NULL });
    struct ack_policy p = { .nack = 5, .nack_reason = "topic/payload mismatch" };
    assert_int_equal(s_serve(f, &p), 1);
    char *err = tp_tool_output(f, "err"), *want = NULL;
    assert_true(asprintf(&want, "tp-pub: %s:7: refused by the daemon: topic/payload mismatch", in) >
                0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    assert_true(asprintf(&want, "tp-pub: %s:3: no eventId", in) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    assert_int_equal(tp_count_lines(err, "tp-pub: published 6, acknowledged 5, refused 1, "), 1);
    assert_int_equal(s_summary(err, "bad lines "), 2);
    free(text);
    free(events);
}

/* (d) Nobody answers: resent until --wait-ms passes without an answer, then
 * exit 1. With no daemon at all, like no subscriber: exit 2. */
static void test_pub_reliable_unacknowledged(void **state) {
    tp_tool_fx_t *f = *state;
    char         *text = s_reliable_lines(1, 3);
    char         *in = s_start_reliable(
                f, text, (const char *const[]){ "--wait-ms", "500", "--ack-timeout-ms", "100", NULL });
    struct ack_policy p = { .silent = true };
    long long         start = tp_now_ms();
    assert_int_equal(s_serve(f, &p), 1);
    assert_true(tp_now_ms() - start >= 500);
    assert_true(p.seen[1] >= 2);
    char *err = tp_tool_output(f, "err");
    TP_EXPECT_ONCE(err, "tp-pub: 3 events unacknowledged after 500 ms",
                   "acknowledged 0, refused 0, ");

    char *nobody = NULL, *want = NULL;
    assert_true(asprintf(&nobody, "ipc://%s/nobody.sock", f->dir) > 0);
    const char *argv[] = { TP_PUB_BIN, "--reliable", "-e", nobody, "--wait-ms", "300", in, NULL };
    assert_int_equal(tp_tool_run(f, argv, NULL, TP_TOOL_WAIT_MS), 2);
    err = tp_tool_output(f, "err");
    assert_true(asprintf(&want, "tp-pub: no daemon on '%s' within 300 ms", nobody) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    free(nobody);
    free(text);
}

/* --window 2: a third event waits for an ACK; nothing is resent early. */
static void test_pub_reliable_window(void **state) {
    tp_tool_fx_t *f = *state;
    char         *text = s_reliable_lines(1, 5);
    s_start_reliable(f, text,
                     (const char *const[]){ "--window", "2", "--ack-timeout-ms", "60000", NULL });
    char  *ident = NULL, *ident2 = NULL;
    size_t len, len2;
    assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &ident, &len), 1);
    assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &ident2, &len2), 2);
    free(ident2);
    assert_int_equal(s_recv_event(f, 300, &ident2, &len2), 0); /* window full */
    s_answer(f, ident, len, "ACK", "r-nobody", NULL);          /* unknown: ignored */
    assert_int_equal(s_recv_event(f, 300, &ident2, &len2), 0);
    s_answer(f, ident, len, "ACK", "r-2", NULL);
    assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &ident2, &len2), 3);
    free(ident2);
    s_answer(f, ident, len, "ACK", "r-1", NULL);
    s_answer(f, ident, len, "ACK", "r-3", NULL);
    free(ident);
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    assert_int_equal(p.seen[4], 1);
    assert_int_equal(p.seen[5], 1);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 5, acknowledged 5, refused 0, "
                                         "resent 0, bad lines 0"),
                     1);
    free(text);
}

/* An eventId repeated while unacknowledged is sent again and shares the
 * first one's entry: one ACK ends both, the second ACK is ignored. */
static void test_pub_reliable_repeated_id(void **state) {
    tp_tool_fx_t *f = *state;
    char         *text = s_reliable_lines(1, 2), *twice = NULL;
    assert_true(asprintf(&twice, "%.*s%s", (int)(strchr(text, '\n') + 1 - text), text, text) > 0);
    s_start_reliable(f, twice, (const char *const[]){ "--ack-timeout-ms", "60000", NULL });
    char  *ident = NULL, *other = NULL;
    size_t len, other_len;
    assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &ident, &len), 1);
    assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &other, &other_len), 1);
    free(other);
    assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &other, &other_len), 2);
    free(other);
    s_answer(f, ident, len, "ACK", "r-1", NULL);
    s_answer(f, ident, len, "ACK", "r-1", NULL);
    s_answer(f, ident, len, "ACK", "r-2", NULL);
    free(ident);
    assert_int_equal(tp_proc_wait(&f->proc, TP_TOOL_WAIT_MS), 0);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 3, acknowledged 2, refused 0, "
                                         "resent 0, bad lines 0"),
                     1);
    free(twice);
    free(text);
}

/* The daemon restarts with everything unanswered: the same DEALER
 * reconnects and the window is resent to the new ROUTER. */
static void test_pub_reliable_daemon_restart(void **state) {
    tp_tool_fx_t *f = *state;
    char         *text = s_reliable_lines(1, 6);
    s_start_reliable(f, text, (const char *const[]){ "--ack-timeout-ms", "200", NULL });
    for (int i = 1; i <= 6; i++) {
        char  *ident = NULL;
        size_t len;
        assert_int_equal(s_recv_event(f, TP_TOOL_WAIT_MS, &ident, &len), i);
        free(ident);
    }
    zmq_close(f->router);
    f->router = NULL;
    tp_tool_bind_router(f, f->endpoint);
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    for (int i = 1; i <= 6; i++)
        assert_true(p.seen[i] >= 1);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 6, acknowledged 6, refused 0, "), 1);
    assert_true(s_summary(err, "resent ") >= 6);
    free(text);
}

/* --rate paces the reliable path too; usage errors. */
static void test_pub_reliable_rate_and_usage(void **state) {
    tp_tool_fx_t     *f = *state;
    char             *text = s_reliable_lines(1, 4);
    char             *in = s_start_reliable(f, text, (const char *const[]){ "--rate", "20", NULL });
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    assert_true(p.last_ms - p.first_ms >= 120); /* three 50 ms intervals, less jitter */

    const char *argv1[] = { TP_PUB_BIN, "--window", "5", in, NULL };
    assert_int_equal(tp_tool_run(f, argv1, NULL, TP_TOOL_WAIT_MS), 2);
    char *err = tp_tool_output(f, "err");
    assert_int_equal(tp_count_lines(err, "need --reliable"), 1);
    const char *argv2[] = { TP_PUB_BIN, "--reliable", "--window", "0", in, NULL };
    assert_int_equal(tp_tool_run(f, argv2, NULL, TP_TOOL_WAIT_MS), 2);
    const char *argv3[] = { TP_PUB_BIN, "--reliable", "--ack-timeout-ms", "0", in, NULL };
    assert_int_equal(tp_tool_run(f, argv3, NULL, TP_TOOL_WAIT_MS), 2);
    const char *argv4[] = { TP_PUB_BIN, "--help", NULL };
    assert_int_equal(tp_tool_run(f, argv4, NULL, TP_TOOL_WAIT_MS), 0);
    char *out = tp_tool_output(f, "out");
    TP_EXPECT_ONCE(out, "      --reliable ", "tcp://127.0.0.1:7603");
    free(text);
}

TP_TEST_MAIN_WITH(tp_tool_setup, tp_tool_teardown, cmocka_unit_test(test_pub_reliable_all_acked),
                  cmocka_unit_test(test_pub_reliable_resends),
                  cmocka_unit_test(test_pub_reliable_nack),
                  cmocka_unit_test(test_pub_reliable_unacknowledged),
                  cmocka_unit_test(test_pub_reliable_window),
                  cmocka_unit_test(test_pub_reliable_repeated_id),
                  cmocka_unit_test(test_pub_reliable_daemon_restart),
                  cmocka_unit_test(test_pub_reliable_rate_and_usage))
