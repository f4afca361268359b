/* test_http — the real daemon's HTTP endpoint on loopback: /healthz,
 * /metrics (checked by the Prometheus project's own parser), /status, and
 * tp-stat against it and against a dead port. Events go over the bus. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_config.h"
#include "tp_http.h"
#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define H         3600000LL
#define D         86400000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define ALL       (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)

/* The daemon with HTTP on, and a known set of events processed. */
static tp_dfx_t *s_daemon_with_events(void) {
    tp_dfx_t *d = tp_dfx_start_http("event", NULL);
    /* HCP-P prefers the phone. */
    tp_test_feedback_t fb = { .event_id = "fb1",
                              .at_ms = T0 + H,
                              .hcp_id = "HCP-P",
                              .nps = 9,
                              .effort = -1,
                              .preferred_channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE };
    tp_dfx_send_feedback(d, &fb);
    /* K1 complete, on the preferred channel; K2 incomplete, off it; K3 complete, 49 h late. */
    tp_test_call_t k1 = { .event_id = "k1",
                          .source = "crm-eu",
                          .sequence = 1,
                          .at_ms = T0 + 2 * H,
                          .call_id = "K1",
                          .hcp_id = "HCP-P",
                          .status = SUBMITTED,
                          .channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE,
                          .call_at_ms = T0 + H,
                          .fields = ALL };
    tp_test_call_t k2 = k1, k3 = k1, k4 = k1;
    k2.event_id = "k2";
    k2.sequence = 2;
    k2.call_id = "K2";
    k2.fields = TP_FIELD_PRODUCTS;
    k2.channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON;
    k3.event_id = "k3";
    k3.sequence = 3;
    k3.call_id = "K3";
    k3.hcp_id = "HCP-Q";
    k3.channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_VIDEO;
    k3.call_at_ms = T0 + 2 * H;
    k3.at_ms = T0 + 51 * H;
    tp_dfx_send_call(d, &k1);
    tp_dfx_send_call(d, &k2);
    tp_dfx_send_call(d, &k3);
    /* A SPEAKER contract: NOMINATION takes 2 h, the contract closes after 3 days. */
    tp_test_step_t s = { .event_id = "s1",
                         .source = "crm-eu",
                         .at_ms = T0 + 51 * H,
                         .contract_id = "C-1",
                         .step = "NOMINATION",
                         .state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED };
    tp_dfx_send_step(d, &s);
    s.event_id = "s2";
    s.at_ms = T0 + 53 * H;
    s.state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED;
    tp_dfx_send_step(d, &s);
    s.event_id = "s3";
    s.at_ms = T0 + 51 * H + 3 * D;
    s.step = "CONTRACT_SIGNED";
    s.case_closed = true;
    tp_dfx_send_step(d, &s);
    /* K4, incomplete: its alert says everything before it was processed. */
    k4.event_id = "k4";
    k4.sequence = 4;
    k4.call_id = "K4";
    k4.fields = 0;
    k4.hcp_id = "HCP-Z";
    k4.at_ms = k4.call_at_ms = T0 + 51 * H + 3 * D;
    tp_dfx_send_call(d, &k4);
    for (;;) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        if (!strcmp(d->got.alerts[d->got.n - 1]->call_id, "K4"))
            break;
    }
    return d;
}

/* Runs the Prometheus client library's parser over `text`; returns one
 * line per sample, "name {labels as sorted JSON} value". Fails the test if
 * the text does not parse. */
