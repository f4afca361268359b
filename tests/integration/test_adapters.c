/* test_adapters — the real tp-pub and tp-tail binaries against ZeroMQ
 * sockets owned by the test, on ipc:// endpoints in a temp dir. Every wait
 * has a deadline; nothing sleeps to "let a socket connect": the test waits
 * for the subscription instead (XPUB) or lets tp-pub wait for it. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include "touchpoint/v1/alert.pb-c.h"
#include "touchpoint/v1/events.pb-c.h"
#include "tp_json.h"
#include "tp_testutil.h"

#define WAIT_MS 10000   /* generous: the suite also runs under valgrind */

struct fixture {
    char *dir;          /* temp dir, removed at teardown */
    char *endpoint;     /* ipc://dir/bus.sock */
    void *ctx;
    void *sock;         /* the test's end: SUB (tp-pub tests) or XPUB (tp-tail tests) */
    char *replay_ep;    /* ipc://dir/replay.sock */
    void *router;       /* the test's ROUTER: replay (tp-tail --durable) or
                           reliable input (tp-pub --reliable) */
    tp_proc_t proc;     /* the child under test */
    const char *argv[32];   /* argv as spawned, maybe behind valgrind */
};

static int s_setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->proc.pidfd = -1;
    f->dir = tp_tmpdir();
    assert_non_null(f->dir);
    assert_true(asprintf(&f->endpoint, "ipc://%s/bus.sock", f->dir) > 0);
    assert_true(asprintf(&f->replay_ep, "ipc://%s/replay.sock", f->dir) > 0);
    f->ctx = zmq_ctx_new();
    assert_non_null(f->ctx);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    struct fixture *f = *state;
    tp_proc_reap(&f->proc);
    if (f->sock)
        zmq_close(f->sock);
    if (f->router)
        zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    tp_rmrf(f->dir);
    free(f->endpoint);
    free(f->replay_ep);
    free(f->dir);
    free(f);
    return 0;
}

/* Binds the test's socket of `type`; linger 0 so teardown never blocks. */
static void s_bind(struct fixture *f, int type) {
    int zero = 0;
    f->sock = zmq_socket(f->ctx, type);
    assert_non_null(f->sock);
    assert_int_equal(zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero), 0);
    if (type == ZMQ_SUB)
        assert_int_equal(zmq_setsockopt(f->sock, ZMQ_SUBSCRIBE, "crm.", 4), 0);
    assert_int_equal(zmq_bind(f->sock, f->endpoint), 0);
}

/* Receives one message of up to 4 frames within timeout_ms. Returns the
 * number of frames, 0 on timeout. Frames are malloc'd, NUL-terminated. */
static size_t s_recv(void *sock, int timeout_ms, char *frames[4], size_t lens[4]) {
    long long deadline = tp_now_ms() + timeout_ms;
    zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
    for (;;) {
        long long left = deadline - tp_now_ms();
        if (left < 0)
            left = 0;
        int n = zmq_poll(&item, 1, (long)left);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            return 0;
        break;
    }
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
        more = zmq_msg_more(&m);
        assert_true(n < 4);
        lens[n] = zmq_msg_size(&m);
        frames[n] = malloc(lens[n] + 1);
        assert_non_null(frames[n]);
        memcpy(frames[n], zmq_msg_data(&m), lens[n]);
        frames[n][lens[n]] = '\0';
        zmq_msg_close(&m);
        n++;
    }
    return n;
}

static void s_free_frames(char *frames[4], size_t n) {
    for (size_t i = 0; i < n; i++)
        free(frames[i]);
}

/* Receives one [topic, Envelope] and checks the topic and event_id. */
static void s_expect_event(struct fixture *f, const char *topic, const char *event_id,
                           Touchpoint__V1__Envelope__PayloadCase payload) {
    char *frames[4];
    size_t lens[4];
    size_t n = s_recv(f->sock, WAIT_MS, frames, lens);
    assert_int_equal(n, 2);
    assert_string_equal(frames[0], topic);
    Touchpoint__V1__Envelope *env =
        touchpoint__v1__envelope__unpack(NULL, lens[1], (const uint8_t *)frames[1]);
    assert_non_null(env);
    assert_string_equal(env->event_id, event_id);
    assert_int_equal(env->payload_case, payload);
    touchpoint__v1__envelope__free_unpacked(env, NULL);
    s_free_frames(frames, n);
}

static void s_expect_nothing(struct fixture *f, int ms) {
    char *frames[4];
    size_t lens[4];
    size_t n = s_recv(f->sock, ms, frames, lens);
    s_free_frames(frames, n);
    assert_int_equal(n, 0);
}

/* Writes `text` as dir/name, returns the path (caller frees). */
static char *s_file(struct fixture *f, const char *name, const char *text) {
    char *path = tp_path(f->dir, name);
    assert_non_null(path);
    assert_int_equal(tp_write_file(path, text), 0);
    return path;
}

