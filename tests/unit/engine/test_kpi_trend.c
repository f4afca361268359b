/* test_kpi_trend — the KPIs by ISO week and territory (tp_kpi_trend), with
 * exact values from a three-week stream on the engine fixture (event
 * clock); the retention and group bounds; and the whole KPI state through
 * a snapshot file (tp_kpi_save / tp_kpi_load) answering /v1/kpi, the
 * trends and /metrics exactly as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <errno.h>

#include "tp_kpi_trend.h"
#include "tp_snapio.h"
#include "tp_testkpi.h"
#include "tp_testutil.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define STARTED   TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define ADVISORY  TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ADVISORY_BOARD
#define ALL       (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define TERR      TP_FIELD_TERRITORY
#define W0        (TP_T0 - 3 * TP_D) /* Monday 2025-12-29: the ISO week of 2026-01-01 */
#define W         (7 * TP_D)

static void s_call(kfx_t *k, const char *eid, int64_t at, const char *id, int64_t call_at,
                   unsigned fields) {
    TP_CALL(k->f, .event_id = eid, .at_ms = at, .call_id = id, .status = SUBMITTED,
            .call_at_ms = call_at, .fields = fields);
    kfx_feed(k);
}

static void s_feedback(kfx_t *k, const char *eid, int64_t at, const char *hcp, int nps, int eff) {
    tp_test_feedback_t fb = {
        .event_id = eid, .at_ms = at, .hcp_id = hcp, .nps = nps, .effort = eff
    };
    assert_int_equal(tp_fixture_feedback(k->f, &fb), TP_ACCEPTED);
    kfx_feed(k);
}

static void s_step(kfx_t *k, const char *eid, int64_t at, int state, bool closed) {
    TP_STEP(k->f, .event_id = eid, .at_ms = at, .contract_id = "K-1", .contract_type = ADVISORY,
            .step = "review", .state = state, .case_closed = closed);
    kfx_feed(k);
}

/* Week 0: C1 (T-1) complete, C2 (T-1) incomplete, C3 (no territory)
 * complete. Week 1: C4 (T-1) complete but submitted 49 h after the call;
 * C2 fixed 7 days 2 h after it fired; HCP-1 (T-1, its calls) answers nps
 * 10 effort 2, HCP-Z (no call) nps 3 effort 6. Week 2: contract K-1,
 * opened in week 1, closes 10 days after it opened. */
static void s_stream(kfx_t *k) {
    int64_t d = W0 + 3 * TP_D + 9 * TP_H;
    s_call(k, "c1", d, "C1", d, ALL | TERR);
    s_call(k, "c2", d + TP_H, "C2", d + TP_H, TERR);
    s_call(k, "c3", d + 2 * TP_H, "C3", d + 2 * TP_H, ALL);
    d = W0 + W + 2 * TP_D;
    s_call(k, "c4", d, "C4", d - 49 * TP_H, ALL | TERR);
    s_call(k, "c2fix", W0 + 3 * TP_D + 10 * TP_H + W + 2 * TP_H, "C2", W0 + 3 * TP_D + 10 * TP_H,
           ALL | TERR);
    s_feedback(k, "f1", d + TP_H, "HCP-1", 10, 2);
    s_feedback(k, "f2", d + 2 * TP_H, "HCP-Z", 3, 6);
    s_step(k, "s1", W0 + W + TP_D, STARTED, false);
    s_step(k, "s2", W0 + W + 11 * TP_D, COMPLETED, true);
}

static json_t *s_query(kfx_t *k, const char *metric, const char *by, const char *kind) {
    json_t *j = NULL;
    assert_int_equal(tp_kpi_trend_json(k->kpi, metric, by, kind, &j), 0);
    return j;
}

/* The value of `group` in bucket i (NULL if absent). */
static json_t *s_at(json_t *doc, size_t i, const char *group) {
    json_t *b = json_array_get(json_object_get(doc, "buckets"), i);
    assert_non_null(b);
    return json_object_get(json_object_get(b, "values"), group);
}

static void s_is(json_t *doc, size_t i, const char *group, double want) {
    json_t *v = s_at(doc, i, group);
    if (!json_is_number(v))
        fail_msg("no value for %s in bucket %zu", group, i);
    assert_float_equal(json_number_value(v), want, 1e-9);
}

