/* test_dash — the dashboard's pages and JSON answers on the real daemon's
 * HTTP endpoint, over real loopback sockets: off by default (404), the
 * open alerts and the KPI aggregates with exact values, each filter, the
 * bearer token, static files and path traversal, the listing cap, reload
 * and restart. The SSE stream is test_dash_stream's. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_config.h"
#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#include "dash_events.h"

#define D 86400000LL

/* The JSON body of a 200 answer. */
static json_t *s_get_json(unsigned port, const char *path, const char *headers) {
    char *text;
    assert_int_equal(tp_test_get(port, "GET", path, headers, &text), 200);
    char *body = strstr(text, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(text, "Content-Type: application/json"));
    json_error_t err;
    json_t      *j = json_loads(body + 4, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, body + 4);
    free(text);
    return j;
}

static long long s_int(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    return json_integer_value(v);
}

/* Waits for the alert of call `call_id` on the fixture's subscriber: by
 * then the daemon has committed and published it, to the dashboard too. */
static void s_wait_alert(tp_dfx_t *d, const char *call_id, int status) {
    for (;;) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        const Touchpoint__V1__Alert *a = d->got.alerts[d->got.n - 1];
        if (!strcmp(a->call_id, call_id) && (int)a->status == status)
            return;
    }
}

/* ---- tests ------------------------------------------------------------- */

/* Off unless configured: every dashboard path is a 404. */
/* The status of GET /v1/kpi with this bearer token. */
static int s_kpi_as(const tp_dfx_t *d, const char *token) {
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    return tp_test_get(d->http_port, "GET", "/v1/kpi", auth, NULL);
}

