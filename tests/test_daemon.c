/* test_daemon — the real touchpointd process over real ZeroMQ sockets.
 *
 * Each test starts the daemon on ipc:// endpoints in a fresh temp dir, in
 * `event` clock mode, publishes with an XPUB (so we know the daemon's SUB is
 * connected before sending: no slow-joiner sleeps) and subscribes to its
 * alerts. Before asserting, the subscriber is synchronised by probes: we
 * publish throw-away incomplete calls until one's alert arrives, so the
 * subscription has reached the daemon's PUB. Every wait has a deadline.
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
#include "tp_testutil.h"

#define T0 1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define ALL4 (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define WAIT_MS 20000

typedef struct {
    char     *dir, *cfg, *out, *err, *in_ep, *out_ep;
    tp_proc_t proc;
    void     *zctx, *pub, *sub;
    unsigned  probes;            /* probe calls sent (each one accepted event) */
    tp_test_alerts_t got;
} daemon_t;

static void s_write_config(daemon_t *d, const char *extra) {
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "inputs:\n  - endpoint: %s\n    mode: bind\n"
                         "output:\n  endpoint: %s\n  mode: bind\n"
                         "clock: event\nstate_dir: %s/state\n%s",
                         d->in_ep, d->out_ep, d->dir, extra ? extra : "") > 0);
    assert_int_equal(tp_write_file(d->cfg, yaml), 0);
    free(yaml);
}

static void s_spawn(daemon_t *d, tp_proc_t *p, const char *err_path) {
    const char *argv[] = { TP_DAEMON_BIN, "--config", d->cfg, "--print-alerts", NULL };
    assert_int_equal(tp_proc_spawn(p, argv, NULL, d->out, err_path), 0);
}

static void s_send(daemon_t *d, const char *topic, const void *buf, size_t len) {
    assert_int_equal(zmq_send(d->pub, topic, strlen(topic), ZMQ_SNDMORE), (int)strlen(topic));
    assert_int_equal(zmq_send(d->pub, buf, len, 0), (int)len);
}

static void s_send_call(daemon_t *d, const tp_test_call_t *c) {
    uint8_t *buf;
    size_t len = tp_test_pack_call(c, &buf);
    s_send(d, "crm.call", buf, len);
    free(buf);
}

/* Receives one alert into d->got within timeout_ms; false on timeout. */
static bool s_recv_alert(daemon_t *d, int timeout_ms) {
    zmq_pollitem_t item = { .socket = d->sub, .events = ZMQ_POLLIN };
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return false;
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&topic, d->sub, 0) >= 0);
    assert_true(zmq_msg_more(&topic));
    assert_true(zmq_msg_recv(&body, d->sub, 0) >= 0);
    assert_false(zmq_msg_more(&body));
    assert_int_equal(tp_test_alerts_add(&d->got, zmq_msg_data(&topic), zmq_msg_size(&topic),
                                        zmq_msg_data(&body), zmq_msg_size(&body)), 0);
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return true;
}

/* Sends probes until one alert comes back, then drops what was received. */
static void s_sync(daemon_t *d) {
    long long deadline = tp_now_ms() + WAIT_MS;
    for (;;) {
        char id[32];
        snprintf(id, sizeof id, "probe-%u", d->probes++);
        tp_test_call_t c = { .event_id = id, .at_ms = T0, .call_id = id, .status = SUBMITTED };
        s_send_call(d, &c);
        if (s_recv_alert(d, 100))
            break;
        assert_true(tp_now_ms() < deadline);
    }
    /* Late probe alerts still in flight: drain them. */
    while (s_recv_alert(d, 200))
        ;
    tp_test_alerts_clear(&d->got);
}

