/* tp_json — proto3 canonical JSON <-> protobuf-c messages; see tp_json.h.
 *
 * Everything is driven by the descriptors. Messages are built with malloc'd
 * parts in the exact layout protobuf-c's unpacker produces, so that
 * protobuf_c_message_free_unpacked(msg, NULL) frees them; every partial
 * write keeps that invariant, which is what makes the single error path
 * (free the half-built message) leak-free.
 */
#include "tp_json.h"
#include "tp_json_internal.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_JSON_MAX_DEPTH 64 /* nesting of messages a document may ask for */

struct json_ctx {
    char    *err; /* caller's buffer for the one-line reason */
    size_t   errlen;
    char     path[256]; /* "call.products[2]"; truncated if longer */
    size_t   pathlen;
    unsigned depth; /* current message nesting */
};

/* ---- errors and field paths ------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int s_fail(struct json_ctx *c, int r, const char *fmt,
                                                        ...) {
    if (!c->err || c->errlen == 0)
        return r;
    char    msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->pathlen > 0)
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
    /* Keys and values come from the input; keep the reason on one line. */
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return r;
}

static int s_oom(struct json_ctx *c) {
    return s_fail(c, -ENOMEM, "out of memory");
}

/* Appends ".key" (or "key" at the root) or "[i]"; returns the length to
 * restore with s_path_pop(). */
static size_t s_path_push_key(struct json_ctx *c, const char *key) {
    size_t saved = c->pathlen;
    /* On every key of every input: a copy, not snprintf (which was a
     * tenth of tp-pub's decoding). Truncated as snprintf would. */
    size_t room = sizeof c->path - 1 - c->pathlen, n = strlen(key);
    if (room > 0 && c->pathlen > 0) {
        c->path[c->pathlen++] = '.';
        room--;
    }
    n = n < room ? n : room;
    memcpy(c->path + c->pathlen, key, n);
    c->pathlen += n;
    c->path[c->pathlen] = '\0';
    return saved;
}

static size_t s_path_push_index(struct json_ctx *c, size_t i) {
    size_t saved = c->pathlen;
    if (c->pathlen < sizeof c->path - 1) {
        snprintf(c->path + c->pathlen, sizeof c->path - c->pathlen, "[%zu]", i);
        c->pathlen = strlen(c->path);
    }
    return saved;
}

static void s_path_pop(struct json_ctx *c, size_t saved) {
    c->pathlen = saved;
    c->path[saved] = '\0';
}

static const char *s_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

/* ---- JSON -> scalars --------------------------------------------------- */

static int s_parse_int(struct json_ctx *c, const json_t *v, int64_t min, int64_t max,
                       int64_t *ret) {
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        /* 1e3 is an integer in proto3 JSON; 1.5 is not. */
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
            (double)(long long)d != d)
            return s_fail(c, -EINVAL, "%g is not an integer in range", d);
        x = (long long)d;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char       *end;
        if (!(*s == '-' || (*s >= '0' && *s <= '9')))
            return s_fail(c, -EINVAL, "\"%.64s\" is not a decimal integer", s);
        errno = 0;
        x = strtoll(s, &end, 10);
        if (*end != '\0' || end == s)
            return s_fail(c, -EINVAL, "\"%.64s\" is not a decimal integer", s);
        if (errno == ERANGE)
            return s_fail(c, -EINVAL, "value %.64s out of range [%" PRId64 ", %" PRId64 "]", s, min,
                          max);
    } else {
        return s_fail(c, -EINVAL, "expected an integer (number or decimal string), got %s",
                      s_type_name(v));
    }
    if (x < min || x > max)
        return s_fail(c, -EINVAL, "value %lld out of range [%" PRId64 ", %" PRId64 "]", x, min,
                      max);
    *ret = x;
    return 0;
}

