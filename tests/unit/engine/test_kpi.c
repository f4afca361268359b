/* test_kpi — the business KPIs and per-source event counts, on the engine
 * fixture (event clock, no sockets), read back as rendered Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "tp_testkpi.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define IN_PERSON TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON
#define PHONE     TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE
#define VIDEO     TOUCHPOINT__V1__CHANNEL__CHANNEL_VIDEO
#define EMAIL     TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL
#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define CANCELLED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED
#define ADVISORY  TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ADVISORY_BOARD
#define ALL       (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define D0        (TP_T0 + 9 * TP_H)

/* Asserts that the rendered text has exactly this sample line. */
static void s_has(kfx_t *k, const char *line) {
    free(k->text);
    size_t len;
    assert_int_equal(tp_metrics_render(k->m, &k->text, &len), 0);
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(k->text, want))
        fail_msg("missing \"%s\" in:\n%s", line, k->text);
}

static void s_call(kfx_t *k, const char *eid, int64_t at, const char *call_id, const char *hcp,
                   int status, int channel, int64_t call_at, unsigned fields) {
    TP_CALL(k->f, .event_id = eid, .source = "veeva", .at_ms = at, .call_id = call_id,
            .hcp_id = hcp, .status = status, .channel = channel, .call_at_ms = call_at,
            .fields = fields);
}

static void s_pref(kfx_t *k, const char *eid, int64_t at, const char *hcp, int channel) {
    tp_test_feedback_t fb = { .event_id = eid,
                              .at_ms = at,
                              .hcp_id = hcp,
                              .nps = 9,
                              .effort = -1,
                              .preferred_channel = channel };
    assert_int_equal(tp_fixture_feedback(k->f, &fb), TP_ACCEPTED);
}

static void s_step(kfx_t *k, const char *eid, int64_t at, const char *contract, int type,
                   const char *step, int state, bool closed) {
    TP_STEP(k->f, .event_id = eid, .at_ms = at, .contract_id = contract, .contract_type = type,
            .step = step, .state = state, .case_closed = closed);
}

