/* tp_decode — unpacks an Envelope as protobuf-c does, faster.
 *
 * protobuf-c's generic unpack was 48% of the engine's instructions for an
 * event that changes no alert (~3,500 per event, callgrind): two passes
 * over the bytes, a binary search per field, a slab of "scanned members".
 * The Envelope and its payloads are flat proto3 messages of strings,
 * varints, repeated strings and one oneof of sub-messages, so this walks
 * the bytes once, finding each field through a table built from the
 * generated descriptors, and builds the same structures with the same
 * allocator (one allocation per message, string and repeated array, as
 * protobuf-c makes them, so protobuf-c's free_unpacked frees them).
 *
 * Only the ordinary case: a field it has not seen in these messages, a
 * wire type other than the field's, a field given twice that protobuf-c
 * would merge or replace, a second payload, or more than 16 items of a
 * repeated field, and it gives up (having freed what it built); the caller
 * then unpacks with protobuf-c, which decides. So it never accepts what
 * protobuf-c refuses, and what it accepts it builds as protobuf-c would
 * (test_decode compares the two).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_contract.h"

/* The Envelope in buf, or NULL if this decoder gives up (see above). */
Touchpoint__V1__Envelope *tp_decode_envelope(ProtobufCAllocator *alloc, size_t len,
                                             const uint8_t *buf);
