/* test_daemon — the real touchpointd process over real ZeroMQ sockets.
 *
 * Each test starts the daemon on ipc:// endpoints in a fresh temp dir, in
 * `event` clock mode, through the tp_testdaemon fixture (XPUB publisher, no
 * slow-joiner sleeps; subscriber synchronised by probes). Every wait has a
 * deadline.
 */
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
#include <zmq.h>

#include "tp_config.h"
#include "tp_testmsg.h"
#include "tp_testdaemon.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define ALL4      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)

typedef tp_dfx_t daemon_t;

static int s_setup(void **state) {
    *state = tp_dfx_start("event", "log:\n  bad_input_burst: 5\n  bad_input_interval: 1h\n");
    return 0;
}

static int s_teardown(void **state) {
    tp_dfx_free(*state);
    return 0;
}

static void test_fire_and_resolve_over_the_bus(void **state) {
    daemon_t      *d = *state;
    tp_test_call_t c = { .event_id = "e1",
                         .source = "veeva-eu",
                         .sequence = 1,
                         .at_ms = T0 + 10,
                         .call_id = "C-1",
                         .status = SUBMITTED,
                         .fields = TP_FIELD_PRODUCTS };
    tp_dfx_send_call(d, &c);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    c.event_id = "e2";
    c.sequence = 2;
    c.at_ms = T0 + 20;
    c.fields = ALL4;
    tp_dfx_send_call(d, &c);
    tp_dfx_send_call(d, &c); /* delivered twice: ignored */
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    unsigned probes = d->probes;
    tp_dfx_expect_nothing_more(d);

    assert_int_equal(d->got.n, 2);
    Touchpoint__V1__Alert *f = d->got.alerts[0], *r = d->got.alerts[1];
    assert_string_equal(d->got.topics[0], "accountability.call_incomplete");
    assert_string_equal(d->got.topics[1], "accountability.call_incomplete");
    assert_string_equal(f->alert_id, "call_incomplete:call/C-1");
    assert_string_equal(r->alert_id, "call_incomplete:call/C-1");
    assert_int_equal(f->status, TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    assert_int_equal(r->status, TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    assert_string_equal(tp_test_evidence(f, "missing"), "topics,notes,next_step");
    assert_string_equal(tp_test_evidence(r, "resolution"), "fields supplied");
    assert_string_equal(f->event_ids[0], "e1");
    assert_string_equal(r->event_ids[0], "e2");
    assert_int_equal(f->detected_at_ms, T0 + 10);
    assert_int_equal(r->detected_at_ms, T0 + 20);
    assert_int_equal(f->sequence, probes + 1); /* probes fired 1..probes */
    assert_int_equal(r->sequence, probes + 2);

    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "duplicates", 1 }, { "alerts_resolved", 1 });
    free(log);
    /* --print-alerts wrote the same alerts as JSON lines. */
    char *out = tp_read_file(d->out);
    assert_non_null(strstr(out, "\"alertId\":\"call_incomplete:call/C-1\""));
    assert_int_equal(tp_count_lines(out, "call_incomplete:call/C-1"), 2);
    free(out);
}

static void test_bad_input_is_counted_logged_sparingly_and_skipped(void **state) {
    daemon_t      *d = *state;
    uint8_t       *good;
    tp_test_call_t c = { .event_id = "g", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED };
    size_t         glen = tp_test_pack_call(&c, &good);
    const int      rounds = 4000;
    for (int i = 0; i < rounds; i++) {
        tp_dfx_send(d, "crm.call", "\x0a\xff\xff\xff", 4);       /* decode */
        tp_dfx_send(d, "crm.bogus", good, glen);                 /* topic */
        tp_dfx_send(d, "crm.feedback", good, glen);              /* mismatch */
        assert_int_equal(zmq_send(d->pub, "crm.call", 8, 0), 8); /* frames: 1 */
        zmq_send(d->pub, "crm.call", 8, ZMQ_SNDMORE);            /* frames: 3 */
        zmq_send(d->pub, good, glen, ZMQ_SNDMORE);
        zmq_send(d->pub, "x", 1, 0);
    }
    free(good);
    /* The daemon is alive and still processes good input. */
    c = (tp_test_call_t){
        .event_id = "after", .at_ms = T0, .call_id = "C-after", .status = SUBMITTED
    };
    tp_dfx_send_call(d, &c);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "C-after");

    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "bad_decode", rounds }, { "bad_topic", rounds },
                    { "bad_mismatch", rounds }, { "bad_frames", 2 * rounds },
                    { "bad", 5 * rounds });
    /* 20,000 bad messages, burst 5 per hour: five lines, no flood. */
    assert_int_equal(tp_count_lines(log, "Dropped bad message"), 5);
    free(log);
}

