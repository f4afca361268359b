/* tp_testdaemon — see tp_testdaemon.h. */
#include "tp_testdaemon.h"

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

#define T0 1767225600000LL

void tp_dfx_write_config(tp_dfx_t *d, const char *path, const char *clock, const char *extra) {
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "inputs:\n  - endpoint: %s\n    mode: bind\n"
                         "output:\n  endpoint: %s\n  mode: bind\n  hwm: %d\n"
                         "replay:\n  endpoint: %s\n"
                         "reliable_input:\n  endpoint: %s\n"
                         "clock: %s\nstate_dir: %s/state\n%s\n%s",
                         d->in_ep, d->out_ep, d->output_hwm ? d->output_hwm : 100000, d->replay_ep,
                         d->reliable_ep, clock, d->dir,
                         d->http ? "http: { listen: \"127.0.0.1:0\" }" : "http: { enabled: false }",
                         extra ? extra : "") > 0);
    assert_int_equal(tp_write_file(path, yaml), 0);
    free(yaml);
}

void tp_dfx_send(tp_dfx_t *d, const char *topic, const void *buf, size_t len) {
    assert_int_equal(zmq_send(d->pub, topic, strlen(topic), ZMQ_SNDMORE), (int)strlen(topic));
    assert_int_equal(zmq_send(d->pub, buf, len, 0), (int)len);
}

void tp_dfx_send_call(tp_dfx_t *d, const tp_test_call_t *c) {
    uint8_t *buf;
    size_t len = tp_test_pack_call(c, &buf);
    tp_dfx_send(d, "crm.call", buf, len);
    free(buf);
}

void tp_dfx_send_feedback(tp_dfx_t *d, const tp_test_feedback_t *f) {
    uint8_t *buf;
    size_t len = tp_test_pack_feedback(f, &buf);
    tp_dfx_send(d, "crm.feedback", buf, len);
    free(buf);
}

void tp_dfx_send_watermark(tp_dfx_t *d, const char *event_id, int64_t now_ms) {
    uint8_t *buf;
    size_t len = tp_test_pack_watermark(event_id, now_ms, &buf);
    tp_dfx_send(d, "crm.watermark", buf, len);
    free(buf);
}

void tp_dfx_send_step(tp_dfx_t *d, const tp_test_step_t *s) {
    uint8_t *buf;
    size_t len = tp_test_pack_step(s, &buf);
    tp_dfx_send(d, "crm.contracting", buf, len);
    free(buf);
}

bool tp_dfx_recv_alert(tp_dfx_t *d, int timeout_ms) {
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
static void s_sync(tp_dfx_t *d) {
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        char id[32];
        snprintf(id, sizeof id, "probe-%u", d->probes++);
        tp_test_call_t c = { .event_id = id, .at_ms = T0, .call_id = id,
                             .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED };
        tp_dfx_send_call(d, &c);
        if (tp_dfx_recv_alert(d, 100))
            break;
        assert_true(tp_now_ms() < deadline);
    }
    /* Late probe alerts still in flight: drain them (for at most two
     * seconds: under a live flood there is no quiet moment). */
    long long until = tp_now_ms() + 2000;
    while (tp_now_ms() < until && tp_dfx_recv_alert(d, 200))
        tp_test_alerts_clear(&d->got);
    tp_test_alerts_clear(&d->got);
}

static void s_spawn_and_sync(tp_dfx_t *d, const char *extra_arg, bool fresh);

tp_dfx_t *tp_dfx_start(const char *clock, const char *extra) {
    return tp_dfx_start_with(clock, extra, 100000);
}