static void test_off_by_default(void **state) {
    tp_dfx_t                *d = *state = tp_dfx_start_http("event", NULL);
    static const char *const paths[] = { "/dashboard/", "/dashboard",        "/dashboard/app.js",
                                         "/v1/alerts",  "/v1/alerts/stream", "/v1/kpi" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        assert_int_equal(tp_test_get(d->http_port, "GET", paths[i], NULL, NULL), 404);
}

/* A known input: the snapshot lists exactly its open alerts, filters work,
 * and /v1/kpi has the exact figures by territory, rep, step and type. */
static void test_snapshot_and_kpi(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(DASH_ON);
    /* HCP-P prefers the phone. K1 complete on the phone; K2 incomplete in
     * person; K3 complete on the phone, submitted 49 h after the call. */
    tp_test_feedback_t fb = { .event_id = "fb1",
                              .at_ms = T0,
                              .hcp_id = "HCP-P",
                              .nps = 9,
                              .effort = -1,
                              .preferred_channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE };
    tp_dfx_send_feedback(d, &fb);
    tp_test_call_t k1 = tp_dash_call("K1", 1, ALL), k2 = tp_dash_call("K2", 2, TP_FIELD_PRODUCTS),
                   k3 = tp_dash_call("K3", 3, ALL);
    k1.channel = k3.channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE;
    k3.at_ms = T0 + 50 * H;
    tp_dfx_send_call(d, &k1);
    tp_dfx_send_call(d, &k3);
    tp_dfx_send_call(d, &k2);
    s_wait_alert(d, "K2", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    /* A SPEAKER contract: NOMINATION completed in 6 days (SLA 5 d: over),
     * FMV_REVIEW started and left open past its SLA: step_slow fires. */
    tp_test_step_t s = { .event_id = "s1",
                         .at_ms = T0 + 50 * H,
                         .contract_id = "C-1",
                         .step = "NOMINATION",
                         .state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED };
    tp_dfx_send_step(d, &s);
    s.event_id = "s2";
    s.at_ms = T0 + 50 * H + 6 * D;
    s.state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED;
    tp_dfx_send_step(d, &s);
    s.event_id = "s3";
    s.step = "FMV_REVIEW";
    s.state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED;
    tp_dfx_send_step(d, &s);
    tp_dfx_send_watermark(d, "w1", T0 + 50 * H + 12 * D);
    for (;;) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        if (!strcmp(d->got.alerts[d->got.n - 1]->rule, "step_slow"))
            break;
    }

    json_t *j = s_get_json(d->http_port, "/v1/alerts?territory=T-1", NULL);
    json_t *alerts = json_object_get(j, "alerts");
    assert_int_equal(json_array_size(alerts), 1);
    json_t *a = json_array_get(alerts, 0);
    assert_string_equal(json_string_value(json_object_get(a, "alertId")),
                        "call_incomplete:call/K2");
    assert_string_equal(json_string_value(json_object_get(a, "status")), "ALERT_STATUS_FIRING");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "evidence"), "missing")),
        "topics,notes,next_step");
    json_decref(j);
    j = s_get_json(d->http_port, "/v1/alerts?kind=friction&contract_type=SPEAKER", NULL);
    alerts = json_object_get(j, "alerts");
    assert_int_equal(json_array_size(alerts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(alerts, 0), "rule")),
                        "step_slow");
    json_decref(j);
    j = s_get_json(d->http_port, "/v1/alerts?rule=no_such_rule", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
    json_decref(j);

    j = s_get_json(d->http_port, "/v1/kpi", NULL);
    json_t *t1 = tp_test_json_named(json_object_get(j, "by_territory"), "name", "T-1");
    assert_int_equal(s_int(t1, "submitted"), 3);
    assert_int_equal(s_int(t1, "complete"), 2);
    assert_int_equal(s_int(t1, "late"), 1);
    assert_int_equal(s_int(t1, "channel_known"), 3);
    assert_int_equal(s_int(t1, "channel_matched"), 2);
    /* The probes: incomplete calls without a territory. */
    json_t *none = tp_test_json_named(json_object_get(j, "by_territory"), "name", "_none");
    assert_int_equal(s_int(none, "submitted"), (long long)d->probes);
    assert_int_equal(s_int(none, "complete"), 0);
    json_t *rep = tp_test_json_named(json_object_get(j, "by_rep"), "name", "REP-1");
    assert_int_equal(s_int(rep, "submitted"), 3 + (long long)d->probes);
    json_t *nom = tp_test_json_named(json_object_get(j, "steps"), "step", "NOMINATION");
    assert_int_equal(s_int(nom, "completed"), 1);
    assert_int_equal(s_int(nom, "over_sla"), 1);
    assert_true(json_real_value(json_object_get(nom, "mean_seconds")) == 6 * 86400.0);
    assert_true(json_real_value(json_object_get(nom, "sla_seconds")) == 5 * 86400.0);
    json_t *open = json_object_get(j, "open_alerts");
    assert_int_equal(s_int(json_object_get(open, "friction_by_step"), "FMV_REVIEW"), 1);
    assert_int_equal(s_int(json_object_get(open, "by_rule"), "step_slow"), 1);
    json_decref(j);
    /* The answer is shared for a second (many pages poll it); then it
     * follows: a fourth call shows up. */
    tp_test_call_t k4 = tp_dash_call("K4", 4, ALL);
    tp_dfx_send_call(d, &k4);
    long long end = tp_now_ms() + TP_WAIT_MS;
    for (long long n = 0; n != 4;) {
        assert_true(tp_now_ms() < end);
        j = s_get_json(d->http_port, "/v1/kpi", NULL);
        n = s_int(tp_test_json_named(json_object_get(j, "by_territory"), "name", "T-1"),
                  "submitted");
        json_decref(j);
    }
}


static int s_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The alert ids /v1/alerts?<query> lists, sorted, comma-separated. */
static char *s_ids(unsigned port, const char *query) {
    char path[256];
    snprintf(path, sizeof path, "/v1/alerts?%s", query);
    json_t *j = s_get_json(port, path, NULL), *a;
    size_t  i, n = json_array_size(json_object_get(j, "alerts"));
    assert_int_equal(s_int(j, "listed"), (long long)n);
    const char **ids = calloc(n + 1, sizeof *ids);
    json_array_foreach(json_object_get(j, "alerts"), i, a) ids[i] =
        json_string_value(json_object_get(a, "alertId"));
    qsort(ids, n, sizeof *ids, s_cmp);
    char *out = calloc(1, 4096);
    for (i = 0; i < n; i++)
        snprintf(out + strlen(out), 4096 - strlen(out), "%s%s", i ? "," : "", ids[i]);
    free(ids);
    json_decref(j);
    return out;
}

static void s_expect_ids(unsigned port, const char *query, const char *want) {
    char *got = s_ids(port, query);
    if (strcmp(got, want) != 0)
        fail_msg("/v1/alerts?%s listed [%s], want [%s]", query, got, want);
    free(got);
}

/* Each of the rep, hcp, contract and call filters (and two at once) lists
 * exactly the open alerts of a known input that match; a value is matched
 * whole, case-insensitively. */
