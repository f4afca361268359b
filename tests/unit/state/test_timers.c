/* test_timers — the deadline min-heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_timers.h"
#include "tp_testutil.h"

/* The next due keyed deadline (these tests arm keyed ones only, but the
 * embedded test below). */
static tp_deadline_t *s_pop(tp_timers_t *t, int64_t now_ms) {
    tp_timer_t *tm = tp_timers_pop(t, now_ms);
    if (!tm)
        return NULL;
    tp_deadline_t *d = tp_deadline_of(tm);
    assert_non_null(d);
    return d;
}

/* Every test but the embedded one: an empty set of deadlines. What is still
 * armed at the end is freed by the teardown's destroy (LSan checks). */
static int s_setup(void **state) {
    tp_timers_t *t;
    assert_int_equal(tp_timers_new(&t), 0);
    *state = t;
    return 0;
}

static int s_teardown(void **state) {
    tp_timers_t *t = *state;
    tp_timers_destroy(&t);
    return 0;
}

static void test_due_order_and_boundary(void **state) {
    tp_timers_t *t = *state;
    assert_int_equal(tp_timers_next(t), INT64_MAX);
    assert_int_equal(tp_timers_arm(t, 0, "c", 300), 0);
    assert_int_equal(tp_timers_arm(t, 0, "a", 100), 0);
    assert_int_equal(tp_timers_arm(t, 1, "a", 200), 0); /* same key, other owner */
    assert_int_equal(tp_timers_count(t), 3);
    assert_int_equal(tp_timers_next(t), 100);
    assert_null(s_pop(t, 100)); /* due, not yet missed */
    tp_deadline_t *d = s_pop(t, 101);
    assert_non_null(d);
    assert_int_equal(d->timer.owner, 0);
    assert_string_equal(tp_deadline_key(d), "a");
    free(d);
    d = s_pop(t, 1000);
    assert_int_equal(d->timer.owner, 1);
    assert_string_equal(tp_deadline_key(d), "a");
    free(d);
    d = s_pop(t, 1000);
    assert_string_equal(tp_deadline_key(d), "c");
    free(d);
    assert_null(s_pop(t, 1000));
}

static void test_cancel_owner_keeps_the_heap(void **state) {
    tp_timers_t *t = *state;
    /* Interleaved owners and due times, so removals hit every heap level. */
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(tp_timers_arm(t, (uint32_t)(i % 3), key, (i * 7919) % 1000), 0);
    }
    assert_int_equal(tp_timers_cancel_owner(t, 1), 67);
    assert_int_equal(tp_timers_count(t), 133);
    assert_int_equal(tp_timers_due(t, 1, "k1"), INT64_MIN);
    int64_t        last = INT64_MIN;
    size_t         n = 0;
    tp_deadline_t *d;
    while ((d = s_pop(t, INT64_MAX))) {
        assert_int_not_equal(d->timer.owner, 1);
        assert_true(d->timer.due_ms >= last);
        last = d->timer.due_ms;
        free(d);
        n++;
    }
    assert_int_equal(n, 133);
}

static void test_rearm_and_cancel(void **state) {
    tp_timers_t *t = *state;
    tp_timers_arm(t, 0, "x", 500);
    tp_timers_arm(t, 0, "y", 600);
    assert_int_equal(tp_timers_arm(t, 0, "x", 700), 0); /* moved later */
    assert_int_equal(tp_timers_count(t), 2);
    assert_int_equal(tp_timers_next(t), 600);
    assert_int_equal(tp_timers_due(t, 0, "x"), 700);
    assert_int_equal(tp_timers_arm(t, 0, "x", 10), 0); /* moved earlier */
    assert_int_equal(tp_timers_next(t), 10);
    assert_int_equal(tp_timers_cancel(t, 0, "x"), 1);
    assert_int_equal(tp_timers_cancel(t, 0, "x"), 0);
    assert_int_equal(tp_timers_due(t, 0, "x"), INT64_MIN);
    assert_int_equal(tp_timers_next(t), 600);
}

