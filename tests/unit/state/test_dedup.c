/* test_dedup — the bounded idempotency window. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_dedup.h"
#include "tp_testutil.h"

static int s_check(tp_dedup_t *d, const char *id) {
    return tp_dedup_check(d, id, strlen(id));
}

static void test_new_then_duplicate(void **state) {
    (void)state;
    tp_dedup_t *d;
    assert_int_equal(tp_dedup_new(8, &d), 0);
    assert_int_equal(s_check(d, "a"), 0);
    assert_int_equal(s_check(d, "a"), 1);
    assert_int_equal(s_check(d, "ab"), 0);
    assert_int_equal(tp_dedup_size(d), 2);
    tp_dedup_destroy(&d);
}

static void test_oldest_is_forgotten_first(void **state) {
    (void)state;
    tp_dedup_t *d;
    assert_int_equal(tp_dedup_new(3, &d), 0);
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        assert_int_equal(s_check(d, id), 0);
        assert_true(tp_dedup_size(d) <= 3);
        /* The last three are remembered, the fourth-last is not. */
        if (i >= 3) {
            snprintf(id, sizeof id, "id-%d", i - 2);
            assert_int_equal(s_check(d, id), 1);
        }
    }
    assert_int_equal(s_check(d, "id-996"), 0); /* evicted: new again */
    tp_dedup_destroy(&d);
}

static void test_zero_capacity_is_refused(void **state) {
    (void)state;
    tp_dedup_t *d = NULL;
    assert_int_equal(tp_dedup_new(0, &d), -EINVAL);
    assert_null(d);
}

TP_TEST_MAIN(cmocka_unit_test(test_new_then_duplicate),
             cmocka_unit_test(test_oldest_is_forgotten_first),
             cmocka_unit_test(test_zero_capacity_is_refused))