static void test_filters(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(DASH_ON);
    /* Three incomplete calls: K1 by REP-7 to HCP-A, K2 by REP-8 to HCP-A,
     * K3 by REP-8 to HCP-B. The probes are REP-1's, to HCP-1. */
    tp_test_call_t k1 = tp_dash_call("K1", 1, 0), k2 = tp_dash_call("K2", 2, 0),
                   k3 = tp_dash_call("K3", 3, 0);
    k1.rep_id = "REP-7";
    k2.rep_id = k3.rep_id = "REP-8";
    k1.hcp_id = k2.hcp_id = "HCP-A";
    k3.hcp_id = "HCP-B";
    tp_dfx_send_call(d, &k1);
    tp_dfx_send_call(d, &k2);
    tp_dfx_send_call(d, &k3);
    /* Two contracts whose NOMINATION started and was left past its 5 day
     * SLA: one step_slow alert each. */
    tp_test_step_t s = { .event_id = "s1",
                         .at_ms = T0 + 50 * H,
                         .contract_id = "C-1",
                         .step = "NOMINATION",
                         .hcp_id = "HCP-C",
                         .state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED };
    tp_dfx_send_step(d, &s);
    s.event_id = "s2";
    s.contract_id = "C-2";
    tp_dfx_send_step(d, &s);
    tp_dfx_send_watermark(d, "w1", T0 + 50 * H + 6 * D);
    for (unsigned slow = 0; slow < 2;) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        slow += !strcmp(d->got.alerts[d->got.n - 1]->rule, "step_slow");
    }
    unsigned port = d->http_port;
    /* Each filter of /v1/alerts and the ids it leaves, in order. */
    static const struct {
        const char *query, *want;
    } filters[] = {
        { "call=K2", "call_incomplete:call/K2" },
        { "call=k2", "call_incomplete:call/K2" },
        { "call=K", "" },
        { "rep=REP-7", "call_incomplete:call/K1" },
        { "rep=REP-8", "call_incomplete:call/K2,call_incomplete:call/K3" },
        { "hcp=HCP-A", "call_incomplete:call/K1,call_incomplete:call/K2" },
        { "hcp=HCP-B", "call_incomplete:call/K3" },
        { "rep=REP-8&hcp=HCP-A", "call_incomplete:call/K2" },
        { "rep=REP-7&hcp=HCP-B", "" },
        { "contract=C-1", "step_slow:contract/C-1/step/NOMINATION" },
        { "contract=C-2", "step_slow:contract/C-2/step/NOMINATION" },
        { "contract=C-3", "" },
        { "hcp=HCP-C&kind=friction",
          "step_slow:contract/C-1/step/NOMINATION,step_slow:contract/C-2/step/NOMINATION" },
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        s_expect_ids(port, filters[i].query, filters[i].want);
}

/* With a token file, the data wants the token; the page's files do not. */
static void test_token(void **state) {
    tp_dfx_t *d = *state = tp_dfx_setup(false);
    char     *token = tp_path(d->dir, "dash.token"), yaml[600];
    assert_int_equal(tp_write_file(token, "dash-S3cret\n"), 0);
    assert_int_equal(chmod(token, 0600), 0);
    snprintf(yaml, sizeof yaml, "dashboard: { enabled: true, bearer_token_file: \"%s\" }", token);
    d->http = true;
    d->http_yaml = yaml;
    tp_dfx_spawn(d, "event", NULL);
    static const char *const paths[] = { "/v1/alerts", "/v1/alerts/stream", "/v1/kpi" };
    for (size_t i = 0; i < 3; i++) {
        tp_test_get_expect(d->http_port, paths[i], 401,
                           "WWW-Authenticate: Bearer realm=\"touchpointd\"");
        assert_int_equal(tp_test_get(d->http_port, "GET", paths[i],
                                     "Authorization: Bearer dash-S3cre\r\n", NULL),
                         401);
        assert_int_equal(tp_test_get(d->http_port, "GET", paths[i],
                                     "Authorization: Bearer dash-S3cret2\r\n", NULL),
                         401);
    }
    json_t *j = s_get_json(d->http_port, "/v1/alerts", "Authorization: Bearer dash-S3cret\r\n");
    /* Nothing was sent but the fixture's probe calls: each is one open alert. */
    assert_int_equal(s_int(j, "open"), d->probes);
    json_decref(j);
    assert_int_equal(tp_test_get(d->http_port, "GET", "/dashboard/", NULL, NULL), 200);
    /* Rotated by an edit and a SIGHUP; a file others may read is refused
     * and the running token stays. */
    assert_int_equal(tp_write_file(token, "dash-N3w\n"), 0);
    assert_true(tp_dfx_reload(d, "event", NULL));
    assert_int_equal(s_kpi_as(d, "dash-S3cret"), 401);
    assert_int_equal(s_kpi_as(d, "dash-N3w"), 200);
    assert_int_equal(tp_write_file(token, "dash-Open\n"), 0);
    assert_int_equal(chmod(token, 0644), 0);
    assert_false(tp_dfx_reload(d, "event", NULL));
    assert_int_equal(s_kpi_as(d, "dash-N3w"), 200);
    assert_int_equal(s_kpi_as(d, "dash-Open"), 401);
    free(token);
}

