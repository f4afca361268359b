/* test_arena — the per-event bump allocator protobuf-c unpacks into. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_arena.h"
#include "tp_contract.h"
#include "tp_testutil.h"

static void test_aligned_and_distinct(void **state) {
    (void)state;
    tp_arena_t *a;
    assert_int_equal(tp_arena_new(256, &a), 0);
    assert_non_null(a);
    ProtobufCAllocator *al = tp_arena_allocator(a);
    char               *p = al->alloc(al->allocator_data, 3), *q = al->alloc(al->allocator_data, 8);
    assert_non_null(p);
    assert_non_null(q);
    assert_true(q >= p + 3);
    assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
    al->free(al->allocator_data, p); /* a no-op: reset frees */
    tp_arena_reset(a);
    assert_ptr_equal(al->alloc(al->allocator_data, 3), p); /* the block is reused */
    tp_arena_destroy(&a);
}

/* More than the block holds: its own chunk, freed at reset (ASan checks). */
static void test_overflow(void **state) {
    (void)state;
    tp_arena_t *a;
    assert_int_equal(tp_arena_new(64, &a), 0);
    ProtobufCAllocator *al = tp_arena_allocator(a);
    for (int i = 0; i < 3; i++) {
        char *big = al->alloc(al->allocator_data, 100000);
        assert_non_null(big);
        memset(big, 'x', 100000);
        tp_arena_reset(a);
    }
    assert_non_null(al->alloc(al->allocator_data, 100000)); /* freed by destroy */
    tp_arena_destroy(&a);
}

/* An Envelope unpacked into the arena is whole, and nothing is freed
 * one by one. */
static void test_unpack(void **state) {
    (void)state;
    Touchpoint__V1__CallLogged c;
    touchpoint__v1__call_logged__init(&c);
    char *products[] = { "Cardiozan", "Nephrolix" };
    c.call_id = "CALL-1";
    c.n_products = 2;
    c.products = products;
    Touchpoint__V1__Envelope e;
    touchpoint__v1__envelope__init(&e);
    e.event_id = "evt-1";
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    e.call = &c;
    uint8_t     buf[256];
    size_t      len = touchpoint__v1__envelope__pack(&e, buf);
    tp_arena_t *a;
    assert_int_equal(tp_arena_new(128, &a), 0); /* small: part of it overflows */
    for (int i = 0; i < 3; i++) {
        Touchpoint__V1__Envelope *got =
            touchpoint__v1__envelope__unpack(tp_arena_allocator(a), len, buf);
        assert_non_null(got);
        assert_string_equal(got->event_id, "evt-1");
        assert_string_equal(got->call->call_id, "CALL-1");
        assert_int_equal(got->call->n_products, 2);
        assert_string_equal(got->call->products[1], "Nephrolix");
        tp_arena_reset(a);
    }
    tp_arena_destroy(&a);
}

TP_TEST_MAIN(cmocka_unit_test(test_aligned_and_distinct), cmocka_unit_test(test_overflow),
             cmocka_unit_test(test_unpack))