/* Starts argv with stdout/stderr to dir/out, dir/err. With TP_TEST_VALGRIND
 * set, the child runs under valgrind and any memory error or leak makes it
 * exit 99, which fails the exit-code assertions. (The test itself cannot
 * run under valgrind 3.19: it does not know pidfd_open.) */
static void s_spawn(struct fixture *f, const char *const argv[], const char *stdin_path) {
    static const char *const vg[] = { "/usr/bin/valgrind", "-q", "--leak-check=full",
                                      "--errors-for-leak-kinds=definite,indirect",
                                      "--error-exitcode=99" };
    size_t n = 0, nvg = getenv("TP_TEST_VALGRIND") ? sizeof vg / sizeof vg[0] : 0;
    for (size_t i = 0; i < nvg; i++)
        f->argv[n++] = vg[i];
    for (size_t i = 0; argv[i]; i++) {
        assert_true(n < sizeof f->argv / sizeof f->argv[0] - 1);
        f->argv[n++] = argv[i];
    }
    f->argv[n] = NULL;
    char *out = tp_path(f->dir, "out"), *err = tp_path(f->dir, "err");
    assert_int_equal(tp_proc_spawn(&f->proc, f->argv, stdin_path, out, err), 0);
    free(out);
    free(err);
}

/* Runs argv to completion and returns its exit code. Only for runs that need
 * no socket of the test: a bound ZeroMQ socket attaches new peers (and sends
 * them its subscriptions) only while the test thread calls into it. */
static int s_run(struct fixture *f, const char *const argv[], const char *stdin_path, int timeout_ms) {
    s_spawn(f, argv, stdin_path);
    return tp_proc_wait(&f->proc, timeout_ms);
}

static char *s_output(struct fixture *f, const char *name) {
    char *path = tp_path(f->dir, name), *text = tp_read_file(path);
    free(path);
    assert_non_null(text);
    return text;
}

#define CALL_LINE(id)                                                                        \
    "{\"eventId\":\"" id "\",\"source\":\"t\",\"sequence\":1,\"occurredAtMs\":1000,"         \
    "\"call\":{\"callId\":\"C-1\",\"status\":\"SUBMITTED\",\"channel\":\"EMAIL\"}}\n"

static const char s_events[] =
    CALL_LINE("e-1")
    "{\"eventId\":\"e-2\",\"contracting\":{\"contractId\":\"K-1\",\"state\":\"STARTED\"}}\n"
    "{\"eventId\":\"e-bad\",\"call\":{\"status\":\"SUBMITED\"}}\n"
    "\n"
    "{\"eventId\":\"e-3\",\"feedback\":{\"nps\":0}}\n"
    "{\"eventId\":\"e-nopayload\"}\n"
    "{\"eventId\":\"e-4\",\"watermark\":{\"nowMs\":\"5000\"}}\n";

static void test_pub_publishes_and_reports_bad_lines(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_SUB);
    char *in = s_file(f, "events.jsonl", s_events);
    const char *argv[] = { TP_PUB_BIN, "-e", f->endpoint, in, NULL };
    char *out = tp_path(f->dir, "out"), *err = tp_path(f->dir, "err");
    s_spawn(f, argv, NULL);

    /* The good lines arrive in order, around the bad ones. */
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.contracting", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING);
    s_expect_event(f, "crm.feedback", "e-3", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK);
    s_expect_event(f, "crm.watermark", "e-4", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 1);

    char *text = tp_read_file(err), *want = NULL;
    assert_non_null(text);
    assert_true(asprintf(&want, "tp-pub: %s:3: call.status: unknown enum value \"SUBMITED\"", in) > 0);
    assert_int_equal(tp_count_lines(text, want), 1);
    free(want);
    assert_true(asprintf(&want, "tp-pub: %s:6: no payload", in) > 0);
    assert_int_equal(tp_count_lines(text, want), 1);
    assert_int_equal(tp_count_lines(text, "tp-pub: published 4, bad lines 2"), 1);
    free(want);
    free(text);
    free(out);
    free(err);
    free(in);
}

static void test_pub_stop_on_error(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_SUB);
    char *in = s_file(f, "events.jsonl", s_events);
    const char *argv[] = { TP_PUB_BIN, "--endpoint", f->endpoint, "--stop-on-error", in, NULL };
    s_spawn(f, argv, NULL);
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.contracting", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 1);
    s_expect_nothing(f, 300);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, ":3: call.status"), 1);
    assert_int_equal(tp_count_lines(err, "tp-pub: published 2, bad lines 1"), 1);
    free(err);
    free(in);
}

static void test_pub_count_and_stdin(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_SUB);
    char *in = s_file(f, "events.jsonl", CALL_LINE("e-1") CALL_LINE("e-2") CALL_LINE("e-3"));
    const char *argv[] = { TP_PUB_BIN, "-e", f->endpoint, "-c", "2", "-", NULL };
    s_spawn(f, argv, in);
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.call", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    s_expect_nothing(f, 300);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 2, bad lines 0"), 1);
    free(err);
    free(in);
}

