/* test_decode — tp_decode_envelope builds what protobuf-c builds.
 *
 * For ordinary Envelopes of every payload (repeated fields, empty strings,
 * negative and large values, oneof scores) the fast decoder must succeed,
 * and for those and thousands of mutations of them (truncations, changed
 * bytes, junk), whenever it succeeds protobuf-c must succeed too and the
 * two messages must pack to the same bytes. When it gives up it must have
 * freed what it built; what it builds, free_unpacked frees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_config.h"
#include "tp_decode.h"
#include "tp_testmsg.h"

static int64_t s_live; /* allocations through s_alloc not yet freed */

static void *s_malloc(void *ctx, size_t n) {
    (void)ctx;
    s_live++;
    return malloc(n);
}

static void s_free(void *ctx, void *p) {
    (void)ctx;
    s_live -= p != NULL;
    free(p);
}

static ProtobufCAllocator s_alloc = { s_malloc, s_free, NULL };

static uint64_t s_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t s_next(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Decodes buf both ways; returns whether the fast decoder took it. */
static bool s_compare(const uint8_t *buf, size_t len) {
    Touchpoint__V1__Envelope *fast = tp_decode_envelope(&s_alloc, len, buf);
    if (!fast) {
        assert_int_equal(s_live, 0);
        return false;
    }
    Touchpoint__V1__Envelope *ref = touchpoint__v1__envelope__unpack(NULL, len, buf);
    assert_non_null(ref);
    assert_int_equal(fast->payload_case, ref->payload_case);
    size_t n = touchpoint__v1__envelope__get_packed_size(ref);
    assert_int_equal(touchpoint__v1__envelope__get_packed_size(fast), n);
    uint8_t *a = malloc(n + 1), *b = malloc(n + 1);
    touchpoint__v1__envelope__pack(ref, a);
    touchpoint__v1__envelope__pack(fast, b);
    assert_memory_equal(a, b, n);
    free(a);
    free(b);
    if (ref->payload_case == TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK) {
        assert_int_equal(fast->feedback->nps_value_case, ref->feedback->nps_value_case);
        assert_int_equal(fast->feedback->effort_score_value_case,
                         ref->feedback->effort_score_value_case);
    }
    touchpoint__v1__envelope__free_unpacked(ref, NULL);
    touchpoint__v1__envelope__free_unpacked(fast, &s_alloc);
    assert_int_equal(s_live, 0);
    return true;
}

/* Ordinary envelopes of every payload, packed (caller frees each). */
static size_t s_samples(uint8_t *bufs[], size_t lens[]) {
    size_t n = 0;
    for (unsigned fields = 0; fields < 128; fields += 9) {
        lens[n] = tp_test_pack_call(&(tp_test_call_t){ .event_id = "e-1",
                                                       .sequence = fields * 1000003ULL,
                                                       .at_ms = 1767225600000LL,
                                                       .call_id = "C-1",
                                                       .status = (int)(fields % 5),
                                                       .channel = (int)(fields % 7),
                                                       .call_at_ms = -5 + (int64_t)fields,
                                                       .submitted_at_ms = -1,
                                                       .fields = fields },
                                    &bufs[n]);
        n++;
    }
    lens[n] = tp_test_pack_step(&(tp_test_step_t){ .event_id = "s-1",
                                                   .at_ms = 1,
                                                   .contract_id = "K-1",
                                                   .step = "FMV_REVIEW",
                                                   .state = 2,
                                                   .hcp_action = true,
                                                   .case_closed = true },
                                &bufs[n]);
    n++;
    lens[n] = tp_test_pack_step(&(tp_test_step_t){ .event_id = "s-2", .step = "X" }, &bufs[n]);
    n++;
    for (int nps = -1; nps <= 10; nps += 3)
        for (int effort = -1; effort <= 7; effort += 4) {
            lens[n] = tp_test_pack_feedback(&(tp_test_feedback_t){ .event_id = "f-1",
                                                                   .at_ms = INT64_MAX,
                                                                   .subject_type = "call",
                                                                   .subject_id = "C-1",
                                                                   .nps = nps,
                                                                   .effort = effort,
                                                                   .preferred_channel = 3,
                                                                   .comment = "ça va" },
                                            &bufs[n]);
            n++;
        }
    lens[n] = tp_test_pack_watermark("w-1", 1767225600000LL, &bufs[n]);
    n++;
    lens[n] = tp_test_pack_watermark("w-0", 0, &bufs[n]);
    n++;
    return n;
}

static void test_ordinary_envelopes_same_as_protobuf_c(void **state) {
    (void)state;
    uint8_t *bufs[64];
    size_t   lens[64];
    size_t   n = s_samples(bufs, lens);
    for (size_t i = 0; i < n; i++) {
        assert_true(s_compare(bufs[i], lens[i])); /* the fast path takes them all */
        free(bufs[i]);
    }
}

static void test_mutations_same_as_protobuf_c(void **state) {
    (void)state;
    uint8_t *bufs[64];
    size_t   lens[64];
    size_t   n = s_samples(bufs, lens), taken = 0, tried = 0;
    uint8_t  m[1024];
    for (size_t i = 0; i < n; i++) {
        for (size_t cut = 0; cut < lens[i]; cut++, tried++)
            taken += s_compare(bufs[i], cut);
        for (int k = 0; k < 400; k++, tried++) {
            size_t len = lens[i];
            memcpy(m, bufs[i], len);
            for (int flips = 1 + (int)(s_next() % 3); flips > 0; flips--)
                m[s_next() % len] = (uint8_t)s_next();
            taken += s_compare(m, len);
        }
        free(bufs[i]);
    }
    for (int k = 0; k < 2000; k++, tried++) {
        size_t len = s_next() % 64;
        for (size_t j = 0; j < len; j++)
            m[j] = (uint8_t)s_next();
        taken += s_compare(m, len);
    }
    /* Both ways: many mutants still decode (so the comparison above ran),
     * many do not (so giving up was exercised). */
    assert_true(taken > 100);
    assert_true(taken < tried);
}

/* Two envelopes back to back are one message to protobuf: fields given
 * twice, sub-messages merged, a second payload replacing the first. */
static void test_concatenations_same_as_protobuf_c(void **state) {
    (void)state;
    uint8_t *bufs[64];
    size_t   lens[64];
    size_t   n = s_samples(bufs, lens);
    uint8_t  m[2048];
    /* Payload-only envelopes: appended, they repeat or switch the payload
     * without repeating event_id. */
    static char               *products[] = { "Cardiozan" };
    Touchpoint__V1__CallLogged call = TOUCHPOINT__V1__CALL_LOGGED__INIT;
    call.status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED;
    call.n_products = 1;
    call.products = products;
    Touchpoint__V1__Feedback fb = TOUCHPOINT__V1__FEEDBACK__INIT;
    fb.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
    fb.nps = 2;
    Touchpoint__V1__Watermark wm = TOUCHPOINT__V1__WATERMARK__INIT;
    wm.now_ms = 7;
    Touchpoint__V1__Envelope frag[3] = { TOUCHPOINT__V1__ENVELOPE__INIT,
                                         TOUCHPOINT__V1__ENVELOPE__INIT,
                                         TOUCHPOINT__V1__ENVELOPE__INIT };
    frag[0].payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    frag[0].call = &call;
    frag[1].payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK;
    frag[1].feedback = &fb;
    frag[2].payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
    frag[2].watermark = &wm;
    for (size_t f = 0; f < 3; f++) {
        lens[n] = tp_test_pack_envelope(&frag[f], &bufs[n]);
        n++;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            memcpy(m, bufs[i], lens[i]);
            memcpy(m + lens[i], bufs[j], lens[j]);
            s_compare(m, lens[i] + lens[j]);
        }
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_envelopes_same_as_protobuf_c),
        cmocka_unit_test(test_mutations_same_as_protobuf_c),
        cmocka_unit_test(test_concatenations_same_as_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
