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
#include <sys/stat.h>
#include <zmq.h>

#define T0 1767225600000LL

void tp_test_skip(const char *why) {
    const char *all = getenv("TP_TEST_REQUIRE_ALL");
    if (all && *all && strcmp(all, "0") != 0)
        fail_msg("cannot run: %s (TP_TEST_REQUIRE_ALL is set: skipping is a failure)", why);
    print_message("skipped: %s\n", why);
    skip();
}

void tp_dfx_write_config(tp_dfx_t *d, const char *path, const char *clock, const char *extra) {
    char *yaml = NULL, cl[4][600] = { "", "", "", "" }, curve[600] = "", http[1200];
    if (d->curve) {
        snprintf(cl[0], sizeof cl[0], "    curve_clients: \"%s\"\n", d->clients_file);
        for (int i = 1; i < 4; i++)
            snprintf(cl[i], sizeof cl[i], "  curve_clients: \"%s\"\n", d->clients_file);
        snprintf(curve, sizeof curve, "curve:\n  secret_key_file: \"%s\"\n", d->key_file);
    }
    snprintf(http, sizeof http, "http: { listen: \"127.0.0.1:0\"%s%s }", d->http_yaml ? ", " : "",
             d->http_yaml ? d->http_yaml : "");
    assert_true(asprintf(&yaml,
                         "inputs:\n  - endpoint: %s\n    mode: bind\n%s%s"
                         "output:\n  endpoint: %s\n  mode: bind\n  hwm: %d\n%s"
                         "replay:\n  endpoint: %s\n%s"
                         "reliable_input:\n  endpoint: %s\n%s%s"
                         "clock: %s\nstate_dir: %s/state\n%s\n%s",
                         d->in_ep, cl[0], d->inputs_yaml ? d->inputs_yaml : "", d->out_ep,
                         d->output_hwm ? d->output_hwm : 100000, cl[1], d->replay_ep, cl[2],
                         d->reliable_ep, cl[3], curve, clock, d->dir,
                         d->http ? http : "http: { enabled: false }", extra ? extra : "") > 0);
    assert_int_equal(tp_write_file(path, yaml), 0);
    free(yaml);
}

void tp_dfx_send(tp_dfx_t *d, const char *topic, const void *buf, size_t len) {
    assert_int_equal(zmq_send(d->pub, topic, strlen(topic), ZMQ_SNDMORE), (int)strlen(topic));
    assert_int_equal(zmq_send(d->pub, buf, len, 0), (int)len);
}

/* Sends what a tp_test_pack_*() call put in *buf (len bytes), and frees it. */
static void s_send_packed(tp_dfx_t *d, const char *topic, uint8_t **buf, size_t len) {
    tp_dfx_send(d, topic, *buf, len);
    free(*buf);
}

void tp_dfx_send_call(tp_dfx_t *d, const tp_test_call_t *c) {
    uint8_t *buf;
    s_send_packed(d, "crm.call", &buf, tp_test_pack_call(c, &buf));
}

void tp_dfx_send_feedback(tp_dfx_t *d, const tp_test_feedback_t *f) {
    uint8_t *buf;
    s_send_packed(d, "crm.feedback", &buf, tp_test_pack_feedback(f, &buf));
}

void tp_dfx_send_watermark(tp_dfx_t *d, const char *event_id, int64_t now_ms) {
    uint8_t *buf;
    s_send_packed(d, "crm.watermark", &buf, tp_test_pack_watermark(event_id, now_ms, &buf));
}

void tp_dfx_send_step(tp_dfx_t *d, const tp_test_step_t *s) {
    uint8_t *buf;
    s_send_packed(d, "crm.contracting", &buf, tp_test_pack_step(s, &buf));
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
                                        zmq_msg_data(&body), zmq_msg_size(&body)),
                     0);
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return true;
}

/* Sends the next probe (call "probe-<n>", submitted bare: call_incomplete
 * fires on it) and names it in `id`. */
static void s_probe(tp_dfx_t *d, char id[32]) {
    snprintf(id, 32, "probe-%u", d->probes++);
    tp_test_call_t c = { .event_id = id,
                         .at_ms = T0,
                         .call_id = id,
                         .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED };
    tp_dfx_send_call(d, &c);
}

