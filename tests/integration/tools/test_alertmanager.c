/* test_alertmanager — tp-tail --alertmanager against the real Debian
 * prometheus-alertmanager on loopback, fed by the real daemon.
 *
 * Each Alertmanager runs with examples/alertmanager/alertmanager.yml,
 * adapted only so its timers are short and its webhooks point at a closed
 * local port. The test reads Alertmanager's API (GET /api/v2/alerts) until
 * the expected state or a deadline: nothing sleeps a fixed time.
 *
 * Skipped (exit 77 via cmocka's skip) without /usr/bin/prometheus-alertmanager,
 * unless TP_TEST_REQUIRE_ALL=1 (CI), which makes that a failure. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tp_testdaemon.h"

#define AM_BIN     "/usr/bin/prometheus-alertmanager"
#define T0         1767225600000LL /* 2026-01-01T00:00:00Z */
#define H          3600000LL
#define SUBMITTED  TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PLANNED    TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define ALL_FIELDS 0x7fu
#define RESEND     "1s"
#define RESEND_MS  1000

/* ---- Alertmanager processes and their API ---------------------------------- */

typedef struct {
    tp_proc_t proc;
    unsigned  port;
    char     *dir, *cfg, *log;
} am_t;

struct buf {
    char  *p;
    size_t n;
};

static size_t s_collect(char *d, size_t size, size_t n, void *arg) {
    struct buf *b = arg;
    char       *p = realloc(b->p, b->n + size * n + 1);
    if (!p)
        return 0;
    memcpy(p + b->n, d, size * n);
    b->n += size * n;
    p[b->n] = '\0';
    b->p = p;
    return size * n;
}

/* One request to Alertmanager; the HTTP status (0: no answer) and the body
 * (caller frees) in *ret_body. */
static long s_http(unsigned port, const char *method, const char *path, const char *body,
                   char **ret_body) {
    char               url[256];
    struct buf         b = { 0 };
    long               code = 0;
    CURL              *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (ret_body)
        *ret_body = b.p;
    else
        free(b.p);
    return code;
}

/* Writes the example config with short timers and local webhooks. */
static void s_am_config(am_t *a) {
    char *text = tp_read_file(TP_SOURCE_DIR "/examples/alertmanager/alertmanager.yml");
    assert_non_null(text);
    FILE *f = fopen(a->cfg, "w");
    assert_non_null(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "group_wait:") || strstr(line, "group_interval:"))
            fprintf(f, "%.*s%s\n", (int)strcspn(line, "g"), line,
                    strstr(line, "group_wait:") ? "group_wait: 0s" : "group_interval: 1s");
        else if (strstr(line, "https://hooks.example.com"))
            fprintf(f, "%.*shttp://127.0.0.1:9/\n", (int)(strstr(line, "https:") - line), line);
        else
            fprintf(f, "%s\n", line);
    }
    fclose(f);
    free(text);
}

static void s_am_start(am_t *a) {
    char web[64], storage[512], config[512];
    snprintf(web, sizeof web, "--web.listen-address=127.0.0.1:%u", a->port);
    snprintf(storage, sizeof storage, "--storage.path=%s", a->dir);
    snprintf(config, sizeof config, "--config.file=%s", a->cfg);
    const char *argv[] = { AM_BIN, config, storage, web, "--cluster.listen-address=", NULL };
    assert_int_equal(tp_proc_spawn(&a->proc, argv, NULL, NULL, a->log), 0);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (s_http(a->port, "GET", "/-/ready", NULL, NULL) != 200) {
        assert_true(tp_proc_wait(&a->proc, 50) == -ETIMEDOUT); /* still running */
        assert_true(tp_now_ms() < deadline);
    }
}