static tp_dfx_t *s_start(const char *clock, const char *extra, int output_hwm, bool http) {
    tp_dfx_t *d = calloc(1, sizeof *d);
    d->output_hwm = output_hwm;
    d->http = http;
    d->dir = tp_tmpdir();
    assert_non_null(d->dir);
    d->cfg = tp_path(d->dir, "touchpointd.yaml");
    d->out = tp_path(d->dir, "stdout");
    d->err = tp_path(d->dir, "stderr");
    assert_true(asprintf(&d->in_ep, "ipc://%s/in.sock", d->dir) > 0);
    assert_true(asprintf(&d->out_ep, "ipc://%s/out.sock", d->dir) > 0);
    assert_true(asprintf(&d->replay_ep, "ipc://%s/replay.sock", d->dir) > 0);
    assert_true(asprintf(&d->reliable_ep, "ipc://%s/reliable.sock", d->dir) > 0);
    tp_dfx_write_config(d, d->cfg, clock, extra);
    s_spawn_and_sync(d, NULL, true);
    return d;
}

tp_dfx_t *tp_dfx_start_with(const char *clock, const char *extra, int output_hwm) {
    return s_start(clock, extra, output_hwm, false);
}

tp_dfx_t *tp_dfx_start_http(const char *clock, const char *extra) {
    return s_start(clock, extra, 100000, true);
}

/* The daemon writes <state_dir>/http.port before it reads its first event,
 * so after the sync it is there. */
static void s_read_http_port(tp_dfx_t *d) {
    char *path = NULL;
    assert_true(asprintf(&path, "%s/state/http.port", d->dir) > 0);
    char *text = tp_read_file(path);
    assert_non_null(text);
    char *end;
    unsigned long port = strtoul(text, &end, 10);
    assert_true(port > 0 && port < 65536 && *end == '\n');
    d->http_port = (unsigned)port;
    free(text);
    free(path);
}

/* Starts the daemon, (re)connects our sockets and waits until both paths
 * work. `fresh`: create the sockets (first start). */
static void s_spawn_and_sync(tp_dfx_t *d, const char *extra_arg, bool fresh) {
    const char *argv[] = { TP_DAEMON_BIN, "--config", d->cfg, "--print-alerts", extra_arg, NULL };
    assert_int_equal(tp_proc_spawn(&d->proc, argv, NULL, d->out, d->err), 0);
    if (fresh)
        d->zctx = zmq_ctx_new();

    int zero = 0;
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
    for (;;) {
        zmq_pollitem_t item = { .socket = d->pub, .events = ZMQ_POLLIN };
        assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
        char sub[16];
        assert_int_equal(zmq_recv(d->pub, sub, sizeof sub, 0), 5);
        if (memcmp(sub, "\1crm.", 5) == 0)
            break;
        assert_memory_equal(sub, "\0crm.", 5);
    }
    s_sync(d);
    if (d->http)
        s_read_http_port(d);
}

void tp_dfx_restart(tp_dfx_t *d, const char *extra_arg) {
    tp_proc_reap(&d->proc);
    tp_test_alerts_clear(&d->got);
    /* New sockets: a consumer or producer that restarts with the daemon,
     * rather than relying on ZeroMQ's reconnect to an ipc path rebound. */
    zmq_close(d->pub);
    zmq_close(d->sub);
    s_spawn_and_sync(d, extra_arg, false);
}

char *tp_dfx_stop(tp_dfx_t *d) {
    assert_int_equal(tp_proc_signal(&d->proc, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 0);
    return tp_read_file(d->err);
}

void tp_dfx_free(tp_dfx_t *d) {
    tp_proc_reap(&d->proc);
    tp_test_alerts_clear(&d->got);
    zmq_close(d->pub);
    zmq_close(d->sub);
    zmq_ctx_term(d->zctx);
    tp_rmrf(d->dir);
    free(d->dir); free(d->cfg); free(d->out); free(d->err); free(d->in_ep); free(d->out_ep);
    free(d->replay_ep);
    free(d->reliable_ep);
    free(d);
}

unsigned long long tp_dfx_stat(const char *log, const char *key) {
    const char *line = strstr(log, "stats: ");
    assert_non_null(line);
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *hit = strstr(line, pat);
    assert_non_null(hit);
    return strtoull(hit + strlen(pat), NULL, 10);
}