/* Sends probes until one alert comes back, then drops what was received. */
static void s_sync(tp_dfx_t *d) {
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        char id[32];
        s_probe(d, id);
        if (tp_dfx_recv_alert(d, 100))
            break;
        assert_true(tp_now_ms() < deadline);
    }
    /* Late probe alerts still in flight: one more probe, and everything
     * up to its alert is dropped (the daemon handles our events in order,
     * so the earlier probes' alerts, and any raised at start-up, come
     * first; no quiet period to wait for, which a live flood never has). */
    char last[32];
    s_probe(d, last);
    for (bool done = false; !done;) {
        tp_test_alerts_clear(&d->got);
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        const char *id = d->got.alerts[0]->call_id;
        done = id && strcmp(id, last) == 0;
    }
    tp_test_alerts_clear(&d->got);
}

void tp_dfx_expect_nothing_more(tp_dfx_t *d) {
    char id[32];
    snprintf(id, sizeof id, "probe-sentinel-%u", d->probes++);
    tp_test_call_t c = { .event_id = id,
                         .at_ms = T0,
                         .call_id = id,
                         .hcp_id = "HCP-SENTINEL",
                         .rep_id = "REP-SENTINEL",
                         .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED };
    tp_dfx_send_call(d, &c);
    size_t n = d->got.n;
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_int_equal(d->got.n, n + 1);
    Touchpoint__V1__Alert *a = d->got.alerts[n];
    if (!a->call_id || strcmp(a->call_id, id) != 0)
        fail_msg("expected nothing more before the sentinel %s, got %s %s (status %d)", id,
                 d->got.topics[n], a->alert_id, (int)a->status);
    assert_string_equal(d->got.topics[n], "accountability.call_incomplete");
    assert_int_equal(a->status, TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    touchpoint__v1__alert__free_unpacked(a, NULL);
    d->got.n = n;
}

static void s_spawn_and_sync(tp_dfx_t *d, const char *extra_arg, bool fresh);
static void s_connect_and_sync(tp_dfx_t *d);

tp_dfx_t *tp_dfx_start(const char *clock, const char *extra) {
    return tp_dfx_start_with(clock, extra, 100000);
}

tp_dfx_t *tp_dfx_start_with(const char *clock, const char *extra, int output_hwm) {
    tp_dfx_t *d = tp_dfx_setup(false);
    d->output_hwm = output_hwm;
    tp_dfx_spawn(d, clock, extra);
    return d;
}

tp_dfx_t *tp_dfx_start_http(const char *clock, const char *extra) {
    tp_dfx_t *d = tp_dfx_setup(false);
    d->http = true;
    tp_dfx_spawn(d, clock, extra);
    return d;
}

tp_dfx_t *tp_dfx_start_http_with(const char *http_yaml) {
    tp_dfx_t *d = tp_dfx_setup(false);
    d->http = true;
    d->http_yaml = http_yaml;
    tp_dfx_spawn(d, "event", NULL);
    return d;
}

tp_dfx_t *tp_dfx_start_curve(const char *clock, const char *extra) {
    tp_dfx_t *d = tp_dfx_setup(true);
    tp_dfx_spawn(d, clock, extra);
    return d;
}

void tp_dfx_spawn(tp_dfx_t *d, const char *clock, const char *extra) {
    tp_dfx_write_config(d, d->cfg, clock, extra);
    s_spawn_and_sync(d, NULL, true);
}

void tp_dfx_curve_client(const tp_dfx_t *d, void *sock, const char *public_key,
                         const char *secret_key) {
    assert_int_equal(zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, d->server_public, 40), 0);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, public_key, 40), 0);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret_key, 40), 0);
}

/* A key file as tp-keygen writes it, with `mode`. */
static void s_write_key(const char *path, const char *secret, mode_t mode) {
    char text[128];
    snprintf(text, sizeof text, "# test key\n%s\n", secret);
    assert_int_equal(tp_write_file(path, text), 0);
    assert_int_equal(chmod(path, mode), 0);
}