static void test_pub_rate(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_SUB);
    char *in = s_file(f, "events.jsonl",
                      CALL_LINE("e-1") CALL_LINE("e-2") CALL_LINE("e-3") CALL_LINE("e-4"));
    const char *argv[] = { TP_PUB_BIN, "-e", f->endpoint, "--rate", "20", in, NULL };
    char *out = tp_path(f->dir, "out");
    s_spawn(f, argv, NULL);
    s_expect_event(f, "crm.call", "e-1", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    long long first = tp_now_ms();
    s_expect_event(f, "crm.call", "e-2", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.call", "e-3", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    s_expect_event(f, "crm.call", "e-4", TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    /* Three 50 ms intervals; allow for scheduling jitter on the first one. */
    assert_true(tp_now_ms() - first >= 120);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    free(out);
    free(in);
}

static void test_pub_errors(void **state) {
    struct fixture *f = *state;
    char *in = s_file(f, "events.jsonl", CALL_LINE("e-1"));

    /* Nobody subscribes: exit 2 after --wait-ms, not a hang. */
    const char *argv1[] = { TP_PUB_BIN, "-e", f->endpoint, "--wait-ms", "200", in, NULL };
    assert_int_equal(s_run(f, argv1, NULL, WAIT_MS), 2);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "no subscriber"), 1);
    free(err);

    const char *argv2[] = { TP_PUB_BIN, "--rate", "fast", in, NULL };
    assert_int_equal(s_run(f, argv2, NULL, WAIT_MS), 2);
    const char *argv3[] = { TP_PUB_BIN, "--no-such-option", NULL };
    assert_int_equal(s_run(f, argv3, NULL, WAIT_MS), 2);
    const char *argv4[] = { TP_PUB_BIN, "-e", "bogus://x", in, NULL };
    assert_int_equal(s_run(f, argv4, NULL, WAIT_MS), 2);
    const char *argv5[] = { TP_PUB_BIN, "/nonexistent/file", NULL };
    assert_int_equal(s_run(f, argv5, NULL, WAIT_MS), 2);

    const char *argv6[] = { TP_PUB_BIN, "--help", NULL };
    assert_int_equal(s_run(f, argv6, NULL, WAIT_MS), 0);
    char *out = s_output(f, "out");
    assert_int_equal(tp_count_lines(out, "--stop-on-error"), 1);
    free(out);
    free(in);
}

/* Waits for tp-tail's subscription on the XPUB and returns its prefix. */
static char *s_wait_subscription(struct fixture *f) {
    char *frames[4];
    size_t lens[4];
    size_t n = s_recv(f->sock, WAIT_MS, frames, lens);
    assert_int_equal(n, 1);
    assert_true(lens[0] >= 1);
    assert_int_equal(frames[0][0], 1);
    char *prefix = strdup(frames[0] + 1);
    free(frames[0]);
    return prefix;
}

/* Sends [topic, Alert] on `sock`, behind a ROUTER identity frame if `ident`. */
static void s_send_alert_on(void *sock, const char *ident, size_t ident_len, const char *topic,
                            const char *alert_id, uint64_t sequence) {
    Touchpoint__V1__Alert a = TOUCHPOINT__V1__ALERT__INIT;
    Touchpoint__V1__Alert__EvidenceEntry e = TOUCHPOINT__V1__ALERT__EVIDENCE_ENTRY__INIT;
    Touchpoint__V1__Alert__EvidenceEntry *ev[] = { &e };
    char *ids[] = { "e-1", "e-2" };
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
    size_t n = touchpoint__v1__alert__pack(&a, buf);
    assert_true(n < sizeof buf);
    if (ident)
        assert_int_equal(zmq_send(sock, ident, ident_len, ZMQ_SNDMORE), (int)ident_len);
    assert_int_equal(zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE), (int)strlen(topic));
    assert_int_equal(zmq_send(sock, buf, n, 0), (int)n);
}

static void s_send_alert(struct fixture *f, const char *topic, const char *alert_id,
                         uint64_t sequence) {
    s_send_alert_on(f->sock, NULL, 0, topic, alert_id, sequence);
}

static void s_send_frames(struct fixture *f, const char *a, size_t alen, const char *b, size_t blen) {
    assert_int_equal(zmq_send(f->sock, a, alen, b ? ZMQ_SNDMORE : 0), (int)alen);
    if (b)
        assert_int_equal(zmq_send(f->sock, b, blen, 0), (int)blen);
}