static void test_weekly_by_territory(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\n");
    s_stream(k);
    json_t *j = s_query(k, "completeness", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "by")), "territory");
    assert_int_equal(json_integer_value(json_object_get(j, "bucket_seconds")), 7 * 86400);
    json_t *buckets = json_object_get(j, "buckets");
    assert_int_equal(json_array_size(buckets), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(buckets, 0), "start")),
                        "2025-12-29T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(json_array_get(buckets, 1), "start")),
                        "2026-01-05T00:00:00Z");
    s_is(j, 0, "T-1", 0.5);
    s_is(j, 0, "_none", 1);
    s_is(j, 1, "T-1", 1);
    assert_null(s_at(j, 1, "_none"));
    assert_null(s_at(j, 2, "T-1")); /* week 2: no call, an empty period */

    char  *csv;
    size_t len;
    assert_int_equal(tp_kpi_trend_csv(j, &csv, &len), 0);
    assert_non_null(strstr(csv, "period_start,group,value,count\r\n"));
    assert_non_null(strstr(csv, "\r\n2025-12-29T00:00:00Z,T-1,0.5,2\r\n"));
    assert_non_null(strstr(csv, "\r\n2026-01-05T00:00:00Z,T-1,1,1\r\n"));
    free(csv);
    json_decref(j);

    j = s_query(k, "late_rate", NULL, NULL);
    s_is(j, 0, "T-1", 0);
    s_is(j, 1, "T-1", 1);
    json_decref(j);
    j = s_query(k, "completeness", "all", NULL);
    s_is(j, 0, "all", 2.0 / 3);
    json_decref(j);

    /* NPS and effort in week 1: HCP-1 counts for T-1, HCP-Z for no territory. */
    j = s_query(k, "nps", NULL, NULL);
    s_is(j, 1, "T-1", 100);
    s_is(j, 1, "_none", -100);
    json_decref(j);
    j = s_query(k, "effort", "all", NULL);
    s_is(j, 1, "all", 4);
    json_decref(j);

    /* C2 open 7 d 2 h = 612,000 s: bucket [60*2^13, 60*2^13.5), middle 60*2^13.25. */
    j = s_query(k, "resolution_median_seconds", NULL, NULL);
    s_is(j, 1, "T-1", 60 * exp2(13.25));
    json_decref(j);
    j = s_query(k, "resolution_median_seconds", "kind", NULL);
    s_is(j, 1, "accountability", 60 * exp2(13.25));
    json_decref(j);
    j = s_query(k, "resolution_median_seconds", NULL, "friction");
    assert_null(s_at(j, 1, "T-1"));
    json_decref(j);

    /* K-1: 10 days = 864,000 s in [60*2^13.5, 60*2^14), filed in week 2. */
    j = s_query(k, "cycle_median_seconds", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "by")), "contract_type");
    s_is(j, 2, "ADVISORY_BOARD", 60 * exp2(13.75));
    json_decref(j);

    assert_int_equal(tp_kpi_trend_json(k->kpi, "bogus", NULL, NULL, &j), -EINVAL);
    assert_int_equal(tp_kpi_trend_json(k->kpi, "nps", "rep", NULL, &j), -EINVAL);
    assert_int_equal(tp_kpi_trend_json(k->kpi, "nps", NULL, "friction", &j), -EINVAL);
    kfx_free(k);
}

/* Two weeks kept: week 0 falls out once week 2 is seen, and a late event
 * for it is dropped; one territory kept apart, the next under "_other". */
static void test_bounds(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\nkpi: { trend_retention: 14d, trend_max_groups: 1 }\n");
    s_stream(k);
    s_call(k, "late0", W0 + 5 * TP_D, "C9", W0 + 5 * TP_D, ALL | TERR);
    json_t *j = s_query(k, "completeness", NULL, NULL);
    json_t *b = json_object_get(j, "buckets");
    assert_int_equal(json_array_size(b), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(b, 0), "start")),
                        "2026-01-05T00:00:00Z");
    json_decref(j);
    j = s_query(k, "nps", NULL, NULL);
    s_is(j, 0, "T-1", 100);
    s_is(j, 0, "_other", -100);
    json_decref(j);
    kfx_free(k);
}

static char *s_render(kfx_t *k) {
    tp_kpi_collect(k->kpi, k->f->engine, tp_clock_now(tp_engine_clock(k->f->engine)));
    char  *text;
    size_t len;
    assert_int_equal(tp_metrics_render(k->m, &text, &len), 0);
    return text;
}

static const char *const s_metrics[] = { "completeness",
                                         "late_rate",
                                         "channel_match",
                                         "nps",
                                         "effort",
                                         "resolution_median_seconds",
                                         "cycle_median_seconds" };