/* Completeness, lateness and channel match, each call counted once. */
static void test_call_kpis(void **state) {
    (void)state;
    kfx_t *k =
        kfx_new("clock: event\n"
                "rules: { call_incomplete: { by_channel: { EMAIL: [products, notes] } } }\n");
    s_has(k, "touchpointd_crm_completeness_ratio NaN");
    s_has(k, "touchpointd_calls_submitted_total 0");
    /* HCP-A prefers PHONE; an older feedback saying VIDEO arrives later and changes nothing. */
    s_pref(k, "f1", D0, "HCP-A", PHONE);
    s_pref(k, "f2", D0 - TP_H, "HCP-A", VIDEO);
    /* C1: planned, then submitted complete on time (IN_PERSON: known, not matched), then a
     * correction that drops fields: still one submission, still complete. */
    s_call(k, "c1p", D0, "C1", "HCP-A", PLANNED, IN_PERSON, D0 + TP_H, 0);
    s_has(k, "touchpointd_calls_submitted_total 0");
    s_call(k, "c1s", D0 + 2 * TP_H, "C1", "HCP-A", SUBMITTED, IN_PERSON, D0 + TP_H, ALL);
    s_call(k, "c1c", D0 + 3 * TP_H, "C1", "HCP-A", SUBMITTED, IN_PERSON, D0 + TP_H, 0);
    /* C2: incomplete, on HCP-A's preferred channel. */
    s_call(k, "c2", D0 + 3 * TP_H, "C2", "HCP-A", SUBMITTED, PHONE, D0 + 2 * TP_H,
           TP_FIELD_PRODUCTS);
    /* C3: complete but 49 h after the call (due 48 h); HCP-B's preference unknown. */
    s_call(k, "c3", D0 + 52 * TP_H, "C3", "HCP-B", SUBMITTED, VIDEO, D0 + 3 * TP_H, ALL);
    /* C4: e-mail needs only products and notes. A stale older version of C3 is ignored. */
    s_call(k, "c4", D0 + 53 * TP_H, "C4", "HCP-C", SUBMITTED, EMAIL, D0 + 52 * TP_H,
           TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    s_call(k, "c3old", D0 + 4 * TP_H, "C3", "HCP-B", SUBMITTED, VIDEO, D0 + 3 * TP_H, 0);

    s_has(k, "touchpointd_calls_submitted_total 4");
    s_has(k, "touchpointd_calls_complete_total 3");
    s_has(k, "touchpointd_calls_submitted_late_total 1");
    s_has(k, "touchpointd_calls_channel_known_total 2");
    s_has(k, "touchpointd_calls_channel_matched_total 1");
    s_has(k, "touchpointd_crm_completeness_ratio 0.75");
    s_has(k, "touchpointd_late_submission_ratio 0.25");
    s_has(k, "touchpointd_channel_match_ratio 0.5");
    s_has(k, "touchpointd_events_received_total{topic=\"crm.call\",source=\"veeva\"} 7");
    s_has(k, "touchpointd_events_received_total{topic=\"crm.feedback\",source=\"survey\"} 2");
    kfx_free(k);
}

/* Cycle time per contract type and step time per step, in the right buckets;
 * a cancelled contract and a COMPLETED without a start are not measured. */
static void test_contract_histograms(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\n");
    s_step(k, "k1", D0, "K-1", 0, "NOMINATION", STARTED, false);
    s_step(k, "k2", D0 + 2 * TP_H, "K-1", 0, "NOMINATION", COMPLETED, false);
    s_step(k, "k3", D0 + 3 * TP_H, "K-1", 0, "FMV_REVIEW", STARTED, false);
    s_step(k, "k4", D0 + 2 * TP_D + 3 * TP_H, "K-1", 0, "FMV_REVIEW", COMPLETED, false);
    s_step(k, "k5", D0 + 10 * TP_D, "K-1", 0, "CONTRACT_SIGNED", COMPLETED, true);
    s_step(k, "a1", D0, "K-2", ADVISORY, "NOMINATION", STARTED, false);
    s_step(k, "a2", D0 + 1 * TP_D, "K-2", ADVISORY, "NOMINATION", CANCELLED, true);

    s_has(k,
          "touchpointd_contract_cycle_seconds_bucket{contract_type=\"SPEAKER\",le=\"604800\"} 0");
    s_has(k,
          "touchpointd_contract_cycle_seconds_bucket{contract_type=\"SPEAKER\",le=\"864000\"} 1");
    s_has(k, "touchpointd_contract_cycle_seconds_count{contract_type=\"SPEAKER\"} 1");
    s_has(k, "touchpointd_contract_cycle_seconds_sum{contract_type=\"SPEAKER\"} 864000");
    assert_null(strstr(k->text, "ADVISORY_BOARD"));
    s_has(k, "touchpointd_contract_step_seconds_bucket{step=\"NOMINATION\",le=\"3600\"} 0");
    s_has(k, "touchpointd_contract_step_seconds_bucket{step=\"NOMINATION\",le=\"14400\"} 1");
    s_has(k, "touchpointd_contract_step_seconds_bucket{step=\"FMV_REVIEW\",le=\"86400\"} 0");
    s_has(k, "touchpointd_contract_step_seconds_bucket{step=\"FMV_REVIEW\",le=\"172800\"} 1");
    s_has(k, "touchpointd_contract_step_seconds_bucket{step=\"FMV_REVIEW\",le=\"+Inf\"} 1");
    assert_null(strstr(k->text, "step=\"CONTRACT_SIGNED\""));
    s_has(k, "touchpointd_events_received_total{topic=\"crm.contracting\",source=\"contracts\"} 7");
    kfx_free(k);
}

/* Peer-chosen label values are bounded: sources by limits.max_sources,
 * step names by TP_KPI_MAX_STEPS; the rest are counted under "_other". */
/* More sources than the observer keeps at hand, interleaved with feedback
 * from one of them: every (topic, source) series counts exactly its events. */
static void test_received_by_source_interleaved(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\n");
    enum { SOURCES = 12, ROUNDS = 3 };
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < SOURCES; i++) {
            char eid[16], src[16];
            snprintf(eid, sizeof eid, "c%d-%d", r, i);
            snprintf(src, sizeof src, "src-%d", i);
            TP_CALL(k->f, .event_id = eid, .source = src, .at_ms = D0, .call_id = eid,
                    .status = PLANNED, .call_at_ms = D0 + TP_D);
            snprintf(eid, sizeof eid, "f%d-%d", r, i);
            tp_test_feedback_t fb = {
                .event_id = eid, .source = "src-0", .at_ms = D0, .nps = 10, .effort = -1
            };
            assert_int_equal(tp_fixture_feedback(k->f, &fb), TP_ACCEPTED);
        }
    for (int i = 0; i < SOURCES; i++) {
        char line[128];
        snprintf(line, sizeof line,
                 "touchpointd_events_received_total{topic=\"crm.call\",source=\"src-%d\"} %d", i,
                 ROUNDS);
        s_has(k, line);
    }
    s_has(k, "touchpointd_events_received_total{topic=\"crm.feedback\",source=\"src-0\"} 36");
    kfx_free(k);
}

