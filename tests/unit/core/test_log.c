/* test_log — the rate limiter that keeps bad input from flooding the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tp_log.h"
#include "tp_testutil.h"

static void test_burst_then_suppress_then_report(void **state) {
    (void)state;
    tp_ratelimit_t rl = { .interval_ms = 1000, .burst = 3 };
    uint64_t       sup = 99;
    int            passed = 0;
    for (int i = 0; i < 1000000; i++) /* a million bad frames in one window */
        passed += tp_ratelimit_below(&rl, 5000, &sup);
    assert_int_equal(passed, 3);
    assert_int_equal(sup, 0);
    assert_true(tp_ratelimit_below(&rl, 5999 + 1, &sup)); /* next window */
    assert_int_equal(sup, 1000000 - 3);
    assert_true(tp_ratelimit_below(&rl, 6001, &sup));
    assert_int_equal(sup, 0);
}

static void test_window_boundary(void **state) {
    (void)state;
    tp_ratelimit_t rl = { .interval_ms = 100, .burst = 1 };
    assert_true(tp_ratelimit_below(&rl, 1000, NULL));
    assert_false(tp_ratelimit_below(&rl, 1099, NULL)); /* just inside */
    assert_true(tp_ratelimit_below(&rl, 1100, NULL));  /* just past */
    /* A clock that steps back opens a new window rather than muting forever. */
    assert_true(tp_ratelimit_below(&rl, 10, NULL));
}

static void test_log_returns_negative_errno(void **state) {
    (void)state;
    tp_log_set_max_level(TP_LOG_ERR - 1); /* silence */
    assert_int_equal(log_error_errno(5, "x %m"), -5);
    assert_int_equal(log_error_errno(-5, "x %m"), -5);
    assert_int_equal(log_warning("plain"), 0);
    tp_log_set_max_level(TP_LOG_INFO);
}

TP_TEST_MAIN(cmocka_unit_test(test_burst_then_suppress_then_report),
             cmocka_unit_test(test_window_boundary),
             cmocka_unit_test(test_log_returns_negative_errno))
