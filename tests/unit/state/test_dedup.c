/* test_dedup — the bounded idempotency window: duplicates found exactly
 * (against a reference model, through many evictions), and its snapshot
 * section (round trip, a smaller window keeps the newest, the old version
 * refused). */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Random ids against a model that remembers exactly the last `cap` distinct
 * ids: every answer the same, through many evictions (the table's deletions
 * must keep each remaining key reachable). */
static void test_matches_a_model(void **state) {
    (void)state;
    enum { CAP = 97, IDS = 400, ROUNDS = 200000 };
    tp_dedup_t *d;
    assert_int_equal(tp_dedup_new(CAP, &d), 0);
    int  window[CAP], n = 0, head = 0;
    char id[32];
    srand(7);
    for (int k = 0; k < ROUNDS; k++) {
        int x = rand() % IDS, in = 0;
        for (int i = 0; i < n && !in; i++)
            in = window[(head + i) % CAP] == x;
        snprintf(id, sizeof id, "ev-%d", x);
        assert_int_equal(s_check(d, id), in);
        if (!in) {
            if (n == CAP) {
                head = (head + 1) % CAP;
                n--;
            }
            window[(head + n++) % CAP] = x;
        }
        assert_int_equal(tp_dedup_size(d), (size_t)n);
    }
    tp_dedup_destroy(&d);
}

/* Ids longer than a key, differing only at the end, are told apart. */
static void test_long_ids(void **state) {
    (void)state;
    tp_dedup_t *d;
    assert_int_equal(tp_dedup_new(4, &d), 0);
    char a[300], b[300];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'y';
    assert_int_equal(s_check(d, a), 0);
    assert_int_equal(s_check(d, b), 0);
    assert_int_equal(s_check(d, a), 1);
    assert_int_equal(s_check(d, b), 1);
    tp_dedup_destroy(&d);
}

/* d's section written to a temporary file, rewound for reading. */
static FILE *s_saved(const tp_dedup_t *d) {
    tp_snapw_t *w;
    FILE       *f = tp_test_snap_file(&w);
    tp_dedup_save(d, w);
    tp_test_snap_written(&w);
    return f;
}

static int s_load(FILE *f, tp_dedup_t *d) {
    tp_snapr_t *r = tp_test_snap_reader(f, 0);
    int         k = tp_dedup_load(d, r);
    tp_snapr_destroy(&r);
    return k;
}

/* What loading a hand-made section (version, count, one block) into a
 * window of 8 returns. */
static int s_load_section(uint32_t version, uint64_t count, const char *block, size_t len) {
    tp_snapw_t *w;
    FILE       *f = tp_test_snap_file(&w);
    tp_snapw_section(w, TP_SNAP_TAG('D', 'D', 'U', 'P'), version);
    tp_snapw_u64(w, count);
    tp_snapw_bytes(w, block, len);
    tp_test_snap_written(&w);
    tp_dedup_t *d;
    assert_int_equal(tp_dedup_new(8, &d), 0);
    int k = s_load(f, d);
    fclose(f);
    tp_dedup_destroy(&d);
    return k;
}

/* More ids than a snapshot block, some evicted: a copy of the same size
 * answers as the original; a smaller one keeps the newest. */
static void test_snapshot_round_trip(void **state) {
    (void)state;
    enum { CAP = 10000, IDS = 12345 };
    tp_dedup_t *d, *same, *small;
    char        id[32];
    assert_int_equal(tp_dedup_new(CAP, &d), 0);
    for (int i = 0; i < IDS; i++) {
        snprintf(id, sizeof id, "event-%d", i);
        assert_int_equal(s_check(d, id), 0);
    }
    FILE *f = s_saved(d);
    assert_int_equal(tp_dedup_new(CAP, &same), 0);
    assert_int_equal(tp_dedup_new(10, &small), 0);
    assert_int_equal(s_load(f, same), 0);
    assert_int_equal(s_load(f, small), 0);
    fclose(f);
    assert_int_equal(tp_dedup_size(same), CAP);
    assert_int_equal(tp_dedup_size(small), 10);
    for (int i = IDS - 1; i >= 0; i--) { /* newest first: a check remembers what is new */
        snprintf(id, sizeof id, "event-%d", i);
        assert_int_equal(s_check(same, id), i >= IDS - CAP);
        assert_int_equal(s_check(small, id), i >= IDS - 10);
    }
    tp_dedup_destroy(&d);
    tp_dedup_destroy(&same);
    tp_dedup_destroy(&small);
}

/* A section of version 1 (the ids themselves, before the keys) is refused
 * as another format (-EPROTO): the engine's load fails and the caller
 * takes an older snapshot or replays everything, never a half window. */
static void test_old_version_refused(void **state) {
    (void)state;
    assert_int_equal(s_load_section(1, 1, "e1", 2), -EPROTO);
}

/* A block shorter than the count says is a bad file, not an over-read. */
static void test_short_block_refused(void **state) {
    (void)state;
    assert_int_equal(s_load_section(2, 3, "0123456789abcdef0123456789abcdef", 32), -EBADMSG);
}

TP_TEST_MAIN(cmocka_unit_test(test_new_then_duplicate),
             cmocka_unit_test(test_oldest_is_forgotten_first),
             cmocka_unit_test(test_zero_capacity_is_refused),
             cmocka_unit_test(test_matches_a_model), cmocka_unit_test(test_long_ids),
             cmocka_unit_test(test_snapshot_round_trip), cmocka_unit_test(test_old_version_refused),
             cmocka_unit_test(test_short_block_refused))