static int s_parse_uint(struct json_ctx *c, const json_t *v, uint64_t max, uint64_t *ret) {
    unsigned long long x;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return s_fail(c, -EINVAL, "value %lld out of range [0, %" PRIu64 "]",
                          (long long)json_integer_value(v), max);
        x = (unsigned long long)json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 18446744073709551616.0) || (double)(unsigned long long)d != d)
            return s_fail(c, -EINVAL, "%g is not an integer in range [0, %" PRIu64 "]", d, max);
        x = (unsigned long long)d;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char       *end;
        /* strtoull() would silently wrap "-1". */
        if (*s == '-')
            return s_fail(c, -EINVAL, "value %.64s out of range [0, %" PRIu64 "]", s, max);
        if (!(*s >= '0' && *s <= '9'))
            return s_fail(c, -EINVAL, "\"%.64s\" is not a decimal integer", s);
        errno = 0;
        x = strtoull(s, &end, 10);
        if (*end != '\0')
            return s_fail(c, -EINVAL, "\"%.64s\" is not a decimal integer", s);
        if (errno == ERANGE)
            return s_fail(c, -EINVAL, "value %.64s out of range [0, %" PRIu64 "]", s, max);
    } else {
        return s_fail(c, -EINVAL, "expected an integer (number or decimal string), got %s",
                      s_type_name(v));
    }
    if (x > max)
        return s_fail(c, -EINVAL, "value %llu out of range [0, %" PRIu64 "]", x, max);
    *ret = x;
    return 0;
}

static int s_parse_double(struct json_ctx *c, const json_t *v, bool is_float, double *ret) {
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char       *end;
        if (strcmp(s, "NaN") == 0)
            d = NAN;
        else if (strcmp(s, "Infinity") == 0)
            d = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            d = -INFINITY;
        else {
            errno = 0;
            d = strtod(s, &end);
            if (end == s || *end != '\0' || errno == ERANGE || !isfinite(d))
                return s_fail(c, -EINVAL, "\"%.64s\" is not a number", s);
        }
    } else {
        return s_fail(c, -EINVAL, "expected a number, got %s", s_type_name(v));
    }
    if (is_float && isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
        return s_fail(c, -EINVAL, "value %g out of range for float", d);
    *ret = d;
    return 0;
}

static int s_parse_enum(struct json_ctx *c, const ProtobufCEnumDescriptor *ed, const json_t *v,
                        int32_t *ret) {
    if (json_is_integer(v)) {
        int64_t x;
        int     r = s_parse_int(c, v, INT32_MIN, INT32_MAX, &x);
        if (r < 0)
            return r;
        *ret = (int32_t)x; /* proto3 enums are open: unknown numbers are kept */
        return 0;
    }
    if (!json_is_string(v))
        return s_fail(c, -EINVAL, "expected an enum name or number, got %s", s_type_name(v));
    const char               *s = json_string_value(v);
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
    if (!ev) {
        size_t plen = tp_json_enum_prefix_len(ed);
        for (unsigned i = 0; i < ed->n_values && !ev; i++)
            if (strlen(ed->values[i].name) > plen && strcmp(ed->values[i].name + plen, s) == 0)
                ev = &ed->values[i];
    }
    if (!ev)
        return s_fail(c, -EINVAL, "unknown enum value \"%.64s\"", s);
    *ret = ev->value;
    return 0;
}