static void test_tail_prints_alerts(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_XPUB);
    const char *argv[] = { TP_TAIL_BIN, "-e", f->endpoint, "--count", "2", "--timeout-ms", "20000", NULL };
    char *out = tp_path(f->dir, "out"), *err = tp_path(f->dir, "err");
    s_spawn(f, argv, NULL);
    char *prefix = s_wait_subscription(f);
    assert_string_equal(prefix, "");
    free(prefix);

    s_send_alert(f, "accountability.call_incomplete", "call_incomplete:call/C-1", 1);
    s_send_frames(f, "only-one-frame", 14, NULL, 0);
    s_send_frames(f, "accountability.x", 16, "\xff\xff\xff", 3);         /* truncated varint */
    s_send_alert(f, "friction.step_slow", "step_slow:K-1/FMV", 2);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);

    char *text = tp_read_file(out);
    assert_non_null(text);
    assert_int_equal(tp_count_lines(text, "{"), 2);
    const char *line = text;
    for (int i = 0; i < 2; i++) {
        json_error_t jerr;
        json_t *obj = json_loadb(line, strcspn(line, "\n"), 0, &jerr);
        assert_non_null(obj);
        assert_string_equal(json_string_value(json_object_get(obj, "topic")),
                            i == 0 ? "accountability.call_incomplete" : "friction.step_slow");
        assert_string_equal(json_string_value(json_object_get(obj, "alertId")),
                            i == 0 ? "call_incomplete:call/C-1" : "step_slow:K-1/FMV");
        assert_string_equal(json_string_value(json_object_get(obj, "sequence")), i == 0 ? "1" : "2");
        assert_string_equal(json_string_value(json_object_get(obj, "status")), "ALERT_STATUS_FIRING");
        assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "evidence"),
                                                              "missing")), "products");
        assert_int_equal(json_array_size(json_object_get(obj, "eventIds")), 2);
        /* The line is exactly what the JSON mapping gives the daemon. */
        ProtobufCMessage *back = NULL;
        json_object_del(obj, "topic");
        assert_int_equal(tp_json_to_message(obj, &touchpoint__v1__alert__descriptor, NULL, 0, &back), 0);
        protobuf_c_message_free_unpacked(back, NULL);
        json_decref(obj);
        line = strchr(line, '\n') + 1;
    }
    free(text);
    text = tp_read_file(err);
    assert_non_null(text);
    assert_int_equal(tp_count_lines(text, "expected 2 frames [topic, Alert], got 1"), 1);
    assert_int_equal(tp_count_lines(text, "undecodable Alert (3 bytes) on topic 'accountability.x'"), 1);
    assert_int_equal(tp_count_lines(text, "tp-tail: alerts 2, malformed 2"), 1);
    free(text);
    free(out);
    free(err);
}

static void test_tail_topic_filter_and_timeout(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_XPUB);
    const char *argv[] = { TP_TAIL_BIN, "-e", f->endpoint, "-t", "friction.", "--timeout-ms", "1000", NULL };
    char *out = tp_path(f->dir, "out");
    s_spawn(f, argv, NULL);
    char *prefix = s_wait_subscription(f);
    assert_string_equal(prefix, "friction.");
    free(prefix);
    s_send_alert(f, "accountability.call_late", "call_late:C-1", 1);
    s_send_alert(f, "friction.rework", "rework:K-1", 2);
    /* No --count: it ends by itself after 1 s of silence, status 0. */
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    char *text = tp_read_file(out);
    assert_non_null(text);
    assert_int_equal(tp_count_lines(text, "\"topic\":\"friction.rework\""), 1);
    assert_int_equal(tp_count_lines(text, "{"), 1);
    free(text);
    free(out);
}

static void test_tail_sigterm_and_usage(void **state) {
    struct fixture *f = *state;
    s_bind(f, ZMQ_XPUB);
    const char *argv[] = { TP_TAIL_BIN, "--endpoint", f->endpoint, NULL };
    s_spawn(f, argv, NULL);
    free(s_wait_subscription(f));
    assert_int_equal(tp_proc_signal(&f->proc, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);

    const char *argv2[] = { TP_TAIL_BIN, "--count", "-1", NULL };
    assert_int_equal(s_run(f, argv2, NULL, WAIT_MS), 2);
    const char *argv3[] = { TP_TAIL_BIN, "--version", NULL };
    assert_int_equal(s_run(f, argv3, NULL, WAIT_MS), 0);
    char *out = s_output(f, "out");
    assert_int_equal(tp_count_lines(out, "tp-tail "), 1);
    free(out);
}

/* ---- tp-tail --durable: the test plays the daemon's XPUB and replay ROUTER */

struct peer {
    char  *id;          /* ROUTER identity of tp-tail's DEALER */
    size_t len;
};

/* Binds XPUB and ROUTER, writes FILE (unless `pos` is NULL), starts tp-tail
 * --durable with `extra` options and waits for its subscription. Returns
 * the position file's path (caller frees). */
static char *s_start_durable(struct fixture *f, const char *pos, const char *const extra[]) {
    int zero = 0;
    s_bind(f, ZMQ_XPUB);
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_non_null(f->router);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_bind(f->router, f->replay_ep), 0);
    char *file = pos ? s_file(f, "pos", pos) : tp_path(f->dir, "pos");
    assert_non_null(file);
    const char *argv[32] = { TP_TAIL_BIN, "-e", f->endpoint, "--durable", file,
                             "--replay-endpoint", f->replay_ep };
    size_t n = 7;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    s_spawn(f, argv, NULL);
    char *prefix = s_wait_subscription(f);
    assert_string_equal(prefix, "");
    free(prefix);
    return file;
}