static char *s_parse_prometheus(tp_dfx_t *d, const char *text) {
    char *in = tp_path(d->dir, "metrics.txt"), *out = tp_path(d->dir, "samples.txt");
    char *err = tp_path(d->dir, "parse.err");
    assert_int_equal(tp_write_file(in, text), 0);
    const char *argv[] = {
        "/usr/bin/python3", "-c",
        "import json, sys\n"
        "from prometheus_client.parser import text_string_to_metric_families\n"
        "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
        "    for s in f.samples:\n"
        "        print(s.name, json.dumps(s.labels, sort_keys=True), repr(float(s.value)))\n",
        in, NULL
    };
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, out, err), 0);
    int   rc = tp_proc_wait(&p, TP_WAIT_MS);
    char *samples = tp_read_file(out);
    if (rc != 0) {
        char *e = tp_read_file(err);
        fail_msg("the Prometheus parser refused /metrics (exit %d): %s", rc, e);
    }
    free(in);
    free(out);
    free(err);
    return samples;
}

static void s_has(const char *samples, const char *line) {
    char want[512];
    snprintf(want, sizeof want, "%s\n", line);
    const char *hit = strstr(samples, want);
    if (!hit || (hit != samples && hit[-1] != '\n')) {
        fprintf(stderr, "%s", samples);
        fail_msg("no sample \"%s\"", line);
    }
}

/* v as the parser prints it (Python's repr of a float: the shortest text
 * that reads back exactly, ".0" on a whole number). */
static const char *s_py_float(double v, char *buf, size_t len) {
    /* The daemon writes 15 significant digits (tp_metrics.c); the parser
     * prints the double it reads back at the shortest that round-trips. */
    snprintf(buf, len, "%.15g", v);
    v = strtod(buf, NULL);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strncat(buf, ".0", len - strlen(buf) - 1);
    return buf;
}

