/* test_sinks — tp-tail's outputs: --output FILE with SIGHUP rotation,
 * --webhook against a real HTTP server on 127.0.0.1 (an evhttp server on
 * its own event_base in a thread of this process), retries, refusals,
 * --durable across a failing webhook, and --digest.
 *
 * Alerts come from the real daemon (event clock, ipc:// endpoints): each
 * test fires incomplete calls, waits until its own subscriber saw the
 * alerts, then starts tp-tail --durable positioned just before them, so
 * tp-tail gets exactly those alerts from the replay, with no slow-joiner
 * race. Every wait has a deadline; nothing sleeps a fixed time. */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "tp_testdaemon.h"
#include "tp_testutil.h"

#define MAX_REQ 256

/* ---- a real HTTP receiver -------------------------------------------------- */

typedef struct {
    pthread_t          thread;
    struct event_base *base;
    struct evhttp     *http;
    struct event      *quit_ev; /* read end of `quit`: stops the loop */
    int                quit[2];
    unsigned           port;
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    /* behaviour, set under mu */
    unsigned fail_first; /* answer fail_code to the first N requests */
    int      fail_code;
    int      code; /* then this (200 unless set) */
    /* what arrived, under mu */
    size_t n_req, n_ok;
    char  *ok_bodies[MAX_REQ]; /* bodies answered 2xx, in order */
    char   auth[128], ctype[64], path[64];
} server_t;

static void s_request_cb(struct evhttp_request *req, void *arg) {
    server_t        *s = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t           len = evbuffer_get_length(in);
    /* No cmocka assert in the server thread; out of memory: no body kept. */
    char *body = malloc(len + 1);
    if (body) {
        evbuffer_remove(in, body, len);
        body[len] = '\0';
    }
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    pthread_mutex_lock(&s->mu);
    int code = s->n_req < s->fail_first ? s->fail_code : s->code;
    s->n_req++;
    const char *auth = evhttp_find_header(h, "Authorization");
    const char *ctype = evhttp_find_header(h, "Content-Type");
    snprintf(s->auth, sizeof s->auth, "%s", auth ? auth : "");
    snprintf(s->ctype, sizeof s->ctype, "%s", ctype ? ctype : "");
    snprintf(s->path, sizeof s->path, "%s", evhttp_request_get_uri(req));
    if (body && code / 100 == 2 && s->n_ok < MAX_REQ) {
        s->ok_bodies[s->n_ok++] = body;
        body = NULL;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    free(body);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, code / 100 == 2 ? "ok\n" : "no: test says %d\n", code);
    evhttp_send_reply(req, code, code / 100 == 2 ? "OK" : "Test", out);
    evbuffer_free(out);
}

static void s_quit_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    event_base_loopbreak(arg);
}

static void *s_server_main(void *arg) {
    server_t *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

/* Listens on 127.0.0.1:port (0: any free port) and serves in a thread. */
static void s_server_start(server_t *s, unsigned port) {
    assert_int_equal(pipe(s->quit), 0);
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    assert_non_null(s->http);
    evhttp_set_gencb(s->http, s_request_cb, s);
    struct evhttp_bound_socket *b =
        evhttp_bind_socket_with_handle(s->http, "127.0.0.1", (ev_uint16_t)port);
    assert_non_null(b);
    struct sockaddr_in sin;
    socklen_t          sl = sizeof sin;
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sin, &sl), 0);
    s->port = ntohs(sin.sin_port);
    s->quit_ev = event_new(s->base, s->quit[0], EV_READ, s_quit_cb, s->base);
    event_add(s->quit_ev, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, s_server_main, s), 0);
}

/* Stops serving and closes the port; what arrived is kept. */
static void s_server_stop(server_t *s) {
    if (!s->base)
        return;
    assert_int_equal(write(s->quit[1], "q", 1), 1);
    pthread_join(s->thread, NULL);
    event_free(s->quit_ev);
    evhttp_free(s->http);
    event_base_free(s->base);
    close(s->quit[0]);
    close(s->quit[1]);
    s->base = NULL;
}

static server_t *s_server_new(void) {
    server_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->code = 200;
    return s;
}