static void s_am_new(am_t *a, const char *parent, const char *name) {
    char *dir = tp_path(parent, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    a->dir = dir;
    a->cfg = tp_path(dir, "alertmanager.yml");
    a->log = tp_path(dir, "log");
    a->port = tp_free_port();
    assert_true(a->port > 0);
    s_am_config(a);
    s_am_start(a);
}

static void s_am_free(am_t *a) {
    if (a->proc.pid)
        tp_proc_reap(&a->proc);
    free(a->dir);
    free(a->cfg);
    free(a->log);
}

/* The active, silenced and inhibited alerts Alertmanager knows. */
static json_t *s_am_alerts(const am_t *a) {
    char *body = NULL;
    if (s_http(a->port, "GET", "/api/v2/alerts", NULL, &body) != 200) {
        free(body);
        return json_array();
    }
    json_t *arr = json_loads(body, 0, NULL);
    free(body);
    return arr ? arr : json_array();
}

/* The alert whose label `key` is `value`, NULL if none (a new reference). */
static json_t *s_find(json_t *arr, const char *key, const char *value) {
    size_t  i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *l = json_string_value(json_object_get(json_object_get(v, "labels"), key));
        if (l && strcmp(l, value) == 0)
            return json_incref(v);
    }
    return NULL;
}

/* The alert's status.state ("active", "suppressed"), or "absent". */
static const char *s_state(json_t *alert) {
    const char *s = json_string_value(json_object_get(json_object_get(alert, "status"), "state"));
    return alert ? (s ? s : "?") : "absent";
}

/* Polls until the alert with label key=value is in `state` ("absent" for
 * not there); returns it (NULL when absent), asserts on the deadline. */
static json_t *s_wait_state(const am_t *a, const char *key, const char *value, const char *state,
                            long long timeout_ms) {
    long long deadline = tp_now_ms() + timeout_ms;
    for (;;) {
        json_t *arr = s_am_alerts(a), *al = s_find(arr, key, value);
        json_decref(arr);
        if (strcmp(s_state(al), state) == 0)
            return al;
        json_decref(al);
        if (tp_now_ms() > deadline)
            fail_msg("alert %s=%s not %s in Alertmanager :%u", key, value, state, a->port);
        struct timespec ts = { 0, 50 * 1000000L }; /* an HTTP API has no event to wait on */
        nanosleep(&ts, NULL);
    }
}

/* ---- the daemon and tp-tail ------------------------------------------------ */

typedef struct {
    tp_tailfx_t t;
    am_t        am[2];
    char        url[2][64];
} fx_t;

/* No Alertmanager: *state stays NULL and each test skips (CI fails). */
static int s_setup(void **state) {
    *state = NULL;
    if (access(AM_BIN, X_OK) < 0) {
        const char *req = getenv("TP_TEST_REQUIRE_ALL");
        if (req && strcmp(req, "1") == 0) {
            fprintf(stderr,
                    "%s missing and TP_TEST_REQUIRE_ALL=1 (apt-get install "
                    "prometheus-alertmanager)\n",
                    AM_BIN);
            return -1;
        }
        printf("# SKIP: %s not installed\n", AM_BIN);
        return 0;
    }
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tp_tailfx_init(&f->t);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fx_t *f = *state;
    if (!f)
        return 0;
    if (f->t.tail.pid)
        tp_proc_reap(&f->t.tail); /* before the Alertmanagers it sends to */
    for (int i = 0; i < 2; i++)
        s_am_free(&f->am[i]);
    tp_tailfx_fini(&f->t);
    free(f);
    return 0;
}

static void s_am(fx_t *f, int i) {
    s_am_new(&f->am[i], f->t.d->dir, i ? "am1" : "am0");
    snprintf(f->url[i], sizeof f->url[i], "http://127.0.0.1:%u", f->am[i].port);
}

/* tp-tail --durable --alertmanager (each started Alertmanager) + extra. */
static void s_tail(fx_t *f, const char *const extra[]) {
    const char *args[30] = { "--alertmanager-resend", RESEND };
    size_t      n = 2;
    for (int i = 0; i < 2; i++)
        if (f->am[i].port) {
            args[n++] = "--alertmanager";
            args[n++] = f->url[i];
        }
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    tp_tailfx_start(&f->t, args);
}