/* Receives ["REPLAY", want] on the ROUTER and returns the sender. */
static struct peer s_expect_replay(struct fixture *f, const char *want) {
    char *frames[4];
    size_t lens[4];
    size_t n = s_recv(f->router, WAIT_MS, frames, lens);
    assert_int_equal(n, 3);
    assert_string_equal(frames[1], "REPLAY");
    assert_string_equal(frames[2], want);
    struct peer p = { frames[0], lens[0] };
    free(frames[1]);
    free(frames[2]);
    return p;
}

static void s_replay_alert(struct fixture *f, const struct peer *p, uint64_t sequence) {
    s_send_alert_on(f->router, p->id, p->len, "friction.rework", "rework:K-1", sequence);
}

static void s_replay_end(struct fixture *f, const struct peer *p, const char *last) {
    assert_int_equal(zmq_send(f->router, p->id, p->len, ZMQ_SNDMORE), (int)p->len);
    assert_int_equal(zmq_send(f->router, "END", 3, ZMQ_SNDMORE), 3);
    assert_int_equal(zmq_send(f->router, last, strlen(last), 0), (int)strlen(last));
}

/* Asserts that tp-tail's stdout holds exactly the alerts `want` (by
 * sequence, in that order). */
static void s_expect_printed(struct fixture *f, const uint64_t *want, size_t n_want) {
    char *text = s_output(f, "out");
    const char *line = text;
    size_t n = 0;
    while (*line) {
        json_error_t jerr;
        json_t *obj = json_loadb(line, strcspn(line, "\n"), 0, &jerr);
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
    free(text);
}

static void s_expect_file(const char *path, const char *want) {
    char *text = tp_read_file(path);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
}

/* (a) Replays from FILE, holds live alerts back, drops the live duplicate. */
static void test_tail_durable_replay_then_live(void **state) {
    struct fixture *f = *state;
    const char *const extra[] = { "--count", "3", "--timeout-ms", "20000", NULL };
    char *file = s_start_durable(f, "3", extra);
    struct peer p = s_expect_replay(f, "3");
    s_replay_alert(f, &p, 4);
    s_replay_alert(f, &p, 5);
    s_send_alert(f, "friction.rework", "rework:K-1", 5);        /* live duplicate */
    s_send_alert(f, "friction.rework", "rework:K-1", 6);
    s_replay_end(f, &p, "5");
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 4, 5, 6 }, 3);
    s_expect_file(file, "6\n");
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-tail: alerts 3, malformed 0"), 1);
    free(err);
    free(p.id);
    free(file);
}

/* (b) A live gap (7, then 9) makes tp-tail replay from 7 and print 8, 9. */
static void test_tail_durable_gap(void **state) {
    struct fixture *f = *state;
    const char *const extra[] = { "--count", "3", NULL };
    char *file = s_start_durable(f, "6\n", extra);
    struct peer p = s_expect_replay(f, "6");
    s_replay_end(f, &p, "6");
    s_send_alert(f, "friction.rework", "rework:K-1", 7);
    s_send_alert(f, "friction.rework", "rework:K-1", 9);
    struct peer p2 = s_expect_replay(f, "7");
    s_replay_alert(f, &p2, 8);
    s_replay_alert(f, &p2, 9);
    s_replay_end(f, &p2, "9");
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 7, 8, 9 }, 3);
    s_expect_file(file, "9\n");
    free(p.id);
    free(p2.id);
    free(file);
}

/* (c) No FILE: from 0, and FILE is created; a corrupt FILE is refused. */
static void test_tail_durable_file(void **state) {
    struct fixture *f = *state;
    const char *const extra[] = { "--count", "1", NULL };
    char *file = s_start_durable(f, NULL, extra);
    struct peer p = s_expect_replay(f, "0");
    s_replay_end(f, &p, "0");
    s_send_alert(f, "friction.rework", "rework:K-1", 1);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 1 }, 1);
    s_expect_file(file, "1\n");
    free(p.id);

    static const char *const corrupt[] = { "abc", "", "5x", "-1", "7\n\n" };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        assert_int_equal(tp_write_file(file, corrupt[i]), 0);
        const char *argv[] = { TP_TAIL_BIN, "-e", f->endpoint, "--durable", file, NULL };
        assert_int_equal(s_run(f, argv, NULL, WAIT_MS), 2);
        char *err = s_output(f, "err"), *want = NULL;
        assert_true(asprintf(&want, "tp-tail: cannot use '%s': not a decimal sequence number",
                             file) > 0);
        assert_int_equal(tp_count_lines(err, want), 1);
        free(want);
        free(err);
        s_expect_file(file, corrupt[i]);                /* left alone */
    }
    free(file);
}