static void s_server_free(server_t *s) {
    s_server_stop(s);
    for (size_t i = 0; i < s->n_ok; i++)
        free(s->ok_bodies[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void s_server_set(server_t *s, unsigned fail_first, int fail_code, int code) {
    pthread_mutex_lock(&s->mu);
    s->fail_first = fail_first;
    s->fail_code = fail_code;
    s->code = code;
    pthread_mutex_unlock(&s->mu);
}

/* The server thread writes these: read them under its lock. */
static size_t s_server_n_req(server_t *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_req;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Waits until *counter (n_req or n_ok) reaches n; false at the deadline. */
static bool s_server_wait(server_t *s, const size_t *counter, size_t n, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (*counter < n && pthread_cond_timedwait(&s->cv, &s->mu, &dl) != ETIMEDOUT)
        ;
    bool ok = *counter >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

/* ---- alerts and tp-tail ---------------------------------------------------- */

typedef struct {
    tp_tailfx_t t;
    server_t   *srv;
    char        url[128];
    uint64_t    seq[MAX_REQ];     /* sequences of the alerts fired so far, in order */
    char        ids[MAX_REQ][64]; /* their alert ids */
    size_t      n;
} fx_t;

static int s_setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tp_tailfx_init(&f->t);
    f->srv = s_server_new();
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fx_t *f = *state;
    tp_tailfx_fini(&f->t);
    s_server_free(f->srv);
    free(f);
    return 0;
}

/* Fires n incomplete calls (n FIRING call_incomplete alerts), the i-th by
 * rep REP-(i % reps) to its own HCP, waits until our subscriber saw their
 * alerts and notes their sequences and ids. */
static void s_fire(fx_t *f, const char *prefix, unsigned n, unsigned reps) {
    tp_dfx_t *d = f->t.d;
    tp_dfx_fire_with(d, prefix, n, &(tp_dfx_fire_t){ .reps = reps, .own_hcp = true, .keep = true });
    for (size_t i = 0; i < n; i++) {
        assert_true(f->n < MAX_REQ);
        f->seq[f->n] = d->got.alerts[i]->sequence;
        snprintf(f->ids[f->n], sizeof f->ids[f->n], "%s", d->got.alerts[i]->alert_id);
        f->n++;
    }
}

static uint64_t s_read_position(fx_t *f) {
    char *text = tp_read_file(f->t.pos);
    assert_non_null(text);
    uint64_t v = strtoull(text, NULL, 10);
    free(text);
    return v;
}

/* The alert line's sequence (a string in proto3 JSON) and id. */
static void s_check_line(const char *line, uint64_t seq, const char *id) {
    json_t *obj = json_loads(line, 0, NULL);
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "alertId")), id);
    assert_int_equal(strtoull(json_string_value(json_object_get(obj, "sequence")), NULL, 10), seq);
    assert_string_equal(json_string_value(json_object_get(obj, "topic")),
                        "accountability.call_incomplete");
    json_decref(obj);
}

/* ---- --output FILE ---------------------------------------------------------- */

static void test_file_rotation(void **state) {
    fx_t *f = *state;
    char *file = tp_path(f->t.d->dir, "alerts.jsonl"),
         *moved = tp_path(f->t.d->dir, "alerts.jsonl.1");
    s_fire(f, "rot-a", 5, 1);
    tp_tailfx_resume_at(&f->t, f->seq[0]);
    tp_tailfx_start(&f->t, (const char *const[]){ "--output", file, "--fsync", NULL });
    assert_true(tp_wait_lines(file, "\"alertId\"", 5, TP_WAIT_MS));
    /* logrotate: move, then HUP; then more alerts, which must go to the new file */
    assert_int_equal(rename(file, moved), 0);
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGHUP), 0);
    assert_true(tp_wait_lines(f->t.err, "reopened", 1, TP_WAIT_MS));
    s_fire(f, "rot-b", 5, 1);
    assert_true(tp_wait_lines(file, "\"alertId\"", 5, TP_WAIT_MS));
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);

    char *old = tp_read_file(moved), *cur = tp_read_file(file);
    assert_int_equal(tp_count_lines(old, "\"alertId\""), 5);
    assert_int_equal(tp_count_lines(cur, "\"alertId\""), 5);
    size_t i = 0;
    for (char *p = old; i < 10; i++) { /* all ten in order, none twice */
        if (i == 5)
            p = cur;
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        s_check_line(p, f->seq[i], f->ids[i]);
        p = nl + 1;
    }
    assert_int_equal(s_read_position(f), f->seq[9]);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "delivered 10, retried 0, failed 0, pending 0"));
    free(err);
    free(old);
    free(cur);
    free(file);
    free(moved);
}

/* ---- --webhook ---------------------------------------------------------------- */

static void s_url(fx_t *f) {
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/alerts?team=x", f->srv->port);
}

/* The webhook tests' start: fires n alerts (s_fire), then starts tp-tail
 * --webhook on the receiver from just before them, `args` after the URL.
 * The receiver is started (or found a port and stopped) before. */
static void s_webhook_tail(fx_t *f, const char *prefix, unsigned n, unsigned reps,
                           const char *const args[]) {
    s_url(f);
    s_fire(f, prefix, n, reps);
    tp_tailfx_resume_at(&f->t, f->seq[0]);
    const char *argv[16] = { "--webhook", f->url };
    for (size_t i = 0; args[i]; i++) {
        assert_true(i < 13);
        argv[i + 2] = args[i];
    }
    tp_tailfx_start(&f->t, argv);
}

