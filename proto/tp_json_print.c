/* tp_json_print — protobuf-c message -> proto3 canonical JSON; see tp_json.h.
 *
 * Field-number order, lowerCamelCase names, enums by name, 64-bit integers
 * as strings, default values omitted except oneof members whose case is set
 * (so a score of 0 with presence is printed).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_json.h"
#include "tp_json_internal.h"

/* ---- message -> JSON --------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (no overlongs, surrogates or
 * code points above U+10FFFF), 0 if it is malformed. */
static size_t s_utf8_seq(const unsigned char *s) {
    static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t                len;
    uint32_t              cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07;
    } else
        return 0;
    for (size_t i = 1; i < len; i++) { /* stops at the NUL: it is not 10xxxxxx */
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Strings unpacked from the wire are not UTF-8-checked by protobuf-c and
 * jansson refuses invalid ones: replace bad bytes by U+FFFD rather than fail. */
static json_t *s_string_json(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t               n = 0, bad = 0;
    while (p[n]) {
        size_t k = s_utf8_seq(p + n);
        bad += k == 0;
        n += k ? k : 1;
    }
    if (bad == 0)
        return json_stringn_nocheck(s, n);
    char *fixed = malloc(n + bad * 2 + 1), *o = fixed;
    if (!fixed)
        return NULL;
    for (size_t i = 0; p[i];) {
        size_t k = s_utf8_seq(p + i);
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(o, p + i, k);
            o += k;
            i += k;
        }
    }
    json_t *j = json_stringn_nocheck(fixed, (size_t)(o - fixed));
    free(fixed);
    return j;
}

static json_t *s_bytes_json(const ProtobufCBinaryData *b) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((b->len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t acc = (uint32_t)b->data[i] << 16;
        if (i + 1 < b->len)
            acc |= (uint32_t)b->data[i + 1] << 8;
        if (i + 2 < b->len)
            acc |= b->data[i + 2];
        *o++ = alphabet[acc >> 18 & 63];
        *o++ = alphabet[acc >> 12 & 63];
        *o++ = i + 1 < b->len ? alphabet[acc >> 6 & 63] : '=';
        *o++ = i + 2 < b->len ? alphabet[acc & 63] : '=';
    }
    json_t *j = json_stringn_nocheck(out, (size_t)(o - out));
    free(out);
    return j;
}

static json_t *s_double_json(double d) {
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

static json_t *s_message_json(const ProtobufCMessage *msg);

/* One value of field `f` stored at `src`, whatever its presence. */
static json_t *s_value_json(const ProtobufCFieldDescriptor *f, const void *src) {
    char num[24];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)src);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)src);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        /* proto3 JSON: 64-bit integers are strings (JavaScript doubles lose them). */
        snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)src);
        return json_string(num);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(num, sizeof num, "%" PRIu64, *(const uint64_t *)src);
        return json_string(num);
    case PROTOBUF_C_TYPE_FLOAT: return s_double_json(*(const float *)src);
    case PROTOBUF_C_TYPE_DOUBLE: return s_double_json(*(const double *)src);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)src);
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t                   x = *(const int32_t *)src;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, x);
        return ev ? json_string(ev->name) : json_integer(x);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        return s_string_json(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: return s_bytes_json(src);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)src;
        return m ? s_message_json(m) : json_object();
    }
    default: return json_null();
    }
}

/* Whether field `f` of the message at `base` is emitted: proto3 singular
 * fields only when not at their default, oneof members when selected. */
static bool s_present(const ProtobufCFieldDescriptor *f, const char *base) {
    const char *p = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)(base + f->quantifier_offset) > 0;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *)p != NULL;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)p;
        return s && s != f->default_value && (f->label == PROTOBUF_C_LABEL_OPTIONAL || *s);
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    if (f->type == PROTOBUF_C_TYPE_BYTES)
        return ((const ProtobufCBinaryData *)p)->len > 0;
    static const char zero[sizeof(double)];
    return memcmp(p, zero, tp_json_elt_size(f->type)) != 0;
}

static json_t *s_map_json(const ProtobufCFieldDescriptor *f, const char *base) {
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor   *kf = &ed->fields[0], *vf = &ed->fields[1];
    ProtobufCMessage *const          *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
    size_t                            n = *(const size_t *)(base + f->quantifier_offset);
    json_t                           *obj = json_object();
    for (size_t i = 0; obj && i < n; i++) {
        if (!arr[i])
            continue;
        const char *eb = (const char *)arr[i];
        json_t     *k = s_value_json(kf, eb + kf->offset);
        json_t     *v = s_value_json(vf, eb + vf->offset);
        /* JSON object keys are strings: integer and bool keys are spelt out. */
        char        kbuf[24];
        const char *ks = NULL;
        if (json_is_string(k)) {
            ks = json_string_value(k);
        } else if (json_is_integer(k)) {
            snprintf(kbuf, sizeof kbuf, "%lld", (long long)json_integer_value(k));
            ks = kbuf;
        } else if (json_is_boolean(k)) {
            ks = json_is_true(k) ? "true" : "false";
        }
        /* json_object_set_new() consumes v even when it fails. */
        int r = ks ? json_object_set_new(obj, ks, v) : -1;
        if (!ks)
            json_decref(v);
        json_decref(k);
        if (r < 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

static json_t *s_message_json(const ProtobufCMessage *msg) {
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char                       *base = (const char *)msg;
    json_t                           *obj = json_object();
    if (!obj)
        return NULL;
    /* desc->fields is sorted by field number, and jansson keeps insertion order. */
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!s_present(f, base))
            continue;
        json_t *v;
        if (tp_json_is_map(f)) {
            v = s_map_json(f, base);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset),
                   esz = tp_json_elt_size(f->type);
            const char *arr = *(const char *const *)(base + f->offset);
            v = json_array();
            for (size_t k = 0; v && k < n; k++)
                if (json_array_append_new(v, s_value_json(f, arr + k * esz)) < 0) {
                    json_decref(v);
                    v = NULL;
                }
        } else {
            v = s_value_json(f, base + f->offset);
        }
        char name[128];
        tp_json_field_name(f->name, name, sizeof name);
        if (!v || json_object_set_new(obj, name, v) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *tp_json_from_message(const ProtobufCMessage *msg) {
    return msg ? s_message_json(msg) : NULL;
}

char *tp_json_dumps_message(const ProtobufCMessage *msg) {
    json_t *obj = tp_json_from_message(msg);
    if (!obj)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

int tp_json_dumps_alert(const char *topic, size_t topic_len, const ProtobufCMessage *alert,
                        char **ret_line) {
    json_t *jtopic = json_stringn(topic, topic_len);
    if (!jtopic)
        return -EILSEQ;
    int     r = -ENOMEM;
    json_t *body = tp_json_from_message(alert);
    json_t *line = json_object();
    char   *text = NULL;
    /* "topic" first: it is what a reader scans for. set_new() takes jtopic. */
    if (body && line && json_object_set_new(line, "topic", jtopic) == 0) {
        jtopic = NULL;
        if (json_object_update(line, body) == 0 && (text = json_dumps(line, JSON_COMPACT))) {
            *ret_line = text;
            r = 0;
        }
    }
    json_decref(jtopic);
    json_decref(line);
    json_decref(body);
    return r;
}
