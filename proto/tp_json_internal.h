/* tp_json_internal — descriptor helpers (tp_json_fields.c) shared by the
 * two halves of tp_json: tp_json.c (JSON -> message) and tp_json_print.c
 * (message -> JSON). Not part of the public API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* protobuf's ToJsonName(): "call_at_ms" -> "callAtMs", truncated to size. */
void tp_json_field_name(const char *name, char *buf, size_t size);

/* protobuf-c turns map<K,V> into `repeated XEntry { K key = 1; V value = 2; }`. */
bool tp_json_is_map(const ProtobufCFieldDescriptor *f);

/* Size of one element of a repeated field, as protobuf-c lays it out. */
size_t tp_json_elt_size(ProtobufCType t);

/* The field of `desc` named `key`, by its proto name or its JSON name;
 * NULL if none. */
const ProtobufCFieldDescriptor *tp_json_find_field(const ProtobufCMessageDescriptor *desc,
                                                   const char                       *key);

/* Length of the enum's common value prefix up to and including its last '_'
 * ("CALL_STATUS_" for CallStatus), so "SUBMITTED" finds CALL_STATUS_SUBMITTED. */
size_t tp_json_enum_prefix_len(const ProtobufCEnumDescriptor *ed);

/* A new message of type desc, initialised (all defaults); NULL when out of
 * memory. protobuf_c_message_free_unpacked() frees it. */
ProtobufCMessage *tp_json_new_message(const ProtobufCMessageDescriptor *desc);