static int s_setup_with(void **state, const char *extra) {
    daemon_t *d = calloc(1, sizeof *d);
    d->dir = tp_tmpdir();
    assert_non_null(d->dir);
    d->cfg = tp_path(d->dir, "touchpointd.yaml");
    d->out = tp_path(d->dir, "stdout");
    d->err = tp_path(d->dir, "stderr");
    assert_true(asprintf(&d->in_ep, "ipc://%s/in.sock", d->dir) > 0);
    assert_true(asprintf(&d->out_ep, "ipc://%s/out.sock", d->dir) > 0);
    s_write_config(d, extra);
    s_spawn(d, &d->proc, d->err);

    int zero = 0;
    d->zctx = zmq_ctx_new();
    d->pub = zmq_socket(d->zctx, ZMQ_XPUB);
    d->sub = zmq_socket(d->zctx, ZMQ_SUB);
    zmq_setsockopt(d->pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(d->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d->sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(d->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d->sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(d->pub, d->in_ep), 0);
    assert_int_equal(zmq_connect(d->sub, d->out_ep), 0);

    /* The daemon's SUB subscribes to "crm." once connected. */
    zmq_pollitem_t item = { .socket = d->pub, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&item, 1, WAIT_MS), 1);
    char sub[16];
    int n = zmq_recv(d->pub, sub, sizeof sub, 0);
    assert_int_equal(n, 5);
    assert_memory_equal(sub, "\1crm.", 5);
    s_sync(d);
    *state = d;
    return 0;
}

static int s_setup(void **state) {
    return s_setup_with(state, "log:\n  bad_input_burst: 5\n  bad_input_interval: 1h\n");
}

/* SIGTERM, expect a clean exit, return stderr (caller frees). */
static char *s_stop(daemon_t *d) {
    assert_int_equal(tp_proc_signal(&d->proc, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&d->proc, WAIT_MS), 0);
    return tp_read_file(d->err);
}

static int s_teardown(void **state) {
    daemon_t *d = *state;
    tp_proc_reap(&d->proc);
    tp_test_alerts_clear(&d->got);
    zmq_close(d->pub);
    zmq_close(d->sub);
    zmq_ctx_term(d->zctx);
    tp_rmrf(d->dir);
    free(d->dir); free(d->cfg); free(d->out); free(d->err); free(d->in_ep); free(d->out_ep);
    free(d);
    return 0;
}

/* Value of counter `key` in the daemon's final "stats:" line. */
static unsigned long long s_stat(const char *log, const char *key) {
    const char *line = strstr(log, "stats: ");
    assert_non_null(line);
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *hit = strstr(line, pat);
    assert_non_null(hit);
    return strtoull(hit + strlen(pat), NULL, 10);
}

static void test_fire_and_resolve_over_the_bus(void **state) {
    daemon_t *d = *state;
    tp_test_call_t c = { .event_id = "e1", .source = "veeva-eu", .sequence = 1, .at_ms = T0 + 10,
                         .call_id = "C-1", .status = SUBMITTED, .fields = TP_FIELD_PRODUCTS };
    s_send_call(d, &c);
    assert_true(s_recv_alert(d, WAIT_MS));
    c.event_id = "e2";
    c.sequence = 2;
    c.at_ms = T0 + 20;
    c.fields = ALL4;
    s_send_call(d, &c);
    s_send_call(d, &c);   /* delivered twice: ignored */
    assert_true(s_recv_alert(d, WAIT_MS));
    assert_false(s_recv_alert(d, 300));

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
    assert_int_equal(f->sequence, d->probes + 1);   /* probes fired 1..probes */
    assert_int_equal(r->sequence, d->probes + 2);

    char *log = s_stop(d);
    assert_int_equal(s_stat(log, "duplicates"), 1);
    assert_int_equal(s_stat(log, "alerts_resolved"), 1);
    free(log);
    /* --print-alerts wrote the same alerts as JSON lines. */
    char *out = tp_read_file(d->out);
    assert_non_null(strstr(out, "\"alertId\":\"call_incomplete:call/C-1\""));
    assert_int_equal(tp_count_lines(out, "call_incomplete:call/C-1"), 2);
    free(out);
}

static void test_bad_input_is_counted_logged_sparingly_and_skipped(void **state) {
    daemon_t *d = *state;
    uint8_t *good;
    tp_test_call_t c = { .event_id = "g", .at_ms = T0, .call_id = "C-1", .status = SUBMITTED };
    size_t glen = tp_test_pack_call(&c, &good);
    const int rounds = 4000;
    for (int i = 0; i < rounds; i++) {
        s_send(d, "crm.call", "\x0a\xff\xff\xff", 4);          /* decode */
        s_send(d, "crm.bogus", good, glen);                    /* topic */
        s_send(d, "crm.feedback", good, glen);                 /* mismatch */
        assert_int_equal(zmq_send(d->pub, "crm.call", 8, 0), 8);  /* frames: 1 */
        zmq_send(d->pub, "crm.call", 8, ZMQ_SNDMORE);          /* frames: 3 */
        zmq_send(d->pub, good, glen, ZMQ_SNDMORE);
        zmq_send(d->pub, "x", 1, 0);
    }
    free(good);
    /* The daemon is alive and still processes good input. */
    c = (tp_test_call_t){ .event_id = "after", .at_ms = T0, .call_id = "C-after", .status = SUBMITTED };
    s_send_call(d, &c);
    assert_true(s_recv_alert(d, WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "C-after");

    char *log = s_stop(d);
    assert_int_equal(s_stat(log, "bad_decode"), rounds);
    assert_int_equal(s_stat(log, "bad_topic"), rounds);
    assert_int_equal(s_stat(log, "bad_mismatch"), rounds);
    assert_int_equal(s_stat(log, "bad_frames"), 2 * rounds);
    assert_int_equal(s_stat(log, "bad"), 5 * rounds);
    /* 20,000 bad messages, burst 5 per hour: five lines, no flood. */
    assert_int_equal(tp_count_lines(log, "Dropped bad message"), 5);
    free(log);
}

static void test_burst_of_100k_is_fully_processed(void **state) {
    daemon_t *d = *state;
    const unsigned n = 100000;
    char id[32], call[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(id, sizeof id, "b-%u", i);
        snprintf(call, sizeof call, "C-%u", i);
        tp_test_call_t c = { .event_id = id, .source = "burst", .sequence = i + 1, .at_ms = T0,
                             .call_id = call, .status = SUBMITTED, .fields = ALL4 };
        s_send_call(d, &c);
    }
    tp_test_call_t last = { .event_id = "last", .source = "burst", .sequence = n + 1, .at_ms = T0,
                            .call_id = "C-last", .status = SUBMITTED };
    s_send_call(d, &last);
    assert_true(s_recv_alert(d, 60000));
    assert_string_equal(d->got.alerts[0]->call_id, "C-last");

    char *log = s_stop(d);
    assert_int_equal(s_stat(log, "accepted"), n + 1 + d->probes);
    assert_int_equal(s_stat(log, "seq_gaps"), 0);
    assert_int_equal(s_stat(log, "bad"), 0);
    free(log);
}

static void test_sequence_gap_is_counted_and_logged(void **state) {
    daemon_t *d = *state;
    uint64_t seqs[] = { 1, 2, 6 };
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        tp_test_call_t c = { .event_id = id, .source = "veeva-us", .sequence = seqs[i],
                             .at_ms = T0, .call_id = id, .status = SUBMITTED };
        s_send_call(d, &c);
        assert_true(s_recv_alert(d, WAIT_MS));
    }
    char *log = s_stop(d);
    assert_int_equal(s_stat(log, "seq_gaps"), 1);
    assert_int_equal(s_stat(log, "seq_missing"), 3);
    assert_non_null(strstr(log, "Sequence gap from source 'veeva-us': 3 event(s) missing before 6"));
    free(log);
}

static void test_tp_pub_demo_stream(void **state) {
    daemon_t *d = *state;
    const char *argv[] = { TP_PUB_BIN, "--endpoint", d->in_ep, TP_SOURCE_DIR "/examples/demo.jsonl",
                           NULL };
    tp_proc_t pub;
    char *err = tp_path(d->dir, "tp-pub.err");
    assert_int_equal(tp_proc_spawn(&pub, argv, NULL, NULL, err), 0);
    assert_int_equal(tp_proc_wait(&pub, WAIT_MS), 0);
    free(err);
    for (int i = 0; i < 3; i++)
        assert_true(s_recv_alert(d, WAIT_MS));
    assert_false(s_recv_alert(d, 300));
    const struct { const char *id; int status; const char *missing; } want[] = {
        { "call_incomplete:call/CALL-1002", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING, "topics,next_step" },
        { "call_incomplete:call/CALL-1003", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING, "topics,next_step" },
        { "call_incomplete:call/CALL-1002", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED, "" },
    };
    for (int i = 0; i < 3; i++) {
        assert_string_equal(d->got.alerts[i]->alert_id, want[i].id);
        assert_int_equal(d->got.alerts[i]->status, want[i].status);
        assert_string_equal(tp_test_evidence(d->got.alerts[i], "missing"), want[i].missing);
    }
    assert_string_equal(d->got.alerts[1]->territory, "DE-NORTH");
    assert_string_equal(tp_test_evidence(d->got.alerts[1], "channel"), "EMAIL");
    char *log = s_stop(d);
    assert_int_equal(s_stat(log, "duplicates"), 1);
    assert_int_equal(s_stat(log, "contracting"), 1);
    assert_int_equal(s_stat(log, "feedback"), 1);
    free(log);
}

static void test_second_daemon_on_same_state_dir_is_refused(void **state) {
    daemon_t *d = *state;
    /* Same state_dir, other endpoints. */
    char *cfg2 = tp_path(d->dir, "second.yaml");
    char *yaml = NULL;
    assert_true(asprintf(&yaml, "inputs:\n  - endpoint: ipc://%s/in2.sock\noutput:\n  endpoint: "
                                "ipc://%s/out2.sock\nstate_dir: %s/state\n",
                         d->dir, d->dir, d->dir) > 0);
    assert_int_equal(tp_write_file(cfg2, yaml), 0);
    char *err = tp_path(d->dir, "second.err");
    const char *argv[] = { TP_DAEMON_BIN, "--config", cfg2, NULL };
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, NULL, err), 0);
    assert_int_equal(tp_proc_wait(&p, WAIT_MS), 1);
    char *text = tp_read_file(err);
    assert_non_null(strstr(text, "is in use by another touchpointd"));
    free(text); free(err); free(yaml); free(cfg2);
    char *log = s_stop(d);
    free(log);
}

