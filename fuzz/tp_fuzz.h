/* tp_fuzz — entry points of the fuzz targets and the engine driver they share.
 *
 * Each target (fuzz_engine.c, fuzz_json.c, fuzz_config.c) is one function
 * taking arbitrary bytes; under libFuzzer LLVMFuzzerTestOneInput() calls it,
 * and fuzz_replay (fuzz_replay_main.c, built with TP_FUZZ_REPLAY and run by
 * ctest as test_fuzz_corpus) feeds it every file of fuzz/corpus/<target>/,
 * so the corpora are a regression suite in the normal and ASan builds.
 *
 * A broken invariant calls tp_fuzz_fail(), which prints why and aborts: a
 * crash to libFuzzer, a failure to ctest.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_engine.h"

/* The targets; each returns 0 (libFuzzer's contract). */
int tp_fuzz_engine(const uint8_t *data, size_t size);
int tp_fuzz_json(const uint8_t *data, size_t size);
int tp_fuzz_config(const uint8_t *data, size_t size);

/* libFuzzer's hook, defined by each target unless TP_FUZZ_REPLAY. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz invariant: <message>" to stderr and aborts. */
void tp_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Runs `data` through `e` as a sequence of records, then flushes every
 * deadline with a far watermark and checks the engine's counters add up.
 *
 * A record is [op][len: 2 bytes, big-endian][len bytes of payload] (a short
 * last record is cut to what is left). With op bit 7 clear the payload is
 * raw bytes:
 *   op & 7 = 0..3  [crm.call | crm.contracting | crm.feedback | crm.watermark, payload]
 *            4     [crm.unknown, payload]          (a bad topic)
 *            5     [payload] alone, or 3 frames when op & 8 (bad framing)
 *            6     tp_engine_fire_due() and the status queries (payload ignored)
 *            7     payload unpacked as an Envelope and given to
 *                  tp_engine_handle_envelope() (the replay path), if it unpacks
 * With op bit 7 set the payload describes one event field by field (calls,
 * steps, feedback, watermarks over small pools of ids, with long and
 * non-ASCII ids now and then, time moving forward in steps and now and then
 * jumping to its extremes), packed and
 * sent as [topic, Envelope]; op & 3 is the kind (call, contracting,
 * feedback, watermark) and op & 4 sends it through
 * tp_engine_handle_envelope() instead. This reaches the rules' logic that
 * random protobuf bytes rarely get past validation to.
 *
 * Every alert the engine publishes is checked: it unpacks, its topic is
 * "<kind>.<rule>", sequences go 1, 2, 3..., and it prints as a JSON line. */
void tp_fuzz_drive(tp_engine_t *e, const uint8_t *data, size_t size);

/* Record ops, for seed generators (see tp_fuzz_drive). */
enum {
    TP_FUZZ_OP_CALL = 0,
    TP_FUZZ_OP_CONTRACTING = 1,
    TP_FUZZ_OP_FEEDBACK = 2,
    TP_FUZZ_OP_WATERMARK = 3,
    TP_FUZZ_OP_BAD_TOPIC = 4,
    TP_FUZZ_OP_BAD_FRAMES = 5,
    TP_FUZZ_OP_FIRE_DUE = 6,
    TP_FUZZ_OP_ENVELOPE = 7,
    TP_FUZZ_OP_STRUCTURED = 0x80,
};