/* A message over limits.max_message_bytes (and under the memory ceiling)
 * is received, counted and logged, and the peer stays connected: the next
 * valid message on the same socket is processed. */
static void test_oversize_message_is_counted_and_skipped(void **state) {
    (void)state;
    daemon_t   *d = tp_dfx_start("event", "limits:\n  max_message_bytes: 1000\n");
    static char big[5000];
    memset(big, 'x', sizeof big);
    tp_dfx_send(d, "crm.call", big, sizeof big);
    tp_dfx_send(d, "crm.call", big, 993); /* 8 + 993 = 1001 bytes: one over */
    tp_test_call_t c = {
        .event_id = "after", .at_ms = T0, .call_id = "C-after", .status = SUBMITTED
    };
    tp_dfx_send_call(d, &c);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "C-after");
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "oversize", 2 }, { "accepted", d->probes + 1 });
    assert_non_null(strstr(log, "Dropped a 5008-byte message from inputs[0] '"));
    assert_non_null(strstr(log, "': limit 1000"));
    free(log);
    tp_dfx_free(d);
}

static void test_burst_of_100k_is_fully_processed(void **state) {
    daemon_t      *d = *state;
    const unsigned n = 100000;
    char           id[32], call[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(id, sizeof id, "b-%u", i);
        snprintf(call, sizeof call, "C-%u", i);
        tp_test_call_t c = { .event_id = id,
                             .source = "burst",
                             .sequence = i + 1,
                             .at_ms = T0,
                             .call_id = call,
                             .status = SUBMITTED,
                             .fields = ALL4 };
        tp_dfx_send_call(d, &c);
    }
    tp_test_call_t last = { .event_id = "last",
                            .source = "burst",
                            .sequence = n + 1,
                            .at_ms = T0,
                            .call_id = "C-last",
                            .status = SUBMITTED };
    tp_dfx_send_call(d, &last);
    assert_true(tp_dfx_recv_alert(d, 60000));
    assert_string_equal(d->got.alerts[0]->call_id, "C-last");

    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "accepted", n + 1 + d->probes }, { "seq_gaps", 0 }, { "bad", 0 });
    free(log);
}

static void test_sequence_gap_is_counted_and_logged(void **state) {
    daemon_t *d = *state;
    uint64_t  seqs[] = { 1, 2, 6 };
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        tp_test_call_t c = { .event_id = id,
                             .source = "veeva-us",
                             .sequence = seqs[i],
                             .at_ms = T0,
                             .call_id = id,
                             .status = SUBMITTED };
        tp_dfx_send_call(d, &c);
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    }
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "seq_gaps", 1 }, { "seq_missing", 3 });
    assert_non_null(
        strstr(log, "Sequence gap from source 'veeva-us': 3 event(s) missing before 6"));
    free(log);
}

static void test_tp_pub_demo_stream(void **state) {
    daemon_t   *d = *state;
    const char *argv[] = { TP_PUB_BIN, "--endpoint", d->in_ep, TP_SOURCE_DIR "/examples/demo.jsonl",
                           NULL };
    char       *err = tp_path(d->dir, "tp-pub.err");
    assert_int_equal(tp_run(argv, NULL, err, TP_WAIT_MS), 0);
    free(err);
    const int F = TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING;
    const int R = TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED;
    const struct {
        const char *topic, *id;
        int         status;
    } want[] = {
        { "accountability.call_incomplete", "call_incomplete:call/CALL-1002", F },
        { "accountability.call_incomplete", "call_incomplete:call/CALL-1003", F },
        { "friction.negative_feedback", "negative_feedback:feedback/FB-9001", F },
        { "accountability.call_incomplete", "call_incomplete:call/CALL-1002", R },
        /* The watermark at the end moves event time past these deadlines. */
        { "accountability.call_unsubmitted", "call_unsubmitted:call/CALL-1004", F },
        { "friction.step_slow", "step_slow:contract/K-2026-001/step/NOMINATION", F },
        { "accountability.follow_up_missing", "follow_up_missing:feedback/FB-9001", F },
        { "friction.negative_feedback", "negative_feedback:feedback/FB-9001", R },
    };
    const size_t n_want = sizeof want / sizeof want[0];
    for (size_t i = 0; i < n_want; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    unsigned probes = d->probes;
    tp_dfx_expect_nothing_more(d);
    for (size_t i = 0; i < n_want; i++) {
        assert_string_equal(d->got.topics[i], want[i].topic);
        assert_string_equal(d->got.alerts[i]->alert_id, want[i].id);
        assert_int_equal(d->got.alerts[i]->status, want[i].status);
        assert_int_equal(d->got.alerts[i]->sequence, probes + 1 + i);
    }
    assert_string_equal(tp_test_evidence(d->got.alerts[0], "missing"), "topics,next_step");
    assert_string_equal(tp_test_evidence(d->got.alerts[3], "resolution"), "fields supplied");
    assert_string_equal(tp_test_evidence(d->got.alerts[4], "due_at"), "2026-01-03T14:00:00Z");
    assert_string_equal(tp_test_evidence(d->got.alerts[6], "nps"), "5");
    assert_string_equal(d->got.alerts[6]->hcp_id, "HCP-DE-0107");
    assert_string_equal(d->got.alerts[2]->call_id, "CALL-1002"); /* feedback on a call */
    assert_string_equal(d->got.alerts[1]->territory, "DE-NORTH");
    assert_string_equal(tp_test_evidence(d->got.alerts[1], "channel"), "EMAIL");
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "duplicates", 1 }, { "contracting", 1 }, { "feedback", 1 });
    free(log);
}