/* The server's 2xx bodies are exactly alerts [from, from + n) fired, in order. */
static void s_check_delivered(fx_t *f, size_t from, size_t n) {
    pthread_mutex_lock(&f->srv->mu);
    assert_int_equal(f->srv->n_ok, n);
    for (size_t i = 0; i < n; i++)
        s_check_line(f->srv->ok_bodies[i], f->seq[from + i], f->ids[from + i]);
    pthread_mutex_unlock(&f->srv->mu);
}

static void test_webhook_delivers_each_once(void **state) {
    fx_t *f = *state;
    s_server_start(f->srv, 0);
    s_webhook_tail(f, "wh", 10, 2,
                   (const char *const[]){ "--webhook-header", "Authorization: Bearer s3cret",
                                          "--count", "10", NULL });
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    s_check_delivered(f, 0, 10);
    pthread_mutex_lock(&f->srv->mu);
    assert_int_equal(f->srv->n_req, 10);
    assert_string_equal(f->srv->auth, "Bearer s3cret");
    assert_string_equal(f->srv->ctype, "application/json");
    assert_string_equal(f->srv->path, "/alerts?team=x");
    pthread_mutex_unlock(&f->srv->mu);
    assert_int_equal(s_read_position(f), f->seq[9]);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "delivered 10, retried 0, failed 0, pending 0"));
    free(err);
}

static void test_webhook_retries_5xx_in_order(void **state) {
    fx_t *f = *state;
    s_server_set(f->srv, 3, 503, 200);
    s_server_start(f->srv, 0);
    s_webhook_tail(f, "retry", 5, 2, (const char *const[]){ "--count", "5", NULL });
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    s_check_delivered(f, 0, 5);
    assert_int_equal(s_server_n_req(f->srv), 8);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "delivered 5, retried 3, failed 0, pending 0"));
    assert_non_null(strstr(err, "HTTP 503"));
    assert_non_null(strstr(err, f->ids[0])); /* the failure names the alert */
    assert_non_null(strstr(err, "delivering again after 3 failed attempts"));
    free(err);
}

static void test_webhook_down_then_up(void **state) {
    fx_t *f = *state;
    s_server_start(f->srv, 0); /* find a free port, then close it */
    unsigned port = f->srv->port;
    s_server_stop(f->srv);
    s_webhook_tail(f, "down", 3, 1, (const char *const[]){ "--count", "3", NULL });
    assert_true(tp_wait_lines(f->t.err, "cannot deliver", 1, TP_WAIT_MS));
    s_server_start(f->srv, port);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    s_check_delivered(f, 0, 3);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "delivered 3, retried "));
    assert_null(strstr(err, "retried 0,"));
    free(err);
}

/* Killed while the webhook fails: the position has not moved, so the next
 * run with the webhook healthy delivers everything. */
static void test_webhook_durable_nothing_lost(void **state) {
    fx_t *f = *state;
    s_server_set(f->srv, 0, 0, 503);
    s_server_start(f->srv, 0);
    s_webhook_tail(f, "dur", 4, 2, (const char *const[]){ NULL });
    assert_true(s_server_wait(f->srv, &f->srv->n_req, 2, TP_WAIT_MS));
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGKILL), 0);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 128 + SIGKILL);
    assert_int_equal(s_read_position(f), f->seq[0] - 1);

    /* again, stopped cleanly this time: the position still may not move */
    pthread_mutex_lock(&f->srv->mu);
    size_t before = f->srv->n_req;
    pthread_mutex_unlock(&f->srv->mu);
    tp_tailfx_start(&f->t, (const char *const[]){ "--webhook", f->url, NULL });
    assert_true(s_server_wait(f->srv, &f->srv->n_req, before + 2, TP_WAIT_MS));
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    assert_int_equal(s_read_position(f), f->seq[0] - 1);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "delivered 0, retried "));
    assert_non_null(strstr(err, "pending 4"));
    free(err);

    s_server_set(f->srv, 0, 0, 200);
    tp_tailfx_start(&f->t, (const char *const[]){ "--webhook", f->url, "--count", "4", NULL });
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    s_check_delivered(f, 0, 4);
    assert_int_equal(s_read_position(f), f->seq[3]);
}

/* A 400 is a refusal for good: counted, reported with the alert, skipped;
 * exit status 1. */
static void test_webhook_refused(void **state) {
    fx_t *f = *state;
    s_server_set(f->srv, 1, 400, 200);
    s_server_start(f->srv, 0);
    s_webhook_tail(f, "bad", 3, 1, (const char *const[]){ "--count", "3", NULL });
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 1);
    s_check_delivered(f, 1, 2);
    assert_int_equal(s_server_n_req(f->srv), 3);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "delivered 2, retried 0, failed 1, pending 0"));
    assert_non_null(strstr(err, "HTTP 400"));
    assert_int_equal(tp_count_lines(err, "refused for good"), 1);
    const char *line = strstr(err, "refused for good");
    const char *start = line;
    while (start > err && start[-1] != '\n')
        start--;
    const char *id = strstr(start, f->ids[0]); /* the refused alert, named on its line */
    assert_true(id && id < strchr(line, '\n'));
    free(err);
}

