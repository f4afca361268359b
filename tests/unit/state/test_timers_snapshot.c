/* test_timers_snapshot — deadlines saved and loaded fire in exactly the
 * order they would have: the same due times, the same arming order among
 * equal due times, keyed deadlines and timers embedded in records alike.
 * A load puts the timers in heap order in one go (tp_timers_load_done),
 * so this is what catches a heap left in file order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_testutil.h"
#include "tp_timers.h"

#define KEYED    3000
#define EMBEDDED 2000

static uint64_t s_rng = 88172645463325252ull;

static uint64_t s_next(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Due times from a small range, so many are equal and only the arming
 * order tells them apart. */
static int64_t s_due(void) {
    return 1000 + (int64_t)(s_next() % 500);
}

typedef struct {
    int64_t  due;
    uint64_t armed;
    char     what[32]; /* the key, or "emb <index>" */
} s_fired_t;

static void s_drain(tp_timers_t *t, const tp_timer_t *emb, s_fired_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        tp_timer_t *tm = tp_timers_pop(t, INT64_MAX);
        assert_non_null(tm);
        out[i].due = tm->due_ms;
        out[i].armed = tm->armed;
        tp_deadline_t *d = tp_deadline_of(tm);
        if (d) {
            snprintf(out[i].what, sizeof out[i].what, "%s", tp_deadline_key(d));
            free(d);
        } else {
            snprintf(out[i].what, sizeof out[i].what, "emb %td", tm - emb);
        }
    }
    assert_null(tp_timers_pop(t, INT64_MAX));
}

static void test_loaded_deadlines_fire_in_the_same_order(void **state) {
    (void)state;
    tp_timers_t *a, *b;
    assert_int_equal(tp_timers_new(&a), 0);
    assert_int_equal(tp_timers_new(&b), 0);
    static tp_timer_t ea[EMBEDDED], eb[EMBEDDED];
    memset(ea, 0, sizeof ea);
    memset(eb, 0, sizeof eb);
    char key[32];
    /* Interleaved, then a third re-armed: arming order is not file order. */
    for (size_t i = 0; i < KEYED; i++) {
        snprintf(key, sizeof key, "call-%zu", i);
        assert_int_equal(tp_timers_arm(a, 1 + (uint32_t)(i % 3), key, s_due()), 0);
        if (i < EMBEDDED)
            assert_int_equal(tp_timers_arm_timer(a, &ea[i], 7, s_due()), 0);
    }
    for (size_t i = 0; i < KEYED; i += 3) {
        snprintf(key, sizeof key, "call-%zu", i);
        assert_int_equal(tp_timers_arm(a, 1 + (uint32_t)(i % 3), key, s_due()), 0);
        if (i < EMBEDDED)
            assert_int_equal(tp_timers_arm_timer(a, &ea[i], 7, s_due()), 0);
    }
    /* Saved as the engine does: the set, then each record's timer. */
    tp_snapw_t *w;
    FILE       *f = tp_test_snap_file(&w);
    tp_timers_save(a, w);
    for (size_t i = 0; i < EMBEDDED; i++)
        tp_timers_save_timer(&ea[i], w);
    tp_test_snap_written(&w);
    tp_snapr_t *r = tp_test_snap_reader(f, 0);
    assert_int_equal(tp_timers_load(b, r), 0);
    for (size_t i = 0; i < EMBEDDED; i++)
        assert_int_equal(tp_timers_load_timer(b, &eb[i], r), 0);
    assert_true(tp_snapr_at_end(r));
    tp_snapr_destroy(&r);
    fclose(f);
    tp_timers_load_done(b);

    assert_int_equal(tp_timers_count(b), tp_timers_count(a));
    assert_int_equal(tp_timers_next(b), tp_timers_next(a));
    /* Arming after the load comes after everything loaded. */
    assert_int_equal(tp_timers_arm(a, 1, "late", 1000), 0);
    assert_int_equal(tp_timers_arm(b, 1, "late", 1000), 0);
    size_t     n = KEYED + EMBEDDED + 1;
    s_fired_t *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    s_drain(a, ea, x, n);
    s_drain(b, eb, y, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(y[i].due, x[i].due);
        assert_int_equal(y[i].armed, x[i].armed);
        assert_string_equal(y[i].what, x[i].what);
    }
    free(x);
    free(y);
    tp_timers_destroy(&a);
    tp_timers_destroy(&b);
}

TP_TEST_MAIN(cmocka_unit_test(test_loaded_deadlines_fire_in_the_same_order))
