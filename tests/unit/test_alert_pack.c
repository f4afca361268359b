/* test_alert_pack — tp_alert_pack writes the bytes protobuf-c writes.
 *
 * Alerts are published, journaled and replayed as packed bytes, and the
 * same input must give the same bytes. So the fast packer is compared with
 * protobuf_c_message_pack on alerts that exercise every rule of the wire
 * format it relies on: empty and NULL strings left out, lengths whose
 * varint takes 1, 2 and 3 bytes, negative enums (10 bytes), zero, negative
 * and large integers, map entries with an empty key or value, empty
 * repeated strings, no evidence and many entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_alert_pack.h"

typedef Touchpoint__V1__Alert                Alert;
typedef Touchpoint__V1__Alert__EvidenceEntry EvidenceEntry;

static uint64_t s_rng = 88172645463325252ULL;

static uint64_t s_next(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static char s_text[20001];

/* A string of one of the interesting lengths, or NULL when `nullable`. */
static char *s_string(bool nullable) {
    static const size_t lens[] = { 0, 1, 5, 127, 128, 300, 16383, 16384, 20000 };
    unsigned            pick = (unsigned)(s_next() % 10);
    if (pick == 9)
        return nullable ? NULL : s_text + sizeof s_text - 1;
    return s_text + sizeof s_text - 1 - lens[pick];
}

static int64_t s_int(void) {
    static const int64_t v[] = { 0, 1, 127, 128, -1, INT64_MIN, INT64_MAX, 1767225600000LL };
    return v[s_next() % (sizeof v / sizeof v[0])];
}

static void s_check(const Alert *al) {
    size_t want = protobuf_c_message_get_packed_size(&al->base);
    assert_int_equal(tp_alert_pack_size(al), want);
    uint8_t *a = malloc(want + 1), *b = malloc(want + 1);
    assert_int_equal(protobuf_c_message_pack(&al->base, a), want);
    assert_int_equal(tp_alert_pack(al, b), want);
    assert_memory_equal(a, b, want);
    free(a);
    free(b);
}

static void test_descriptor_is_known(void **state) {
    (void)state;
    assert_true(tp_alert_pack_ok());
}

static void test_same_bytes_as_protobuf_c(void **state) {
    (void)state;
    memset(s_text, 'x', sizeof s_text - 1);
    enum { MAX_EV = 70, MAX_IDS = 4 };
    EvidenceEntry  entries[MAX_EV];
    EvidenceEntry *ev[MAX_EV];
    char          *ids[MAX_IDS];
    for (int round = 0; round < 3000; round++) {
        Alert al;
        touchpoint__v1__alert__init(&al);
        al.alert_id = s_string(true);
        al.kind = (Touchpoint__V1__AlertKind)(s_next() % 4) - (round % 50 == 0);
        al.rule = s_string(true);
        al.status = (Touchpoint__V1__AlertStatus)(s_next() % 3);
        al.severity = (Touchpoint__V1__Severity)(int)(s_next() % 4) - (round % 70 == 0 ? 5 : 0);
        al.hcp_id = s_string(true);
        al.rep_id = s_string(true);
        al.account_id = s_string(true);
        al.territory = s_string(true);
        al.call_id = s_string(true);
        al.contract_id = s_string(true);
        al.step = s_string(true);
        al.summary = s_string(true);
        al.n_evidence = round % 7 == 0 ? MAX_EV : (size_t)(s_next() % 12);
        for (size_t i = 0; i < al.n_evidence; i++) {
            touchpoint__v1__alert__evidence_entry__init(&entries[i]);
            entries[i].key = s_string(true);
            entries[i].value = s_string(true);
            ev[i] = &entries[i];
        }
        al.evidence = ev;
        al.n_event_ids = (size_t)(s_next() % (MAX_IDS + 1));
        for (size_t i = 0; i < al.n_event_ids; i++)
            ids[i] = s_string(false); /* protobuf-c cannot pack a NULL one */
        al.event_ids = ids;
        al.detected_at_ms = s_int();
        al.sequence = (uint64_t)s_int();
        s_check(&al);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_is_known),
        cmocka_unit_test(test_same_bytes_as_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