static void s_call(fx_t *f, const char *id, const char *rep, int status, unsigned fields,
                   int64_t at, int64_t call_at) {
    char ev[96], hcp[64];
    snprintf(ev, sizeof ev, "%s@%" PRId64 "-%d-%u", id, at, status, fields);
    snprintf(hcp, sizeof hcp, "HCP-%s", id); /* one HCP each: no uncoordinated_contact */
    tp_test_call_t c = { .event_id = ev,
                         .at_ms = at,
                         .call_id = id,
                         .rep_id = rep,
                         .hcp_id = hcp,
                         .status = status,
                         .fields = fields,
                         .call_at_ms = call_at };
    tp_dfx_send_call(f->t.d, &c);
}

/* Waits until the daemon published `n` alerts since the last call (our
 * subscriber saw them), so they are journaled before a tp-tail starts:
 * its catch-up replay then has them all. */
static void s_published(fx_t *f, size_t n) {
    while (f->t.d->got.n < n)
        assert_true(tp_dfx_recv_alert(f->t.d, TP_WAIT_MS));
    tp_test_alerts_clear(&f->t.d->got);
}

/* An incomplete call: one call_incomplete FIRING, with territory and account. */
static void s_incomplete(fx_t *f, const char *id, const char *rep) {
    s_call(f, id, rep, SUBMITTED, (1u << 5) | (1u << 6), T0, T0);
}

/* The same call completed: its call_incomplete RESOLVED. */
static void s_complete(fx_t *f, const char *id, const char *rep) {
    s_call(f, id, rep, SUBMITTED, ALL_FIELDS, T0 + 1000, T0);
}

/* ---- tests ----------------------------------------------------------------- */

/* Labels, annotations and startsAt as DESIGN.md says; routing by the
 * example; a resolution ends the alert; a silence through the API
 * suppresses the silenced rep's alert only. */
static void test_labels_resolution_silence(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_am(f, 0);
    tp_test_alerts_clear(&f->t.d->got);
    s_incomplete(f, "lab-0", "REP-0");
    s_incomplete(f, "lab-1", "REP-1");
    s_published(f, 2);
    s_tail(f, NULL);

    json_t *a = s_wait_state(&f->am[0], "call_id", "lab-0", "active", TP_WAIT_MS);
    json_t *l = json_object_get(a, "labels"), *an = json_object_get(a, "annotations");
    assert_string_equal(json_string_value(json_object_get(l, "alertname")), "call_incomplete");
    assert_string_equal(json_string_value(json_object_get(l, "kind")), "accountability");
    assert_non_null(json_string_value(json_object_get(l, "severity")));
    assert_string_equal(json_string_value(json_object_get(l, "rep_id")), "REP-0");
    assert_string_equal(json_string_value(json_object_get(l, "hcp_id")), "HCP-lab-0");
    assert_string_equal(json_string_value(json_object_get(l, "territory")), "T-1");
    assert_string_equal(json_string_value(json_object_get(l, "account_id")), "ACC-1");
    assert_non_null(json_string_value(json_object_get(l, "alert_id")));
    assert_null(json_object_get(l, "contract_id")); /* only what is set */
    assert_null(json_object_get(l, "step"));
    assert_true(strlen(json_string_value(json_object_get(an, "summary"))) > 0);
    json_t *ev = json_loads(json_string_value(json_object_get(an, "evidence")), 0, NULL);
    assert_true(json_is_object(ev));
    assert_non_null(json_object_get(ev, "missing"));
    json_decref(ev);
    assert_string_equal(json_string_value(json_object_get(an, "detected_at")),
                        "2026-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(a, "startsAt")),
                        "2026-01-01T00:00:00.000Z");
    /* the example routes accountability to the territory's manager */
    json_t *rcv = json_array_get(json_object_get(a, "receivers"), 0);
    assert_string_equal(json_string_value(json_object_get(rcv, "name")), "territory-managers");
    json_decref(a);

    s_complete(f, "lab-0", "REP-0");
    s_wait_state(&f->am[0], "call_id", "lab-0", "absent", TP_WAIT_MS);

    /* a rep on leave: silence rep_id=REP-1 for 14 days */
    char silence[512], *body = NULL;
    snprintf(silence, sizeof silence,
             "{\"matchers\":[{\"name\":\"rep_id\",\"value\":\"REP-1\",\"isRegex\":false,"
             "\"isEqual\":true}],\"startsAt\":\"2026-01-01T00:00:00Z\","
             "\"endsAt\":\"2099-01-01T00:00:00Z\",\"createdBy\":\"test\","
             "\"comment\":\"on leave\"}");
    assert_int_equal(s_http(f->am[0].port, "POST", "/api/v2/silences", silence, &body), 200);
    json_t *sid = json_loads(body, 0, NULL);
    free(body);
    a = s_wait_state(&f->am[0], "call_id", "lab-1", "suppressed", TP_WAIT_MS);
    json_t *by = json_object_get(json_object_get(a, "status"), "silencedBy");
    assert_string_equal(json_string_value(json_array_get(by, 0)),
                        json_string_value(json_object_get(sid, "silenceID")));
    json_decref(a);
    json_decref(sid);
    s_incomplete(f, "lab-2", "REP-2"); /* another rep is not silenced */
    json_decref(s_wait_state(&f->am[0], "call_id", "lab-2", "active", TP_WAIT_MS));
}

