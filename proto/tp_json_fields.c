/* tp_json_fields — the descriptor side of tp_json, shared by its two
 * halves (tp_json.c, JSON -> message; tp_json_print.c, message -> JSON):
 * JSON names of fields, field lookup, map fields, element sizes, enum
 * prefixes. See tp_json_internal.h. */
#include "tp_json_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void tp_json_field_name(const char *name, char *buf, size_t size) {
    size_t n = 0;
    bool   up = false;
    for (; *name && n + 1 < size; name++) {
        if (*name == '_') {
            up = true;
            continue;
        }
        buf[n++] = up && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;
        up = false;
    }
    buf[n] = '\0';
}

/* key == tp_json_field_name(name), compared as it is converted: the lookup
 * runs for every key of every input, building each candidate's name cost
 * as much as parsing the line. */
static bool s_is_json_name(const char *name, const char *key) {
    bool up = false;
    for (; *name; name++) {
        if (*name == '_') {
            up = true;
            continue;
        }
        char ch = up && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;
        if (*key++ != ch)
            return false;
        up = false;
    }
    return *key == '\0';
}

const ProtobufCFieldDescriptor *tp_json_find_field(const ProtobufCMessageDescriptor *desc,
                                                   const char                       *key) {
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (strcmp(f->name, key) == 0 || s_is_json_name(f->name, key))
            return f;
    }
    return NULL;
}

bool tp_json_is_map(const ProtobufCFieldDescriptor *f) {
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t                            len = strlen(d->name);
    return d->n_fields == 2 && d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 &&
           d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0 && len >= 5 &&
           strcmp(d->name + len - 5, "Entry") == 0;
}

size_t tp_json_elt_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return sizeof(int32_t); /* 32-bit ints, enums */
    }
}

size_t tp_json_enum_prefix_len(const ProtobufCEnumDescriptor *ed) {
    if (ed->n_values == 0)
        return 0;
    const char *first = ed->values[0].name;
    size_t      common = strlen(first);
    for (unsigned i = 1; i < ed->n_values; i++) {
        size_t k = 0;
        while (k < common && ed->values[i].name[k] == first[k])
            k++;
        common = k;
    }
    while (common > 0 && first[common - 1] != '_')
        common--;
    return common;
}

ProtobufCMessage *tp_json_new_message(const ProtobufCMessageDescriptor *desc) {
    ProtobufCMessage *m = malloc(desc->sizeof_message);
    if (m)
        desc->message_init(m);
    return m;
}