tp_dfx_t *tp_dfx_setup(bool curve) {
    tp_dfx_t *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->dir = tp_tmpdir();
    assert_non_null(d->dir);
    d->cfg = tp_path(d->dir, "touchpointd.yaml");
    d->out = tp_path(d->dir, "stdout");
    d->err = tp_path(d->dir, "stderr");
    assert_true(asprintf(&d->in_ep, "ipc://%s/in.sock", d->dir) > 0);
    assert_true(asprintf(&d->out_ep, "ipc://%s/out.sock", d->dir) > 0);
    assert_true(asprintf(&d->replay_ep, "ipc://%s/replay.sock", d->dir) > 0);
    assert_true(asprintf(&d->reliable_ep, "ipc://%s/reliable.sock", d->dir) > 0);
    if (curve) {
        d->curve = true;
        assert_int_equal(zmq_curve_keypair(d->server_public, d->server_secret), 0);
        assert_int_equal(zmq_curve_keypair(d->client_public, d->client_secret), 0);
        d->key_file = tp_path(d->dir, "server.key");
        d->client_key_file = tp_path(d->dir, "client.key");
        d->clients_file = tp_path(d->dir, "clients");
        /* 0640: group-readable is the packaged layout and must be accepted. */
        s_write_key(d->key_file, d->server_secret, 0640);
        s_write_key(d->client_key_file, d->client_secret, 0600);
        char list[128];
        snprintf(list, sizeof list, "# the test client\n\n%s\n", d->client_public);
        assert_int_equal(tp_write_file(d->clients_file, list), 0);
    }
    return d;
}

/* The daemon writes <state_dir>/http.port before it reads its first event,
 * so after the sync it is there. */
static void s_read_http_port(tp_dfx_t *d) {
    char *path = NULL;
    assert_true(asprintf(&path, "%s/state/http.port", d->dir) > 0);
    char *text = tp_read_file(path);
    assert_non_null(text);
    char         *end;
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
    s_connect_and_sync(d);
}

/* Connects a new publisher to d->in_ep and subscriber to d->out_ep and
 * waits until both paths work. */