/* An Alertmanager killed and started again (empty) gets the open alerts
 * back from the next resend; tp-tail killed and started again rebuilds the
 * open set and posts it, and a resolution made while it was down reaches
 * Alertmanager. */
static void test_restarts(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_am(f, 0);
    tp_test_alerts_clear(&f->t.d->got);
    s_incomplete(f, "rs-0", "REP-0");
    s_incomplete(f, "rs-1", "REP-1");
    s_incomplete(f, "rs-2", "REP-2");
    s_published(f, 3);
    s_tail(f, NULL);
    const char *ids[] = { "rs-0", "rs-1", "rs-2" };
    for (int i = 0; i < 3; i++)
        json_decref(s_wait_state(&f->am[0], "call_id", ids[i], "active", TP_WAIT_MS));

    /* Alertmanager restarts and forgets every alert */
    tp_proc_reap(&f->am[0].proc);
    s_am_start(&f->am[0]);
    for (int i = 0; i < 3; i++) /* one resend interval, plus slack for a loaded machine */
        json_decref(s_wait_state(&f->am[0], "call_id", ids[i], "active", 10 * RESEND_MS + 5000));

    /* tp-tail dies; a call is completed meanwhile */
    tp_proc_reap(&f->t.tail);
    s_complete(f, "rs-1", "REP-1");
    s_published(f, 1); /* the RESOLVED */
    s_tail(f, NULL);
    s_wait_state(&f->am[0], "call_id", "rs-1", "absent", TP_WAIT_MS);

    /* both restart: the new tp-tail rebuilds the open set from the journal */
    tp_proc_reap(&f->t.tail);
    tp_proc_reap(&f->am[0].proc);
    s_am_start(&f->am[0]);
    s_tail(f, NULL);
    json_decref(s_wait_state(&f->am[0], "call_id", "rs-0", "active", TP_WAIT_MS));
    json_decref(s_wait_state(&f->am[0], "call_id", "rs-2", "active", TP_WAIT_MS));
    json_t *arr = s_am_alerts(&f->am[0]), *gone = s_find(arr, "call_id", "rs-1");
    assert_null(gone); /* resolved for good: not posted again */
    json_decref(arr);
}

/* An HA pair: both Alertmanagers get every alert. The example's inhibition:
 * call_late is inhibited while call_unsubmitted fires for the same call.
 * The call_unsubmitted alert is posted by a tp-tail that follows only that
 * rule and then stops (so Alertmanager keeps it firing until its
 * resolve_timeout); a second tp-tail, following call_late, posts the late
 * submission's alert, which Alertmanager must inhibit. */