static void test_labels_bounded(void **state) {
    (void)state;
    kfx_t      *k = kfx_new("clock: event\nlimits: { max_sources: 2 }\n");
    const char *sources[] = { "s1", "s2", "s3", "s4" };
    for (int i = 0; i < 4; i++) {
        char eid[16];
        snprintf(eid, sizeof eid, "w%d", i);
        TP_CALL(k->f, .event_id = eid, .source = sources[i], .at_ms = D0, .call_id = eid,
                .status = PLANNED, .call_at_ms = D0 + TP_D);
    }
    s_has(k, "touchpointd_events_received_total{topic=\"crm.call\",source=\"s1\"} 1");
    s_has(k, "touchpointd_events_received_total{topic=\"crm.call\",source=\"s2\"} 1");
    s_has(k, "touchpointd_events_received_total{topic=\"crm.call\",source=\"_other\"} 2");
    assert_null(strstr(k->text, "\"s3\""));
    /* 66 step names over 3 contracts (32 steps at most per contract). */
    for (int i = 0; i < TP_KPI_MAX_STEPS + 2; i++) {
        char contract[16], step[16], e1[16], e2[16];
        snprintf(contract, sizeof contract, "K-%d", i / 30);
        snprintf(step, sizeof step, "STEP_%02d", i);
        snprintf(e1, sizeof e1, "s%d", i);
        snprintf(e2, sizeof e2, "c%d", i);
        s_step(k, e1, D0 + i, contract, 0, step, STARTED, false);
        s_step(k, e2, D0 + TP_H + i, contract, 0, step, COMPLETED, false);
    }
    s_has(k, "touchpointd_contract_step_seconds_count{step=\"STEP_63\"} 1");
    s_has(k, "touchpointd_contract_step_seconds_count{step=\"_other\"} 2");
    assert_null(strstr(k->text, "STEP_64"));
    /* The dashboard's JSON is bounded the same way. */
    json_t *j;
    assert_int_equal(tp_kpi_to_json(k->kpi, &j), 0);
    json_t *steps = json_object_get(j, "steps");
    assert_int_equal(json_array_size(steps), TP_KPI_MAX_STEPS + 1);
    json_t *last = json_array_get(steps, TP_KPI_MAX_STEPS);
    assert_string_equal(json_string_value(json_object_get(last, "step")), "_other");
    assert_int_equal(json_integer_value(json_object_get(last, "completed")), 2);
    json_decref(j);
    kfx_free(k);
}