/* Equal due times fire in arming order, whatever else is in the heap. */
static void test_ties_fire_in_arming_order(void **state) {
    tp_timers_t *t = *state;
    char         key[16];
    for (int i = 0; i < 50; i++) { /* unrelated deadlines around them */
        snprintf(key, sizeof key, "x%d", i);
        tp_timers_arm(t, 1, key, 100 + (i % 3) * 50);
    }
    tp_timers_arm(t, 0, "first", 150);
    tp_timers_arm(t, 0, "second", 150);
    tp_timers_arm(t, 0, "third", 90);
    tp_timers_arm(t, 0, "third", 150); /* re-armed: now the last of its equals */
    const char    *order[3];
    size_t         n = 0;
    tp_deadline_t *d;
    while ((d = s_pop(t, 151))) {
        if (d->timer.owner == 0)
            order[n++] = strcmp(tp_deadline_key(d), "first") == 0    ? "first"
                         : strcmp(tp_deadline_key(d), "second") == 0 ? "second"
                                                                     : "third";
        free(d);
    }
    assert_int_equal(n, 3);
    assert_string_equal(order[0], "first");
    assert_string_equal(order[1], "second");
    assert_string_equal(order[2], "third");
}

/* Owners swapped and one dropped (run-time rules in other slots after a
 * restart): each deadline is found, re-armed and cancelled under its new
 * owner, keeps its due time and fires in its arming order. */
static void test_move_owners(void **state) {
    tp_timers_t *t = *state;
    tp_timers_arm(t, 5, "k", 300);   /* the engine's: untouched */
    tp_timers_arm(t, 100, "k", 200); /* -> 101 */
    tp_timers_arm(t, 101, "k", 200); /* -> 100 */
    tp_timers_arm(t, 102, "x", 100); /* dropped */
    tp_timers_arm(t, 101, "y", 200); /* -> 100, armed after 100's k */
    const uint32_t to[3] = { 101, 100, UINT32_MAX };
    assert_int_equal(tp_timers_move_owners(t, 100, 3, to), 1);
    assert_int_equal(tp_timers_count(t), 4);
    assert_true(tp_timers_due(t, 102, "x") == INT64_MIN);
    assert_true(tp_timers_due(t, 5, "k") == 300);
    assert_true(tp_timers_due(t, 101, "y") == INT64_MIN);
    assert_int_equal(tp_timers_arm(t, 100, "y", 200), 0); /* found: moved, not added */
    assert_int_equal(tp_timers_count(t), 4);
    const uint32_t owners[] = { 101, 100, 100 };
    const char    *keys[] = { "k", "k", "y" };
    for (size_t i = 0; i < 3; i++) {
        tp_deadline_t *d = s_pop(t, 250);
        assert_non_null(d);
        assert_int_equal(d->timer.owner, owners[i]);
        assert_string_equal(tp_deadline_key(d), keys[i]);
        free(d);
    }
    assert_null(s_pop(t, 250));
    assert_int_equal(tp_timers_cancel(t, 5, "k"), 1);
}

/* Random arms, moves and cancels against a brute-force model. */
static void test_heap_matches_model(void **state) {
    tp_timers_t *t = *state;
    enum { N = 2000 };
    static int64_t model[N]; /* due per key, INT64_MIN = not armed */
    for (int i = 0; i < N; i++)
        model[i] = INT64_MIN;
    srand(42);
    char key[16];
    for (int step = 0; step < 50000; step++) {
        int k = rand() % N;
        snprintf(key, sizeof key, "k%d", k);
        if (rand() % 4 == 0) {
            assert_int_equal(tp_timers_cancel(t, 7, key), model[k] != INT64_MIN);
            model[k] = INT64_MIN;
        } else {
            int64_t due = rand() % 100000;
            assert_int_equal(tp_timers_arm(t, 7, key, due), 0);
            model[k] = due;
        }
    }
    int64_t last = INT64_MIN;
    size_t  armed = 0;
    for (int i = 0; i < N; i++)
        armed += model[i] != INT64_MIN;
    assert_int_equal(tp_timers_count(t), armed);
    tp_deadline_t *d;
    while ((d = s_pop(t, INT64_MAX))) {
        assert_true(d->timer.due_ms >= last);
        last = d->timer.due_ms;
        int k = (int)strtol(tp_deadline_key(d) + 1, NULL, 10);
        assert_int_equal(model[k], d->timer.due_ms);
        model[k] = INT64_MIN;
        free(d);
        armed--;
    }
    assert_int_equal(armed, 0);
}