/* (d) A silent replay endpoint: live alerts are printed anyway, the gap they
 * leave (5) is kept in FILE's position and filled by the retry 5 s later. */
static void test_tail_durable_replay_silent(void **state) {
    struct fixture *f = *state;
    const char *const extra[] = { "--count", "3", "--replay-timeout-ms", "300", NULL };
    char *file = s_start_durable(f, "3", extra);
    struct peer p = s_expect_replay(f, "3");                   /* never answered */
    s_send_alert(f, "friction.rework", "rework:K-1", 4);
    s_send_alert(f, "friction.rework", "rework:K-1", 6);
    struct peer p2 = s_expect_replay(f, "4");                  /* the retry */
    s_expect_printed(f, (const uint64_t[]){ 4, 6 }, 2);
    s_expect_file(file, "4\n");                                /* 5 is still missing */
    char *err = s_output(f, "err"), *want = NULL;
    assert_true(asprintf(&want, "tp-tail: replay from '%s' failed: no answer within 300 ms; "
                         "printing live alerts only, retrying every 5 s", f->replay_ep) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    free(err);
    s_replay_alert(f, &p2, 5);
    s_replay_alert(f, &p2, 6);
    s_replay_end(f, &p2, "6");
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    s_expect_printed(f, (const uint64_t[]){ 4, 6, 5 }, 3);
    s_expect_file(file, "6\n");
    err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "works again"), 1);
    free(err);
    free(p.id);
    free(p2.id);
    free(file);
}

/* ---- tp-pub --reliable: the test plays the daemon's reliable_input ROUTER */

#define MAX_EVENTS 64

/* What the pretend daemon does with each delivery of event "r-N". */
struct ack_policy {
    bool        silent;          /* answer nothing */
    int         drop_first[2];   /* N whose first delivery goes unanswered (0: none) */
    int         nack;            /* N refused with nack_reason (0: none) */
    const char *nack_reason;
    unsigned    seen[MAX_EVENTS];        /* deliveries per N */
    long long   first_ms, last_ms;       /* first and last delivery */
};

static void s_bind_router(struct fixture *f) {
    int zero = 0;
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_non_null(f->router);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
}

/* Lines "r-from" .. "r-to" (crm.call events), as one malloc'd string. */
static char *s_reliable_lines(int from, int to) {
    char *text = strdup("");
    assert_non_null(text);
    for (int i = from; i <= to; i++) {
        char *more = NULL;
        assert_true(asprintf(&more, "%s{\"eventId\":\"r-%d\",\"call\":{\"callId\":\"C-%d\","
                             "\"status\":\"SUBMITTED\"}}\n", text, i, i) > 0);
        free(text);
        text = more;
    }
    return text;
}

/* Sends [ident, word, id] or, with a reason, [ident, word, id, reason]. */
static void s_answer(struct fixture *f, const char *ident, size_t ident_len, const char *word,
                     const char *id, const char *reason) {
    assert_int_equal(zmq_send(f->router, ident, ident_len, ZMQ_SNDMORE), (int)ident_len);
    assert_int_equal(zmq_send(f->router, word, strlen(word), ZMQ_SNDMORE), (int)strlen(word));
    assert_int_equal(zmq_send(f->router, id, strlen(id), reason ? ZMQ_SNDMORE : 0), (int)strlen(id));
    if (reason)
        assert_int_equal(zmq_send(f->router, reason, strlen(reason), 0), (int)strlen(reason));
}

/* Receives one [ident, topic, Envelope] within timeout_ms and returns its
 * N (event "r-N"), the sender in *ret_ident (caller frees); 0 on timeout. */