static void s_same(kfx_t *a, tp_kpi_t *b, tp_metrics_t *bm) {
    json_t *ja, *jb;
    assert_int_equal(tp_kpi_to_json(a->kpi, &ja), 0);
    assert_int_equal(tp_kpi_to_json(b, &jb), 0);
    char *ta = json_dumps(ja, JSON_SORT_KEYS), *tb = json_dumps(jb, JSON_SORT_KEYS);
    assert_string_equal(tb, ta);
    free(ta);
    free(tb);
    json_decref(ja);
    json_decref(jb);
    for (size_t i = 0; i < sizeof s_metrics / sizeof *s_metrics; i++) {
        assert_int_equal(tp_kpi_trend_json(a->kpi, s_metrics[i], "all", NULL, &ja), 0);
        assert_int_equal(tp_kpi_trend_json(b, s_metrics[i], "all", NULL, &jb), 0);
        assert_true(json_equal(ja, jb));
        json_decref(ja);
        json_decref(jb);
        assert_int_equal(tp_kpi_trend_json(a->kpi, s_metrics[i], NULL, NULL, &ja), 0);
        assert_int_equal(tp_kpi_trend_json(b, s_metrics[i], NULL, NULL, &jb), 0);
        assert_true(json_equal(ja, jb));
        json_decref(ja);
        json_decref(jb);
    }
    char *ma = s_render(a);
    tp_kpi_collect(b, a->f->engine, tp_clock_now(tp_engine_clock(a->f->engine)));
    char  *mb;
    size_t len;
    assert_int_equal(tp_metrics_render(bm, &mb, &len), 0);
    assert_string_equal(mb, ma);
    free(ma);
    free(mb);
}

/* Both KPIs observe the engine's events. */
static void s_both(void *ctx, const struct tp_event *ev) {
    tp_kpi_t **two = ctx;
    tp_kpi_observe(two[0], ev);
    tp_kpi_observe(two[1], ev);
}

/* Saved and loaded into a new tp_kpi (a new registry), the state answers
 * /v1/kpi, every trend and /metrics byte for byte as the original; and it
 * goes on from there: an alert open at the save is timed by the copy. */
static void test_save_load(void **state) {
    (void)state;
    kfx_t *k = kfx_new("clock: event\n");
    s_stream(k);
    int64_t d = W0 + 2 * W + TP_D;
    s_call(k, "c5", d, "C5", d, TERR); /* fires; fixed after the save */
    tp_snapw_t *w;
    FILE       *snap = tp_test_snap_file(&w);
    int         fd = fileno(snap);
    assert_int_equal(tp_kpi_save(k->kpi, w), 0);
    tp_test_snap_written(&w);

    tp_metrics_t *m2;
    tp_kpi_t     *k2;
    assert_int_equal(tp_metrics_new("touchpointd_", &m2), 0);
    assert_int_equal(tp_kpi_new(k->f->cfg, m2, &k2), 0);
    tp_snapr_t *r = tp_test_snap_reader(snap, 0);
    assert_int_equal(tp_kpi_load(k2, r), 0);
    assert_true(tp_snapr_at_end(r));
    tp_snapr_destroy(&r);
    s_same(k, k2, m2);

    /* C5 fixed: both time it, from the FIRING the copy only knows from the file. */
    tp_kpi_t *two[2] = { k->kpi, k2 };
    tp_engine_set_observer(k->f->engine, s_both, two);
    size_t before = k->f->got.n;
    s_call(k, "c5fix", d + TP_H, "C5", d, ALL | TERR);
    for (size_t i = before; i < k->f->got.n; i++)
        tp_kpi_alert(k2, k->f->got.alerts[i]);
    s_same(k, k2, m2);
    /* Feedback on contract K-1 counts under its type in the copy too: the
     * copy knows K-1 from the file alone. */
    tp_test_feedback_t fb = { .event_id = "f3",
                              .at_ms = d + 2 * TP_H,
                              .hcp_id = "HCP-1",
                              .subject_type = "contract",
                              .subject_id = "K-1",
                              .nps = 2,
                              .effort = -1 };
    assert_int_equal(tp_fixture_feedback(k->f, &fb), TP_ACCEPTED);
    s_same(k, k2, m2);
    tp_engine_set_observer(k->f->engine, tp_kpi_observe, k->kpi);
    tp_kpi_destroy(&k2);
    tp_metrics_destroy(&m2);

    /* A file cut short is refused, not half-loaded into a crash. */
    off_t size = lseek(fd, 0, SEEK_END);
    assert_int_equal(ftruncate(fd, size / 2), 0);
    assert_int_equal(tp_metrics_new("touchpointd_", &m2), 0);
    assert_int_equal(tp_kpi_new(k->f->cfg, m2, &k2), 0);
    r = tp_test_snap_reader(snap, 0);
    assert_true(tp_kpi_load(k2, r) < 0);
    tp_snapr_destroy(&r);
    tp_kpi_destroy(&k2);
    tp_metrics_destroy(&m2);
    fclose(snap);
    kfx_free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weekly_by_territory),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