/* The page's files: types, caching, and nothing outside the root. */
static void test_static_files(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(DASH_ON);
    char     *text;
    assert_int_equal(tp_test_get(d->http_port, "GET", "/dashboard/", NULL, &text), 200);
    assert_non_null(strstr(text, "Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(text, "Cache-Control: no-cache"));
    assert_non_null(strstr(text, "<script type=\"module\" src=\"app.js\">"));
    free(text);
    tp_test_get_expect(d->http_port, "/dashboard/app.js", 200, "Content-Type: text/javascript");
    tp_test_get_expect(d->http_port, "/dashboard/style.css", 200, "Content-Type: text/css");
    tp_test_get_expect(d->http_port, "/dashboard", 301, "Location: /dashboard/");
    static const char *const bad[] = {
        "/dashboard/../dashboard/index.html",
        "/dashboard/%2e%2e/README.md",
        "/dashboard/..%2f..%2fREADME.md",
        "/dashboard/.hidden.js",
        "/dashboard//index.html",
        "/dashboard/nope.html",
        "/dashboard/index.html.bak",
        "/dashboard/%00.js",
        "/dashboard/../../../../etc/passwd",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tp_test_get(d->http_port, "GET", bad[i], NULL, NULL) != 404)
            fail_msg("%s was not refused", bad[i]);
    assert_int_equal(tp_test_get(d->http_port, "POST", "/v1/alerts", "Content-Length: 0\r\n", NULL),
                     405);
}


static size_t s_open_listed(unsigned port, const char *path) {
    json_t *j = s_get_json(port, path, NULL);
    size_t  n = json_array_size(json_object_get(j, "alerts"));
    json_decref(j);
    return n;
}

/* Switched on by SIGHUP, the dashboard starts with the alerts already
 * open; switched off, its streams close and its routes are 404 again; a
 * restart brings the open alerts back (journal, rebuild). */
static void test_reload_and_restart(void **state) {
    tp_dfx_t      *d = *state = tp_dfx_start_http_with(NULL);
    tp_test_call_t k2 = tp_dash_call("K2", 1, TP_FIELD_PRODUCTS);
    tp_dfx_send_call(d, &k2);
    s_wait_alert(d, "K2", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    assert_int_equal(tp_test_get(d->http_port, "GET", "/v1/alerts", NULL, NULL), 404);

    d->http_yaml = DASH_ON;
    assert_true(tp_dfx_reload(d, "event", NULL));
    assert_int_equal(s_open_listed(d->http_port, "/v1/alerts?territory=T-1"), 1);
    int fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "call_incomplete:call/K2", TP_WAIT_MS));

    d->http_yaml = NULL;
    assert_true(tp_dfx_reload(d, "event", NULL));
    assert_false(tp_test_read_until(fd, &t, t.len, "\x01never", TP_WAIT_MS)); /* closed: EOF */
    close(fd);
    free(t.buf);
    assert_int_equal(tp_test_get(d->http_port, "GET", "/v1/alerts", NULL, NULL), 404);

    d->http_yaml = DASH_ON;
    assert_true(tp_dfx_reload(d, "event", NULL));
    /* A reload that switches the dashboard off but fails later (its new
     * http.listen is taken) changes nothing: the dashboard stays on. */
    int                busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(busy, 1), 0);
    assert_int_equal(getsockname(busy, (struct sockaddr *)&sa, &sl), 0);
    d->http_yaml = NULL;
    char *path = tp_path(d->dir, "busy.yaml");
    tp_dfx_write_config(d, path, "event", NULL);
    char *yaml = tp_read_file(path), *at = strstr(yaml, "127.0.0.1:0\"");
    assert_non_null(at);
    char *next;
    assert_true(asprintf(&next, "%.*s127.0.0.1:%u%s", (int)(at - yaml), yaml,
                         (unsigned)ntohs(sa.sin_port), at + strlen("127.0.0.1:0")) > 0);
    assert_false(tp_dfx_reload_yaml(d, next));
    assert_int_equal(s_open_listed(d->http_port, "/v1/alerts?territory=T-1"), 1);
    close(busy);
    free(next);
    free(yaml);
    free(path);
    d->http_yaml = DASH_ON; /* the config on disk for the restart */
    assert_true(tp_dfx_reload(d, "event", NULL));
    free(tp_dfx_stop(d));
    tp_dfx_restart(d, NULL);
    assert_int_equal(s_open_listed(d->http_port, "/v1/alerts?territory=T-1"), 1);
    json_t *j = s_get_json(d->http_port, "/v1/alerts?territory=T-1", NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "alerts"), 0), "alertId")),
                        "call_incomplete:call/K2");
    json_decref(j);
}