static int s_recv_event(struct fixture *f, int timeout_ms, char **ret_ident, size_t *ret_len) {
    char *frames[4];
    size_t lens[4];
    size_t n = s_recv(f->router, timeout_ms, frames, lens);
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
static int s_serve(struct fixture *f, struct ack_policy *p) {
    long long deadline = tp_now_ms() + 2 * WAIT_MS;
    for (;;) {
        long long left = deadline - tp_now_ms();
        assert_true(left > 0);
        zmq_pollitem_t items[2] = { { .socket = f->router, .events = ZMQ_POLLIN },
                                    { .fd = f->proc.pidfd, .events = ZMQ_POLLIN } };
        bool pidfd = f->proc.pidfd >= 0;
        int n = zmq_poll(items, pidfd ? 2 : 1, pidfd ? (long)left : 20);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        assert_true(n >= 0);
        if (items[0].revents & ZMQ_POLLIN) {
            char *ident, id[16];
            size_t ident_len;
            int num = s_recv_event(f, 0, &ident, &ident_len);
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
static char *s_start_reliable(struct fixture *f, const char *text, const char *const extra[]) {
    s_bind_router(f);
    char *in = s_file(f, "events.jsonl", text);
    const char *argv[32] = { TP_PUB_BIN, "--reliable", "-e", f->endpoint };
    size_t n = 4;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = in;
    argv[n] = NULL;
    s_spawn(f, argv, NULL);
    return in;
}

/* (a) Every event ACKed: exit 0, all 50 acknowledged, nothing resent. */
static void test_pub_reliable_all_acked(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 50);
    char *in = s_start_reliable(f, text, (const char *const[]){ NULL });
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    for (int i = 1; i <= 50; i++)
        assert_true(p.seen[i] >= 1);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 50, acknowledged 50, refused 0, "), 1);
    assert_int_equal(s_summary(err, "bad lines "), 0);
    free(err);
    free(in);
    free(text);
}

/* (b) The first deliveries of r-3 and r-7 go unanswered: both are resent
 * after --ack-timeout-ms and acknowledged then. */
static void test_pub_reliable_resends(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 10);
    char *in = s_start_reliable(f, text, (const char *const[]){ "--ack-timeout-ms", "200", NULL });
    struct ack_policy p = { .drop_first = { 3, 7 } };
    assert_int_equal(s_serve(f, &p), 0);
    assert_true(p.seen[3] >= 2);
    assert_true(p.seen[7] >= 2);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 10, acknowledged 10, refused 0, "), 1);
    assert_true(s_summary(err, "resent ") >= 2);
    assert_int_equal(s_summary(err, "bad lines "), 0);
    free(err);
    free(in);
    free(text);
}

/* (c) A NACK is reported with FILE:LINE and reason and counted as a bad
 * line, beside a line without eventId (which --reliable cannot track). */
static void test_pub_reliable_nack(void **state) {
    struct fixture *f = *state;
    char *events = s_reliable_lines(1, 6), *text = NULL;
    /* Line 1: r-1, line 2 blank, line 3 no eventId, lines 4..8: r-2..r-6. */
    const char *second = strchr(events, '\n') + 1;
    assert_true(asprintf(&text, "%.*s\n{\"call\":{\"callId\":\"C-0\"}}\n%s",
                         (int)(second - events), events, second) > 0);
    char *in = s_start_reliable(f, text, (const char *const[]){ NULL });
    struct ack_policy p = { .nack = 5, .nack_reason = "topic/payload mismatch" };
    assert_int_equal(s_serve(f, &p), 1);
    char *err = s_output(f, "err"), *want = NULL;
    assert_true(asprintf(&want, "tp-pub: %s:7: refused by the daemon: topic/payload mismatch",
                         in) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    assert_true(asprintf(&want, "tp-pub: %s:3: no eventId", in) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    assert_int_equal(tp_count_lines(err, "tp-pub: published 6, acknowledged 5, refused 1, "), 1);
    assert_int_equal(s_summary(err, "bad lines "), 2);
    free(err);
    free(in);
    free(text);
    free(events);
}

/* (d) Nobody answers: resent until --wait-ms passes without an answer, then
 * exit 1. With no daemon at all, like no subscriber: exit 2. */
static void test_pub_reliable_unacknowledged(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 3);
    char *in = s_start_reliable(f, text, (const char *const[]){
        "--wait-ms", "500", "--ack-timeout-ms", "100", NULL });
    struct ack_policy p = { .silent = true };
    long long start = tp_now_ms();
    assert_int_equal(s_serve(f, &p), 1);
    assert_true(tp_now_ms() - start >= 500);
    assert_true(p.seen[1] >= 2);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: 3 events unacknowledged after 500 ms"), 1);
    assert_int_equal(tp_count_lines(err, "acknowledged 0, refused 0, "), 1);
    free(err);

    char *nobody = NULL, *want = NULL;
    assert_true(asprintf(&nobody, "ipc://%s/nobody.sock", f->dir) > 0);
    const char *argv[] = { TP_PUB_BIN, "--reliable", "-e", nobody, "--wait-ms", "300", in, NULL };
    assert_int_equal(s_run(f, argv, NULL, WAIT_MS), 2);
    err = s_output(f, "err");
    assert_true(asprintf(&want, "tp-pub: no daemon on '%s' within 300 ms", nobody) > 0);
    assert_int_equal(tp_count_lines(err, want), 1);
    free(want);
    free(err);
    free(nobody);
    free(in);
    free(text);
}

/* --window 2: a third event waits for an ACK; nothing is resent early. */
static void test_pub_reliable_window(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 5);
    char *in = s_start_reliable(f, text, (const char *const[]){
        "--window", "2", "--ack-timeout-ms", "60000", NULL });
    char *ident = NULL, *ident2 = NULL;
    size_t len, len2;
    assert_int_equal(s_recv_event(f, WAIT_MS, &ident, &len), 1);
    assert_int_equal(s_recv_event(f, WAIT_MS, &ident2, &len2), 2);
    free(ident2);
    assert_int_equal(s_recv_event(f, 300, &ident2, &len2), 0);      /* window full */
    s_answer(f, ident, len, "ACK", "r-nobody", NULL);                /* unknown: ignored */
    assert_int_equal(s_recv_event(f, 300, &ident2, &len2), 0);
    s_answer(f, ident, len, "ACK", "r-2", NULL);
    assert_int_equal(s_recv_event(f, WAIT_MS, &ident2, &len2), 3);
    free(ident2);
    s_answer(f, ident, len, "ACK", "r-1", NULL);
    s_answer(f, ident, len, "ACK", "r-3", NULL);
    free(ident);
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    assert_int_equal(p.seen[4], 1);
    assert_int_equal(p.seen[5], 1);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 5, acknowledged 5, refused 0, "
                                         "resent 0, bad lines 0"), 1);
    free(err);
    free(in);
    free(text);
}