/* Process-only tests: no daemon running. */
static void test_check_config_names_file_and_line(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *cfg = tp_path(dir, "bad.yaml");
    char *out = tp_path(dir, "out");
    char *err = tp_path(dir, "err");
    assert_int_equal(tp_write_file(cfg, "clock: event\nrules:\n  call_late:\n    submit_within: 48\n"), 0);
    const char *argv[] = { TP_DAEMON_BIN, "--check-config", "--config", cfg, NULL };
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, out, err), 0);
    assert_int_equal(tp_proc_wait(&p, WAIT_MS), 1);
    char *text = tp_read_file(err);
    char *want = NULL;
    assert_true(asprintf(&want, "%s:4:", cfg) > 0);
    assert_non_null(strstr(text, want));
    free(text); free(want);

    assert_int_equal(tp_write_file(cfg, "clock: event\n"), 0);
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, out, err), 0);
    assert_int_equal(tp_proc_wait(&p, WAIT_MS), 0);
    text = tp_read_file(out);
    assert_non_null(strstr(text, "OK"));
    free(text);

    const char *ver[] = { TP_DAEMON_BIN, "--version", NULL };
    assert_int_equal(tp_proc_spawn(&p, ver, NULL, out, err), 0);
    assert_int_equal(tp_proc_wait(&p, WAIT_MS), 0);
    text = tp_read_file(out);
    assert_non_null(strstr(text, "touchpointd "));
    free(text);
    const char *bad[] = { TP_DAEMON_BIN, "--no-such-flag", NULL };
    assert_int_equal(tp_proc_spawn(&p, bad, NULL, out, err), 0);
    assert_int_equal(tp_proc_wait(&p, WAIT_MS), 2);
    tp_rmrf(dir);
    free(cfg); free(out); free(err); free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fire_and_resolve_over_the_bus, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_is_counted_logged_sparingly_and_skipped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_burst_of_100k_is_fully_processed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sequence_gap_is_counted_and_logged, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tp_pub_demo_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_second_daemon_on_same_state_dir_is_refused, s_setup, s_teardown),
        cmocka_unit_test(test_check_config_names_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
