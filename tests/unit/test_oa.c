/* test_oa — the open-addressing index finds exactly what is in it.
 *
 * Items are put and removed at random under hashes from a small range, so
 * runs collide, wrap around the end of the table and cross the growth
 * points; after every step each item held must be found under its hash
 * (backward-shift deletion moved nothing out of reach) and no removed one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tp_oa.h"
#include "tp_testutil.h"

#define ITEMS 300

static uint64_t s_rng = 0x2545F4914F6CDD1DULL;

static uint64_t s_next(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static bool s_found(const tp_oa_t *ix, uint64_t h, const void *item) {
    for (tp_oa_slot_t *s = tp_oa_first(ix, h); s; s = tp_oa_next(ix, s, h))
        if (s->item == item)
            return true;
    return false;
}

static void test_random_churn(void **state) {
    (void)state;
    int      items[ITEMS];
    uint64_t hash[ITEMS];
    bool     in[ITEMS] = { false };
    size_t   n = 0;
    tp_oa_t  ix = { 0 };
    for (int step = 0; step < 20000; step++) {
        size_t i = s_next() % ITEMS;
        if (in[i]) {
            tp_oa_remove_item(&ix, hash[i], &items[i]);
            in[i] = false;
            n--;
        } else {
            /* Few distinct hashes, and high bits set: collisions and the
             * table's last slots. */
            hash[i] = (s_next() % 40) | (step % 3 == 0 ? ~(uint64_t)63 : 0);
            assert_int_equal(tp_oa_put(&ix, hash[i], &items[i]), 0);
            in[i] = true;
            n++;
        }
        assert_int_equal(ix.n, n);
        if (step % 50 == 0 || n < 10)
            for (size_t k = 0; k < ITEMS; k++)
                assert_int_equal(s_found(&ix, hash[k], &items[k]), in[k]);
    }
    tp_oa_clear(&ix);
    assert_int_equal(ix.n, 0);
    assert_null(tp_oa_first(&ix, 1));
}

TP_TEST_MAIN(cmocka_unit_test(test_random_churn))