/* ---- --digest ------------------------------------------------------------------ */

/* A window opens with a group's first alert: 3 s keeps the replay of 20 alerts
 * in one window per rep on a loaded machine (300 ms could split a rep). */
static void test_digest_by_rep(void **state) {
    fx_t *f = *state;
    s_server_start(f->srv, 0);
    s_webhook_tail(f, "dg", 20, 3,
                   (const char *const[]){ "--digest", "rep", "--digest-window", "3s", NULL });
    assert_true(s_server_wait(f->srv, &f->srv->n_ok, 3, TP_WAIT_MS));
    /* the position follows the digests; once it says all 20, stop */
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (s_read_position(f) != f->seq[19]) {
        if (tp_now_ms() >= deadline) {
            char *e = tp_tailfx_stderr(&f->t);
            fprintf(stderr, "position %" PRIu64 ", want %" PRIu64 "; tp-tail said:\n%s",
                    s_read_position(f), f->seq[19], e);
            free(e);
        }
        assert_true(tp_now_ms() < deadline);
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    pthread_mutex_lock(&f->srv->mu);
    assert_int_equal(f->srv->n_ok, 3);
    unsigned seen = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *d = json_loads(f->srv->ok_bodies[i], 0, NULL);
        assert_non_null(d);
        assert_string_equal(json_string_value(json_object_get(d, "group_by")), "rep");
        const char *key = json_string_value(json_object_get(d, "key"));
        assert_non_null(key);
        unsigned rep = (unsigned)(key[4] - '0');
        assert_true(strncmp(key, "REP-", 4) == 0 && rep < 3 && !(seen & (1u << rep)));
        seen |= 1u << rep;
        json_int_t want = rep == 2 ? 6 : 7; /* 20 alerts over 3 reps */
        assert_int_equal(json_integer_value(json_object_get(d, "firing")), want);
        assert_int_equal(json_integer_value(json_object_get(d, "resolved")), 0);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(d, "by_rule"), "call_incomplete")),
            want);
        json_t *list = json_object_get(d, "alerts");
        assert_int_equal(json_array_size(list), (size_t)want);
        assert_int_equal(json_integer_value(json_object_get(d, "alerts_omitted")), 0);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "alert_id")),
                            f->ids[rep]);
        assert_non_null(json_string_value(json_object_get(d, "window_start")));
        assert_non_null(json_string_value(json_object_get(d, "window_end")));
        json_decref(d);
    }
    pthread_mutex_unlock(&f->srv->mu);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "alerts 20, malformed 0"));
    assert_non_null(strstr(err, "delivered 3, retried 0, failed 0, pending 0"));
    free(err);
}

/* ---- usage -------------------------------------------------------------------- */

static void test_sink_usage(void **state) {
    fx_t                    *f = *state;
    static const char *const bad[][5] = {
        { "--webhook", "ftp://example.com/x", NULL }, /* http:// and https:// only */
        { "--webhook", "not a url", NULL },
        { "--output", "x", "--webhook", "http://127.0.0.1:1/", NULL },
        { "--digest", "manager", NULL },
        { "--digest", "rep", "--digest-window", "5", NULL },
        { "--webhook-header", "A: b", NULL },
        { "--webhook", "http://127.0.0.1:1/", "--webhook-header", "no colon", NULL },
        { "--fsync", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tp_tailfx_run(&f->t, bad[i]), 2);
    char *err = tp_tailfx_stderr(&f->t);
    assert_non_null(strstr(err, "--fsync needs --output"));
    free(err);
    assert_int_equal(tp_tailfx_run(&f->t, (const char *const[]){ "--help", NULL }), 0);
    char *out = tp_read_file(f->t.out);
    assert_non_null(strstr(out, "TLS-terminating proxy"));
    assert_non_null(strstr(out, "--digest-window"));
    free(out);
}

TP_TEST_MAIN_WITH(s_setup, s_teardown, cmocka_unit_test(test_file_rotation),
                  cmocka_unit_test(test_webhook_delivers_each_once),
                  cmocka_unit_test(test_webhook_retries_5xx_in_order),
                  cmocka_unit_test(test_webhook_down_then_up),
                  cmocka_unit_test(test_webhook_durable_nothing_lost),
                  cmocka_unit_test(test_webhook_refused), cmocka_unit_test(test_digest_by_rep),
                  cmocka_unit_test(test_sink_usage))