/* Embedded timers share the heap and its order with keyed deadlines, move
 * when re-armed, leave it when cancelled (also by owner) and are never
 * freed by the timers (the records own them; LSan/ASan would tell). */
static void test_embedded_timers(void **state) {
    (void)state;
    tp_timers_t *t;
    assert_int_equal(tp_timers_new(&t), 0);
    tp_timer_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *c = calloc(1, sizeof *c);
    assert_int_equal(tp_timer_due(a), 0); /* calloc'd: not armed */
    assert_int_equal(tp_timers_arm(t, 1, "k", 200), 0);
    assert_int_equal(tp_timers_arm_timer(t, a, 7, 100), 0);
    assert_int_equal(tp_timers_arm_timer(t, b, 7, 200), 0); /* ties with "k", armed later */
    assert_int_equal(tp_timers_arm_timer(t, c, 8, 50), 0);
    assert_int_equal(tp_timers_count(t), 4);
    assert_int_equal(tp_timer_due(a), 100);
    assert_int_equal(tp_timers_arm_timer(t, a, 7, 300), 0); /* moved, not added */
    assert_int_equal(tp_timers_count(t), 4);
    tp_timers_cancel_timer(t, c);
    tp_timers_cancel_timer(t, c); /* twice is harmless */
    assert_int_equal(tp_timer_due(c), 0);
    assert_int_equal(tp_timers_count(t), 3);

    tp_timer_t *tm = tp_timers_pop(t, 1000);
    assert_non_null(tp_deadline_of(tm)); /* "k" at 200, armed first */
    assert_string_equal(tp_deadline_key(tp_deadline_of(tm)), "k");
    free(tp_deadline_of(tm));
    tm = tp_timers_pop(t, 1000);
    assert_ptr_equal(tm, b);
    assert_null(tp_deadline_of(tm));
    assert_int_equal(tm->owner, 7);
    assert_int_equal(tp_timer_due(b), 0); /* popped: not armed */
    assert_ptr_equal(tp_timers_pop(t, 1000), a);
    assert_null(tp_timers_pop(t, 1000));

    /* Cancel by owner takes embedded ones out too; destroy leaves the rest. */
    assert_int_equal(tp_timers_arm_timer(t, a, 7, 10), 0);
    assert_int_equal(tp_timers_arm_timer(t, b, 9, 20), 0);
    assert_int_equal(tp_timers_arm(t, 7, "x", 30), 0);
    assert_int_equal(tp_timers_cancel_owner(t, 7), 2);
    assert_int_equal(tp_timer_due(a), 0);
    assert_int_equal(tp_timers_next(t), 20);
    tp_timers_destroy(&t);
    assert_int_equal(tp_timer_due(b), 0);
    free(a);
    free(b);
    free(c);
}

TP_TEST_MAIN(cmocka_unit_test(test_embedded_timers),
             cmocka_unit_test_setup_teardown(test_due_order_and_boundary, s_setup, s_teardown),
             cmocka_unit_test_setup_teardown(test_rearm_and_cancel, s_setup, s_teardown),
             cmocka_unit_test_setup_teardown(test_cancel_owner_keeps_the_heap, s_setup, s_teardown),
             cmocka_unit_test_setup_teardown(test_ties_fire_in_arming_order, s_setup, s_teardown),
             cmocka_unit_test_setup_teardown(test_move_owners, s_setup, s_teardown),
             cmocka_unit_test_setup_teardown(test_heap_matches_model, s_setup, s_teardown))
