/* tp_alert_pack — packs an Alert byte for byte as protobuf-c does, faster.
 *
 * Every alert transition is packed once (tp_alert). protobuf-c's generic
 * packer walks the descriptor twice (the exact size first, then the bytes)
 * and sizes every evidence entry twice more: ~8,000 instructions for an
 * alert with a dozen evidence entries, the largest cost of an event that
 * fires one (callgrind). Alert is a flat proto3 message (strings, enums,
 * two integers, a map<string,string> and a repeated string), so this
 * writes the same bytes directly: fields in field-number order, proto3
 * defaults (empty string, 0) left out, map entries with an empty key or
 * value written without that field, repeated strings always written.
 *
 * Only for the Alert this file was written against: tp_alert_pack_ok()
 * checks the descriptor (field count, numbers and types) once, and the
 * caller falls back to protobuf-c if it has changed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_contract.h"

/* True if touchpoint.v1.Alert is the message this packer knows. */
bool tp_alert_pack_ok(void);

/* The packed size of `al` (its unknown fields must be none). */
size_t tp_alert_pack_size(const Touchpoint__V1__Alert *al);

/* Packs `al` into out (tp_alert_pack_size bytes); returns the length. */
size_t tp_alert_pack(const Touchpoint__V1__Alert *al, uint8_t *out);