static json_t *s_named(json_t *a, const char *name) {
    size_t  i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!strcmp(json_string_value(json_object_get(v, "name")), name))
            return v;
    }
    return NULL;
}

/* The dashboard's counts by rep and territory (GET /v1/kpi): exact, a
 * call without a territory under "_none", and at most TP_KPI_MAX_LABELS
 * reps, the rest under "_other". */
static void test_json_by_rep_bounded(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\n");
    for (int i = 0; i < TP_KPI_MAX_LABELS + 5; i++) {
        char eid[16], rep[16];
        snprintf(eid, sizeof eid, "c%d", i);
        snprintf(rep, sizeof rep, "REP-%d", i);
        TP_CALL(k->f, .event_id = eid, .at_ms = D0, .call_id = eid, .rep_id = rep,
                .status = SUBMITTED, .call_at_ms = D0,
                .fields = i % 2 ? ALL | TP_FIELD_TERRITORY : TP_FIELD_TERRITORY);
    }
    json_t *j;
    assert_int_equal(tp_kpi_to_json(k->kpi, &j), 0);
    json_t *reps = json_object_get(j, "by_rep");
    assert_int_equal(json_array_size(reps), TP_KPI_MAX_LABELS + 1);
    json_t *other = s_named(reps, "_other"), *r1 = s_named(reps, "REP-1");
    assert_non_null(other);
    assert_int_equal(json_integer_value(json_object_get(other, "submitted")), 5);
    assert_non_null(r1);
    assert_int_equal(json_integer_value(json_object_get(r1, "complete")), 1);
    assert_string_equal(json_string_value(json_object_get(r1, "territory")), "T-1");
    assert_null(s_named(reps, "REP-10004"));
    json_t *t1 = s_named(json_object_get(j, "by_territory"), "T-1");
    assert_int_equal(json_integer_value(json_object_get(t1, "submitted")), TP_KPI_MAX_LABELS + 5);
    assert_int_equal(json_integer_value(json_object_get(t1, "complete")),
                     (TP_KPI_MAX_LABELS + 5) / 2);
    json_t *calls = json_object_get(j, "calls");
    assert_int_equal(json_integer_value(json_object_get(calls, "submitted")),
                     TP_KPI_MAX_LABELS + 5);
    json_decref(j);
    /* No territory: "_none". */
    TP_CALL(k->f, .event_id = "nt", .at_ms = D0, .call_id = "nt", .status = SUBMITTED,
            .call_at_ms = D0, .fields = ALL);
    assert_int_equal(tp_kpi_to_json(k->kpi, &j), 0);
    json_t *none = s_named(json_object_get(j, "by_territory"), "_none");
    assert_non_null(none);
    assert_int_equal(json_integer_value(json_object_get(none, "submitted")), 1);
    json_decref(j);
    kfx_free(k);
}

static void s_rep_call(kfx_t *k, const char *eid, int64_t at, const char *call_id, const char *rep,
                       unsigned fields) {
    TP_CALL(k->f, .event_id = eid, .at_ms = at, .call_id = call_id, .rep_id = rep,
            .status = SUBMITTED, .channel = IN_PERSON, .fields = fields | TP_FIELD_TERRITORY);
}

static json_t *s_find(json_t *a, const char *key, const char *value) {
    size_t  i;
    json_t *o;
    json_array_foreach(a, i, o) {
        if (strcmp(json_string_value(json_object_get(o, key)), value) == 0)
            return o;
    }
    fail_msg("no %s \"%s\"", key, value);
    return NULL;
}

static void s_summary_is(json_t *o, int count, double median, double p90) {
    assert_int_equal(json_integer_value(json_object_get(o, "count")), count);
    assert_float_equal(json_real_value(json_object_get(o, "median_seconds")), median, 0.1);
    assert_float_equal(json_real_value(json_object_get(o, "p90_seconds")), p90, 0.1);
}

/* Time to resolution (RESOLVED minus FIRING, the event clock) in the
 * histogram and per rule / territory / rep summaries; the open alert's age
 * when collected. Calls open 600 s (REP-1), 7,200 s (REP-1), 90,000 s (REP-2). */