static void test_healthz_metrics_status(void **state) {
    (void)state;
    tp_dfx_t *d = s_daemon_with_events();
    unsigned  probes = d->probes;

    tp_test_resp_t r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/healthz");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    tp_test_resp_free(&r);

    r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/metrics");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    char *samples = s_parse_prometheus(d, r.body);
    char  line[256];
    /* Probes (synchronisation calls: submitted, incomplete, source "test") count too. */
    snprintf(line, sizeof line, "touchpointd_calls_submitted_total {} %.1f", probes + 4.0);
    s_has(samples, line);
    s_has(samples, "touchpointd_calls_complete_total {} 2.0");
    s_has(samples, "touchpointd_calls_submitted_late_total {} 1.0");
    s_has(samples, "touchpointd_calls_channel_known_total {} 2.0");
    s_has(samples, "touchpointd_calls_channel_matched_total {} 1.0");
    s_has(samples, "touchpointd_channel_match_ratio {} 0.5");
    /* Of the probes + 4 calls submitted, K1 and K3 are complete, K3 is late
     * (the probes are neither). */
    char ratio[32];
    snprintf(line, sizeof line, "touchpointd_crm_completeness_ratio {} %s",
             s_py_float(2.0 / (probes + 4), ratio, sizeof ratio));
    s_has(samples, line);
    snprintf(line, sizeof line, "touchpointd_late_submission_ratio {} %s",
             s_py_float(1.0 / (probes + 4), ratio, sizeof ratio));
    s_has(samples, line);
    s_has(
        samples,
        "touchpointd_events_received_total {\"source\": \"crm-eu\", \"topic\": \"crm.call\"} 4.0");
    s_has(samples, "touchpointd_events_received_total {\"source\": \"crm-eu\", \"topic\": "
                   "\"crm.contracting\"} 3.0");
    s_has(samples, "touchpointd_events_received_total {\"source\": \"survey\", \"topic\": "
                   "\"crm.feedback\"} 1.0");
    snprintf(
        line, sizeof line,
        "touchpointd_alerts_total {\"rule\": \"call_incomplete\", \"status\": \"FIRING\"} %.1f",
        probes + 2.0);
    s_has(samples, line);
    s_has(samples,
          "touchpointd_alerts_total {\"rule\": \"call_late\", \"status\": \"FIRING\"} 1.0");
    s_has(samples, "touchpointd_contract_cycle_seconds_bucket {\"contract_type\": \"SPEAKER\", "
                   "\"le\": \"172800\"} 0.0");
    s_has(samples, "touchpointd_contract_cycle_seconds_bucket {\"contract_type\": \"SPEAKER\", "
                   "\"le\": \"259200\"} 1.0");
    s_has(samples, "touchpointd_contract_cycle_seconds_count {\"contract_type\": \"SPEAKER\"} 1.0");
    s_has(samples, "touchpointd_contract_step_seconds_bucket {\"le\": \"14400\", \"step\": "
                   "\"NOMINATION\"} 1.0");
    s_has(samples, "touchpointd_events_refused_total {\"reason\": \"decode\"} 0.0");
    s_has(samples, "touchpointd_duplicates_total {} 0.0");
    s_has(samples, "touchpointd_sequence_gaps_total {} 0.0");
    s_has(samples, "touchpointd_alerts_published_dropped_total {} 0.0");
    assert_non_null(strstr(samples, "touchpointd_loop_lag_seconds_count {} "));
    assert_non_null(strstr(samples, "touchpointd_journal_commit_seconds_count {} "));
    free(samples);
    tp_test_resp_free(&r);

    /* /status: the same numbers as JSON. */
    r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/status");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.type, "application/json");
    json_t *doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    assert_true(json_is_true(json_object_get(doc, "healthy")));
    json_t *m = json_object_get(doc, "metrics");
#define VALUE(name)                                                                            \
    json_number_value(json_object_get(                                                         \
        json_array_get(json_object_get(json_object_get(m, "touchpointd_" name), "series"), 0), \
        "value"))
    assert_true(VALUE("calls_complete_total") == 2);
    assert_true(VALUE("calls_submitted_total") == probes + 4);
    assert_true(VALUE("crm_completeness_ratio") == 2.0 / (probes + 4));
    assert_true(VALUE("late_submission_ratio") == 1.0 / (probes + 4));
    assert_true(VALUE("channel_match_ratio") == 0.5);
    json_t *cycle = json_array_get(
        json_object_get(json_object_get(m, "touchpointd_contract_cycle_seconds"), "series"), 0);
    assert_int_equal(json_integer_value(json_object_get(cycle, "count")), 1);
    assert_true(json_number_value(json_object_get(cycle, "sum")) == 3 * 86400.0);
    json_decref(doc);
    tp_test_resp_free(&r);

    /* Unknown paths 404, other methods 405, HEAD works. */
    r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/nope");
    assert_int_equal(r.code, 404);
    tp_test_resp_free(&r);
    r = tp_test_http_request(d->http_port, EVHTTP_REQ_POST, "/metrics");
    assert_int_equal(r.code, 405);
    tp_test_resp_free(&r);
    r = tp_test_http_request(d->http_port, EVHTTP_REQ_HEAD, "/healthz");
    assert_int_equal(r.code, 200);
    tp_test_resp_free(&r);

    /* tp-stat prints the summary from /status. */
    char url[64], *out = tp_path(d->dir, "stat.out"), *err = tp_path(d->dir, "stat.err");
    snprintf(url, sizeof url, "http://127.0.0.1:%u", d->http_port);
    const char *argv[] = { TP_STAT_BIN, "--url", url, NULL };
    assert_int_equal(tp_run(argv, out, err, TP_WAIT_MS), 0);
    char *text = tp_read_file(out);
    assert_non_null(strstr(text, "health: ok"));
    assert_non_null(strstr(
        text, "channel match           50.0%  (1 of 2 calls with a known preferred channel)"));
    assert_non_null(strstr(text, "call_late                FIRING    1"));
    assert_non_null(strstr(text, "SPEAKER"));
    assert_non_null(strstr(text, "(n=1)"));
    free(text);
    free(out);
    free(err);

    char *log = tp_dfx_stop(d);
    free(log);
    tp_dfx_free(d);
}

/* tp-stat against a port nobody listens on: a clear message, exit 1. */
static bool s_listening(unsigned port) {
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port) };
    bool               ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* http.listen moved by a reload: the new port answers, the old one is
 * closed, and the counters carry on (a scrape never sees a reset). */
