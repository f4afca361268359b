/* fuzz_json — the JSON adapter (proto/tp_json*.c) both ways.
 *
 * Each input is tried as
 *   - a JSONL line of an Envelope (what tp-pub reads): if it parses, its
 *     printed form must parse again into the same message (same packed
 *     bytes);
 *   - an alert line as tp-tail prints it ({"topic": ..., Alert members}):
 *     the Alert is built, printed back as a line with its topic, and that
 *     line must give the same Alert again;
 *   - a packed Envelope and a packed Alert off the wire (strings there need
 *     not be UTF-8): if it unpacks, print -> parse -> print must give the
 *     same text, i.e. whatever the printer writes the parser reads back.
 */
#include "tp_fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_json.h"

#define ENVELOPE (&touchpoint__v1__envelope__descriptor)
#define ALERT    (&touchpoint__v1__alert__descriptor)

static void s_check_err(int r, const char *err, size_t errlen) {
    if (r != -EINVAL && r != -ENOMEM)
        tp_fuzz_fail("tp_json returned %d", r);
    if (!memchr(err, '\0', errlen) || strchr(err, '\n') || (r == -EINVAL && !err[0]))
        tp_fuzz_fail("error reason is not one NUL-terminated line: \"%.*s\"", (int)errlen, err);
}

/* Packs a message into a new buffer; *ret_len gets its size. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *ret_len) {
    size_t   n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        tp_fuzz_fail("out of memory");
    protobuf_c_message_pack(m, buf);
    *ret_len = n;
    return buf;
}

static void s_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *what,
                           const char *text) {
    size_t   na, nb;
    uint8_t *pa = s_pack(a, &na), *pb = s_pack(b, &nb);
    if (na != nb || memcmp(pa, pb, na) != 0)
        tp_fuzz_fail("%s: message changed through its JSON \"%s\"", what, text);
    free(pa);
    free(pb);
}

/* A JSONL Envelope: parse, print, parse again. */
static void s_envelope_line(const char *text, size_t len) {
    char              err[256];
    ProtobufCMessage *m = NULL, *m2 = NULL;
    int               r = tp_json_parse_message(text, len, ENVELOPE, err, sizeof err, &m);
    if (r < 0) {
        s_check_err(r, err, sizeof err);
        return;
    }
    char *out = tp_json_dumps_message(m);
    if (!out)
        tp_fuzz_fail("envelope does not print");
    if (tp_json_parse_message(out, strlen(out), ENVELOPE, err, sizeof err, &m2) < 0)
        tp_fuzz_fail("printed envelope does not parse: %s: %s", err, out);
    s_same_message(m, m2, "envelope", out);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(out);
}

/* Builds the Alert of an alert line (its "topic" taken out first). */
static int s_alert_of_line(json_t *line, char *err, size_t errlen, ProtobufCMessage **ret) {
    json_t *copy = json_copy(line);
    if (!copy)
        tp_fuzz_fail("out of memory");
    json_object_del(copy, "topic");
    int r = tp_json_to_message(copy, ALERT, err, errlen, ret);
    json_decref(copy);
    return r;
}

/* An alert line: Alert in, the same line format out, the same Alert back. */
static void s_alert_line(const char *text, size_t len) {
    json_error_t jerr;
    json_t      *line = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(line)) {
        json_decref(line);
        return;
    }
    char              err[256];
    ProtobufCMessage *a = NULL, *a2 = NULL;
    int               r = s_alert_of_line(line, err, sizeof err, &a);
    if (r < 0) {
        s_check_err(r, err, sizeof err);
        json_decref(line);
        return;
    }
    const char *topic = json_is_string(json_object_get(line, "topic"))
                            ? json_string_value(json_object_get(line, "topic"))
                            : "accountability.call_incomplete";
    size_t      topic_len = json_is_string(json_object_get(line, "topic"))
                                ? json_string_length(json_object_get(line, "topic"))
                                : strlen(topic);
    char       *out = NULL;
    r = tp_json_dumps_alert(topic, topic_len, a, &out);
    if (r < 0)
        tp_fuzz_fail("alert does not print: %d", r);
    json_t *back = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
    if (!back)
        tp_fuzz_fail("printed alert line is not JSON: %s: %s", jerr.text, out);
    json_t *t = json_object_get(back, "topic");
    if (!json_is_string(t) || json_string_length(t) != topic_len ||
        memcmp(json_string_value(t), topic, topic_len) != 0)
        tp_fuzz_fail("printed alert line lost its topic: %s", out);
    if (s_alert_of_line(back, err, sizeof err, &a2) < 0)
        tp_fuzz_fail("printed alert does not parse: %s: %s", err, out);
    s_same_message(a, a2, "alert", out);
    protobuf_c_message_free_unpacked(a2, NULL);
    protobuf_c_message_free_unpacked(a, NULL);
    json_decref(back);
    json_decref(line);
    free(out);
}

/* Bytes off the wire: print, parse the print, print again: same text. */
static void s_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size) {
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
    if (!m)
        return;
    char *t1 = tp_json_dumps_message(m);
    if (!t1)
        tp_fuzz_fail("%s off the wire does not print", desc->short_name);
    char              err[256];
    ProtobufCMessage *m2 = NULL;
    if (tp_json_parse_message(t1, strlen(t1), desc, err, sizeof err, &m2) < 0)
        tp_fuzz_fail("printed %s does not parse: %s: %s", desc->short_name, err, t1);
    char *t2 = tp_json_dumps_message(m2);
    if (!t2 || strcmp(t1, t2) != 0)
        tp_fuzz_fail("%s prints differently after a round trip:\n%s\n%s", desc->short_name, t1,
                     t2 ? t2 : "(null)");
    if (desc == ALERT) {
        const Touchpoint__V1__Alert *al = (const Touchpoint__V1__Alert *)m;
        char                        *line = NULL;
        /* The rule comes off the wire: not necessarily UTF-8 (-EILSEQ). */
        int r = tp_json_dumps_alert(al->rule, strlen(al->rule), m, &line);
        if (r < 0 && r != -EILSEQ)
            tp_fuzz_fail("alert line: %d", r);
        free(line);
    }
    free(t2);
    free(t1);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

int tp_fuzz_json(const uint8_t *data, size_t size) {
    s_envelope_line((const char *)data, size);
    s_alert_line((const char *)data, size);
    s_wire(ENVELOPE, data, size);
    s_wire(ALERT, data, size);
    return 0;
}

#ifndef TP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return tp_fuzz_json(data, size);
}
#endif