static void test_resolution(void **state) {
    (void)state;
    char  *yaml = tp_fixture_only_yaml("clock: event\n", "call_incomplete", NULL);
    kfx_t *k = kfx_new(yaml);
    free(yaml);
    s_rep_call(k, "c1", D0, "C1", "REP-1", 0);
    s_rep_call(k, "c2", D0 + TP_H, "C2", "REP-2", 0);
    s_rep_call(k, "c1fix", D0 + 2 * TP_H, "C1", "REP-1", ALL);
    s_rep_call(k, "c3", D0 + 3 * TP_H, "C3", "REP-1", 0);
    s_rep_call(k, "c3fix", D0 + 3 * TP_H + 600000, "C3", "REP-1", ALL);
    s_rep_call(k, "c2fix", D0 + 26 * TP_H, "C2", "REP-2", ALL);
    s_rep_call(k, "c4", D0 + 27 * TP_H, "C4", "REP-2", 0);
    assert_int_equal(tp_fixture_watermark(k->f, D0 + 27 * TP_H + 8 * TP_D), TP_ACCEPTED);
    kfx_feed(k);
    assert_int_equal(k->fed, 7); /* 4 FIRING, 3 RESOLVED */
    tp_kpi_collect(k->kpi, k->f->engine, tp_clock_now(tp_engine_clock(k->f->engine)));

    const char *h = "touchpointd_alert_resolution_seconds";
    char        line[256];
    static const struct {
        const char *le;
        int         n;
    } want[] = { { "60", 0 },    { "300", 0 },    { "900", 1 },     { "3600", 1 }, { "14400", 2 },
                 { "86400", 2 }, { "172800", 3 }, { "2592000", 3 }, { "+Inf", 3 } };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line,
                 "%s_bucket{kind=\"accountability\",rule=\"call_incomplete\",le=\"%s\"} %d", h,
                 want[i].le, want[i].n);
        s_has(k, line);
    }
    snprintf(line, sizeof line, "%s_sum{kind=\"accountability\",rule=\"call_incomplete\"} 97800",
             h);
    s_has(k, line);
    s_has(k, "touchpointd_alerts_open_older_than{rule=\"call_incomplete\",age=\"1d\"} 1");
    s_has(k, "touchpointd_alerts_open_older_than{rule=\"call_incomplete\",age=\"7d\"} 1");
    s_has(k, "touchpointd_alerts_open_older_than{rule=\"call_incomplete\",age=\"30d\"} 0");

    /* Medians: the geometric middle of the sqrt(2)-wide bucket holding the
     * rank: 600 s -> 60*2^(13/4), 7,200 s -> 60*2^(27/4), 90,000 s -> 60*2^(43/4). */
    json_t *doc = NULL;
    assert_int_equal(tp_kpi_to_json(k->kpi, &doc), 0);
    json_t *r = s_find(json_object_get(doc, "resolution"), "rule", "call_incomplete");
    assert_string_equal(json_string_value(json_object_get(r, "kind")), "accountability");
    s_summary_is(r, 3, 6458.1, 103329.4);
    s_summary_is(s_find(json_object_get(r, "by_territory"), "name", "T-1"), 3, 6458.1, 103329.4);
    s_summary_is(s_find(json_object_get(r, "by_rep"), "name", "REP-1"), 2, 570.8, 6458.1);
    s_summary_is(s_find(json_object_get(r, "by_rep"), "name", "REP-2"), 1, 103329.4, 103329.4);
    json_decref(doc);
    kfx_free(k);
}

static void s_fb(kfx_t *k, const char *eid, const char *source, const char *hcp, int nps,
                 int effort, const char *contract) {
    tp_test_feedback_t fb = { .event_id = eid,
                              .source = source,
                              .at_ms = D0 + 2 * TP_H,
                              .hcp_id = hcp,
                              .subject_type = contract ? "contract" : NULL,
                              .subject_id = contract,
                              .nps = nps,
                              .effort = effort };
    assert_int_equal(tp_fixture_feedback(k->f, &fb), TP_ACCEPTED);
}

