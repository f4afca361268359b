/* test_kpi_http — the leaders' numbers on a real daemon (event clock,
 * watermarks), read over loopback from /metrics and /v1/kpi: time to
 * resolution, open alerts by age, NPS and effort, with exact values. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_config.h"
#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define H         3600000LL
#define D         86400000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define FIRING    TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define RESOLVED  TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED
#define ALL       (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)

static char *s_get(unsigned port, const char *path) {
    char *text = NULL;
    int   status = tp_test_get(port, "GET", path, NULL, &text);
    assert_int_equal(status, 200);
    return text;
}

static json_t *s_get_json(unsigned port, const char *path) {
    char *text;
    assert_int_equal(tp_test_get(port, "GET", path, NULL, &text), 200);
    char *body = strstr(text, "\r\n\r\n");
    assert_non_null(body);
    json_t *j = json_loads(body + 4, 0, NULL);
    free(text);
    assert_non_null(j);
    return j;
}

static void s_wait_alert(tp_dfx_t *d, const char *call_id, int status) {
    for (;;) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        const Touchpoint__V1__Alert *a = d->got.alerts[d->got.n - 1];
        if (a->call_id && !strcmp(a->call_id, call_id) && (int)a->status == status)
            return;
    }
}

static void s_call(tp_dfx_t *d, const char *eid, const char *call_id, int64_t at, unsigned fields) {
    tp_test_call_t c = { .event_id = eid,
                         .source = "crm-eu",
                         .at_ms = at,
                         .call_id = call_id,
                         .hcp_id = "HCP-P",
                         .status = SUBMITTED,
                         .fields = fields | TP_FIELD_TERRITORY };
    tp_dfx_send_call(d, &c);
}

static void s_feedback(tp_dfx_t *d, const char *eid, const char *hcp, int nps, int effort) {
    tp_test_feedback_t fb = {
        .event_id = eid, .at_ms = T0 + 3 * D, .hcp_id = hcp, .nps = nps, .effort = effort
    };
    tp_dfx_send_feedback(d, &fb);
}

static void s_has(const char *text, const char *line) {
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(text, want))
        fail_msg("missing \"%s\" in /metrics", line);
}

/* K1 is open 3 days (FIRING at T0+2h, corrected at T0+3d+2h); K2 fires at
 * T0+3d+3h and a watermark moves the clock 8 days on. The sync probes'
 * alerts (at T0, never resolved) are open too. HCP-P (T-1) answers
 * nps 10, effort 3; HCP-Q (no call) nps 3, effort 7. */