static void test_reload_moves_http_and_keeps_metrics(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http("event", NULL);
    unsigned  old = d->http_port, port = tp_free_port();
    char     *path = tp_path(d->dir, "next.yaml");
    tp_dfx_write_config(d, path, "event", NULL);
    char *yaml = tp_read_file(path), *moved = NULL, listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    char *at = strstr(yaml, "127.0.0.1:0");
    assert_non_null(at);
    *at = '\0';
    assert_true(asprintf(&moved, "%s%s%s", yaml, listen, at + strlen("127.0.0.1:0")) > 0);
    assert_true(tp_dfx_reload_yaml(d, moved));

    assert_false(s_listening(old));
    tp_test_resp_t r = tp_test_http_request(port, EVHTTP_REQ_GET, "/healthz");
    assert_int_equal(r.code, 200);
    tp_test_resp_free(&r);
    r = tp_test_http_request(port, EVHTTP_REQ_GET, "/metrics");
    char want[96];
    snprintf(want, sizeof want, "touchpointd_messages_received_total %u\n", d->probes);
    assert_non_null(strstr(r.body, want));
    tp_test_resp_free(&r);
    char *pf = NULL, *text;
    assert_true(asprintf(&pf, "%s/state/http.port", d->dir) > 0);
    assert_non_null(text = tp_read_file(pf));
    assert_int_equal(strtoul(text, NULL, 10), port);
    free(text);
    free(pf);
    free(moved);
    free(yaml);
    free(path);
}

static void test_tp_stat_unreachable(void **state) {
    (void)state;
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* bound and closed: nobody listens there now */
    char  url[64], *dir = tp_tmpdir();
    char *out = tp_path(dir, "out"), *err = tp_path(dir, "err");
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    const char *argv[] = { TP_STAT_BIN, "--url", url, NULL };
    assert_int_equal(tp_run(argv, out, err, TP_WAIT_MS), 1);
    TP_EXPECT_FILE_HAS(err, "cannot reach touchpointd at");
    tp_rmrf(dir);
    free(dir);
    free(out);
    free(err);
}

/* /healthz fails while the loop has been stalled for TP_HTTP_LAG_BAD_MS in
 * the last minute: the daemon is stopped (SIGSTOP) a little longer than
 * that, so its periodic tick fires that late when it continues. */
static void test_healthz_fails_after_a_stalled_loop(void **state) {
    tp_dfx_t      *d = *state = tp_dfx_start_http("event", NULL);
    tp_test_resp_t r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/healthz");
    assert_int_equal(r.code, 200);
    tp_test_resp_free(&r);
    assert_int_equal(tp_proc_signal(&d->proc, SIGSTOP), 0);
    struct timespec ts = { TP_HTTP_LAG_BAD_MS / 1000 + 1, 0 };
    nanosleep(&ts, NULL);
    assert_int_equal(tp_proc_signal(&d->proc, SIGCONT), 0);
    /* The late tick and the request may wake the loop in either order. */
    for (int i = 0; i < 20; i++) {
        r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/healthz");
        if (r.code == 503)
            break;
        tp_test_resp_free(&r);
        struct timespec pause = { 0, 50 * 1000000 };
        nanosleep(&pause, NULL);
    }
    assert_int_equal(r.code, 503);
    assert_non_null(strstr(r.body, "event loop: a 1 s timer fired "));
    tp_test_resp_free(&r);
    free(tp_dfx_stop(d));
}

TP_TEST_MAIN(cmocka_unit_test(test_healthz_metrics_status),
             cmocka_unit_test_teardown(test_healthz_fails_after_a_stalled_loop, tp_dfx_teardown),
             cmocka_unit_test(test_tp_stat_unreachable),
             cmocka_unit_test_teardown(test_reload_moves_http_and_keeps_metrics, tp_dfx_teardown))