static void s_score_is(json_t *o, double nps, double effort, int answers) {
    assert_float_equal(json_real_value(json_object_get(o, "nps")), nps, 0.001);
    assert_float_equal(json_real_value(json_object_get(o, "effort_mean")), effort, 0.001);
    assert_int_equal(json_integer_value(json_object_get(o, "answers")), answers);
}

/* NPS and mean effort on each tool's scale: "survey" is not configured
 * (detractor <= 6, effort 1..7 high = hard); "tool5" says detractor <= 4
 * and effort 1..5 with 1 = hard (1 -> 7, 5 -> 1 on the common scale).
 * HCP-A's call is in T-1; HCP-B has no call; K-1 is an advisory board. */
static void test_nps_effort(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\n"
                       "feedback_sources: { tool5: { nps_max: 4, effort_scale: 5, "
                       "effort_high_is_hard: false, effort_threshold: 2 } }\n");
    s_has(k, "touchpointd_nps{territory=\"\",contract_type=\"\"} NaN");
    TP_CALL(k->f, .event_id = "c1", .at_ms = D0, .call_id = "C1", .hcp_id = "HCP-A",
            .status = SUBMITTED, .fields = ALL | TP_FIELD_TERRITORY);
    s_step(k, "s1", D0 + TP_H, "K-1", ADVISORY, "legal", STARTED, false);
    s_fb(k, "f1", "survey", "HCP-A", 10, 2, NULL); /* promoter, effort 2 */
    s_fb(k, "f2", "survey", "HCP-A", 6, -1, NULL); /* detractor */
    s_fb(k, "f3", "tool5", "HCP-B", 9, 1, NULL);   /* promoter, effort 7 */
    s_fb(k, "f4", "tool5", "HCP-B", 4, 5, "K-1");  /* detractor, effort 1 */
    s_fb(k, "f5", "survey", "HCP-A", 9, 4, "K-1"); /* promoter, effort 4 */
    s_fb(k, "f6", "tool5", "HCP-B", 5, 6, NULL);   /* passive; effort off its scale */

    /* Overall: 3 promoters, 2 detractors of 6; effort (2 + 7 + 1 + 4) / 4. */
    s_has(k, "touchpointd_nps{territory=\"\",contract_type=\"\"} 16.6666666666667");
    s_has(k, "touchpointd_effort_score_mean{territory=\"\",contract_type=\"\"} 3.5");
    s_has(k, "touchpointd_nps{territory=\"\",contract_type=\"ADVISORY_BOARD\"} 0");
    s_has(k, "touchpointd_effort_score_mean{territory=\"\",contract_type=\"ADVISORY_BOARD\"} "
             "2.5");
    s_has(k, "touchpointd_effort_score_mean{territory=\"T-1\",contract_type=\"\"} 3");
    json_t *doc = NULL;
    assert_int_equal(tp_kpi_to_json(k->kpi, &doc), 0);
    json_t *fb = json_object_get(doc, "feedback");
    s_score_is(fb, 100.0 / 6, 3.5, 6);
    s_score_is(s_find(json_object_get(fb, "by_territory"), "name", "T-1"), 100.0 / 3, 3, 3);
    s_score_is(s_find(json_object_get(fb, "by_contract_type"), "name", "ADVISORY_BOARD"), 0, 2.5,
               2);
    assert_int_equal(json_array_size(json_object_get(fb, "by_territory")), 1);
    json_decref(doc);
    kfx_free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_kpis),
        cmocka_unit_test(test_contract_histograms),
        cmocka_unit_test(test_received_by_source_interleaved),
        cmocka_unit_test(test_labels_bounded),
        cmocka_unit_test(test_json_by_rep_bounded),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_nps_effort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