static void s_connect_and_sync(tp_dfx_t *d) {
    int zero = 0;
    d->pub = zmq_socket(d->zctx, ZMQ_XPUB);
    d->sub = zmq_socket(d->zctx, ZMQ_SUB);
    zmq_setsockopt(d->pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(d->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d->sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(d->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d->sub, ZMQ_SUBSCRIBE, "", 0);
    if (d->curve) {
        tp_dfx_curve_client(d, d->pub, d->client_public, d->client_secret);
        tp_dfx_curve_client(d, d->sub, d->client_public, d->client_secret);
    }
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

void tp_dfx_reconnect(tp_dfx_t *d) {
    tp_test_alerts_clear(&d->got);
    zmq_close(d->pub);
    zmq_close(d->sub);
    s_connect_and_sync(d);
}

/* Lines logged so far that report a reload's outcome. */
static size_t s_reload_outcomes(const tp_dfx_t *d, size_t *ok) {
    char *log = tp_read_file(d->err);
    *ok = log ? tp_count_lines(log, "Reloaded configuration") : 0;
    size_t refused = log ? tp_count_lines(log, "still running on the previous config") : 0;
    free(log);
    return *ok + refused;
}

bool tp_dfx_reload_yaml(tp_dfx_t *d, const char *yaml) {
    size_t ok0, ok;
    size_t n0 = s_reload_outcomes(d, &ok0);
    assert_int_equal(tp_write_file(d->cfg, yaml), 0);
    assert_int_equal(tp_proc_signal(&d->proc, SIGHUP), 0);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (s_reload_outcomes(d, &ok) == n0) {
        assert_true(tp_now_ms() < deadline);
        /* The outcome is a log line in a file: poll it briefly. */
        zmq_poll(NULL, 0, 10);
    }
    return ok > ok0;
}

bool tp_dfx_reload(tp_dfx_t *d, const char *clock, const char *extra_yaml) {
    char *path = tp_path(d->dir, "next.yaml");
    tp_dfx_write_config(d, path, clock, extra_yaml);
    char *yaml = tp_read_file(path);
    assert_non_null(yaml);
    bool ok = tp_dfx_reload_yaml(d, yaml);
    free(yaml);
    free(path);
    return ok;
}

unsigned long long tp_dfx_live_stat(tp_dfx_t *d, const char *key) {
    char  *log = tp_read_file(d->err);
    size_t n0 = log ? tp_count_lines(log, "stats: ") : 0;
    free(log);
    assert_int_equal(tp_proc_signal(&d->proc, SIGUSR1), 0);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        log = tp_read_file(d->err);
        if (log && tp_count_lines(log, "stats: ") > n0 && log[strlen(log) - 1] == '\n')
            break;
        free(log);
        assert_true(tp_now_ms() < deadline);
        zmq_poll(NULL, 0, 10); /* the line is in a file: poll it briefly */
    }
    unsigned long long v = tp_dfx_stat(log, key);
    free(log);
    return v;
}

char *tp_dfx_stop(tp_dfx_t *d) {
    assert_int_equal(tp_proc_signal(&d->proc, SIGTERM), 0);
    int   rc = tp_proc_wait(&d->proc, TP_WAIT_MS);
    char *log = tp_read_file(d->err);
    if (rc != 0) { /* a sanitizer report, an abort: the only clue CI keeps */
        size_t len = log ? strlen(log) : 0;
        /* Not print_message: cmocka cuts a message at 1 KiB. */
        fprintf(stderr, "daemon exited %d; its stderr ends:\n%s\n", rc,
                log ? log + (len > 6000 ? len - 6000 : 0) : "");
    }
    assert_int_equal(rc, 0);
    return log;
}

void tp_dfx_stop_expect(tp_dfx_t *d, const char *needle) {
    char *log = tp_dfx_stop(d);
    if (!strstr(log, needle))
        fail_msg("the daemon never said \"%s\"; its stderr:\n%s", needle, log);
    free(log);
}

void tp_dfx_expect_refusal(tp_dfx_t *d, const char *needle) {
    const char *argv[] = { TP_DAEMON_BIN, "--config", d->cfg, NULL };
    assert_int_equal(tp_proc_spawn(&d->proc, argv, NULL, d->out, d->err), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 1);
    TP_EXPECT_FILE_HAS(d->err, needle);
}

void tp_dfx_free(tp_dfx_t *d) {
    tp_proc_reap(&d->proc);
    tp_test_alerts_clear(&d->got);
    if (d->zctx) {
        zmq_close(d->pub);
        zmq_close(d->sub);
        zmq_ctx_term(d->zctx);
    }
    tp_rmrf(d->dir);
    free(d->dir);
    free(d->cfg);
    free(d->out);
    free(d->err);
    free(d->in_ep);
    free(d->out_ep);
    free(d->replay_ep);
    free(d->reliable_ep);
    free(d->key_file);
    free(d->client_key_file);
    free(d->clients_file);
    free(d);
}

unsigned long long tp_dfx_stat(const char *log, const char *key) {
    const char *line = strstr(log, "stats: ");
    assert_non_null(line);
    for (const char *next; (next = strstr(line + 1, "stats: "));)
        line = next;
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *hit = strstr(line, pat);
    assert_non_null(hit);
    return strtoull(hit + strlen(pat), NULL, 10);
}

void tp_dfx_expect_stats(const char *log, const tp_dfx_stat_want_t *want) {
    for (; want->key; want++) {
        unsigned long long got = tp_dfx_stat(log, want->key);
        if (got != want->value)
            fail_msg("counter %s is %llu, expected %llu", want->key, got, want->value);
    }
}

int tp_dfx_teardown(void **state) {
    if (*state)
        tp_dfx_free(*state);
    *state = NULL;
    return 0;
}

void tp_dfx_fire(tp_dfx_t *d, const char *prefix, unsigned n) {
    tp_dfx_fire_with(d, prefix, n, &(tp_dfx_fire_t){ 0 });
}

void tp_dfx_fire_with(tp_dfx_t *d, const char *prefix, unsigned n, const tp_dfx_fire_t *how) {
    for (unsigned i = 0; i < n; i++) {
        char id[48], rep[16], hcp[64];
        snprintf(id, sizeof id, "%s-%u", prefix, i);
        snprintf(rep, sizeof rep, "REP-%u", how->reps ? i % how->reps : 0);
        snprintf(hcp, sizeof hcp, "HCP-%s", id);
        tp_test_call_t c = { .event_id = id,
                             .at_ms = T0,
                             .call_id = id,
                             .rep_id = how->reps ? rep : how->rep_id,
                             .hcp_id = how->own_hcp ? hcp : NULL,
                             .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED };
        tp_dfx_send_call(d, &c);
    }
    if (how->no_wait)
        return;
    tp_test_alerts_clear(&d->got);
    /* One at a time unless kept, so a large n never holds them all. */
    for (unsigned i = 0; i < n; i++) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        if (!how->keep)
            tp_test_alerts_clear(&d->got);
    }
}

void tp_tailfx_init(tp_tailfx_t *t) {
    *t = (tp_tailfx_t){ .d = tp_dfx_start("event", NULL) };
    t->pos = tp_path(t->d->dir, "pos");
    t->out = tp_path(t->d->dir, "tail.out");
    t->err = tp_path(t->d->dir, "tail.err");
}

void tp_tailfx_fini(tp_tailfx_t *t) {
    if (t->tail.pid)
        tp_proc_reap(&t->tail);
    free(t->pos);
    free(t->out);
    free(t->err);
    tp_dfx_free(t->d);
    *t = (tp_tailfx_t){ 0 };
}

void tp_tailfx_resume_at(tp_tailfx_t *t, uint64_t seq) {
    char text[32];
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)(seq - 1));
    assert_int_equal(tp_write_file(t->pos, text), 0);
}