static void test_ha_pair_and_inhibition(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_am(f, 0);
    s_am(f, 1);
    s_call(f, "inh-1", "REP-0", PLANNED, ALL_FIELDS, T0, T0);
    s_call(f, "inh-2", "REP-0", PLANNED, ALL_FIELDS, T0, T0);
    tp_test_alerts_clear(&f->t.d->got);
    tp_dfx_send_watermark(f->t.d, "wm-49h", T0 + 49 * H); /* both unsubmitted now */
    s_published(f, 2);
    s_tail(f, (const char *const[]){ "--topic", "accountability.call_unsubmitted", NULL });
    for (int i = 0; i < 2; i++) {
        json_decref(s_wait_state(&f->am[i], "call_id", "inh-1", "active", TP_WAIT_MS));
        json_decref(s_wait_state(&f->am[i], "call_id", "inh-2", "active", TP_WAIT_MS));
    }
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    unlink(f->t.pos);

    /* inh-1 submitted late: call_late fires for it */
    s_call(f, "inh-1", "REP-0", SUBMITTED, ALL_FIELDS, T0 + 50 * H, T0);
    s_published(f, 2); /* call_late FIRING, call_unsubmitted RESOLVED */
    s_tail(f, (const char *const[]){ "--topic", "accountability.call_late", NULL });
    for (int i = 0; i < 2; i++) {
        json_t *a = s_wait_state(&f->am[i], "alertname", "call_late", "suppressed", TP_WAIT_MS);
        json_t *st = json_object_get(a, "status");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(a, "labels"), "call_id")), "inh-1");
        assert_int_equal(json_array_size(json_object_get(st, "inhibitedBy")), 1);
        assert_int_equal(json_array_size(json_object_get(st, "silencedBy")), 0);
        json_decref(a);
    }
}

/* A resend period shorter than one pass over the open set (one alert per
 * POST) still gets every alert there: a resend waits for the pass before. */
static void test_pass_longer_than_resend(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_am(f, 0);
    tp_test_alerts_clear(&f->t.d->got);
    for (unsigned i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "pass-%u", i);
        s_incomplete(f, id, "REP-0");
    }
    s_published(f, 200);
    s_tail(f, (const char *const[]){ "--alertmanager-batch", "1", "--alertmanager-resend", "1ms",
                                     NULL });
    for (unsigned i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "pass-%u", i);
        json_decref(s_wait_state(&f->am[0], "call_id", id, "active", TP_WAIT_MS));
    }
}

/* Not a test of speed: with TP_AM_BENCH=N, posts N alerts in batches and
 * one per POST and prints both rates (docs/alerting.md quotes them). */
static void test_bench_batches(void **state) {
    fx_t       *f = tp_fixture_or_skip(state);
    const char *env = getenv("TP_AM_BENCH");
    unsigned    n = env ? (unsigned)strtoul(env, NULL, 10) : 0;
    if (n == 0)
        skip();
    s_am(f, 0);
    assert_true(n <= TP_TEST_MAX_ALERTS);
    tp_test_alerts_clear(&f->t.d->got);
    for (unsigned i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "bench-%u", i);
        s_incomplete(f, id, "REP-0");
    }
    s_published(f, n);
    char last[32];
    snprintf(last, sizeof last, "bench-%u", n - 1);
    const char *batches[] = { "500", "1" };
    for (int k = 0; k < 2; k++) {
        tp_proc_reap(&f->am[0].proc); /* an empty Alertmanager each round */
        s_am_start(&f->am[0]);
        unlink(f->t.pos);
        long long t0 = tp_now_ms();
        s_tail(f, (const char *const[]){ "--alertmanager-batch", batches[k], NULL });
        json_t *got = s_wait_state(&f->am[0], "call_id", last, "active", 300000);
        char   *err = tp_read_file(f->t.err);
        if (!got)
            printf("# tp-tail said: %s\n", err ? err : "");
        free(err);
        json_decref(got);
        long long ms = tp_now_ms() - t0;
        printf("# batch %s: %u alerts (+ probes) in %lld ms: %.0f alerts/s\n", batches[k], n, ms,
               n * 1000.0 / (double)(ms ? ms : 1));
        tp_proc_reap(&f->t.tail);
    }
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_labels_resolution_silence, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restarts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ha_pair_and_inhibition, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pass_longer_than_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bench_batches, s_setup, s_teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
