/* test_json — the proto3 JSON <-> protobuf-c mapping (proto/tp_json.c):
 * round trips of every contract message, both spellings of names, enum and
 * 64-bit forms, oneof presence, maps, and one error per kind of bad input,
 * each naming the field. Runs clean under ASan/LSan and valgrind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tp_json.h"
#include "touchpoint/v1/alert.pb-c.h"
#include "touchpoint/v1/events.pb-c.h"
#include "tp_testutil.h"

#define ENVELOPE (&touchpoint__v1__envelope__descriptor)
#define ALERT    (&touchpoint__v1__alert__descriptor)

/* Parses `text`, failing the test with the reason if it does not parse. */
static ProtobufCMessage *s_parse(const ProtobufCMessageDescriptor *desc, const char *text) {
    char              err[256] = "";
    ProtobufCMessage *msg = NULL;
    int               r = tp_json_parse_message(text, strlen(text), desc, err, sizeof err, &msg);
    if (r != 0)
        print_error("parse failed (%d): %s\n", r, err);
    assert_int_equal(r, 0);
    assert_non_null(msg);
    return msg;
}

/* Parse, dump, compare with the canonical text, parse the dump again and
 * check both messages serialise to the same bytes. */
static void s_roundtrip(const ProtobufCMessageDescriptor *desc, const char *in,
                        const char *canonical) {
    ProtobufCMessage *a = s_parse(desc, in);
    char             *text = tp_json_dumps_message(a);
    assert_non_null(text);
    assert_string_equal(text, canonical);
    ProtobufCMessage *b = s_parse(desc, text);

    size_t na = protobuf_c_message_get_packed_size(a), nb = protobuf_c_message_get_packed_size(b);
    assert_int_equal(na, nb);
    uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
    assert_non_null(pa);
    assert_non_null(pb);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    assert_memory_equal(pa, pb, na);

    /* And through the wire: unpack and print again. */
    ProtobufCMessage *c = protobuf_c_message_unpack(desc, NULL, na, pa);
    assert_non_null(c);
    char *text2 = tp_json_dumps_message(c);
    assert_string_equal(text2, canonical);

    free(text2);
    protobuf_c_message_free_unpacked(c, NULL);
    free(pa);
    free(pb);
    free(text);
    protobuf_c_message_free_unpacked(a, NULL);
    protobuf_c_message_free_unpacked(b, NULL);
}

/* Expects the parse to fail with -EINVAL and `want` inside the reason. */
static void s_expect_error(const ProtobufCMessageDescriptor *desc, const char *in,
                           const char *want) {
    char              err[256] = "";
    ProtobufCMessage *sentinel = (ProtobufCMessage *)(uintptr_t)0x1;
    ProtobufCMessage *msg = sentinel;
    int               r = tp_json_parse_message(in, strlen(in), desc, err, sizeof err, &msg);
    if (r != -EINVAL || !strstr(err, want))
        print_error("input %s\n  got r=%d err \"%s\"\n  want \"%s\"\n", in, r, err, want);
    assert_int_equal(r, -EINVAL);
    assert_ptr_equal(msg, sentinel); /* ret_ untouched on failure */
    assert_non_null(strstr(err, want));
    assert_null(strchr(err, '\n')); /* one line */
}

#define CALL_IN                                                                                \
    "{\"eventId\":\"e-1\",\"source\":\"veeva-eu\",\"sequence\":7,"                             \
    "\"occurredAtMs\":1700000000000,\"call\":{\"callId\":\"C-1\",\"hcpId\":\"H-1\","           \
    "\"repId\":\"R-1\",\"accountId\":\"A-1\",\"territory\":\"T-1\",\"channel\":\"EMAIL\","     \
    "\"status\":\"SUBMITTED\",\"callAtMs\":\"1700000000000\",\"submittedAtMs\":1700000100000," \
    "\"products\":[\"P1\",\"P2\"],\"topics\":[\"efficacy\"],\"notes\":\"ok\","                 \
    "\"nextStep\":\"follow up\",\"attendees\":[\"X\"]}}"