void tp_tailfx_start(tp_tailfx_t *t, const char *const args[]) {
    const char *argv[40] = { TP_TAIL_BIN,     "--endpoint", t->d->out_ep, "--replay-endpoint",
                             t->d->replay_ep, "--durable",  t->pos };
    size_t      n = 7;
    for (size_t i = 0; args[i]; i++) {
        assert_true(n < 38);
        argv[n++] = args[i];
    }
    assert_int_equal(tp_proc_spawn(&t->tail, argv, NULL, t->out, t->err), 0);
}

int tp_tailfx_run(tp_tailfx_t *t, const char *const args[]) {
    const char *argv[32] = { TP_TAIL_BIN };
    for (size_t i = 0; args[i]; i++) {
        assert_true(i < 30);
        argv[i + 1] = args[i];
    }
    assert_int_equal(tp_proc_spawn(&t->tail, argv, NULL, t->out, t->err), 0);
    return tp_proc_wait(&t->tail, TP_WAIT_MS);
}

char *tp_tailfx_stderr(const tp_tailfx_t *t) {
    char *text = tp_read_file(t->err);
    assert_non_null(text);
    return text;
}

size_t tp_dfx_read_replay(void *s, tp_dfx_alert_fn fn, void *ctx, char *end, size_t endlen) {
    size_t n = 0;
    for (;;) {
        zmq_pollitem_t item = { .socket = s, .events = ZMQ_POLLIN };
        assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
        zmq_msg_t a, b;
        zmq_msg_init(&a);
        zmq_msg_init(&b);
        assert_true(zmq_msg_recv(&a, s, 0) >= 0);
        assert_true(zmq_msg_more(&a));
        assert_true(zmq_msg_recv(&b, s, 0) >= 0);
        size_t      wl = zmq_msg_size(&a);
        const char *what = zmq_msg_data(&a);
        bool        done =
            (wl == 3 && memcmp(what, "END", 3) == 0) || (wl == 5 && memcmp(what, "ERROR", 5) == 0);
        if (done) {
            snprintf(end, endlen, "%.*s %.*s", (int)wl, what, (int)zmq_msg_size(&b),
                     (const char *)zmq_msg_data(&b));
        } else {
            Touchpoint__V1__Alert *al =
                touchpoint__v1__alert__unpack(NULL, zmq_msg_size(&b), zmq_msg_data(&b));
            assert_non_null(al);
            if (fn)
                fn(ctx, al);
            touchpoint__v1__alert__free_unpacked(al, NULL);
            n++;
        }
        zmq_msg_close(&a);
        zmq_msg_close(&b);
        if (done)
            return n;
    }
}

void tp_test_expect_counts(char **keys, size_t n, const tp_test_count_t *want, size_t n_want) {
    char   names[64][96];
    size_t counts[64] = { 0 }, m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(keys[i], ':'), *bar = strrchr(keys[i], '|');
        assert_true(colon && bar);
        char rs[96];
        snprintf(rs, sizeof rs, "%.*s%s", (int)(colon - keys[i]), keys[i], bar);
        size_t j = 0;
        while (j < m && strcmp(names[j], rs) != 0)
            j++;
        if (j == m) {
            assert_true(m < 64);
            snprintf(names[m++], sizeof names[0], "%s", rs);
        }
        counts[j]++;
    }
    bool same = m == n_want;
    for (size_t j = 0; same && j < m; j++) {
        bool found = false;
        for (size_t k = 0; k < n_want; k++)
            if (strcmp(want[k].rule_status, names[j]) == 0)
                found = want[k].n == counts[j];
        same = found;
    }
    if (same)
        return;
    for (size_t j = 0; j < m; j++)
        print_message("    { \"%s\", %zu },\n", names[j], counts[j]);
    fail_msg("alerts per rule and status differ from the pinned ones (as they are: above)");
}
