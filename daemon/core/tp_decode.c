/* tp_decode — see tp_decode.h. */
#include "tp_decode.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define MAX_FIELD  16 /* field numbers 1..15 of these messages */
#define MAX_REPEAT 16 /* items of one repeated field */

typedef struct {
    const ProtobufCMessageDescriptor *desc;
    const ProtobufCFieldDescriptor   *by_number[MAX_FIELD]; /* NULL: not a field */
} s_table_t;

/* A table per message type, built once (any thread may decode). */
static s_table_t      s_tables[5];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_build(void) {
    const ProtobufCMessageDescriptor *descs[] = { &touchpoint__v1__envelope__descriptor,
                                                  &touchpoint__v1__call_logged__descriptor,
                                                  &touchpoint__v1__contracting_step__descriptor,
                                                  &touchpoint__v1__feedback__descriptor,
                                                  &touchpoint__v1__watermark__descriptor };
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
        for (unsigned f = 0; f < descs[i]->n_fields; f++)
            if (descs[i]->fields[f].id < MAX_FIELD)
                s_tables[i].by_number[descs[i]->fields[f].id] = &descs[i]->fields[f];
        s_tables[i].desc = descs[i];
    }
}

static const s_table_t *s_table(const ProtobufCMessageDescriptor *desc) {
    for (size_t i = 0; i < sizeof s_tables / sizeof s_tables[0]; i++)
        if (s_tables[i].desc == desc)
            return &s_tables[i];
    return NULL;
}

/* A varint of at most `max` bytes at *p (before end) into *v; false if it
 * is longer or malformed, or (10 bytes) carries bits past 64: protobuf-c's
 * limits (5 bytes for a tag or a length, 10 for a value), and no case
 * where it and this would read different values. */
static bool s_varint(const uint8_t **p, const uint8_t *end, unsigned max, uint64_t *v) {
    uint64_t r = 0;
    for (unsigned i = 0; i < max && *p < end; i++) {
        uint8_t b = *(*p)++;
        if (i == 9 && b > 1)
            return false;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

typedef struct {
    const uint8_t *data;
    size_t         len;
} s_slice_t;

static void *s_alloc(ProtobufCAllocator *a, size_t n) {
    return a->alloc(a->allocator_data, n);
}

static char *s_string(ProtobufCAllocator *a, s_slice_t s) {
    char *str = s_alloc(a, s.len + 1);
    if (str) {
        memcpy(str, s.data, s.len);
        str[s.len] = '\0';
    }
    return str;
}

static ProtobufCMessage *s_message(ProtobufCAllocator *a, const ProtobufCMessageDescriptor *desc,
                                   const uint8_t *buf, size_t len);

/* Sets a varint field (singular, or a oneof member). */
static bool s_set_varint(const ProtobufCFieldDescriptor *f, void *member, uint64_t v) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_ENUM: *(int32_t *)member = (int32_t)(uint32_t)v; return true;
    case PROTOBUF_C_TYPE_INT64: *(int64_t *)member = (int64_t)v; return true;
    case PROTOBUF_C_TYPE_UINT64: *(uint64_t *)member = v; return true;
    case PROTOBUF_C_TYPE_BOOL: *(protobuf_c_boolean *)member = v != 0; return true;
    default: return false;
    }
}

static ProtobufCMessage *s_message(ProtobufCAllocator *a, const ProtobufCMessageDescriptor *desc,
                                   const uint8_t *buf, size_t len) {
    const s_table_t *t = s_table(desc);
    if (!t)
        return NULL;
    ProtobufCMessage *m = s_alloc(a, desc->sizeof_message);
    if (!m)
        return NULL;
    desc->message_init(m);
    /* Repeated strings are gathered here and allocated at the end, as
     * protobuf-c sizes its arrays exactly. */
    s_slice_t      items[MAX_FIELD][MAX_REPEAT];
    size_t         n_items[MAX_FIELD] = { 0 };
    bool           seen[MAX_FIELD] = { false };
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
        uint64_t key, v;
        /* Field numbers here fit in 2 bytes of tag, however encoded. */
        if (!s_varint(&p, end, 2, &key))
            goto fail;
        uint64_t number = key >> 3;
        unsigned wire = (unsigned)(key & 7);
        if (number == 0 || number >= MAX_FIELD || !t->by_number[number])
            goto fail; /* unknown field: protobuf-c keeps it */
        const ProtobufCFieldDescriptor *f = t->by_number[number];
        void                           *member = (char *)m + f->offset;
        bool is_len = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;
        if (wire != (is_len ? 2u : 0u))
            goto fail;
        bool oneof = f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_STRING || n_items[number] == MAX_REPEAT)
                goto fail;
        } else if (oneof) {
            uint32_t *which = (uint32_t *)(void *)((char *)m + f->quantifier_offset);
            /* Another member, or a message again (merged by protobuf-c). */
            if (*which && (*which != f->id || f->type == PROTOBUF_C_TYPE_MESSAGE))
                goto fail;
            *which = f->id;
        } else if (f->label != PROTOBUF_C_LABEL_NONE || (seen[number] && is_len)) {
            goto fail; /* a string given twice: protobuf-c replaces it */
        }
        seen[number] = true;
        if (!is_len) {
            if (!s_varint(&p, end, 10, &v) || !s_set_varint(f, member, v))
                goto fail;
            continue;
        }
        if (!s_varint(&p, end, 5, &v) || v > (uint64_t)(end - p))
            goto fail;
        s_slice_t s = { p, (size_t)v };
        p += v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            items[number][n_items[number]++] = s;
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (!(*(char **)member = s_string(a, s)))
                goto fail;
        } else {
            ProtobufCMessage *sub = s_message(a, f->descriptor, s.data, s.len);
            if (!sub)
                goto fail;
            *(ProtobufCMessage **)member = sub;
        }
    }
    for (unsigned number = 1; number < MAX_FIELD; number++) {
        size_t n = n_items[number];
        if (!n)
            continue;
        const ProtobufCFieldDescriptor *f = t->by_number[number];
        char                          **arr = s_alloc(a, n * sizeof *arr);
        if (!arr)
            goto fail;
        memset(arr, 0, n * sizeof *arr);
        *(char ***)(void *)((char *)m + f->offset) = arr;
        *(size_t *)(void *)((char *)m + f->quantifier_offset) = n;
        for (size_t i = 0; i < n; i++)
            if (!(arr[i] = s_string(a, items[number][i])))
                goto fail;
    }
    return m;
fail:
    /* What was built so far, as protobuf-c would free it: NULL items of a
     * half-filled array are skipped by free_unpacked. */
    protobuf_c_message_free_unpacked(m, a);
    return NULL;
}

Touchpoint__V1__Envelope *tp_decode_envelope(ProtobufCAllocator *alloc, size_t len,
                                             const uint8_t *buf) {
    if (!alloc)
        return NULL;
    pthread_once(&s_once, s_build);
    return (Touchpoint__V1__Envelope *)s_message(alloc, &touchpoint__v1__envelope__descriptor, buf,
                                                 len);
}