static int s_b64_digit(char ch) {
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, padding optional (as proto3 JSON allows). */
static int s_parse_bytes(struct json_ctx *c, const json_t *v, ProtobufCBinaryData *ret) {
    if (!json_is_string(v))
        return s_fail(c, -EINVAL, "expected a base64 string, got %s", s_type_name(v));
    const char *s = json_string_value(v);
    size_t      n = json_string_length(v);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return s_fail(c, -EINVAL, "invalid base64 length");
    uint8_t *out = malloc(n / 4 * 3 + 3);
    if (!out)
        return s_oom(c);
    size_t   len = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int d = s_b64_digit(s[i]);
        if (d < 0) {
            free(out);
            return s_fail(c, -EINVAL, "invalid base64 character at offset %zu", i);
        }
        acc = acc << 6 | (uint32_t)d;
        if (i % 4 == 3) {
            out[len++] = (uint8_t)(acc >> 16);
            out[len++] = (uint8_t)(acc >> 8);
            out[len++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2)
        out[len++] = (uint8_t)(acc >> 4);
    else if (n % 4 == 3) {
        out[len++] = (uint8_t)(acc >> 10);
        out[len++] = (uint8_t)(acc >> 2);
    }
    *ret = (ProtobufCBinaryData){ .len = len, .data = out };
    return 0;
}

static int s_fill_message(struct json_ctx *c, const json_t *obj, ProtobufCMessage *msg);

/* Parses `v` as one value of field `f` into `dst` (the field's slot, or one
 * element of a repeated field). Sub-messages are linked into `dst` before
 * they are filled, so a failure half-way still leaves them freeable. */
static int s_set_value(struct json_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                       void *dst) {
    int64_t  i;
    uint64_t u;
    double   d;
    int      r;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((r = s_parse_int(c, v, INT32_MIN, INT32_MAX, &i)) == 0)
            *(int32_t *)dst = (int32_t)i;
        return r;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((r = s_parse_int(c, v, INT64_MIN, INT64_MAX, &i)) == 0)
            *(int64_t *)dst = i;
        return r;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((r = s_parse_uint(c, v, UINT32_MAX, &u)) == 0)
            *(uint32_t *)dst = (uint32_t)u;
        return r;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((r = s_parse_uint(c, v, UINT64_MAX, &u)) == 0)
            *(uint64_t *)dst = u;
        return r;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((r = s_parse_double(c, v, true, &d)) == 0)
            *(float *)dst = (float)d;
        return r;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((r = s_parse_double(c, v, false, &d)) == 0)
            *(double *)dst = d;
        return r;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return s_fail(c, -EINVAL, "expected true or false, got %s", s_type_name(v));
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: return s_parse_enum(c, f->descriptor, v, (int32_t *)dst);
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return s_fail(c, -EINVAL, "expected a string, got %s", s_type_name(v));
        /* protobuf-c strings are C strings: an embedded NUL would truncate. */
        if (strlen(json_string_value(v)) != json_string_length(v))
            return s_fail(c, -EINVAL, "string contains a NUL character");
        char *s = strdup(json_string_value(v));
        if (!s)
            return s_oom(c);
        *(char **)dst = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: return s_parse_bytes(c, v, (ProtobufCBinaryData *)dst);
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (!json_is_object(v))
            return s_fail(c, -EINVAL, "expected an object, got %s", s_type_name(v));
        ProtobufCMessage *sub = tp_json_new_message(f->descriptor);
        if (!sub)
            return s_oom(c);
        *(ProtobufCMessage **)dst = sub;
        return s_fill_message(c, v, sub);
    }
    default: return s_fail(c, -EINVAL, "unsupported field type %d", (int)f->type);
    }
}

/* Links a zeroed array of n elements of esz bytes into the repeated field
 * f of the message at base, with its count (in *ret_count) 0: the message
 * stays freeable while the caller fills and counts the elements. NULL when
 * out of memory. */
static void *s_link_array(const ProtobufCFieldDescriptor *f, char *base, size_t n, size_t esz,
                          size_t **ret_count) {
    void *arr = calloc(n, esz);
    if (!arr)
        return NULL;
    *(void **)(base + f->offset) = arr;
    *ret_count = (size_t *)(base + f->quantifier_offset);
    **ret_count = 0;
    return arr;
}

/* A JSON object into the repeated XEntry messages of a map field. */
static int s_set_map(struct json_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                     char *base) {
    if (!json_is_object(v))
        return s_fail(c, -EINVAL, "expected an object (map), got %s", s_type_name(v));
    size_t n = json_object_size(v);
    if (n == 0)
        return 0;
    size_t            *count;
    ProtobufCMessage **arr = s_link_array(f, base, n, sizeof *arr, &count);
    if (!arr)
        return s_oom(c);

    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor   *kf = &ed->fields[0], *vf = &ed->fields[1];
    const char                       *key;
    json_t                           *val;
    int                               r = 0;
    json_object_foreach((json_t *)v, key, val) {
        size_t            saved = s_path_push_key(c, key);
        ProtobufCMessage *entry = tp_json_new_message(ed);
        if (!entry)
            return s_oom(c);
        arr[(*count)++] = entry;
        /* JSON object keys are strings; the key field's parser takes
         * decimal strings for integer keys, bool keys are spelt out. */
        json_t *kj = kf->type == PROTOBUF_C_TYPE_BOOL
                         ? (strcmp(key, "true") == 0    ? json_true()
                            : strcmp(key, "false") == 0 ? json_false()
                                                        : json_string(key))
                         : json_string(key);
        if (!kj)
            return s_oom(c);
        r = s_set_value(c, kf, kj, (char *)entry + kf->offset);
        json_decref(kj);
        if (r == 0 && !json_is_null(val))
            r = s_set_value(c, vf, val, (char *)entry + vf->offset);
        if (r < 0)
            return r;
        s_path_pop(c, saved);
    }
    return 0;
}