/* An eventId repeated while unacknowledged is sent again and shares the
 * first one's entry: one ACK ends both, the second ACK is ignored. */
static void test_pub_reliable_repeated_id(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 2), *twice = NULL;
    assert_true(asprintf(&twice, "%.*s%s", (int)(strchr(text, '\n') + 1 - text), text, text) > 0);
    char *in = s_start_reliable(f, twice, (const char *const[]){ "--ack-timeout-ms", "60000", NULL });
    char *ident = NULL, *other = NULL;
    size_t len, other_len;
    assert_int_equal(s_recv_event(f, WAIT_MS, &ident, &len), 1);
    assert_int_equal(s_recv_event(f, WAIT_MS, &other, &other_len), 1);
    free(other);
    assert_int_equal(s_recv_event(f, WAIT_MS, &other, &other_len), 2);
    free(other);
    s_answer(f, ident, len, "ACK", "r-1", NULL);
    s_answer(f, ident, len, "ACK", "r-1", NULL);
    s_answer(f, ident, len, "ACK", "r-2", NULL);
    free(ident);
    assert_int_equal(tp_proc_wait(&f->proc, WAIT_MS), 0);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 3, acknowledged 2, refused 0, "
                                         "resent 0, bad lines 0"), 1);
    free(err);
    free(in);
    free(twice);
    free(text);
}

/* The daemon restarts with everything unanswered: the same DEALER
 * reconnects and the window is resent to the new ROUTER. */
static void test_pub_reliable_daemon_restart(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 6);
    char *in = s_start_reliable(f, text, (const char *const[]){ "--ack-timeout-ms", "200", NULL });
    for (int i = 1; i <= 6; i++) {
        char *ident = NULL;
        size_t len;
        assert_int_equal(s_recv_event(f, WAIT_MS, &ident, &len), i);
        free(ident);
    }
    zmq_close(f->router);
    f->router = NULL;
    s_bind_router(f);
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    for (int i = 1; i <= 6; i++)
        assert_true(p.seen[i] >= 1);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "tp-pub: published 6, acknowledged 6, refused 0, "), 1);
    assert_true(s_summary(err, "resent ") >= 6);
    free(err);
    free(in);
    free(text);
}

/* --rate paces the reliable path too; usage errors. */
static void test_pub_reliable_rate_and_usage(void **state) {
    struct fixture *f = *state;
    char *text = s_reliable_lines(1, 4);
    char *in = s_start_reliable(f, text, (const char *const[]){ "--rate", "20", NULL });
    struct ack_policy p = { 0 };
    assert_int_equal(s_serve(f, &p), 0);
    assert_true(p.last_ms - p.first_ms >= 120);        /* three 50 ms intervals, less jitter */

    const char *argv1[] = { TP_PUB_BIN, "--window", "5", in, NULL };
    assert_int_equal(s_run(f, argv1, NULL, WAIT_MS), 2);
    char *err = s_output(f, "err");
    assert_int_equal(tp_count_lines(err, "need --reliable"), 1);
    free(err);
    const char *argv2[] = { TP_PUB_BIN, "--reliable", "--window", "0", in, NULL };
    assert_int_equal(s_run(f, argv2, NULL, WAIT_MS), 2);
    const char *argv3[] = { TP_PUB_BIN, "--reliable", "--ack-timeout-ms", "0", in, NULL };
    assert_int_equal(s_run(f, argv3, NULL, WAIT_MS), 2);
    const char *argv4[] = { TP_PUB_BIN, "--help", NULL };
    assert_int_equal(s_run(f, argv4, NULL, WAIT_MS), 0);
    char *out = s_output(f, "out");
    assert_int_equal(tp_count_lines(out, "      --reliable "), 1);
    assert_int_equal(tp_count_lines(out, "tcp://127.0.0.1:7603"), 1);
    free(out);
    free(in);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pub_publishes_and_reports_bad_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_stop_on_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_count_and_stdin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_rate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_all_acked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_resends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_nack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_unacknowledged, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_window, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_repeated_id, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_daemon_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_reliable_rate_and_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_prints_alerts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_topic_filter_and_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_sigterm_and_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_durable_replay_then_live, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_durable_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_durable_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_durable_replay_silent, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