#define CALL_OUT                                                                         \
    "{\"eventId\":\"e-1\",\"source\":\"veeva-eu\",\"sequence\":\"7\","                   \
    "\"occurredAtMs\":\"1700000000000\",\"call\":{\"callId\":\"C-1\",\"hcpId\":\"H-1\"," \
    "\"repId\":\"R-1\",\"accountId\":\"A-1\",\"territory\":\"T-1\","                     \
    "\"channel\":\"CHANNEL_EMAIL\",\"status\":\"CALL_STATUS_SUBMITTED\","                \
    "\"callAtMs\":\"1700000000000\",\"submittedAtMs\":\"1700000100000\","                \
    "\"products\":[\"P1\",\"P2\"],\"topics\":[\"efficacy\"],\"notes\":\"ok\","           \
    "\"nextStep\":\"follow up\",\"attendees\":[\"X\"]}}"

static void test_call_roundtrip(void **state) {
    (void)state;
    s_roundtrip(ENVELOPE, CALL_IN, CALL_OUT);

    Touchpoint__V1__Envelope *env = (Touchpoint__V1__Envelope *)s_parse(ENVELOPE, CALL_IN);
    assert_string_equal(env->event_id, "e-1");
    assert_int_equal(env->sequence, 7);
    assert_int_equal(env->occurred_at_ms, 1700000000000LL);
    assert_int_equal(env->payload_case, TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    assert_int_equal(env->call->channel, TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL);
    assert_int_equal(env->call->status, TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED);
    assert_int_equal(env->call->n_products, 2);
    assert_string_equal(env->call->products[1], "P2");
    assert_string_equal(env->call->next_step, "follow up");
    protobuf_c_message_free_unpacked(&env->base, NULL);
}

static void test_snake_case_and_full_enum_names(void **state) {
    (void)state;
    /* Original proto names, full enum names, shuffled key order: same output. */
    s_roundtrip(ENVELOPE,
                "{\"call\":{\"attendees\":[\"X\"],\"next_step\":\"follow up\",\"notes\":\"ok\","
                "\"topics\":[\"efficacy\"],\"products\":[\"P1\",\"P2\"],"
                "\"submitted_at_ms\":\"1700000100000\",\"call_at_ms\":1700000000000,"
                "\"status\":\"CALL_STATUS_SUBMITTED\",\"channel\":\"CHANNEL_EMAIL\","
                "\"territory\":\"T-1\",\"account_id\":\"A-1\",\"rep_id\":\"R-1\","
                "\"hcp_id\":\"H-1\",\"call_id\":\"C-1\"},\"occurred_at_ms\":\"1700000000000\","
                "\"sequence\":\"7\",\"source\":\"veeva-eu\",\"event_id\":\"e-1\"}",
                CALL_OUT);
}

static void test_contracting_roundtrip(void **state) {
    (void)state;
    s_roundtrip(ENVELOPE,
                "{\"eventId\":\"e-2\",\"contracting\":{\"contractId\":\"K-1\",\"hcpId\":\"H-1\","
                "\"repId\":\"R-1\",\"contractType\":\"ADVISORY_BOARD\",\"step\":\"FMV_REVIEW\","
                "\"state\":\"RETURNED\",\"ownerId\":\"O-1\",\"hcpAction\":true,\"atMs\":5,"
                "\"caseClosed\":false}}",
                "{\"eventId\":\"e-2\",\"contracting\":{\"contractId\":\"K-1\",\"hcpId\":\"H-1\","
                "\"repId\":\"R-1\",\"contractType\":\"CONTRACT_TYPE_ADVISORY_BOARD\","
                "\"step\":\"FMV_REVIEW\",\"state\":\"STEP_STATE_RETURNED\",\"ownerId\":\"O-1\","
                "\"hcpAction\":true,\"atMs\":\"5\"}}");
    /* A payload whose fields are all default is still present. */
    s_roundtrip(ENVELOPE, "{\"contracting\":{}}", "{\"contracting\":{}}");
}

static void test_feedback_oneof_presence(void **state) {
    (void)state;
    /* nps 0 is set (presence), effort_score is absent: only nps is emitted. */
    s_roundtrip(ENVELOPE,
                "{\"feedback\":{\"feedbackId\":\"F-1\",\"hcpId\":\"H-1\",\"subjectType\":\"call\","
                "\"subjectId\":\"C-1\",\"nps\":0,\"comment\":\"meh\","
                "\"preferredChannel\":\"PHONE\",\"atMs\":\"9\"}}",
                "{\"feedback\":{\"feedbackId\":\"F-1\",\"hcpId\":\"H-1\",\"subjectType\":\"call\","
                "\"subjectId\":\"C-1\",\"nps\":0,\"comment\":\"meh\","
                "\"preferredChannel\":\"CHANNEL_PHONE\",\"atMs\":\"9\"}}");
    Touchpoint__V1__Envelope *env =
        (Touchpoint__V1__Envelope *)s_parse(ENVELOPE, "{\"feedback\":{\"effort_score\":\"7\"}}");
    assert_int_equal(env->feedback->nps_value_case, TOUCHPOINT__V1__FEEDBACK__NPS_VALUE__NOT_SET);
    assert_int_equal(env->feedback->effort_score_value_case,
                     TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE);
    assert_int_equal(env->feedback->effort_score, 7);
    protobuf_c_message_free_unpacked(&env->base, NULL);
    /* null means "not set", for oneof members too. */
    s_roundtrip(ENVELOPE, "{\"feedback\":{\"nps\":null,\"effortScore\":0}}",
                "{\"feedback\":{\"effortScore\":0}}");
}

static void test_watermark_and_64bit_forms(void **state) {
    (void)state;
    s_roundtrip(ENVELOPE, "{\"watermark\":{\"nowMs\":1700000000000}}",
                "{\"watermark\":{\"nowMs\":\"1700000000000\"}}");
    s_roundtrip(ENVELOPE, "{\"watermark\":{\"now_ms\":\"-9223372036854775808\"}}",
                "{\"watermark\":{\"nowMs\":\"-9223372036854775808\"}}");
    s_roundtrip(ENVELOPE, "{\"sequence\":\"18446744073709551615\",\"watermark\":{}}",
                "{\"sequence\":\"18446744073709551615\",\"watermark\":{}}");
    /* An integral number in exponent form is an integer. */
    s_roundtrip(ENVELOPE, "{\"occurredAtMs\":1e3}", "{\"occurredAtMs\":\"1000\"}");
}

static void test_defaults_and_nulls(void **state) {
    (void)state;
    s_roundtrip(ENVELOPE, "{}", "{}");
    s_roundtrip(ENVELOPE,
                "{\"eventId\":\"\",\"sequence\":0,\"occurredAtMs\":null,\"call\":{\"products\":[],"
                "\"channel\":\"UNSPECIFIED\",\"status\":0,\"notes\":null}}",
                "{\"call\":{}}");
}

static void test_enum_numbers(void **state) {
    (void)state;
    /* Known numbers print by name; unknown ones (open enums) stay numbers. */
    s_roundtrip(ENVELOPE, "{\"call\":{\"channel\":6,\"status\":42}}",
                "{\"call\":{\"channel\":\"CHANNEL_WEBINAR\",\"status\":42}}");
}

static void test_alert_with_map(void **state) {
    (void)state;
    const char *canonical =
        "{\"alertId\":\"call_incomplete:call/C-1\",\"kind\":\"ALERT_KIND_ACCOUNTABILITY\","
        "\"rule\":\"call_incomplete\",\"status\":\"ALERT_STATUS_FIRING\","
        "\"severity\":\"SEVERITY_WARNING\",\"hcpId\":\"H-1\",\"repId\":\"R-1\","
        "\"accountId\":\"A-1\",\"territory\":\"T-1\",\"callId\":\"C-1\",\"contractId\":\"K-1\","
        "\"step\":\"FMV_REVIEW\",\"summary\":\"Call C-1 lacks \\\"products\\\" and é\","
        "\"evidence\":{\"missing\":\"products,next_step\",\"channel\":\"EMAIL\",\"empty\":\"\"},"
        "\"eventIds\":[\"e-1\",\"e-2\"],\"detectedAtMs\":\"1700000000000\",\"sequence\":\"3\"}";
    s_roundtrip(ALERT,
                "{\"alert_id\":\"call_incomplete:call/C-1\",\"kind\":\"ACCOUNTABILITY\","
                "\"rule\":\"call_incomplete\",\"status\":\"FIRING\",\"severity\":\"WARNING\","
                "\"hcpId\":\"H-1\",\"repId\":\"R-1\",\"accountId\":\"A-1\",\"territory\":\"T-1\","
                "\"callId\":\"C-1\",\"contractId\":\"K-1\",\"step\":\"FMV_REVIEW\","
                "\"summary\":\"Call C-1 lacks \\\"products\\\" and \\u00e9\","
                "\"evidence\":{\"missing\":\"products,next_step\",\"channel\":\"EMAIL\","
                "\"empty\":null},"
                "\"event_ids\":[\"e-1\",\"e-2\"],\"detectedAtMs\":1700000000000,\"sequence\":3}",
                canonical);

    Touchpoint__V1__Alert *a = (Touchpoint__V1__Alert *)s_parse(ALERT, canonical);
    assert_int_equal(a->n_evidence, 3);
    assert_string_equal(a->evidence[0]->key, "missing");
    assert_string_equal(a->evidence[0]->value, "products,next_step");
    assert_int_equal(a->n_event_ids, 2);
    assert_int_equal(a->severity, TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void test_from_message_api(void **state) {
    (void)state;
    /* A message built in C, as the daemon does; invalid UTF-8 from the wire
     * is replaced rather than making the whole alert unprintable. */
    Touchpoint__V1__Alert                 a = TOUCHPOINT__V1__ALERT__INIT;
    Touchpoint__V1__Alert__EvidenceEntry  e = TOUCHPOINT__V1__ALERT__EVIDENCE_ENTRY__INIT;
    Touchpoint__V1__Alert__EvidenceEntry *ev[] = { &e };
    char                                  bad[] = "bad \xff\xc3 end";
    e.key = "k";
    e.value = bad;
    a.evidence = ev;
    a.n_evidence = 1;
    a.kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION;
    a.sequence = 1;
    json_t *obj = tp_json_from_message(&a.base);
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "ALERT_KIND_FRICTION");
    assert_string_equal(json_string_value(json_object_get(obj, "sequence")), "1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "evidence"), "k")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd end");
    json_decref(obj);
    assert_null(tp_json_from_message(NULL));
}

static void test_to_message_api(void **state) {
    (void)state;
    char              err[128];
    ProtobufCMessage *msg = NULL;
    json_t           *obj =
        json_pack("{s:s, s:{s:I}}", "eventId", "e-9", "watermark", "nowMs", (json_int_t)42);
    assert_non_null(obj);
    assert_int_equal(tp_json_to_message(obj, ENVELOPE, err, sizeof err, &msg), 0);
    assert_int_equal(((Touchpoint__V1__Envelope *)msg)->watermark->now_ms, 42);
    protobuf_c_message_free_unpacked(msg, NULL);
    json_decref(obj);

    /* An embedded NUL cannot be a protobuf-c string. */
    obj = json_pack("{s:s%}", "eventId", "a\0b", (size_t)3);
    assert_non_null(obj);
    assert_int_equal(tp_json_to_message(obj, ENVELOPE, err, sizeof err, &msg), -EINVAL);
    assert_string_equal(err, "eventId: string contains a NUL character");
    json_decref(obj);

    /* Not an object; a NULL err buffer is allowed. */
    obj = json_integer(1);
    assert_int_equal(tp_json_to_message(obj, ENVELOPE, NULL, 0, &msg), -EINVAL);
    json_decref(obj);
    assert_int_equal(tp_json_to_message(NULL, ENVELOPE, err, sizeof err, &msg), -EINVAL);
}

static void test_errors_name_the_field(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        { "{\"call\":{\"status\":\"SUBMITED\"}}", "call.status: unknown enum value \"SUBMITED\"" },
        { "{\"call\":{\"foo\":1}}", "call.foo: unknown field" },
        { "{\"eventID\":\"x\"}", "eventID: unknown field" },
        { "{\"eventId\":5}", "eventId: expected a string, got number" },
        { "{\"call\":5}", "call: expected an object, got number" },
        { "{\"call\":{\"products\":\"P1\"}}", "call.products: expected an array, got string" },
        { "{\"call\":{\"products\":[\"P1\",2]}}", "call.products[1]: expected a string" },
        { "{\"call\":{\"topics\":[null]}}", "call.topics[0]: null is not allowed" },
        { "{\"call\":{\"channel\":true}}", "call.channel: expected an enum name or number" },
        { "{\"call\":{\"channel\":\"email\"}}", "call.channel: unknown enum value \"email\"" },
        { "{\"contracting\":{\"hcpAction\":\"yes\"}}",
          "contracting.hcpAction: expected true or false, got string" },
        { "{\"feedback\":{\"nps\":2147483648}}", "feedback.nps: value 2147483648 out of range" },
        { "{\"feedback\":{\"nps\":\"1x\"}}", "feedback.nps: \"1x\" is not a decimal integer" },
        { "{\"sequence\":-1}", "sequence: value -1 out of range [0, 18446744073709551615]" },
        { "{\"sequence\":\"-1\"}", "sequence: value -1 out of range" },
        { "{\"sequence\":\"18446744073709551616\"}",
          "sequence: value 18446744073709551616 out of range" },
        { "{\"occurredAtMs\":\"9223372036854775808\"}",
          "occurredAtMs: value 9223372036854775808 out of range" },
        { "{\"occurredAtMs\":1.5}", "occurredAtMs: 1.5 is not an integer" },
        { "{\"occurredAtMs\":\" 12\"}", "occurredAtMs: \" 12\" is not a decimal integer" },
        { "{\"occurredAtMs\":[]}", "occurredAtMs: expected an integer" },
        { "{\"call\":{},\"watermark\":{}}", "watermark: conflicts with \"call\"" },
        { "{\"feedback\":{\"feedbackId\":\"F\"},\"call\":{\"callId\":\"C\"}}",
          "call: conflicts with \"feedback\"" },
        { "{\"eventId\":\"a\",\"event_id\":\"b\"}", "event_id: field given twice" },
        { "{\"eventId\":\"a\",\"eventId\":\"b\"}", "duplicate object key" },
        { "{\"eventId\": \"a\",}", "invalid JSON at column 17" },
        { "{\"eventId\": \"a\"\n,\n", "invalid JSON at line 3" },
        { "", "invalid JSON at column" },
        { "[1]", "expected a JSON object, got array" },
        { "{\"a\\nb\":1}", "a?b: unknown field" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect_error(ENVELOPE, cases[i].in, cases[i].want);

    s_expect_error(ALERT, "{\"evidence\":{\"missing\":1}}", "evidence.missing: expected a string");
    s_expect_error(ALERT, "{\"evidence\":[\"a\"]}",
                   "evidence: expected an object (map), got array");
    s_expect_error(ALERT, "{\"eventIds\":[\"a\",\"b\",{}]}", "eventIds[2]: expected a string");
    s_expect_error(ALERT, "{\"severity\":\"LOUD\"}", "severity: unknown enum value \"LOUD\"");
}

static void test_parse_not_nul_terminated(void **state) {
    (void)state;
    /* A JSONL line inside a larger buffer: only `len` bytes count. */
    const char        buf[] = "{\"eventId\":\"e-1\"}\n{\"broken";
    ProtobufCMessage *msg = NULL;
    char              err[128];
    assert_int_equal(tp_json_parse_message(buf, 18, ENVELOPE, err, sizeof err, &msg), 0);
    assert_string_equal(((Touchpoint__V1__Envelope *)msg)->event_id, "e-1");
    protobuf_c_message_free_unpacked(msg, NULL);
}

TP_TEST_MAIN(cmocka_unit_test(test_call_roundtrip),
             cmocka_unit_test(test_snake_case_and_full_enum_names),
             cmocka_unit_test(test_contracting_roundtrip),
             cmocka_unit_test(test_feedback_oneof_presence),
             cmocka_unit_test(test_watermark_and_64bit_forms),
             cmocka_unit_test(test_defaults_and_nulls), cmocka_unit_test(test_enum_numbers),
             cmocka_unit_test(test_alert_with_map), cmocka_unit_test(test_from_message_api),
             cmocka_unit_test(test_to_message_api), cmocka_unit_test(test_errors_name_the_field),
             cmocka_unit_test(test_parse_not_nul_terminated))