static int s_set_repeated(struct json_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                          char *base) {
    if (!json_is_array(v))
        return s_fail(c, -EINVAL, "expected an array, got %s", s_type_name(v));
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    size_t  esz = tp_json_elt_size(f->type);
    size_t *count;
    char   *arr = s_link_array(f, base, n, esz, &count);
    if (!arr)
        return s_oom(c);
    for (size_t i = 0; i < n; i++) {
        size_t        saved = s_path_push_index(c, i);
        const json_t *elt = json_array_get(v, i);
        if (json_is_null(elt))
            return s_fail(c, -EINVAL, "null is not allowed in a repeated field");
        /* Count the slot first: a sub-message linked into it must be freed
         * even if filling it fails; unset slots are zero (NULL). */
        *count = i + 1;
        int r = s_set_value(c, f, elt, arr + i * esz);
        if (r < 0)
            return r;
        s_path_pop(c, saved);
    }
    return 0;
}

static int s_set_field(struct json_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                       ProtobufCMessage *msg) {
    char *base = (char *)msg;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return tp_json_is_map(f) ? s_set_map(c, f, v, base) : s_set_repeated(c, f, v, base);

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *oneof_case = (uint32_t *)(base + f->quantifier_offset);
        if (*oneof_case != 0 && *oneof_case != f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(msg->descriptor, *oneof_case);
            return s_fail(c, -EINVAL,
                          "conflicts with \"%s\": only one member of a oneof may be set",
                          other ? other->name : "?");
        }
        /* Set the case first so free_unpacked() sees a sub-message that is
         * linked but fails to fill; the union is still zero otherwise. */
        *oneof_case = f->id;
        return s_set_value(c, f, v, base + f->offset);
    }

    int r = s_set_value(c, f, v, base + f->offset);
    /* proto2 optional scalars carry a has_ flag; strings and messages use NULL. */
    if (r == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    return r;
}

static int s_fill_message(struct json_ctx *c, const json_t *obj, ProtobufCMessage *msg) {
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    if (c->depth >= TP_JSON_MAX_DEPTH)
        return s_fail(c, -EINVAL, "messages nested deeper than %d", TP_JSON_MAX_DEPTH);
    /* Which fields were given, to refuse "eventId" and "event_id" together. */
    bool *seen = calloc(desc->n_fields ? desc->n_fields : 1, sizeof *seen);
    if (!seen)
        return s_oom(c);
    c->depth++;

    const char *key;
    json_t     *val;
    int         r = 0;
    json_object_foreach((json_t *)obj, key, val) {
        size_t                          saved = s_path_push_key(c, key);
        const ProtobufCFieldDescriptor *f = tp_json_find_field(desc, key);
        if (!f) {
            r = s_fail(c, -EINVAL, "unknown field");
            goto out;
        }
        size_t idx = (size_t)(f - desc->fields);
        if (seen[idx]) {
            r = s_fail(c, -EINVAL, "field given twice (as %s and its other spelling)", f->name);
            goto out;
        }
        seen[idx] = true;
        if (!json_is_null(val)) { /* null means default: leave it unset */
            r = s_set_field(c, f, val, msg);
            if (r < 0)
                goto out;
        }
        s_path_pop(c, saved);
    }
    c->depth--;
out:
    free(seen);
    return r;
}

int tp_json_to_message(const json_t *obj, const ProtobufCMessageDescriptor *desc, char *err,
                       size_t errlen, ProtobufCMessage **ret) {
    struct json_ctx c = { .err = err, .errlen = errlen };
    if (err && errlen > 0)
        err[0] = '\0';
    if (!obj || !desc || !ret)
        return s_fail(&c, -EINVAL, "invalid arguments");
    if (!json_is_object(obj))
        return s_fail(&c, -EINVAL, "expected a JSON object, got %s", s_type_name(obj));

    ProtobufCMessage *msg = tp_json_new_message(desc);
    if (!msg)
        return s_oom(&c);
    int r = s_fill_message(&c, obj, msg);
    if (r < 0) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return r;
    }
    *ret = msg;
    return 0;
}

int tp_json_parse_message(const char *text, size_t len, const ProtobufCMessageDescriptor *desc,
                          char *err, size_t errlen, ProtobufCMessage **ret) {
    struct json_ctx c = { .err = err, .errlen = errlen };
    if (!text || !desc || !ret)
        return s_fail(&c, -EINVAL, "invalid arguments");

    json_error_t jerr;
    json_t      *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return s_oom(&c);
        if (jerr.line > 1)
            return s_fail(&c, -EINVAL, "invalid JSON at line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
        return s_fail(&c, -EINVAL, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    }
    int r = tp_json_to_message(obj, desc, err, errlen, ret);
    json_decref(obj);
    return r;
}