static void test_kpi_over_http(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with("dashboard: { enabled: true }");
    s_call(d, "k1", "K1", T0 + 2 * H, 0);
    s_wait_alert(d, "K1", FIRING);
    s_call(d, "k1fix", "K1", T0 + 3 * D + 2 * H, ALL);
    s_wait_alert(d, "K1", RESOLVED);
    s_call(d, "k2", "K2", T0 + 3 * D + 3 * H, 0);
    s_wait_alert(d, "K2", FIRING);
    s_feedback(d, "f1", "HCP-P", 10, 3);
    s_feedback(d, "f2", "HCP-Q", 3, 7);
    tp_dfx_send_watermark(d, "w1", T0 + 11 * D + 3 * H);
    /* The watermark is handled when /metrics shows K2 past 7 days. */
    char want[128], *text = NULL;
    snprintf(want, sizeof want,
             "\ntouchpointd_alerts_open_older_than{rule=\"call_incomplete\",age=\"7d\"} %u\n",
             d->probes + 1);
    for (long long end = tp_now_ms() + TP_WAIT_MS; !text || !strstr(text, want);) {
        assert_true(tp_now_ms() < end);
        free(text);
        text = s_get(d->http_port, "/metrics");
    }
    snprintf(want, sizeof want,
             "touchpointd_alerts_open_older_than{rule=\"call_incomplete\",age=\"1d\"} %u",
             d->probes + 1);
    s_has(text, want);
    s_has(text, "touchpointd_alerts_open_older_than{rule=\"call_incomplete\",age=\"30d\"} 0");
    s_has(text, "touchpointd_alert_resolution_seconds_bucket{kind=\"accountability\",rule=\"call_"
                "incomplete\",le=\"172800\"} 0");
    s_has(text, "touchpointd_alert_resolution_seconds_bucket{kind=\"accountability\",rule=\"call_"
                "incomplete\",le=\"345600\"} 1");
    s_has(text, "touchpointd_alert_resolution_seconds_sum{kind=\"accountability\",rule=\"call_"
                "incomplete\"} 259200");
    s_has(text, "touchpointd_nps{territory=\"\",contract_type=\"\"} 0");
    s_has(text, "touchpointd_effort_score_mean{territory=\"\",contract_type=\"\"} 5");
    s_has(text, "touchpointd_nps{territory=\"T-1\",contract_type=\"\"} 100");
    s_has(text, "touchpointd_effort_score_mean{territory=\"T-1\",contract_type=\"\"} 3");
    free(text);

    json_t *j = s_get_json(d->http_port, "/v1/kpi");
    json_t *r = tp_test_json_named(json_object_get(j, "resolution"), "rule", "call_incomplete");
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
    /* 259,200 s is in the bucket [60*2^12, 60*2^12.5): its middle 60*2^12.25. */
    assert_float_equal(json_real_value(json_object_get(r, "median_seconds")), 292259.5, 0.1);
    json_t *t1 = tp_test_json_named(json_object_get(r, "by_territory"), "name", "T-1");
    assert_int_equal(json_integer_value(json_object_get(t1, "count")), 1);
    json_t *fb = json_object_get(j, "feedback");
    assert_int_equal(json_integer_value(json_object_get(fb, "answers")), 2);
    assert_int_equal(json_integer_value(json_object_get(fb, "promoters")), 1);
    assert_int_equal(json_integer_value(json_object_get(fb, "detractors")), 1);
    json_t *ft = tp_test_json_named(json_object_get(fb, "by_territory"), "name", "T-1");
    assert_float_equal(json_real_value(json_object_get(ft, "nps")), 100, 0.001);

    /* The weekly trend: K1's 3 days in the ISO week of its RESOLVED
     * (T0+3d, a Sunday: the week of Monday 2025-12-29), territory T-1; as
     * CSV for BI tools too. */
    json_t *trend = s_get_json(d->http_port, "/v1/kpi/trend?metric=resolution_median_seconds"
                                             "&by=territory&bucket=week");
    json_t *wk = json_array_get(json_object_get(trend, "buckets"), 0);
    assert_string_equal(json_string_value(json_object_get(wk, "start")), "2025-12-29T00:00:00Z");
    assert_float_equal(json_real_value(json_object_get(json_object_get(wk, "values"), "T-1")),
                       292259.5, 0.1);
    text = s_get(d->http_port, "/v1/kpi/trend?metric=nps&format=csv");
    assert_non_null(strstr(text, "Content-Type: text/csv"));
    assert_non_null(strstr(text, "\r\n\r\nperiod_start,group,value,count\r\n"));
    assert_non_null(strstr(text, "\r\n2025-12-29T00:00:00Z,T-1,100,1\r\n"));
    free(text);
    assert_int_equal(
        tp_test_get(d->http_port, "GET", "/v1/kpi/trend?metric=nps", "Accept: text/csv\r\n", &text),
        200);
    assert_non_null(strstr(text, "\r\n2025-12-29T00:00:00Z,_none,-100,1\r\n"));
    free(text);
    assert_int_equal(tp_test_get(d->http_port, "GET", "/v1/kpi/trend?metric=bogus", NULL, &text),
                     400);
    free(text);
    assert_int_equal(
        tp_test_get(d->http_port, "GET", "/v1/kpi/trend?metric=nps&bucket=month", NULL, &text),
        400);
    free(text);

    /* A restart rebuilds the KPIs from the event log: the same figures
     * (the restart's own sync probes only add open alerts and calls). */
    free(tp_dfx_stop(d));
    tp_dfx_restart(d, NULL);
    json_t *again = s_get_json(d->http_port, "/v1/kpi");
    assert_true(json_equal(json_object_get(again, "resolution"), json_object_get(j, "resolution")));
    assert_true(json_equal(json_object_get(again, "feedback"), json_object_get(j, "feedback")));
    json_t *trend2 = s_get_json(d->http_port, "/v1/kpi/trend?metric=resolution_median_seconds"
                                              "&by=territory&bucket=week");
    assert_true(json_equal(trend2, trend));
    json_decref(trend2);
    json_decref(trend);
    text = s_get(d->http_port, "/metrics");
    s_has(text, "touchpointd_alert_resolution_seconds_sum{kind=\"accountability\",rule=\"call_"
                "incomplete\"} 259200");
    s_has(text, "touchpointd_nps{territory=\"T-1\",contract_type=\"\"} 100");
    s_has(text, "touchpointd_effort_score_mean{territory=\"\",contract_type=\"\"} 5");
    free(text);
    json_decref(again);
    json_decref(j);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_kpi_over_http, tp_dfx_teardown))
