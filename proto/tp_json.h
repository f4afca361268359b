/* tp_json — proto3 canonical JSON <-> protobuf-c messages.
 *
 * One generic mapping driven by the protobuf-c descriptors, so a new message
 * or field in the .proto files needs no code here. Used by tp-pub (JSONL in),
 * tp-tail (alerts out as JSON lines) and the daemon (printing alerts,
 * replaying JSONL files).
 *
 * Input accepts the lowerCamelCase JSON names and the original snake_case
 * names; unknown fields are errors; null means "default" (not set). Enums are
 * accepted by full value name ("CALL_STATUS_SUBMITTED"), by the name without
 * the enum's common prefix ("SUBMITTED") or as an integer. 64-bit integers may
 * be JSON numbers or decimal strings. map<K,V> fields are JSON objects, bytes
 * are base64 (standard or URL-safe, padding optional).
 *
 * Output is compact canonical proto3 JSON: lowerCamelCase names in
 * field-number order, enums by full name (unknown values as numbers), 64-bit
 * integers as strings, fields with their default value omitted except oneof
 * members whose case is set (so `"nps":0` with presence is kept).
 */
#pragma once

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* Builds a newly allocated message of type `desc` from the JSON object `obj`.
 * Returns 0 and stores the message in *ret (free it with
 * protobuf_c_message_free_unpacked(msg, NULL)), or a negative errno: -EINVAL
 * for input that does not match the message (then `err`, if not NULL, holds a
 * one-line reason that starts with the field path, e.g.
 * `call.status: unknown enum value "SUBMITED"`), -ENOMEM. *ret is written
 * only on success; nothing is leaked on failure. */
int tp_json_to_message(const json_t *obj, const ProtobufCMessageDescriptor *desc, char *err,
                       size_t errlen, ProtobufCMessage **ret);

/* Same as tp_json_to_message() from text: exactly one JSON document of `len`
 * bytes (e.g. one JSONL line; surrounding whitespace is fine; it need not be
 * NUL-terminated). Syntax errors are -EINVAL with the line and column in
 * `err`. */
int tp_json_parse_message(const char *text, size_t len, const ProtobufCMessageDescriptor *desc,
                          char *err, size_t errlen, ProtobufCMessage **ret);

/* A new JSON object for `msg` (caller owns the reference and json_decref()s
 * it). Invalid UTF-8 in string fields (possible in messages unpacked from the
 * wire) is replaced by U+FFFD. NULL only when out of memory. */
json_t *tp_json_from_message(const ProtobufCMessage *msg);

/* `msg` as compact one-line JSON text (keys in field-number order, no
 * trailing newline), malloc'd: the caller frees it. NULL when out of memory. */
char *tp_json_dumps_message(const ProtobufCMessage *msg);

/* One alert as the JSON line tp-tail, --print-alerts and --replay print:
 * {"topic": "<kind>.<rule>", then the Alert's members}. Stores malloc'd
 * compact text in *ret_line. 0, -EILSEQ if the topic is not UTF-8, -ENOMEM. */
int tp_json_dumps_alert(const char *topic, size_t topic_len, const ProtobufCMessage *alert,
                        char **ret_line);
