/* test_seq — per-source sequence gap detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tp_seq.h"
#include "tp_testutil.h"

static void test_in_order_gap_regression_restart(void **state) {
    (void)state;
    tp_seq_t *s;
    assert_int_equal(tp_seq_new(4, &s), 0);
    uint64_t missing;
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 41, &missing), TP_SEQ_OK); /* first seen */
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 42, &missing), TP_SEQ_OK);
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 50, &missing), TP_SEQ_GAP);
    assert_int_equal(missing, 7);
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 45, &missing), TP_SEQ_REGRESSION);
    assert_int_equal(missing, 0);
    assert_int_equal(tp_seq_last(s, "veeva-eu"), 50);
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 50, NULL), TP_SEQ_REGRESSION);
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 1, NULL), TP_SEQ_RESTART);
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 2, NULL), TP_SEQ_OK);
    /* Sources are independent. */
    assert_int_equal(tp_seq_observe(s, "veeva-us", 7, NULL), TP_SEQ_OK);
    assert_int_equal(tp_seq_observe(s, "veeva-eu", 3, NULL), TP_SEQ_OK);
    tp_seq_destroy(&s);
}

static void test_unsequenced_and_limit(void **state) {
    (void)state;
    tp_seq_t *s;
    assert_int_equal(tp_seq_new(2, &s), 0);
    assert_int_equal(tp_seq_observe(s, "a", 0, NULL), TP_SEQ_UNSEQUENCED);
    assert_int_equal(tp_seq_sources(s), 0);
    assert_int_equal(tp_seq_observe(s, "a", 1, NULL), TP_SEQ_OK);
    assert_int_equal(tp_seq_observe(s, "b", 1, NULL), TP_SEQ_OK);
    assert_int_equal(tp_seq_observe(s, "c", 1, NULL), TP_SEQ_FULL);
    assert_int_equal(tp_seq_sources(s), 2);
    assert_int_equal(tp_seq_observe(s, "a", 2, NULL), TP_SEQ_OK); /* known ones still tracked */
    tp_seq_destroy(&s);
}

TP_TEST_MAIN(cmocka_unit_test(test_in_order_gap_regression_restart),
             cmocka_unit_test(test_unsequenced_and_limit))