/* An answer lists at most 20,000 open alerts (their first JSON encoding
 * is work on the event loop), the oldest first, and says how many are open. */
static void test_list_capped(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(DASH_ON);
    enum { N = 20005 };
    char id[32];
    for (unsigned i = 0; i < N; i++) {
        snprintf(id, sizeof id, "M%u", i);
        tp_test_call_t c = tp_dash_call(id, i + 1, 0);
        tp_dfx_send_call(d, &c);
    }
    /* All published (the fixture's subscriber has them), so the
     * dashboard's copy holds them: its alerts arrive after their commit. */
    for (unsigned i = 0; i < N; i++) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        tp_test_alerts_clear(&d->got);
    }
    json_t *j = s_get_json(d->http_port, "/v1/alerts?territory=T-1", NULL);
    assert_int_equal(s_int(j, "listed"), 20000);
    assert_int_equal(json_array_size(json_object_get(j, "alerts")), 20000);
    assert_true(s_int(j, "open") >= N);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "alerts"), 0), "callId")),
                        "M0");
    json_decref(j);
    int fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "\"listed\": 20000}", TP_WAIT_MS));
    close(fd);
    free(t.buf);
}

/* examples/grafana-touchpointd.json is JSON, and every metric its
 * queries name is one the daemon exports (its # TYPE line in /metrics;
 * a histogram's _bucket, _sum and _count by the family's name). */
static void test_grafana_metrics(void **state) {
    (void)state;
    json_error_t err;
    json_t      *doc = json_load_file(TP_SOURCE_DIR "/examples/grafana-touchpointd.json", 0, &err);
    if (!doc)
        fail_msg("examples/grafana-touchpointd.json: line %d: %s", err.line, err.text);
    tp_dfx_t *d = tp_dfx_start_http_with(DASH_ON);
    char     *metrics;
    assert_int_equal(tp_test_get(d->http_port, "GET", "/metrics", NULL, &metrics), 200);
    size_t  i, k, checked = 0;
    json_t *panel, *target;
    json_array_foreach(json_object_get(doc, "panels"), i, panel) {
        json_array_foreach(json_object_get(panel, "targets"), k, target) {
            const char *expr = json_string_value(json_object_get(target, "expr"));
            assert_non_null(expr);
            for (const char *p = strstr(expr, "touchpointd_"); p;
                 p = strstr(p + 1, "touchpointd_")) {
                char   name[128], type[200];
                size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
                assert_true(n < sizeof name);
                memcpy(name, p, n);
                name[n] = '\0';
                snprintf(type, sizeof type, "# TYPE %s ", name);
                bool                     found = strstr(metrics, type) != NULL;
                static const char *const suffix[] = { "_bucket", "_sum", "_count" };
                for (size_t s = 0; !found && s < 3; s++) {
                    size_t sl = strlen(suffix[s]);
                    if (n > sl && !strcmp(name + n - sl, suffix[s])) {
                        snprintf(type, sizeof type, "# TYPE %.*s histogram", (int)(n - sl), name);
                        found = strstr(metrics, type) != NULL;
                    }
                }
                if (!found)
                    fail_msg("panel \"%s\" queries %s, which /metrics does not export",
                             json_string_value(json_object_get(panel, "title")), name);
                checked++;
            }
        }
    }
    assert_true(checked >= 20);
    free(metrics);
    json_decref(doc);
    tp_dfx_free(d);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_off_by_default, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_snapshot_and_kpi, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_filters, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_token, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_static_files, tp_dfx_teardown),
             cmocka_unit_test(test_grafana_metrics),
             cmocka_unit_test_teardown(test_list_capped, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_reload_and_restart, tp_dfx_teardown))