static void test_second_daemon_on_same_state_dir_is_refused(void **state) {
    daemon_t *d = *state;
    /* Same state_dir, other endpoints. */
    char *cfg2 = tp_path(d->dir, "second.yaml");
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "inputs:\n  - endpoint: ipc://%s/in2.sock\noutput:\n  endpoint: "
                         "ipc://%s/out2.sock\nreplay: { endpoint: \"ipc://%s/r2.sock\" }\n"
                         "reliable_input: { enabled: false }\n"
                         "http: { enabled: false }\n"
                         "state_dir: %s/state\n",
                         d->dir, d->dir, d->dir, d->dir) > 0);
    assert_int_equal(tp_write_file(cfg2, yaml), 0);
    char       *err = tp_path(d->dir, "second.err");
    const char *argv[] = { TP_DAEMON_BIN, "--config", cfg2, NULL };
    assert_int_equal(tp_run(argv, NULL, err, TP_WAIT_MS), 1);
    TP_EXPECT_FILE_HAS(err, "is in use by another touchpointd");
    free(err);
    free(yaml);
    free(cfg2);
    char *log = tp_dfx_stop(d);
    free(log);
}

/* Several inputs, one bound and one connecting to a producer that binds;
 * events from both reach the rules. */
static void test_two_inputs_bind_and_connect(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *cfg = tp_path(dir, "two.yaml"), *err = tp_path(dir, "err"), *yaml = NULL;
    char *in1 = NULL, *in2 = NULL, *out = NULL;
    assert_true(asprintf(&in1, "ipc://%s/in1.sock", dir) > 0);
    assert_true(asprintf(&in2, "ipc://%s/in2.sock", dir) > 0);
    assert_true(asprintf(&out, "ipc://%s/out.sock", dir) > 0);
    assert_true(asprintf(&yaml,
                         "inputs:\n  - { endpoint: \"%s\", mode: bind }\n"
                         "  - { endpoint: \"%s\", mode: connect }\n"
                         "output: { endpoint: \"%s\" }\nreplay: { enabled: false }\n"
                         "reliable_input: { enabled: false }\n"
                         "http: { enabled: false }\n"
                         "clock: event\nstate_dir: %s/state\n",
                         in1, in2, out, dir) > 0);
    assert_int_equal(tp_write_file(cfg, yaml), 0);

    void *ctx = zmq_ctx_new();
    void *p1 = zmq_socket(ctx, ZMQ_XPUB), *p2 = zmq_socket(ctx, ZMQ_XPUB);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int   zero = 0;
    zmq_setsockopt(p1, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(p2, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_bind(p2, in2), 0); /* the producer binds, the daemon connects */
    const char *argv[] = { TP_DAEMON_BIN, "--config", cfg, NULL };
    tp_proc_t   p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, NULL, err), 0);
    assert_int_equal(zmq_connect(p1, in1), 0);
    assert_int_equal(zmq_connect(sub, out), 0);
    void *pubs[2] = { p1, p2 };
    for (int i = 0; i < 2; i++) { /* each sees the daemon's subscription */
        zmq_pollitem_t item = { .socket = pubs[i], .events = ZMQ_POLLIN };
        assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
        char b[8];
        assert_int_equal(zmq_recv(pubs[i], b, sizeof b, 0), 5);
    }
    /* Until the subscriber has joined, resend: each round each input sends
     * a new incomplete call, until an alert from each input has been seen. */
    bool      seen[2] = { false, false };
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (unsigned round = 0; !(seen[0] && seen[1]); round++) {
        assert_true(tp_now_ms() < deadline);
        for (int i = 0; i < 2; i++) {
            char id[32], call[32];
            snprintf(id, sizeof id, "in%d-%u", i + 1, round);
            snprintf(call, sizeof call, "C-in%d-%u", i + 1, round);
            tp_test_call_t c = { .event_id = id,
                                 .at_ms = 1767225600000LL,
                                 .call_id = call,
                                 .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED };
            uint8_t       *buf;
            size_t         len = tp_test_pack_call(&c, &buf);
            zmq_send(pubs[i], "crm.call", 8, ZMQ_SNDMORE);
            zmq_send(pubs[i], buf, len, 0);
            free(buf);
        }
        zmq_pollitem_t item = { .socket = sub, .events = ZMQ_POLLIN };
        while (zmq_poll(&item, 1, 100) == 1) {
            char topic[64], body[2048];
            assert_true(zmq_recv(sub, topic, sizeof topic, 0) > 0);
            int n = zmq_recv(sub, body, sizeof body, 0);
            assert_true(n > 0);
            Touchpoint__V1__Alert *a =
                touchpoint__v1__alert__unpack(NULL, (size_t)n, (uint8_t *)body);
            assert_non_null(a);
            if (strncmp(a->call_id, "C-in1-", 6) == 0)
                seen[0] = true;
            if (strncmp(a->call_id, "C-in2-", 6) == 0)
                seen[1] = true;
            touchpoint__v1__alert__free_unpacked(a, NULL);
        }
    }
    assert_int_equal(tp_proc_signal(&p, SIGINT), 0); /* SIGINT stops cleanly too */
    assert_int_equal(tp_proc_wait(&p, TP_WAIT_MS), 0);
    zmq_close(p1);
    zmq_close(p2);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    tp_rmrf(dir);
    free(dir);
    free(cfg);
    free(err);
    free(yaml);
    free(in1);
    free(in2);
    free(out);
}

