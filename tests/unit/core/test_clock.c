/* test_clock — the two clocks and the time formats used in evidence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tp_clock.h"
#include "tp_testutil.h"

static int64_t s_fake(void *ctx) {
    return *(int64_t *)ctx;
}

static void test_event_clock_never_goes_back(void **state) {
    (void)state;
    tp_clock_t c;
    tp_clock_init(&c, TP_CLOCK_EVENT);
    assert_int_equal(tp_clock_now(&c), 0);
    tp_clock_observe(&c, 5000);
    tp_clock_observe(&c, 3000);
    assert_int_equal(tp_clock_now(&c), 5000);
}

static void test_wall_clock_is_injectable(void **state) {
    (void)state;
    int64_t    now = 1234;
    tp_clock_t c;
    tp_clock_init(&c, TP_CLOCK_WALL);
    tp_clock_set_wall(&c, s_fake, &now);
    tp_clock_observe(&c, 999999); /* events do not move wall time */
    assert_int_equal(tp_clock_now(&c), 1234);
    tp_clock_set_wall(&c, NULL, NULL);
    assert_true(tp_clock_now(&c) > 1700000000000LL);
}

static void test_formats(void **state) {
    (void)state;
    char b[32];
    assert_string_equal(tp_format_time(1767225600000LL, b, sizeof b), "2026-01-01T00:00:00Z");
    assert_string_equal(tp_format_time(1767225600250LL, b, sizeof b), "2026-01-01T00:00:00.250Z");
    assert_string_equal(tp_format_duration(0, b, sizeof b), "0s");
    assert_string_equal(tp_format_duration(250, b, sizeof b), "250ms");
    assert_string_equal(tp_format_duration(1, b, sizeof b), "1ms");
    assert_string_equal(tp_format_duration(90000, b, sizeof b), "1m30s");
    assert_string_equal(tp_format_duration(48 * 3600000LL, b, sizeof b), "2d");
    assert_string_equal(tp_format_duration(10 * 86400000LL + 1, b, sizeof b), "10d");
    assert_string_equal(tp_format_duration(86400000LL + 3600000LL + 1500, b, sizeof b), "1d1h1s");
    assert_string_equal(tp_format_duration(-5000, b, sizeof b), "-5s");
}

/* What tp_format_time printed with gmtime_r and strftime, before it
 * formatted the date itself. */
static void s_reference(int64_t ms, char *buf, size_t len) {
    time_t    secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int       frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    assert_non_null(gmtime_r(&secs, &tm));
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(buf + n, len - n, ".%03dZ", frac);
    else
        snprintf(buf + n, len - n, "Z");
}

/* The same text as libc for every day of years 1000..9999 (at a varying
 * time of day), around leap days and centuries, and before 1970. */
static void test_format_time_matches_libc(void **state) {
    (void)state;
    char    got[32], want[32];
    int64_t from = -30610224000000LL; /* 1000-01-01 */
    int64_t to = 253402300799999LL;   /* 9999-12-31T23:59:59.999 */
    int64_t step = 86400000LL + 3723004LL;
    for (int64_t ms = from; ms <= to; ms += step) {
        s_reference(ms, want, sizeof want);
        assert_string_equal(tp_format_time(ms, got, sizeof got), want);
    }
    const int64_t edges[] = { 0,
                              -1,
                              -1000,
                              951782400000LL,  /* 2000-02-29 */
                              4107456000000LL, /* 2100-03-01 */
                              -2203891200001LL,
                              to,
                              from };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        s_reference(edges[i], want, sizeof want);
        assert_string_equal(tp_format_time(edges[i], got, sizeof got), want);
    }
}

TP_TEST_MAIN(cmocka_unit_test(test_event_clock_never_goes_back),
             cmocka_unit_test(test_wall_clock_is_injectable), cmocka_unit_test(test_formats),
             cmocka_unit_test(test_format_time_matches_libc))
