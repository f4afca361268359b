/* tp_codec — where bytes become events: decode and validate one bus message.
 *
 * Called by the engine for every message from any input. A message must be
 * exactly [topic, Envelope]; the topic must be a known crm.* topic; the
 * Envelope must decode and carry the payload its topic names; ids must be
 * present, bounded and printable, enums in range. Anything else is classed
 * (tp_bad_t) so it can be counted per reason, and explained in `why` so it
 * can be logged. Nothing here allocates beyond the protobuf-c unpack.
 */
#pragma once

#include <stddef.h>

#include "tp_contract.h"

#define TP_ID_MAX 128 /* longest id accepted (event_id, call_id, hcp_id...) */

/* Latest time accepted in any time field: 9999-12-31T23:59:59.999Z, the end
 * of protobuf's Timestamp range. Rules add durations of at most ten years to
 * event times, so with this bound no deadline can overflow int64, and no
 * watermark can move the clock to the end of time (firing periodic deadlines
 * without end). */
#define TP_TIME_MAX_MS 253402300799999LL

typedef enum {
    TP_BAD_NONE = 0,
    TP_BAD_FRAMES,   /* not exactly two frames */
    TP_BAD_TOPIC,    /* unknown topic */
    TP_BAD_DECODE,   /* frame 2 is not an Envelope */
    TP_BAD_MISMATCH, /* payload does not match the topic (or is missing) */
    TP_BAD_INVALID,  /* decodes, but a field is missing or out of range */
    TP_BAD_EMPTY,    /* frame 2 is empty: no Envelope at all (not a mismatch) */
    TP_BAD__COUNT
} tp_bad_t;

typedef struct {
    const void *data;
    size_t      len;
} tp_frame_t;

/* The event_id of an Envelope frame that was refused before (or without)
 * being decoded, so a reliable producer can match its NACK: "" when the
 * frame does not decode or has none. A rare path: decodes again. */
void tp_codec_event_id(const tp_frame_t *envelope, char *buf, size_t len);

/* Short stable name of a reason ("frames", "topic", ...), for counters. */
const char *tp_bad_name(tp_bad_t bad);

/* Decodes and validates one message. On success returns TP_BAD_NONE and
 * stores the Envelope in *ret_env (free with
 * touchpoint__v1__envelope__free_unpacked(env, alloc)). Otherwise returns
 * the reason and writes a one-line explanation into why. `alloc` may be NULL
 * for malloc. */
tp_bad_t tp_codec_decode(const tp_frame_t *frames, size_t nframes, ProtobufCAllocator *alloc,
                         Touchpoint__V1__Envelope **ret_env, char *why, size_t whylen);

/* Validation alone, for Envelopes that did not come off the bus (replay). */
tp_bad_t tp_codec_validate(const Touchpoint__V1__Envelope *env, char *why, size_t whylen);