/* Process-only tests: no daemon running. */
static void test_check_config_names_file_and_line(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *cfg = tp_path(dir, "bad.yaml");
    char *out = tp_path(dir, "out");
    char *err = tp_path(dir, "err");
    assert_int_equal(
        tp_write_file(cfg, "clock: event\nrules:\n  call_late:\n    submit_within: 48\n"), 0);
    const char *argv[] = { TP_DAEMON_BIN, "--check-config", "--config", cfg, NULL };
    assert_int_equal(tp_run(argv, out, err, TP_WAIT_MS), 1);
    char *text = tp_read_file(err);
    char *want = NULL;
    assert_true(asprintf(&want, "%s:4:", cfg) > 0);
    assert_non_null(strstr(text, want));
    free(text);
    free(want);

    assert_int_equal(tp_write_file(cfg, "clock: event\n"), 0);
    assert_int_equal(tp_run(argv, out, err, TP_WAIT_MS), 0);
    TP_EXPECT_FILE_HAS(out, "OK");

    const char *ver[] = { TP_DAEMON_BIN, "--version", NULL };
    assert_int_equal(tp_run(ver, out, err, TP_WAIT_MS), 0);
    TP_EXPECT_FILE_HAS(out, "touchpointd ");
    const char *bad[] = { TP_DAEMON_BIN, "--no-such-flag", NULL };
    assert_int_equal(tp_run(bad, out, err, TP_WAIT_MS), 2);
    tp_rmrf(dir);
    free(cfg);
    free(out);
    free(err);
    free(dir);
}

TP_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_fire_and_resolve_over_the_bus, s_setup, s_teardown),
    cmocka_unit_test_setup_teardown(test_bad_input_is_counted_logged_sparingly_and_skipped, s_setup,
                                    s_teardown),
    cmocka_unit_test_setup_teardown(test_burst_of_100k_is_fully_processed, s_setup, s_teardown),
    cmocka_unit_test_setup_teardown(test_sequence_gap_is_counted_and_logged, s_setup, s_teardown),
    cmocka_unit_test_setup_teardown(test_tp_pub_demo_stream, s_setup, s_teardown),
    cmocka_unit_test_setup_teardown(test_second_daemon_on_same_state_dir_is_refused, s_setup,
                                    s_teardown),
    cmocka_unit_test(test_two_inputs_bind_and_connect),
    cmocka_unit_test(test_oversize_message_is_counted_and_skipped),
    cmocka_unit_test(test_check_config_names_file_and_line))
