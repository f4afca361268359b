/* tp_alert_pack — see tp_alert_pack.h. */
#include "tp_alert_pack.h"

#include <string.h>

typedef Touchpoint__V1__Alert                Alert;
typedef Touchpoint__V1__Alert__EvidenceEntry EvidenceEntry;

#define WT_VARINT 0
#define WT_LEN    2

static size_t s_varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *s_varint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static size_t s_tag_size(unsigned field) {
    return s_varint_size((uint64_t)field << 3);
}

static uint8_t *s_tag(uint8_t *p, unsigned field, unsigned wire) {
    return s_varint(p, ((uint64_t)field << 3) | wire);
}

static size_t s_len(const char *s) {
    return s ? strlen(s) : 0;
}

/* A proto3 string field: nothing when empty. */
static size_t s_string_size(unsigned field, size_t len) {
    return len ? s_tag_size(field) + s_varint_size(len) + len : 0;
}

static uint8_t *s_string(uint8_t *p, unsigned field, const char *s, size_t len) {
    if (!len)
        return p;
    p = s_tag(p, field, WT_LEN);
    p = s_varint(p, len);
    memcpy(p, s, len);
    return p + len;
}

/* An enum as protobuf-c writes an int32: a negative one sign-extended to
 * 10 bytes; nothing when 0. */
static uint64_t s_enum_bits(int v) {
    return (uint64_t)(int64_t)v;
}

static size_t s_varint_field_size(unsigned field, uint64_t v) {
    return v ? s_tag_size(field) + s_varint_size(v) : 0;
}

static uint8_t *s_varint_field(uint8_t *p, unsigned field, uint64_t v) {
    if (!v)
        return p;
    return s_varint(s_tag(p, field, WT_VARINT), v);
}

static size_t s_entry_size(const EvidenceEntry *e) {
    return s_string_size(1, s_len(e->key)) + s_string_size(2, s_len(e->value));
}

size_t tp_alert_pack_size(const Alert *al) {
    const char *tail[] = { al->hcp_id,  al->rep_id,      al->account_id, al->territory,
                           al->call_id, al->contract_id, al->step,       al->summary };
    size_t      n = s_string_size(1, s_len(al->alert_id)) + s_string_size(3, s_len(al->rule));
    for (unsigned i = 0; i < sizeof tail / sizeof tail[0]; i++)
        n += s_string_size(6 + i, s_len(tail[i]));
    n += s_varint_field_size(2, s_enum_bits((int)al->kind));
    n += s_varint_field_size(4, s_enum_bits((int)al->status));
    n += s_varint_field_size(5, s_enum_bits((int)al->severity));
    for (size_t i = 0; i < al->n_evidence; i++) {
        size_t e = s_entry_size(al->evidence[i]);
        n += s_tag_size(14) + s_varint_size(e) + e;
    }
    for (size_t i = 0; i < al->n_event_ids; i++) {
        size_t len = s_len(al->event_ids[i]);
        n += s_tag_size(15) + s_varint_size(len) + len;
    }
    n += s_varint_field_size(16, (uint64_t)al->detected_at_ms);
    n += s_varint_field_size(17, al->sequence);
    return n;
}

size_t tp_alert_pack(const Alert *al, uint8_t *out) {
    uint8_t *p = out;
    p = s_string(p, 1, al->alert_id, s_len(al->alert_id));
    p = s_varint_field(p, 2, s_enum_bits((int)al->kind));
    p = s_string(p, 3, al->rule, s_len(al->rule));
    p = s_varint_field(p, 4, s_enum_bits((int)al->status));
    p = s_varint_field(p, 5, s_enum_bits((int)al->severity));
    const char *tail[] = { al->hcp_id,  al->rep_id,      al->account_id, al->territory,
                           al->call_id, al->contract_id, al->step,       al->summary };
    for (unsigned i = 0; i < sizeof tail / sizeof tail[0]; i++)
        p = s_string(p, 6 + i, tail[i], s_len(tail[i]));
    for (size_t i = 0; i < al->n_evidence; i++) {
        const EvidenceEntry *e = al->evidence[i];
        size_t               kl = s_len(e->key), vl = s_len(e->value);
        p = s_tag(p, 14, WT_LEN);
        p = s_varint(p, s_string_size(1, kl) + s_string_size(2, vl));
        p = s_string(p, 1, e->key, kl);
        p = s_string(p, 2, e->value, vl);
    }
    for (size_t i = 0; i < al->n_event_ids; i++) {
        size_t len = s_len(al->event_ids[i]);
        p = s_tag(p, 15, WT_LEN);
        p = s_varint(p, len);
        if (len)
            memcpy(p, al->event_ids[i], len);
        p += len;
    }
    p = s_varint_field(p, 16, (uint64_t)al->detected_at_ms);
    p = s_varint_field(p, 17, al->sequence);
    return (size_t)(p - out);
}

bool tp_alert_pack_ok(void) {
    static const struct {
        unsigned       id;
        ProtobufCType  type;
        ProtobufCLabel label;
    } want[] = {
        { 1, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 2, PROTOBUF_C_TYPE_ENUM, PROTOBUF_C_LABEL_NONE },
        { 3, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 4, PROTOBUF_C_TYPE_ENUM, PROTOBUF_C_LABEL_NONE },
        { 5, PROTOBUF_C_TYPE_ENUM, PROTOBUF_C_LABEL_NONE },
        { 6, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 7, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 8, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 9, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 10, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 11, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 12, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 13, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_NONE },
        { 14, PROTOBUF_C_TYPE_MESSAGE, PROTOBUF_C_LABEL_REPEATED },
        { 15, PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_REPEATED },
        { 16, PROTOBUF_C_TYPE_INT64, PROTOBUF_C_LABEL_NONE },
        { 17, PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_LABEL_NONE },
    };
    const ProtobufCMessageDescriptor *d = &touchpoint__v1__alert__descriptor;
    const ProtobufCMessageDescriptor *e = &touchpoint__v1__alert__evidence_entry__descriptor;
    if (d->n_fields != sizeof want / sizeof want[0] || e->n_fields != 2)
        return false;
    for (size_t i = 0; i < d->n_fields; i++)
        if (d->fields[i].id != want[i].id || d->fields[i].type != want[i].type ||
            d->fields[i].label != want[i].label)
            return false;
    return e->fields[0].id == 1 && e->fields[0].type == PROTOBUF_C_TYPE_STRING &&
           e->fields[0].label == PROTOBUF_C_LABEL_NONE && e->fields[1].id == 2 &&
           e->fields[1].type == PROTOBUF_C_TYPE_STRING &&
           e->fields[1].label == PROTOBUF_C_LABEL_NONE;
}
