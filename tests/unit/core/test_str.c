/* test_str — alert subjects, keys and evidence lists built without printf. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp_str.h"
#include "tp_testutil.h"

static void test_join_and_u64(void **state) {
    (void)state;
    char buf[16], num[21];
    assert_int_equal(TP_STR_JOIN(buf, sizeof buf, "call/", "C-1"), 8);
    assert_string_equal(buf, "call/C-1");
    assert_int_equal(TP_STR_JOIN(buf, 8, "call/", "C-1"), -ENAMETOOLONG); /* no room for NUL */
    assert_string_equal(buf, "");
    assert_string_equal(tp_str_u64(num, 0), "0");
    assert_string_equal(tp_str_u64(num, UINT64_MAX), "18446744073709551615");
}

static void test_list(void **state) {
    (void)state;
    char   buf[12];
    size_t off = 0;
    assert_int_equal(tp_str_list_add(buf, sizeof buf, &off, "MSL-1"), 0);
    assert_string_equal(buf, "MSL-1");
    assert_int_equal(tp_str_list_add(buf, sizeof buf, &off, ""), 0); /* an empty item counts */
    assert_string_equal(buf, "MSL-1,");
    assert_int_equal(tp_str_list_add(buf, sizeof buf, &off, "FMV-2"), -ENOBUFS);
    assert_string_equal(buf, "MSL-1,,FMV-"); /* cut to the 11 bytes there are */
    assert_int_equal(tp_str_list_add(buf, sizeof buf, &off, "X"), -ENOBUFS); /* full now */
    assert_string_equal(buf, "MSL-1,,FMV-");
    /* Exactly full, then nothing more. */
    off = 0;
    assert_int_equal(tp_str_list_add(buf, 6, &off, "MSL-1"), 0);
    assert_int_equal(tp_str_list_add(buf, 6, &off, "A"), -ENOBUFS);
    assert_string_equal(buf, "MSL-1");
    /* Room for the NUL only, or not even that. */
    off = 0;
    buf[0] = 'x';
    assert_int_equal(tp_str_list_add(buf, 1, &off, "A"), -ENOBUFS);
    assert_string_equal(buf, "");
    assert_int_equal(tp_str_list_add(NULL, 0, &off, "A"), -ENOBUFS);
}

/* tp_str_cat and tp_str_int write exactly what snprintf writes, for every
 * buffer size (cut ones included): alerts must stay the same bytes. */
static void test_cat_and_int_match_snprintf(void **state) {
    (void)state;
    char a[64], b[64];
    for (size_t len = 0; len < 40; len++) {
        memset(a, 'x', sizeof a);
        memset(b, 'x', sizeof b);
        int    n = snprintf(a, len, "%s%s%s%s", "HCP ", "H-1", " gave", " (nps 3) on 2026.");
        size_t m = TP_STR_CAT(b, len, "HCP ", "H-1", " gave", " (nps 3) on 2026.");
        assert_int_equal((size_t)n, m);
        assert_memory_equal(a, b, sizeof a);
        const int64_t vals[] = { 0, 7, -7, 10, 123456789, -2147483648LL, INT64_MIN, INT64_MAX };
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            memset(a, 'x', sizeof a);
            memset(b, 'x', sizeof b);
            snprintf(a, len, "%lld", (long long)vals[i]);
            tp_str_int(b, len, vals[i]);
            assert_memory_equal(a, b, sizeof a);
        }
    }
}

TP_TEST_MAIN(cmocka_unit_test(test_join_and_u64), cmocka_unit_test(test_list),
             cmocka_unit_test(test_cat_and_int_match_snprintf))
