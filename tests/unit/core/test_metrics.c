/* test_metrics — the registry and its Prometheus text and JSON renderings. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_metrics.h"
#include "tp_testutil.h"

static char *s_render(tp_metrics_t *m) {
    char  *text;
    size_t len;
    assert_int_equal(tp_metrics_render(m, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Label values escape \, " and newline; HELP escapes \ and newline only. */
static void test_escaping(void **state) {
    (void)state;
    tp_metrics_t *m;
    assert_int_equal(tp_metrics_new("tp_", &m), 0);
    static const char *const labels[] = { "source", NULL };
    tp_metric_t *f = tp_metrics_add(m, TP_METRIC_COUNTER, "x_total", "a \"help\" \\ with\nnewline",
                                    labels, NULL, 0);
    assert_non_null(f);
    const char *v[] = { "a\"b\\c\nd" };
    assert_int_equal(tp_metric_add(f, v, 2), 0);
    assert_int_equal(tp_metric_add(f, v, 1.5), 0);
    assert_true(tp_metric_value(f, v) == 3.5);
    char *text = s_render(m);
    assert_string_equal(text, "# HELP tp_x_total a \"help\" \\\\ with\\nnewline\n"
                              "# TYPE tp_x_total counter\n"
                              "tp_x_total{source=\"a\\\"b\\\\c\\nd\"} 3.5\n");
    free(text);
    tp_metrics_destroy(&m);
    assert_null(m);
}

/* Cumulative buckets with le last among the labels, +Inf, _sum, _count; a
 * family without labels renders at 0 before anything happened; NaN. */
static void test_histogram_and_gauge(void **state) {
    (void)state;
    tp_metrics_t *m;
    assert_int_equal(tp_metrics_new("tp_", &m), 0);
    static const double      b[] = { 0.001, 1, 3600 };
    static const char *const labels[] = { "type", NULL };
    tp_metric_t *h = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "lag_seconds", "lag", labels, b, 3);
    tp_metric_t *g = tp_metrics_add(m, TP_METRIC_GAUGE, "ratio", "r", NULL, NULL, 0);
    tp_metric_t *n = tp_metrics_add(m, TP_METRIC_GAUGE, "nan", "n", NULL, NULL, 0);
    assert_null(tp_metrics_add(m, TP_METRIC_HISTOGRAM, "bad", "no buckets", NULL, NULL, 0));
    assert_non_null(h);
    const char *t[] = { "A" };
    assert_int_equal(tp_metric_observe(h, t, 0.0005), 0);
    assert_int_equal(tp_metric_observe(h, t, 1), 0); /* on the bound: in that bucket */
    assert_int_equal(tp_metric_observe(h, t, 7200.25), 0);
    assert_int_equal(tp_metric_observe(g, NULL, 1), -EINVAL);
    tp_metric_set(n, NULL, NAN);
    char *text = s_render(m);
    assert_string_equal(text, "# HELP tp_lag_seconds lag\n"
                              "# TYPE tp_lag_seconds histogram\n"
                              "tp_lag_seconds_bucket{type=\"A\",le=\"0.001\"} 1\n"
                              "tp_lag_seconds_bucket{type=\"A\",le=\"1\"} 2\n"
                              "tp_lag_seconds_bucket{type=\"A\",le=\"3600\"} 2\n"
                              "tp_lag_seconds_bucket{type=\"A\",le=\"+Inf\"} 3\n"
                              "tp_lag_seconds_sum{type=\"A\"} 7201.2505\n"
                              "tp_lag_seconds_count{type=\"A\"} 3\n"
                              "# HELP tp_ratio r\n"
                              "# TYPE tp_ratio gauge\n"
                              "tp_ratio 0\n"
                              "# HELP tp_nan n\n"
                              "# TYPE tp_nan gauge\n"
                              "tp_nan NaN\n");
    free(text);

    /* JSON: cumulative buckets without +Inf (that is count), NaN as null. */
    json_t *j = tp_metrics_to_json(m);
    assert_non_null(j);
    json_t *s = json_array_get(json_object_get(json_object_get(j, "tp_lag_seconds"), "series"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "labels"), "type")),
                        "A");
    assert_int_equal(json_integer_value(json_object_get(s, "count")), 3);
    json_t *b1 = json_array_get(json_object_get(s, "buckets"), 1);
    assert_true(json_real_value(json_object_get(b1, "le")) == 1.0);
    assert_int_equal(json_integer_value(json_object_get(b1, "count")), 2);
    assert_int_equal(json_array_size(json_object_get(s, "buckets")), 3);
    json_t *nan = json_array_get(json_object_get(json_object_get(j, "tp_nan"), "series"), 0);
    assert_true(json_is_null(json_object_get(nan, "value")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "tp_ratio"), "type")),
                        "gauge");
    json_decref(j);
    tp_metrics_destroy(&m);
}

/* A bounded label keeps its first `max` values; the rest share "_other". */
static void test_limit(void **state) {
    (void)state;
    tp_metrics_t *m;
    assert_int_equal(tp_metrics_new("", &m), 0);
    static const char *const labels[] = { "topic", "source", NULL };
    tp_metric_t             *f = tp_metrics_add(m, TP_METRIC_COUNTER, "ev", "e", labels, NULL, 0);
    tp_metric_limit(f, 1, 2);
    const char *a[] = { "t1", "a" }, *b[] = { "t2", "b" }, *c[] = { "t1", "c" },
               *a2[] = { "t2", "a" }, *other[] = { "t1", "_other" };
    tp_metric_add(f, a, 1);
    tp_metric_add(f, b, 1);
    tp_metric_add(f, c, 1);
    tp_metric_add(f, a2, 1);
    tp_metric_add(f, c, 1);
    assert_true(tp_metric_value(f, a) == 1);
    assert_true(tp_metric_value(f, a2) == 1);
    assert_true(tp_metric_value(f, c) == 0);
    assert_true(tp_metric_value(f, other) == 2);
    /* Long values (past the stack key) work the same. */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *l[] = { big, "a" };
    tp_metric_add(f, l, 1);
    tp_metric_add(f, l, 1);
    char *text = s_render(m);
    assert_non_null(strstr(text, "xxx\",source=\"a\"} 2\n"));
    free(text);
    tp_metrics_destroy(&m);
}

TP_TEST_MAIN(cmocka_unit_test(test_escaping), cmocka_unit_test(test_histogram_and_gauge),
             cmocka_unit_test(test_limit))
